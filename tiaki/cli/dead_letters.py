"""`tiaki dead-letters ...`: read and replay messages parked in `<queue>.dlq`.

    tiaki dead-letters list tiaki.unit.evaluation          # what is parked, and why
    tiaki dead-letters list tiaki.unit.evaluation --full   # with whole bodies
    tiaki dead-letters replay tiaki.unit.evaluation        # all of them, back to their queue
    tiaki dead-letters replay tiaki.unit.evaluation --count 1

QUEUE is the queue the messages came from (its `.dlq` name works too): a unit
queue `tiaki.unit.<unit>`, an event queue `evt-<source>-<event>--<service>.<method>`
or an RPC queue `rpc-<service>`. Talks AMQP to the broker (--amqp-uri, or
TIAKI_AMQP_URI); bodies can carry pseudonymised records, so show them only to
whoever may read the queue itself.
"""

from __future__ import annotations

import datetime as dt
import json

import amqp.exceptions
import click
from kombu import Connection
from kombu.compression import decompress

from tiaki.connect import queues
from tiaki.plumbing.broker_users import admin_uri

PREVIEW = 300
# Headers the broker adds when it dead-letters; a replayed message starts clean.
DEATH_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue",
                 "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
                 "x-last-death-reason", "x-delivery-count")


def _names(queue: str) -> tuple[str, str]:
    """(queue, its dead-letter queue) from either name."""
    queue = queue.removesuffix(queues.DLQ_SUFFIX)
    return queue, queues.dlq_name(queue)


def _connect(uri: str) -> Connection:
    conn = Connection(uri, connect_timeout=10)
    try:
        conn.connect()
    except Exception as exc:  # any refusal: say where, and why, in one line
        raise click.ClickException(f"cannot reach the broker at {conn.as_uri()}: {exc}") from None
    return conn


def describe(message, index: int, full: bool) -> str:
    """One parked message: why and when it was parked, from where, and its body."""
    headers = message.properties.get("application_headers") or {}
    deaths = headers.get("x-death") or [{}]
    first = deaths[-1] if isinstance(deaths, list) and deaths else {}
    when = first.get("time")
    when = when.isoformat() if isinstance(when, dt.datetime) else str(when or "?")
    body = message.body
    if headers.get("compression") and isinstance(body, bytes | bytearray):
        try:  # compressed by its sender (intake's batches): shown as it was before
            body = decompress(body, headers["compression"])
        except Exception:  # noqa: BLE001 (shown as the bytes it is)
            pass
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else str(body)
    shown = text if full or len(text) <= PREVIEW else text[:PREVIEW] + f"... ({len(text)} chars)"
    context = {k: v for k, v in headers.items() if k.startswith("nameko.")}
    lines = [f"[{index}] parked {when}: {headers.get('x-first-death-reason', '?')}"
             f" from {headers.get('x-first-death-queue', '?')}"
             f" (routing key {first.get('routing-keys', ['?'])[0] if first else '?'},"
             f" parked {sum(d.get('count', 1) for d in deaths if isinstance(d, dict))} time(s))",
             f"    {message.properties.get('content_type', '?')}, {len(body or b'')} bytes"
             + (f", context {json.dumps(context, default=str)}" if context else ""),
             f"    {shown}"]
    return "\n".join(lines)


@click.group("dead-letters")
@click.option("--amqp-uri", envvar="TIAKI_AMQP_URI", default=admin_uri,
              show_default="the administrator's, from var/broker/tiaki-admin.uri",
              help="The broker (and vhost), as a user that may read the dead-letter queues "
                   "(or TIAKI_AMQP_URI).")
@click.pass_context
def dead_letters(ctx, amqp_uri: str) -> None:
    """Messages parked after failing too often, or not being messages at all."""
    ctx.obj = amqp_uri


@dead_letters.command("list")
@click.argument("queue")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--full", is_flag=True, help="Whole bodies, not the first few hundred characters.")
@click.pass_obj
def list_parked(amqp_uri: str, queue: str, limit: int, full: bool) -> None:
    """What is parked for QUEUE, oldest first (nothing is taken out)."""
    queue, dlq = _names(queue)
    with _connect(amqp_uri) as conn:
        try:
            with conn.channel() as channel:
                _, count, _ = channel.queue_declare(dlq, passive=True)
        except amqp.exceptions.NotFound:
            raise click.ClickException(f"no dead-letter queue {dlq!r} in this vhost") from None
        click.echo(f"{dlq}: {count} message(s) parked")
        # Read without acknowledging; closing the channel puts them all back.
        with conn.channel() as channel:
            for index in range(1, min(count, limit) + 1):
                message = channel.basic_get(dlq, no_ack=False)
                if message is None:
                    break
                click.echo(describe(message, index, full))
    if count > limit:
        click.echo(f"... and {count - limit} more (--limit)")


@dead_letters.command("replay")
@click.argument("queue")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="How many, oldest first (default: all).")
@click.pass_obj
def replay(amqp_uri: str, queue: str, count: int | None) -> None:
    """Puts parked messages back on QUEUE (only that queue) once the cause is fixed.

    Each is confirmed by the broker before it leaves the dead-letter queue; one
    that fails again is parked again."""
    queue, dlq = _names(queue)

    def fresh(message):
        headers = dict(message.properties.get("application_headers") or {})
        for name in DEATH_HEADERS:
            headers.pop(name, None)
        headers["x-tiaki-replays"] = int(headers.get("x-tiaki-replays", 0) or 0) + 1
        message.properties["application_headers"] = headers

    with _connect(amqp_uri) as conn:
        for name in (queue, dlq):
            try:
                with conn.channel() as channel:
                    _, waiting, _ = channel.queue_declare(name, passive=True)
            except amqp.exceptions.NotFound:
                raise click.ClickException(f"no queue {name!r} in this vhost") from None
        # At most what is parked now: a message that fails again comes straight
        # back to the dead-letter queue, and must not be replayed round and round.
        limit = min(count, waiting) if count else waiting
        with conn.channel() as channel:
            moved = queues.move(channel, dlq, queue, limit=limit, rewrite=fresh)
    click.echo(f"replayed {moved} message(s) from {dlq} to {queue}")
