"""Parking poison messages in nameko's consumers: event handlers and RPC
queues dead-letter what they cannot take (the queues themselves, and the rules
for what is poison, are tiaki/connect/queues.py, shared with the Agency units).

RPC queues are quorum queues too (TIAKI_QUORUM_QUEUES), and dead-letter a
request nobody can answer: on a cluster a durable classic queue lives on one
node, and while that node is down nobody can declare or consume it, so every
call to the service would fail. What stays classic is per process and goes
with it: the RPC reply queues (transient, tiaki/plumbing/broker.py ServiceRpc)
and the wake-up queues of insights' broadcast handlers (nameko's own, exclusive).
"""

from __future__ import annotations

import logging
import sys

import amqp.exceptions
import eventlet
from kombu import Connection
from nameko import config
from nameko.amqp.consume import Consumer
from nameko.amqp.publish import UndeliverableMessage
from nameko.constants import AMQP_SSL_CONFIG_KEY
from nameko.events import EventHandler
from nameko.exceptions import MalformedRequest, RpcTimeout
from nameko.rpc import Responder, Rpc, RpcConsumer, get_rpc_exchange

from tiaki.connect import queues
from tiaki.connect.queues import PARKED, RETRIED, declare, dlq_name, parking_queue, retry_delay

log = logging.getLogger("tiaki.dead_letter")

Poison = queues.Poison
# nameko's and eventlet's errors that may pass: a retry can succeed.
NAMEKO_PASSING = (UndeliverableMessage, RpcTimeout, eventlet.Timeout)
# Events of the record stream one instance takes at once: two keep it busy (one
# computes while the other waits on the store or broker) and leave workers free.
BULK_PREFETCH = 2


def is_poison(exc: BaseException) -> bool:
    return queues.is_poison(exc, NAMEKO_PASSING)


# -- nameko consumers -------------------------------------------------------------

def _park(message, queue: str, reason: str, detail: str):
    PARKED.labels(queue, reason).inc()
    log.error("parked a message from %s in %s: %s", queue, dlq_name(queue), detail)
    # As nameko acknowledges: with the connection gone the broker has it back already.
    if message.channel.connection:
        try:
            message.reject(requeue=False)
        except CONNECTION_LOST:
            pass


# A connection that drops under an ack shows as amqp's ConnectionError or, from the
# socket itself, a plain OSError (ConnectionResetError, BrokenPipeError).
CONNECTION_LOST = (amqp.exceptions.ConnectionError, OSError)


class ParkingConsumer(Consumer):
    """nameko's consumer, parking a message it cannot decode (kombu's default
    acknowledges it: gone, with only a log line to say so), and surviving a
    broker that goes away under an acknowledgement: nameko catches only amqp's
    ConnectionError there, so a reset socket ended the whole service. The
    broker has the message back already and redelivers it; handlers are
    idempotent."""

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except CONNECTION_LOST as exc:
            log.warning("the broker connection dropped under an acknowledgement (%s): the "
                        "message will be delivered again", type(exc).__name__)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except CONNECTION_LOST as exc:
            log.warning("the broker connection dropped under a requeue (%s): the broker "
                        "has the message back", type(exc).__name__)

    def on_decode_error(self, message, exc):
        queue = message.delivery_info.get("routing_key", "?")
        if self.queues:
            queue = self.queues[0].name
        _park(message, queue, "undecodable",
              f"cannot decode a {message.content_type!r} body of {len(message.body or b'')} "
              f"bytes: {str(exc)[:200]}")


class _Declaring:
    """Declares the queue (and its .dlq, migrating an older form) before the
    consumer starts: kombu's own declaration would retry a refused one forever."""

    def start(self):
        with Connection(self.amqp_uri) as connection:
            declare(connection, self.queue)
        super().start()


class ParkingEventHandler(_Declaring, EventHandler):
    """nameko's event handler on a quorum queue with a delivery limit: an event
    the handler cannot take is parked at once, one whose handling failed in a
    way that may pass is returned after a pause (and parked by the broker once
    it was delivered `TIAKI_DELIVERY_LIMIT` times).

    `bulk=True` (a handler of the record stream): at most BULK_PREFETCH_COUNT of
    its events are taken at once (config; BULK_PREFETCH by default), not as many
    as the service has workers, so RPC and gRPC calls (a family's access request)
    find a worker and do not queue behind the batches in the eventlet hub
    (tests/bench/requests_under_load.py, docs/capacity.md)."""

    consumer_cls = ParkingConsumer

    def __init__(self, *args, bulk: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.bulk = bulk

    def setup(self):
        if self.bulk:
            self.consumer_options.setdefault(
                "prefetch_count", int(config.get("BULK_PREFETCH_COUNT", BULK_PREFETCH)))
        super().setup()
        self.queue = parking_queue(self.queue.name, self.queue.exchange, self.queue.routing_key)
        self.consumer.queues = [self.queue]

    def handle_message(self, body, message):
        if not isinstance(body, dict):
            _park(message, self.queue.name, "not_an_object",
                  f"an event is a JSON object, not {type(body).__name__}")
            return
        super().handle_message(body, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.consumer.ack_message(message)
            return
        exc = exc_info[1]
        if is_poison(exc):
            _park(message, self.queue.name, "cannot_handle",
                  f"{self.method_name} failed with {type(exc).__name__}: {str(exc)[:300]}")
            return
        delay = retry_delay(message.headers, message.delivery_info.get("redelivered", False))
        log.warning("%s failed with %s (%s); returning the message in %.0f s", self.method_name,
                    type(exc).__name__, str(exc)[:200], delay)
        RETRIED.labels(self.queue.name).inc()

        def later():
            eventlet.sleep(delay)
            self.consumer.requeue_message(message)

        self.container.spawn_managed_thread(later)


event_handler = ParkingEventHandler.decorator


class ParkingRpcConsumer(_Declaring, RpcConsumer):
    """nameko's RPC queue, a quorum queue (available while one node of a cluster
    is down; see the module's docstring), dead-lettering a request that is not a call at all
    (nameko's own would end the service on one without a reply address)."""

    consumer_cls = ParkingConsumer

    def setup(self):
        super().setup()
        self.queue = parking_queue(self.queue.name, self.queue.exchange, self.queue.routing_key)
        self.consumer.queues = [self.queue]

    def handle_message(self, body, message):
        problem = None
        reply_to = message.properties.get("reply_to")
        if not reply_to:
            problem = "no reply_to: nobody to answer"
        elif not (isinstance(body, dict) and isinstance(body.get("args"), list)
                  and isinstance(body.get("kwargs"), dict)):
            problem = "not a call: a JSON object with args (a list) and kwargs (an object)"
        if problem is None:
            super().handle_message(body, message)
            return
        if reply_to and message.content_type == "application/json":
            # The caller gets nameko's own error for it, rather than waiting.
            try:
                raise MalformedRequest(problem)
            except MalformedRequest:
                Responder(self.amqp_uri, get_rpc_exchange(), message,
                          ssl=config.get(AMQP_SSL_CONFIG_KEY)).send_response(None, sys.exc_info())
        _park(message, self.queue.name, "not_a_call", problem)


class ParkingRpc(Rpc):
    rpc_consumer = ParkingRpcConsumer()


rpc = ParkingRpc.decorator

