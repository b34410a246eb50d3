"""The broker's queues as services and Agency units both declare them, with
no nameko: every queue a service or a unit consumes has a dead-letter queue
`<queue>.dlq`, and no message is redelivered forever.

- Unit queues and event-handler queues are quorum queues (TIAKI_QUORUM_QUEUES=0
  gives classic ones) with a delivery limit (TIAKI_DELIVERY_LIMIT, default 10):
  a message returned that often (its consumer failing, or crashing, each time)
  is dead-lettered by the broker itself.
- A message that cannot be what its queue carries (not JSON, not the declared
  shape, or failing with an error that retrying cannot change) is rejected at
  once, and so dead-lettered; a failure that may pass (store or broker down) is
  retried after a growing pause, up to the delivery limit.

Dead-lettered messages go through the direct exchange `tiaki.dead-letters`
under their queue's name to `<queue>.dlq` (the alert rules and dashboards in
deploy/ read that name). `tiaki dead-letters list|replay QUEUE` reads them and
puts them back once the cause is fixed. The nameko side (parking consumers)
is tiaki/plumbing/dead_letter.py.
"""

from __future__ import annotations

import logging
import os

import amqp.exceptions
import kombu.exceptions
import pymongo.errors
from kombu import Connection, Exchange, Queue
from prometheus_client import Counter

from tiaki.core import messages

log = logging.getLogger("tiaki.dead_letter")

DEAD_LETTERS = Exchange("tiaki.dead-letters", type="direct", durable=True)
UNITS_EXCHANGE = Exchange(messages.UNITS_EXCHANGE, type="topic", durable=True)
DLQ_SUFFIX = ".dlq"
HOLDING_SUFFIX = ".migrating"
MAX_RETRY_DELAY = 30.0

PARKED = Counter("tiaki_messages_parked_total",
                 "Messages this process sent to a dead-letter queue at once, by reason",
                 ["queue", "reason"])
RETRIED = Counter("tiaki_messages_retried_total",
                  "Messages returned to their queue after a failure that may pass", ["queue"])


class Poison(ValueError):
    """A message that is not what its queue carries: retrying cannot help."""


class QueueNotProvisioned(RuntimeError):
    """A least-privilege user found no queue an administrator should have made."""


class QueueInOlderForm(RuntimeError):
    """A queue exists with other arguments and cannot be migrated now."""


# Errors that retrying the same message cannot change: the message does not
# have the shape the code reads. Anything else (the store or broker down, a
# race between instances) may pass, so it is retried up to the delivery limit.
POISON_ERRORS = (Poison, KeyError, IndexError, TypeError, AttributeError, ValueError,
                 UnicodeError, RecursionError, OverflowError)
# Never poison, whatever else they are (some are OSError or ValueError subclasses).
PASSING_ERRORS = (OSError, pymongo.errors.ConnectionFailure, kombu.exceptions.OperationalError,
                  amqp.exceptions.ConnectionError, QueueInOlderForm)


def is_poison(exc: BaseException, passing: tuple = ()) -> bool:
    """Whether retrying cannot help; `passing` adds errors that may pass (nameko's)."""
    return isinstance(exc, POISON_ERRORS) and not isinstance(exc, PASSING_ERRORS + passing)


# -- settings, read from the environment so services, units and the CLI agree ---

def quorum_queues() -> bool:
    return os.environ.get("TIAKI_QUORUM_QUEUES", "1").strip().lower() not in ("0", "false", "no")


def delivery_limit() -> int:
    return max(1, int(os.environ.get("TIAKI_DELIVERY_LIMIT", "10")))


def retry_delay(headers: dict | None, redelivered: bool = False) -> float:
    """Seconds to wait before returning a message whose handling failed in a
    way that may pass: doubling with each delivery (quorum queues count them in
    x-delivery-count), so an outage of a few minutes does not exhaust the limit."""
    base = float(os.environ.get("TIAKI_RETRY_DELAY", "1"))
    count = (headers or {}).get("x-delivery-count")
    if not isinstance(count, int):
        count = 1 if redelivered else 0
    return min(base * 2 ** min(count, 10), MAX_RETRY_DELAY)


# -- queues -----------------------------------------------------------------------

def dlq_name(queue_name: str) -> str:
    return queue_name + DLQ_SUFFIX


def queue_arguments(queue_name: str, quorum: bool | None = None) -> dict:
    """The arguments that dead-letter `queue_name` to its `.dlq` queue."""
    args = {"x-dead-letter-exchange": DEAD_LETTERS.name,
            "x-dead-letter-routing-key": queue_name}
    if quorum_queues() if quorum is None else quorum:
        args.update({"x-queue-type": "quorum", "x-delivery-limit": delivery_limit()})
    return args


def parking_queue(name: str, exchange: Exchange, routing_key: str,
                  quorum: bool | None = None) -> Queue:
    """A durable queue that parks what it cannot deliver in `<name>.dlq`."""
    return Queue(name, exchange=exchange, routing_key=routing_key, durable=True,
                 queue_arguments=queue_arguments(name, quorum))


def dead_letter_queue(queue_name: str) -> Queue:
    args = {"x-queue-type": "quorum"} if quorum_queues() else {}
    return Queue(dlq_name(queue_name), exchange=DEAD_LETTERS, routing_key=queue_name,
                 durable=True, queue_arguments=args)


def _holding_queue(queue: Queue) -> Queue:
    # Classic: quorum queues cannot be deleted only-if-empty, which this one is.
    return Queue(queue.name + HOLDING_SUFFIX, exchange=queue.exchange,
                 routing_key=queue.routing_key, durable=True)


def declare(connection: Connection, queue: Queue) -> None:
    """Declares `queue` and its dead-letter queue (that one first, so nothing
    is dead-lettered into nowhere), migrating a queue of an older form. A
    least-privilege broker user may not declare a dead-lettering queue (that
    takes reading it): an administrator's `tiaki broker-users` made it, and it
    only has to be there."""
    try:
        with connection.channel() as channel:
            dead_letter_queue(queue.name)(channel).declare()
        try:
            with connection.channel() as channel:
                queue(channel).declare()
        except amqp.exceptions.PreconditionFailed as exc:
            _migrate(connection, queue, exc)
    except amqp.exceptions.AccessRefused:
        if _passive(connection, queue.name) is None:
            raise QueueNotProvisioned(
                f"queue {queue.name} does not exist and this broker user may not create it: "
                "an administrator creates unit queues with `tiaki broker-users`") from None
        return
    _restore_held(connection, queue)


def _passive(connection: Connection, name: str):
    """(messages, consumers) of an existing queue, or None when there is none."""
    try:
        with connection.channel() as channel:
            _, messages, consumers = channel.queue_declare(name, passive=True)
            return messages, consumers
    except amqp.exceptions.NotFound:
        return None


def _migrate(connection: Connection, queue: Queue, refused: Exception) -> None:
    """Replaces a queue of another form, keeping its messages: a holding queue
    takes the queue's binding (so nothing published meanwhile is lost) and its
    messages, the queue is replaced, and the messages move back. A message can
    arrive twice (consumers are idempotent), never not at all."""
    messages, consumers = _passive(connection, queue.name) or (0, 0)
    if consumers:
        raise QueueInOlderForm(
            f"queue {queue.name!r} exists in an older form ({refused}) and {consumers} "
            f"consumer(s) still read it. Stop every process consuming it (older versions of "
            f"the service or unit), then start this one again: it moves the queue's "
            f"{messages} message(s) into the new queue (dead-lettering to "
            f"{dlq_name(queue.name)!r}). See README, 'Dead letters'.") from None
    log.warning("queue %s exists in an older form (%s); migrating its %d message(s)",
                queue.name, refused, messages)
    holding = _holding_queue(queue)
    with connection.channel() as channel:
        holding(channel).declare()  # bound as the queue is: new messages land here too
        channel.queue_unbind(queue.name, queue.exchange.name, queue.routing_key)
        move(channel, queue.name, holding.name)
    try:
        with connection.channel() as channel:
            channel.queue_delete(queue.name, if_unused=True)
    except amqp.exceptions.PreconditionFailed:
        raise QueueInOlderForm(f"queue {queue.name!r} gained a consumer while being migrated; "
                               "stop it and start again") from None
    with connection.channel() as channel:
        queue(channel).declare()
    log.warning("queue %s is now %s", queue.name, queue.queue_arguments)


def _restore_held(connection: Connection, queue: Queue) -> None:
    """Moves messages kept aside by a migration (maybe interrupted) back."""
    holding = _holding_queue(queue)
    if _passive(connection, holding.name) is None:
        return
    with connection.channel() as channel:
        channel.queue_unbind(holding.name, queue.exchange.name, queue.routing_key)
        moved = move(channel, holding.name, queue.name)
        channel.queue_delete(holding.name, if_empty=True)
    log.warning("queue %s: %d message(s) moved back after its migration", queue.name, moved)


def move(channel, source: str, target: str, limit: int | None = None, rewrite=None) -> int:
    """Moves messages from queue `source` to queue `target` (through the default
    exchange, so to that queue only), each confirmed by the broker before it is
    acknowledged in `source`: a crash leaves a message in both, never neither."""
    channel.confirm_select()
    moved = 0
    while limit is None or moved < limit:
        message = channel.basic_get(source, no_ack=False)
        if message is None:
            break
        if rewrite:
            rewrite(message)
        channel.basic_publish(message, exchange="", routing_key=target, mandatory=True)
        channel.basic_ack(message.delivery_tag)
        moved += 1
    return moved




def unit_queue(unit_id: str) -> Queue:
    """One durable (quorum) queue per unit; only that unit consumes it. What it
    cannot take is parked in `tiaki.unit.<unit>.dlq`."""
    return parking_queue(messages.unit_queue_name(unit_id), UNITS_EXCHANGE,
                         messages.unit_routing_key(unit_id))
