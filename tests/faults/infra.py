"""A broker and a store of the fault suite's own, to stop and restart at will:
the shared ones serve other people's work. A throwaway RabbitMQ node
(Debian's rabbitmq-server, loopback, its own ports, node name and data under
a temporary directory; an administrator instead of guest, and management, for
the services' and units' own users) and a throwaway nx-27017 store (its own
port and data directory), and the services of tests/stack.py started against them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pymongo
import requests
from kombu import Connection

from tests.rabbit_node import prepare_node
from tests.stack import UNITS, WHO, Broker, Stack, free_port
from tiaki.plumbing.tokens import ensure_tokens

SBIN = Path("/usr/lib/rabbitmq/bin")
NX = Path(sys.executable).parent / "nx-27017"


class RabbitNode:
    """One RabbitMQ node; stop_app/start_app restart the broker (connections
    drop, durable queues and persistent messages stay), as an operator would."""

    def __init__(self, tmp: Path, port: int = 0, node: str = "", cookie: str = "",
                 admin: tuple[str, str] | None = None):
        """Free ports, or `port` for AMQP with management at port + 10000 and
        Erlang distribution at port + 20000 (a cluster's nodes: tests/cluster);
        `node`, `cookie` and `admin` name it and share a cluster's secrets."""
        self.tmp = tmp
        self.port = port or free_port()
        self.mgmt_port = port + 10000 if port else free_port()
        dist_port = port + 20000 if port else free_port()
        self.node = node or f"tiaki-faults-{self.port}@localhost"
        self.admin = prepare_node(tmp, f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                                       f"management.tcp.ip = 127.0.0.1\n"
                                       f"management.tcp.port = {self.mgmt_port}\n",
                                  ["rabbitmq_management"], cookie, admin)
        self.env = dict(
            os.environ, RABBITMQ_NODENAME=self.node, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(dist_port),
            RABBITMQ_MNESIA_BASE=str(tmp / "mnesia"), RABBITMQ_LOG_BASE=str(tmp / "log"),
            RABBITMQ_PID_FILE=str(tmp / "pid"), RABBITMQ_CONFIG_FILE=str(tmp / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(tmp / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(tmp / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(tmp / "rabbitmq-env.conf"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            ERL_EPMD_ADDRESS="127.0.0.1", HOME=str(tmp / "home"))
        self.proc: subprocess.Popen | None = None

    @property
    def broker(self) -> Broker:
        return Broker(f"http://127.0.0.1:{self.mgmt_port}", f"127.0.0.1:{self.port}", self.admin)

    def start(self, within: float = 120):
        self.launch()
        self.wait_up(within)

    def launch(self):
        """Starts the node without waiting for it (wait_up waits)."""
        self.proc = subprocess.Popen([str(SBIN / "rabbitmq-server")], env=self.env,
                                     start_new_session=True, stderr=subprocess.STDOUT,
                                     stdout=open(self.tmp / "server.log", "ab"))

    def wait_up(self, within: float = 240):
        deadline = time.monotonic() + within
        while True:
            try:  # AMQP, and management (the stack makes its users through it)
                with Connection(self.broker.uri(), connect_timeout=2) as conn:
                    conn.connect()
                if requests.get(f"{self.broker.mgmt}/api/whoami", auth=self.admin,
                                timeout=2).ok:
                    return
            except Exception:
                pass
            assert self.proc.poll() is None, (
                f"rabbitmq-server exited:\n{(self.tmp / 'server.log').read_text()}")
            assert time.monotonic() < deadline, f"RabbitMQ not up within {within}s"
            time.sleep(0.5)

    def ctl(self, *args, tool: str = "rabbitmqctl") -> subprocess.CompletedProcess:
        return subprocess.run([str(SBIN / tool), "-n", self.node, *args], env=self.env,
                              capture_output=True, text=True, timeout=120)

    def restart_app(self, down_for: float = 3):
        stopped = self.ctl("stop_app")
        assert stopped.returncode == 0, stopped.stderr
        time.sleep(down_for)
        started = self.ctl("start_app")
        assert started.returncode == 0, started.stderr
        self.wait_up()

    def stop(self):
        if self.proc is None:
            return
        if self.ctl("stop", str(self.tmp / "pid")).returncode != 0 and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.proc = None

    def kill(self):
        """kill -9: the node's Erlang VM ends at once, nothing flushed or handed over."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.proc = None


class StoreNode:
    """One nx-27017 store on its own port and data directory."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.port = free_port()
        (tmp / "data").mkdir(parents=True, exist_ok=True, mode=0o700)
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self, within: float = 120):
        self.proc = subprocess.Popen(
            [str(NX), "--data-dir", str(self.tmp / "data"), "--host", "127.0.0.1",
             "-p", str(self.port), "--log-file", str(self.tmp / "store.log"),
             "--pid-file", str(self.tmp / "store.pid")],
            stdout=open(self.tmp / "stdout.log", "ab"), stderr=subprocess.STDOUT,
            start_new_session=True, umask=0o077)  # as scripts/infra.sh: files 0600
        client = pymongo.MongoClient(self.uri, serverSelectionTimeoutMS=500)
        deadline = time.monotonic() + within
        try:
            while True:
                try:
                    client.admin.command("ping")
                    return
                except pymongo.errors.PyMongoError:
                    assert self.proc.poll() is None, f"nx-27017 exited:\n{self.log_tail()}"
                    assert time.monotonic() < deadline, (
                        f"store not up within {within}s:\n{self.log_tail()}")
                    time.sleep(0.2)
        finally:
            client.close()

    def log_tail(self) -> str:
        logs = [self.tmp / "store.log", self.tmp / "stdout.log"]
        return "\n".join("\n".join(f.read_text(errors="replace").splitlines()[-10:])
                         for f in logs if f.exists())

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self, down_for: float = 3):
        self.stop()
        time.sleep(down_for)
        self.start()


class FaultStack(Stack):
    """tests/stack.py's services, on the suite's own broker and store."""

    def __init__(self, tmp: Path, rabbit: RabbitNode, store: StoreNode, instances: int = 1):
        super().__init__(tmp, instances, broker=rabbit.broker)
        self.mongo.close()
        self.store_uri = store.uri
        self.mongo = pymongo.MongoClient(store.uri)
        self.clients = {store.uri: self.mongo}

    def store_of(self, db: str) -> str:
        return self.store_uri  # every owner's database on the suite's one store

    def db_uri(self, db: str) -> str:
        # Every store call gives up after 5 s of the store being away (not
        # pymongo's 30): a stopped store costs a retried call or a redelivered
        # message, not half a minute of each.
        return f"{self.store_uri}/{self.name}_{db}?serverSelectionTimeoutMS=5000"


    def env(self, process: str) -> dict:
        env = super().env(process)
        # A query lost with a killed requests instance or a restarted broker is
        # asked again within seconds, not the production five minutes.
        env.setdefault("REQUESTS_QUERY_AGAIN_AFTER", "10")
        env.setdefault("REQUESTS_ESCALATE_EVERY", "3")
        return env


def start_fault_stack(tmp: Path, rabbit: RabbitNode, store: StoreNode,
                      instances: int = 1) -> FaultStack:
    s = FaultStack(tmp, rabbit, store, instances)
    s.identities = ensure_tokens(str(tmp), WHO)
    s.provision()
    try:
        for service in ("purpose_router", "intake", "requests"):
            for process in s.service_processes(service):
                s.start(process)
        for unit in UNITS:
            s.start(f"unit-{unit}")
    except BaseException:
        s.stop()
        raise
    return s
