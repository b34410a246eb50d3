"""tiaki/connect/queues.py on the real broker (a throwaway vhost from nameko's
`rabbit_config`): the queues it declares, an event handler that parks poison
at once and retries a passing failure until the delivery limit, and the
migration of a queue declared in an older (classic) form."""

from __future__ import annotations

import time

import pytest
from kombu import Connection, Exchange, Producer, Queue
from nameko import config
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from tiaki.connect import queues
from tiaki.plumbing import dead_letter

SOURCE = "poison_source"


class Flaky:
    """An event handler that fails as told by the event."""

    name = "flaky"
    handled: list = []

    @dead_letter.event_handler(SOURCE, "happened")
    def handle(self, event: dict):
        if event["fail"] == "passing":
            raise ConnectionRefusedError("the store is down")
        if event["fail"] == "poison":
            return event["no such field"]
        self.handled.append(event["n"])


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setenv("TIAKI_DELIVERY_LIMIT", "3")
    monkeypatch.setenv("TIAKI_RETRY_DELAY", "0.05")


@pytest.fixture
def conn(rabbit_config):
    with Connection(config["AMQP_URI"]) as c:
        yield c


def depth(conn, name: str) -> int:
    with conn.channel() as channel:
        return channel.queue_declare(name, passive=True)[1]


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_unit_queue_is_quorum_with_a_delivery_limit_and_a_dlq():
    queue = queues.unit_queue("evaluation")
    assert queue.name == "tiaki.unit.evaluation"
    assert queue.queue_arguments == {
        "x-queue-type": "quorum", "x-delivery-limit": 10,
        "x-dead-letter-exchange": "tiaki.dead-letters",
        "x-dead-letter-routing-key": "tiaki.unit.evaluation"}
    dlq = queues.dead_letter_queue(queue.name)
    assert dlq.name == "tiaki.unit.evaluation.dlq" and dlq.routing_key == queue.name


def test_classic_queues_when_asked(monkeypatch):
    monkeypatch.setenv("TIAKI_QUORUM_QUEUES", "0")
    assert "x-queue-type" not in queues.unit_queue("evaluation").queue_arguments
    assert queues.unit_queue("evaluation").queue_arguments["x-dead-letter-exchange"]


def test_retry_delay_doubles_with_each_delivery(monkeypatch):
    monkeypatch.setenv("TIAKI_RETRY_DELAY", "1")
    assert [queues.retry_delay({"x-delivery-count": n}) for n in (0, 1, 2, 3, 9)] == [
        1, 2, 4, 8, queues.MAX_RETRY_DELAY]
    assert queues.retry_delay({}, redelivered=True) == 2


def test_poison_is_parked_at_once_and_a_passing_failure_after_the_limit(
        fast_retries, container_factory, conn):
    Flaky.handled = []
    container = container_factory(Flaky)
    container.start()
    queue = "evt-poison_source-happened--flaky.handle"
    dispatch = event_dispatcher()

    dispatch(SOURCE, "happened", {"fail": "poison", "n": 1})
    wait_until(lambda: depth(conn, queues.dlq_name(queue)) == 1, what="poison parked")

    dispatch(SOURCE, "happened", {"fail": "passing", "n": 2})
    wait_until(lambda: depth(conn, queues.dlq_name(queue)) == 2, what="limit reached")

    with conn.channel() as channel:  # why each was parked, as the broker tells it
        reasons = []
        while (message := channel.basic_get(queues.dlq_name(queue), no_ack=True)):
            reasons.append(message.properties["application_headers"]["x-first-death-reason"])
    assert reasons == ["rejected", "delivery_limit"]
    assert queues.RETRIED.labels(queue)._value.get() >= 3

    with entrypoint_waiter(container, "handle"):  # and the next good event is handled
        dispatch(SOURCE, "happened", {"fail": "no", "n": 3})
    assert Flaky.handled == [3]


def test_undecodable_event_is_parked(container_factory, conn):
    container = container_factory(Flaky)
    container.start()
    queue = "evt-poison_source-happened--flaky.handle"
    Producer(conn.channel()).publish(b"\x80\x81 not json", exchange="", routing_key=queue,
                                     serializer=None, content_type="application/json",
                                     content_encoding="binary")
    wait_until(lambda: depth(conn, queues.dlq_name(queue)) == 1, what="undecodable parked")


# -- migrating an older queue ------------------------------------------------------------

def classic(conn, name: str, messages_in: int) -> Queue:
    """The queue as tiaki declared it before dead-lettering: classic, no arguments."""
    old = Queue(name, exchange=queues.UNITS_EXCHANGE, routing_key=f"unit.{name}",
                durable=True)
    with conn.channel() as channel:
        old(channel).declare()
        producer = Producer(channel)
        for n in range(messages_in):
            producer.publish({"n": n}, exchange="", routing_key=name, serializer="json",
                             delivery_mode=2)
    return old


def arguments(name: str) -> dict:
    import requests

    from tests.stack import Broker
    broker = Broker.shared()
    vhost = config["AMQP_URI"].rsplit("/", 1)[1]
    reply = requests.get(f"{broker.mgmt}/api/queues/{vhost}/{name}", auth=broker.admin,
                         timeout=10)
    reply.raise_for_status()
    return reply.json()


def test_classic_queue_is_migrated_with_its_messages(conn):
    classic(conn, "tiaki.unit.old", 3)
    queues.declare(conn, queues.unit_queue("old"))
    found = arguments("tiaki.unit.old")
    assert found["type"] == "quorum" and found["arguments"]["x-delivery-limit"] == 10
    assert depth(conn, "tiaki.unit.old") == 3
    assert depth(conn, "tiaki.unit.old.dlq") == 0
    with conn.channel() as channel:  # the holding queue is gone
        with pytest.raises(Exception, match="NOT_FOUND"):
            channel.queue_declare("tiaki.unit.old.migrating", passive=True)
    queues.declare(conn, queues.unit_queue("old"))  # and declaring again changes nothing
    assert depth(conn, "tiaki.unit.old") == 3


def test_consumed_classic_queue_is_left_alone_with_a_clear_error(conn):
    classic(conn, "tiaki.unit.busy", 2)
    with conn.channel() as channel:
        channel.basic_consume("tiaki.unit.busy", callback=lambda m: None)
        with pytest.raises(queues.QueueInOlderForm) as refused:
            queues.declare(conn, queues.unit_queue("busy"))
    assert "1 consumer(s) still read it" in str(refused.value)
    assert arguments("tiaki.unit.busy")["type"] == "classic"
    assert depth(conn, "tiaki.unit.busy") == 2  # back once its consumer went


def test_a_migration_cut_short_is_finished_on_the_next_start(conn):
    """Crashed after moving messages aside and replacing the queue: the next
    declaration moves them back."""
    holding = Queue("tiaki.unit.cut.migrating", exchange=queues.UNITS_EXCHANGE,
                    routing_key="unit.cut", durable=True)
    with conn.channel() as channel:
        holding(channel).declare()
        for n in range(4):
            Producer(channel).publish({"n": n}, exchange="", routing_key=holding.name,
                                      serializer="json", delivery_mode=2)
    queues.declare(conn, queues.unit_queue("cut"))
    assert depth(conn, "tiaki.unit.cut") == 4
    with conn.channel() as channel:
        with pytest.raises(Exception, match="NOT_FOUND"):
            channel.queue_declare(holding.name, passive=True)


def test_messages_published_during_a_migration_are_kept(conn):
    """Between moving the messages aside and declaring the new queue, the
    holding queue is bound as the old one was."""
    classic(conn, "tiaki.unit.live", 1)
    real_move = queues.move

    def move_and_publish(channel, source, target, **kwargs):
        if source == "tiaki.unit.live":  # mid-migration, a delivery is published
            with conn.channel() as other:
                Producer(other, exchange=queues.UNITS_EXCHANGE).publish(
                    {"n": "late"}, routing_key="unit.live", serializer="json", mandatory=True)
        return real_move(channel, source, target, **kwargs)

    queues.move = move_and_publish
    try:
        queues.declare(conn, queues.unit_queue("live"))
    finally:
        queues.move = real_move
    assert depth(conn, "tiaki.unit.live") == 2


def test_rpc_queue_is_quorum_and_dead_letters(container_factory, conn):
    """Quorum, so that a cluster keeps it while one node is down (a classic
    durable queue cannot be declared or consumed while its node is away)."""
    class Answering:
        name = "answering"

        @dead_letter.rpc
        def ping(self):
            return "pong"

    container_factory(Answering).start()
    found = arguments("rpc-answering")
    assert found["type"] == "quorum"
    assert found["arguments"]["x-dead-letter-routing-key"] == "rpc-answering"
    Producer(conn.channel(), exchange=Exchange("")).publish(
        {"args": [], "kwargs": {}}, routing_key="rpc-answering", serializer="json")  # no reply_to
    wait_until(lambda: depth(conn, "rpc-answering.dlq") == 1, what="unanswerable call parked")


def test_purpose_router_starts_on_a_broker_with_the_older_classic_queues(start_container, conn):
    """`make run` data from before: the service's queues are classic. It starts,
    they become what they should be, and a message waiting in one is kept (and
    here, being no batch at all, parked)."""
    from services.purpose_router.service import PurposeRouterService

    events = "evt-intake-records_accepted--purpose_router.route_batch"
    with conn.channel() as channel:
        for name, exchange, key in (
                (events, Exchange("intake.events", type="topic", durable=True), "records_accepted"),
                ("rpc-purpose_router", Exchange("nameko-rpc", type="topic", durable=True),
                 "purpose_router.*")):
            Queue(name, exchange=exchange, routing_key=key, durable=True)(channel).declare()
        Producer(channel).publish({"left": "over"}, exchange="", routing_key=events,
                                  serializer="json", delivery_mode=2)
    start_container(PurposeRouterService)
    assert arguments(events)["type"] == "quorum"
    assert arguments("rpc-purpose_router")["arguments"]["x-dead-letter-exchange"]
    wait_until(lambda: depth(conn, f"{events}.dlq") == 1, what="the leftover message parked")


def test_the_reply_queue_is_transient(container_factory, conn):
    """What stays classic goes with its process: the RPC reply queue, made
    again on whichever node of a cluster the process reconnects to (a durable
    one could not be declared while its node was down)."""
    import requests

    from tests.stack import Broker
    from tiaki.plumbing.broker import ServiceRpc

    class Calling:
        name = "calling"
        answering = ServiceRpc("answering")

        @dead_letter.rpc
        def ping(self):
            return "pong"

    container_factory(Calling).start()
    broker = Broker.shared()
    vhost = config["AMQP_URI"].rsplit("/", 1)[1]
    listed = requests.get(f"{broker.mgmt}/api/queues/{vhost}", auth=broker.admin,
                          timeout=10).json()
    reply = [q for q in listed if q["name"].startswith("rpc.reply-calling-")]
    assert len(reply) == 1 and reply[0]["durable"] is False and reply[0]["type"] == "classic"


def test_a_reply_lost_with_its_node_fails_the_call_not_the_service(rabbit_config):
    """The reply queue went with its node while a call waited: the call gets
    an error saying to try again (nameko's own listener would raise, ending
    the service)."""
    from eventlet.event import Event
    from nameko.exceptions import RemoteError, deserialize
    from nameko.rpc import get_rpc_exchange

    from tiaki.plumbing.broker import TransientReplyListener

    listener = TransientReplyListener()
    listener.queue = Queue("rpc.reply-gone", exchange=get_rpc_exchange(), routing_key="gone",
                           durable=False)
    waiting = Event()
    listener.pending = {"call-1": waiting}
    listener.check_for_lost_replies()
    error = deserialize(waiting.wait()["error"])
    assert isinstance(error, RemoteError) and "try again" in str(error)
    assert listener.pending == {}
