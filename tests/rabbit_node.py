"""A throwaway RabbitMQ node (Debian's rabbitmq-server) with the rabbitmq_prometheus
plugin, for tests that need the plugin when the shared broker was started without it.
Loopback only, its own ports, node name and data under a temporary directory; as on
every node tiaki runs, no guest: an administrator with a random password."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.stack import free_port
from tiaki.plumbing.broker_users import ADMIN_USER

SBIN = Path("/usr/lib/rabbitmq/bin")


def prepare_node(tmp: Path, config: str, plugins: list[str], cookie: str = "",
                 admin: tuple[str, str] | None = None) -> tuple[str, str]:
    """A throwaway node's directories, an Erlang cookie (fresh, or `cookie`: the
    nodes of one cluster share theirs), its config and plugins; returns its
    administrator (user, password; fresh, or `admin`), made instead of guest at first start."""
    for d in ("mnesia", "log", "home"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
    cookie_file = tmp / "home" / ".erlang.cookie"
    cookie_file.write_text(cookie or secrets.token_hex(16))
    cookie_file.chmod(0o400)
    admin = admin or (ADMIN_USER, secrets.token_urlsafe(24))
    (tmp / "rabbitmq.conf").write_text(
        config + "log.console = false\n"
        f"default_user = {admin[0]}\ndefault_pass = {admin[1]}\n"
        "default_user_tags.administrator = true\n")
    (tmp / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
    (tmp / "rabbitmq-env.conf").write_text("")
    return admin


@contextmanager
def rabbit_node(tmp: Path, within: float = 90.0):
    """Yields (amqp port, prometheus plugin base URL, administrator); stops the node afterwards."""
    amqp, prom, mgmt = free_port(), free_port(), free_port()
    admin = prepare_node(tmp, f"listeners.tcp.default = 127.0.0.1:{amqp}\n"
                      f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {mgmt}\n"
                      f"prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = {prom}\n",
                 ["rabbitmq_management", "rabbitmq_prometheus"])
    node = f"tiaki-test-{amqp}@localhost"
    env = dict(os.environ, RABBITMQ_NODENAME=node, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
               RABBITMQ_NODE_PORT=str(amqp), RABBITMQ_DIST_PORT=str(free_port()),
               RABBITMQ_MNESIA_BASE=str(tmp / "mnesia"), RABBITMQ_LOG_BASE=str(tmp / "log"),
               RABBITMQ_PID_FILE=str(tmp / "pid"), RABBITMQ_CONFIG_FILE=str(tmp / "rabbitmq.conf"),
               RABBITMQ_ADVANCED_CONFIG_FILE=str(tmp / "advanced.config"),
               RABBITMQ_ENABLED_PLUGINS_FILE=str(tmp / "enabled_plugins"),
               RABBITMQ_CONF_ENV_FILE=str(tmp / "rabbitmq-env.conf"),
               RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
               ERL_EPMD_ADDRESS="127.0.0.1", HOME=str(tmp / "home"))
    proc = subprocess.Popen([str(SBIN / "rabbitmq-server")], env=env, start_new_session=True,
                            stdout=open(tmp / "server.log", "ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{prom}"
    try:
        deadline = time.monotonic() + within
        while True:
            try:
                if requests.get(f"{base}/metrics", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, f"rabbitmq-server exited:\n{(tmp / 'server.log').read_text()}"
            assert time.monotonic() < deadline, f"RabbitMQ did not start within {within}s"
            time.sleep(0.25)
        yield amqp, base, admin
    finally:
        stopped = subprocess.run([str(SBIN / "rabbitmqctl"), "-n", node, "stop", str(tmp / "pid")],
                                 env=env, capture_output=True, timeout=60).returncode == 0
        if not stopped and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
