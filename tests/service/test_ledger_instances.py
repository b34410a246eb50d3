"""Two purpose_router instances appending to one provider's ledger at once:
each has its own lock and cached chain head (a Ledger of its own), and
the store's unique (provider, sequence) index makes the loser of a race read
the new head and append after it. The chain never forks: one entry per
sequence, each linked to the one before, each entry key once."""

from __future__ import annotations

import eventlet
import mongoengine
import pytest

from services.purpose_router.routing.ledger import Ledger
from tiaki.core.ledger import new_entry, verify_chain
from tiaki.plumbing.store import connect

ENTRIES = 40


@pytest.fixture
def two_instances(store_uri):
    connect(store_uri)
    a, b = Ledger(), Ledger()
    a.ensure_indexes()
    yield a, b
    mongoengine.disconnect()


def entry(n: int) -> dict:
    return new_entry("delivery", delivery_id=f"d{n}", provider_id="ccss", programme_id="p",
                     submission_id="s", purpose_id="q", unit_id="u", fields=["f"],
                     record_count=n, content_hash="h")


def test_two_instances_appending_at_once_keep_one_chain(two_instances):
    a, b = two_instances
    a.append("delivery:d0", entry(0))
    b.append("delivery:d-1", entry(-1))  # b's cached head is now ahead of a's

    def append_all(storage, keys):
        for n in keys:
            storage.append(f"delivery:d{n}", entry(n))
            eventlet.sleep(0)  # let the other instance in between every append

    # Both append the same entries, in different orders: each is stored once.
    pool = eventlet.GreenPool()
    pool.spawn(append_all, a, range(1, ENTRIES))
    pool.spawn(append_all, b, reversed(range(1, ENTRIES)))
    pool.waitall()

    entries = a.entries("ccss")
    verdict = verify_chain(entries)
    assert verdict.intact, verdict
    assert [e["sequence"] for e in entries] == list(range(1, ENTRIES + 2))
    assert sorted(e["entry_key"] for e in entries) == sorted(
        f"delivery:d{n}" for n in range(-1, ENTRIES))
