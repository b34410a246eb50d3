"""Least-privilege RabbitMQ users against the real broker, in a throwaway
vhost and with throwaway user names: a unit consumes its own queue but is
refused (ACCESS_REFUSED) another unit's, binding its queue to another unit's
deliveries, and publishing; a service user publishes to unit queues but
cannot read them; the unit SDK consumes its queue without declaring it. And
the same refusals for the users `scripts/infra.sh start` made, the only ones
`make run` connects with."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import requests
from amqp.exceptions import AccessRefused
from kombu import Connection, Producer

from tests.stack import AMQP_HOST, BROKER_DIR, RABBIT_MGMT, STORE_URI, Broker
from tiaki.connect import queues
from tiaki.core import messages
from tiaki.plumbing.broker_users import SERVICES, delete_users, ensure_broker_users
from tiaki.unit.client import UnitClient


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    vhost = f"tbu{uuid.uuid4().hex[:8]}"
    prefix = f"{vhost}-"  # users are broker-wide: never touch real ones
    admin = Broker.shared().admin
    requests.put(f"{RABBIT_MGMT}/api/vhosts/{vhost}", auth=admin, timeout=10).raise_for_status()
    directory = tmp_path_factory.mktemp("broker")
    uris = ensure_broker_users(RABBIT_MGMT, admin, vhost, ["evaluation", "service-delivery"],
                               ["purpose_router"], str(directory), AMQP_HOST, prefix=prefix)
    # The administrator's step made both units' queues; the service finds them
    # as purpose_router does (it may not declare a dead-lettering queue itself).
    service = uris[f"{prefix}svc-purpose_router"]
    with Connection(service) as conn:
        for unit in ("evaluation", "service-delivery"):
            queues.declare(conn, queues.unit_queue(unit))
    try:
        yield {"vhost": vhost, "dir": directory, "service": service,
               "evaluation": uris[f"{prefix}unit-evaluation"],
               "service-delivery": uris[f"{prefix}unit-service-delivery"]}
    finally:
        delete_users(RABBIT_MGMT, admin, list(uris))
        requests.delete(f"{RABBIT_MGMT}/api/vhosts/{vhost}", auth=admin, timeout=10)


def publish(uri: str, unit: str, body: dict):
    with Connection(uri) as conn:
        channel = conn.channel()
        channel.confirm_select()
        Producer(channel, exchange=queues.UNITS_EXCHANGE).publish(
            body, routing_key=messages.unit_routing_key(unit), serializer="json", mandatory=True)
        channel.close()


def take(uri: str, unit: str):
    with Connection(uri) as conn:
        return conn.default_channel.basic_get(queues.unit_queue(unit).name, no_ack=False)


def test_a_service_publishes_to_unit_queues_and_each_unit_reads_its_own(broker):
    publish(broker["service"], "evaluation", {"kind": "records", "n": 1})
    publish(broker["service"], "service-delivery", {"kind": "aggregate", "n": 2})
    got = take(broker["evaluation"], "evaluation")
    assert got is not None and json.loads(got.body) == {"kind": "records", "n": 1}
    assert take(broker["service-delivery"], "service-delivery") is not None


def test_a_unit_cannot_consume_another_units_queue(broker):
    with pytest.raises(AccessRefused) as refused:
        take(broker["evaluation"], "service-delivery")
    assert refused.value.code == 403 and "ACCESS_REFUSED" in str(refused.value)
    with pytest.raises(AccessRefused), Connection(broker["evaluation"]) as conn:
        conn.default_channel.basic_consume(queues.unit_queue("service-delivery").name,
                                           callback=lambda m: None)


def test_a_unit_cannot_bind_itself_to_another_units_deliveries_or_publish(broker):
    with pytest.raises(AccessRefused), Connection(broker["evaluation"]) as conn:
        conn.default_channel.queue_bind(queues.unit_queue("evaluation").name,
                                        queues.UNITS_EXCHANGE.name,
                                        messages.unit_routing_key("service-delivery"))
    with pytest.raises(AccessRefused), Connection(broker["evaluation"]) as conn:
        conn.default_channel.queue_declare(queue="my-own-tap", auto_delete=True)
    with pytest.raises(AccessRefused):
        publish(broker["evaluation"], "service-delivery", {"kind": "records"})


def test_a_service_cannot_read_a_units_queue(broker):
    with pytest.raises(AccessRefused):
        take(broker["service"], "evaluation")


def test_the_unit_sdk_consumes_its_queue_without_declaring_it(broker):
    publish(broker["service"], "evaluation", {"kind": "query", "unit_id": "other"})
    unit = UnitClient("evaluation", broker["evaluation"], f"{STORE_URI}/{broker['vhost']}_unit",
                      "127.0.0.1:1", "no-token", declare_queue=False)
    seen = threading.Event()

    def on_delivery(body, message):  # the SDK's own handler needs the services
        message.ack()
        seen.set()

    unit.on_message = on_delivery
    runner = threading.Thread(target=unit.run, daemon=True)
    runner.start()
    try:
        assert seen.wait(20), "the unit consumed nothing from its queue"
    finally:
        unit.stop()
        runner.join(10)
        unit.store.client.drop_database(f"{broker['vhost']}_unit")
        unit.store.client.close()


def test_the_users_make_run_connects_with_are_these_and_private():
    """scripts/infra.sh start made a user per service and unit in the default
    vhost; each URI file is its owner's alone; a unit's is refused the other's queue."""
    directory = BROKER_DIR
    assert directory.stat().st_mode & 0o777 == 0o700
    uris = {}
    for user in [f"tiaki-svc-{s}" for s in SERVICES] + [f"tiaki-unit-{u}" for u in
                                                           ("evaluation", "service-delivery")]:
        path = directory / f"{user}.uri"
        assert path.stat().st_mode & 0o777 == 0o600, path
        uris[user] = path.read_text().strip()
    with pytest.raises(AccessRefused):
        take(uris["tiaki-unit-evaluation"], "service-delivery")
    with pytest.raises(AccessRefused), Connection(uris["tiaki-unit-evaluation"]) as conn:
        conn.default_channel.queue_bind(queues.unit_queue("evaluation").name,
                                        queues.UNITS_EXCHANGE.name,
                                        messages.unit_routing_key("service-delivery"))
    with pytest.raises(AccessRefused):
        take(uris["tiaki-svc-purpose_router"], "evaluation")
