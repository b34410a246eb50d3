"""A three-node RabbitMQ cluster of the cluster suite's own (Debian's
rabbitmq-server, loopback): nodes tiaki-cluster-1..3@localhost, AMQP on
5801-5803, management on 15801-15803, Erlang distribution on 25801-25803
(TIAKI_CLUSTER_PORT moves the first; the others follow), data under
var/cluster/node-N (wiped at each start), one Erlang cookie and one
administrator for all three. Nodes 2 and 3 join node 1; every quorum queue
declared afterwards has a member on each node. The services and units are
tests/stack.py's, given every node's address (tiaki/plumbing/broker_users.py
amqp_uri: one alternate per node)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.faults.infra import RabbitNode
from tests.stack import ROOT, Broker
from tiaki.plumbing.broker_users import ADMIN_USER

FIRST_PORT = int(os.environ.get("TIAKI_CLUSTER_PORT", "5801"))
DATA = ROOT / "var" / "cluster"


class RabbitCluster:
    def __init__(self, size: int = 3, root: Path = DATA, first_port: int = FIRST_PORT):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True, mode=0o700)
        cookie, admin = secrets.token_hex(16), (ADMIN_USER, secrets.token_urlsafe(24))
        self.admin = admin
        self.nodes = [RabbitNode(root / f"node-{n}", port=first_port + n - 1,
                                 node=f"tiaki-cluster-{n}@localhost", cookie=cookie, admin=admin)
                      for n in range(1, size + 1)]

    @property
    def broker(self) -> Broker:
        """Management through node 1; AMQP through every node (alternates)."""
        return Broker(self.nodes[0].broker.mgmt,
                      ",".join(n.broker.amqp_host for n in self.nodes), self.admin)

    def start(self):
        """Every node, then 2 and 3 joined to 1; stops what started if that fails."""
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_up()
            for node in self.nodes[1:]:
                for step in (("stop_app",), ("join_cluster", self.nodes[0].node), ("start_app",)):
                    done = node.ctl(*step)
                    assert done.returncode == 0, f"{node.node} {step}: {done.stderr}"
                node.wait_up()
            running = self.running()
            assert running == sorted(n.node for n in self.nodes), running
        except BaseException:
            self.stop()
            raise

    def stop(self):
        """Every node still running (those killed are already gone), all at once."""
        def stop(node):
            try:
                node.stop()
            except Exception as exc:  # noqa: BLE001  the others are stopped all the same
                print(f"cluster: stopping {node.node} failed: {exc}")

        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(stop, self.nodes))

    def live(self) -> list[RabbitNode]:
        return [n for n in self.nodes if n.proc is not None]

    def node(self, name: str) -> RabbitNode:
        return next(n for n in self.nodes if n.node == name)

    def running(self) -> list[str]:
        """The cluster's running nodes, as a live node sees them."""
        nodes = self.api("/api/nodes")
        return sorted(n["name"] for n in nodes if n.get("running"))

    def api(self, path: str):
        """GET from the management API of the first live node that answers."""
        problem = None
        for node in self.live():
            try:
                got = requests.get(f"{node.broker.mgmt}{path}", auth=self.admin, timeout=10)
                got.raise_for_status()
                return got.json()
            except requests.RequestException as exc:
                problem = exc
        raise AssertionError(f"no live node answered {path}: {problem}")

    def queue(self, vhost: str, name: str) -> dict:
        return self.api(f"/api/queues/{urllib.parse.quote(vhost, safe='')}/"
                        f"{urllib.parse.quote(name, safe='')}")

    def leader(self, vhost: str, queue: str) -> RabbitNode:
        return self.node(self.queue(vhost, queue)["leader"])

    def quorum_queues(self, vhost: str) -> list[dict]:
        return [q for q in self.api(f"/api/queues/{urllib.parse.quote(vhost, safe='')}")
                if q.get("type") == "quorum"]

    def wait_until_safe_to_stop(self, node: RabbitNode, within: float = 180):
        """Until no quorum queue would lose its majority if `node` stopped
        (every member back after an earlier fault): what an operator checks
        before taking a node down."""
        deadline = time.monotonic() + within
        while True:
            checked = node.ctl("check_if_node_is_quorum_critical", tool="rabbitmq-queues")
            if checked.returncode == 0:
                return
            assert time.monotonic() < deadline, (
                f"{node.node} still quorum-critical after {within}s: {checked.stdout}"
                f"{checked.stderr}")
            time.sleep(1)


def cpu_seconds(pid: int, group: bool = False) -> float:
    """CPU time (user + system) a process has used so far, all its threads; with
    `group`, of every process in its process group (a node: the script and Erlang's VM)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for stat in Path("/proc").glob("[0-9]*/stat") if group else [Path(f"/proc/{pid}/stat")]:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if not group or int(fields[2]) == pid:  # fields after the name: state ppid pgrp ...
            total += int(fields[11]) + int(fields[12])  # utime stime
    return total / tick
