"""What the defaults let in, on the broker `make test` starts and on the
Prometheus `make run` starts: guest is refused over AMQP and by management,
management without credentials is refused, and Prometheus answers only with
the credentials scripts/prometheus.sh wrote (mode 600) under var/."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests
from amqp.exceptions import AccessRefused
from kombu import Connection

from tests.stack import AMQP_HOST, RABBIT_MGMT, ROOT, Broker, free_port


def test_guest_is_refused_over_amqp():
    with pytest.raises(AccessRefused), Connection(f"pyamqp://guest:guest@{AMQP_HOST}//",
                                                  connect_timeout=5) as conn:
        conn.connect()
    with Connection(Broker.shared().uri(), connect_timeout=5) as conn:  # the broker is there
        conn.connect()


def test_management_refuses_guest_and_no_credentials():
    overview = f"{RABBIT_MGMT}/api/overview"
    assert requests.get(overview, timeout=10).status_code == 401
    assert requests.get(overview, auth=("guest", "guest"), timeout=10).status_code == 401
    assert requests.get(overview, auth=Broker.shared().admin, timeout=10).status_code == 200
    users = requests.get(f"{RABBIT_MGMT}/api/users", auth=Broker.shared().admin, timeout=10)
    assert "guest" not in {u["name"] for u in users.json()}


@pytest.fixture
def prometheus(tmp_path):
    """scripts/prometheus.sh's Prometheus, on a port and under a var/ of its own."""
    port = free_port()
    env = dict(os.environ, TIAKI_PROMETHEUS_PORT=str(port), TIAKI_PROMETHEUS_VAR=str(tmp_path))
    script = str(ROOT / "scripts" / "prometheus.sh")
    started = subprocess.run([script, "start"], env=env, capture_output=True, text=True,
                             timeout=120)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"http://127.0.0.1:{port}", tmp_path / "prometheus-auth"
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)


def test_prometheus_answers_only_with_its_credentials(prometheus):
    base, auth = prometheus
    query = f"{base}/api/v1/query?query=up"
    assert requests.get(query, timeout=10).status_code == 401
    assert requests.get(f"{base}/graph", timeout=10).status_code == 401
    user, _, password = (auth / "credentials").read_text().strip().partition(":")
    assert requests.get(query, auth=(user, password + "x"), timeout=10).status_code == 401
    answered = requests.get(query, auth=(user, password), timeout=10)
    assert answered.status_code == 200 and answered.json()["status"] == "success"
    assert auth.stat().st_mode & 0o777 == 0o700
    for name in ("credentials", "web.yml"):
        assert (auth / name).stat().st_mode & 0o777 == 0o600
    assert password not in (auth / "web.yml").read_text()  # only its bcrypt hash
