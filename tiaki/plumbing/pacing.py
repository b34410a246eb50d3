"""Bulk work that gives way to calls.

A service's eventlet hub runs one greenlet at a time and switches only when
that greenlet waits (on the store, the broker, a socket). Validating or routing
a batch of thousands of records is pure Python for tens of milliseconds (far
longer on a busy machine), and an RPC that arrives meanwhile (a family's access
request asking intake for pseudonyms, purpose_router for the holders) waited
for all of it at each of its store round trips. So bulk loops call `give_way`
every so many records: the hub reads its sockets, and while this process
answers an RPC (`CallsFirst` keeps count) the bulk work waits for it, up to
MAX_PAUSE at a turn so a stream of calls slows the records but never stops
them. A call then waits for a slice of bulk work, not for whole batches
(tests/bench/requests_under_load.py, docs/capacity.md M8)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

import eventlet
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc

EVERY = 100  # records between turns: well under a millisecond of work on a quiet core
MAX_PAUSE = 0.25  # seconds bulk work waits for calls at one turn, at most
PAUSE_STEP = 0.002  # seconds between its looks at whether they are done
# A call counted longer ago than this is no longer waited for: nameko skips a
# worker's teardown when sending its reply fails, and the count must not stick.
FORGET_AFTER = 10.0

T = TypeVar("T")

_calls: dict[int, float] = {}  # this process's RPC workers being answered -> when they began


def calls_in_flight() -> bool:
    now = time.monotonic()
    for worker, began in list(_calls.items()):
        if now - began > FORGET_AFTER:
            _calls.pop(worker, None)
    return bool(_calls)


def give_way() -> None:
    """Lets every other ready greenlet run once, then waits (up to MAX_PAUSE)
    while this process answers an RPC."""
    eventlet.sleep(0)
    until = time.monotonic() + MAX_PAUSE
    while calls_in_flight() and time.monotonic() < until:
        eventlet.sleep(PAUSE_STEP)


def paced(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """The items, giving way before every `every`-th after the first."""
    for n, item in enumerate(items):
        if n and n % every == 0:
            give_way()
        yield item


class CallsFirst(DependencyProvider):
    """Declared by a service whose bulk work gives way: counts its RPC workers
    in flight, for `give_way` to wait for."""

    def worker_setup(self, worker_ctx):
        if isinstance(worker_ctx.entrypoint, Rpc):
            _calls[id(worker_ctx)] = time.monotonic()

    def worker_teardown(self, worker_ctx):
        _calls.pop(id(worker_ctx), None)
