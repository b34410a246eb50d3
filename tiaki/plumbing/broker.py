"""The services' side of the broker: one JSON codec, events already encoded,
deliveries to the Agency units' queues (names in tiaki/core/messages.py), and
RPC clients whose replies survive a cluster node going down."""

import zlib

from kombu import Connection, Queue
from nameko import config, rpc
from nameko.amqp.publish import Publisher
from nameko.events import EventDispatcher
from nameko.exceptions import ReplyQueueExpiredWithPendingReplies, serialize
from nameko.extensions import DependencyProvider
from nameko.messaging import encode_to_headers

from tiaki.connect import codec, queues  # noqa: F401 (codec: registers the JSON codec)
from tiaki.core import errors, fastjson
from tiaki.core.messages import unit_routing_key

# kombu's header and name for a zlib-compressed body (kombu/compression.py):
# its consumers, nameko's among them, decompress such a body before decoding it.
COMPRESSION_HEADER, ZLIB = "compression", "application/x-gzip"
COMPRESS_FROM = 16 * 1024  # bytes of JSON: smaller deliveries gain little from it


class PackedJson(bytes):
    """An event's JSON compressed with zlib, as intake stores a batch: sent as
    it is, under kombu's compression header, so the batch is encoded and
    compressed once for the store and the broker, and the broker, intake and
    purpose_router move a fifth of the bytes (kombu's consumer decompresses)."""

    @classmethod
    def pack(cls, text: bytes) -> "PackedJson":
        return cls(zlib.compress(text, 1))  # level 1: most of the gain for little CPU

    def unpack(self) -> bytes:
        return zlib.decompress(self)


class JsonEventDispatcher(EventDispatcher):
    """nameko's event dispatcher that also takes an event already encoded as
    JSON (bytes or text, or PackedJson), so intake encodes a batch once for
    both its outbox and the broker."""

    def get_dependency(self, worker_ctx):
        dispatch_object = super().get_dependency(worker_ctx)

        def dispatch(event_type, event_data):
            if not isinstance(event_data, (bytes, str)):
                return dispatch_object(event_type, event_data)
            headers = encode_to_headers(worker_ctx.context_data)
            if isinstance(event_data, PackedJson):
                headers[COMPRESSION_HEADER] = ZLIB
            self.publisher.publish(
                event_data, exchange=self.exchange, routing_key=event_type,
                extra_headers=headers,
                serializer=None, content_type="application/json", content_encoding="utf-8")

        return dispatch


class UnitQueues(DependencyProvider):
    """Publishes deliveries to units' durable queues, persistent, with
    publisher confirms; `mandatory` so a missing queue is an error, not a loss."""

    def setup(self):
        self.amqp_uri = config["AMQP_URI"]
        self.publisher = Publisher(self.amqp_uri, use_confirms=True, mandatory=True,
                                   exchange=queues.UNITS_EXCHANGE)
        self.declared: set[str] = set()

    def get_dependency(self, worker_ctx):
        return self

    def declare(self, unit_id: str):
        if unit_id not in self.declared:
            with Connection(self.amqp_uri) as conn:
                queues.declare(conn, queues.unit_queue(unit_id))
            self.declared.add(unit_id)

    def deliver(self, unit_id: str, body: dict):
        self.declare(unit_id)
        encoded, headers = encode_delivery(body)
        self.publisher.publish(encoded, routing_key=unit_routing_key(unit_id), serializer=None,
                               content_type="application/json", content_encoding="utf-8",
                               extra_headers=headers)


def encode_delivery(body: dict) -> tuple[bytes, dict]:
    """A unit's delivery as sent: its JSON, and its headers. A batch's records
    go compressed as intake's batches do (PackedJson), so the broker and the
    unit move a fifth of the bytes (the unit SDK's kombu consumer decompresses
    them); a query, an aggregate or a supersession goes as it is."""
    text = fastjson.dumps(body)
    if len(text) < COMPRESS_FROM:
        return text, {}
    return PackedJson.pack(text), {COMPRESSION_HEADER: ZLIB}


class TransientReplyListener(rpc.ReplyListener):
    """nameko's RPC reply queue, but transient. nameko declares it durable: on
    a cluster it then lives on one node, and while that node is down nobody
    can declare it again, so every call this process makes waits until the
    node is back. A transient queue goes with its node and this process makes
    it again on the node it reconnects to. The replies it held are lost with
    it: the calls waiting for them fail (Unavailable; the caller tries again)
    instead of nameko ending the service."""

    def setup(self):
        super().setup()
        held = self.queue
        self.queue = Queue(held.name, exchange=held.exchange, routing_key=held.routing_key,
                           durable=False, queue_arguments=held.queue_arguments)
        self.consumer.queues = [self.queue]

    def check_for_lost_replies(self):
        try:
            super().check_for_lost_replies()
        except ReplyQueueExpiredWithPendingReplies:
            lost, self.pending = self.pending, {}
            error = serialize(errors.Unavailable(
                "", "the broker node holding this call's reply went down; try again"))
            for waiting in lost.values():
                waiting.send({"result": None, "error": error})


class ServiceRpc(rpc.ServiceRpc):
    """nameko's RPC client to a service, with its replies on a transient queue."""

    reply_listener = TransientReplyListener()


def reachable(amqp_uri: str, timeout: float = 1.0) -> bool:
    """Whether the broker accepts a connection (health checks), within about `timeout` s."""
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        return True
    except Exception:  # noqa: BLE001  any failure to connect is "unreachable"
        return False
