"""End-to-end fixtures: the real services as processes on the real broker and
store, each test session in its own RabbitMQ vhost and its own databases."""

from __future__ import annotations

import uuid

import pytest
import requests
import yaml
from kombu import Connection, Exchange, Queue

from tests.stack import RABBIT_MGMT, ROOT, drop, start_stack
from tiaki.connect import queues


@pytest.fixture(scope="session", autouse=True)
def state_dir(tmp_path_factory):
    """The CLI's and the units' remembered ledger heads, this session's own."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("state")
        patch.setenv("TIAKI_STATE_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield s
    finally:
        drop(s)


@pytest.fixture(scope="session")
def example_plan() -> dict:
    return yaml.safe_load((ROOT / "programmes" / "best-foot-forward.yaml").read_text())


@pytest.fixture
def tap(stack):
    """A queue bound to every exchange of the stack's vhost with '#': a copy
    of every event, RPC call and reply, and unit delivery and query."""
    listed = requests.get(f"{RABBIT_MGMT}/api/exchanges/{stack.vhost}", auth=stack.broker.admin,
                          timeout=10).json()
    exchanges = {e["name"]: e["type"] for e in listed if e["name"]
                 and not e["name"].startswith("amq.") and e["type"] in ("topic", "fanout")}
    assert "intake.events" in exchanges, exchanges
    name = f"tap-{uuid.uuid4().hex[:8]}"
    with Connection(stack.amqp_uri) as conn:
        channel = conn.default_channel
        units = queues.UNITS_EXCHANGE(channel)
        units.declare()  # not there until the first delivery on a fresh stack
        exchanges[units.name] = units.type
        queue = Queue(name, durable=False, auto_delete=False)(channel)
        queue.declare()
        for exchange, kind in exchanges.items():
            queue.bind_to(Exchange(exchange, type=kind), routing_key="#")
        yield queue
        queue.delete()
