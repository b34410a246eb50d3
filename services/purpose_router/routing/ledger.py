"""The flow ledger's store: one hash chain per provider (the format is
tiaki.core.ledger). Entries are written once and never changed."""

from __future__ import annotations

import mongoengine as me
from eventlet.semaphore import Semaphore
from prometheus_client import Counter

from tiaki.core.clock import now_iso
from tiaki.core.errors import Conflict
from tiaki.core.ledger import GENESIS, HASHED_FIELDS, OPTIONAL_HASHED_FIELDS, chain
from tiaki.plumbing import store

LEDGER_ENTRIES = Counter("tiaki_router_ledger_entries_total", "Ledger entries appended", ["kind"])

# What an entry is read back as: the format's fields (core.ledger) and its store key.
LEDGER_FIELDS = [*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS, "entry_hash", "entry_key"]


class LedgerEntry(me.Document):
    """One link of a provider's chain. `entry_key` makes appends idempotent:
    a redelivered batch finds its delivery already recorded."""
    meta = {"collection": "ledger", "indexes": [
        {"fields": ["provider_id", "sequence"], "unique": True},
        {"fields": ["entry_key"], "unique": True},
        {"fields": ["provider_id", "submission_id"]},
        {"fields": ["delivery_id"]},
    ]}
    entry_key = me.StringField(required=True)
    provider_id = me.StringField(required=True)
    sequence = me.IntField(required=True)
    submission_id = me.StringField()
    delivery_id = me.StringField()


def _entry(doc: dict | None) -> dict | None:
    return None if doc is None else {k: v for k, v in doc.items() if k != "_id"}


class Ledger:
    """Entries come out as dicts of the ledger's fields (and their entry_key),
    the format the chain is hashed and verified in."""

    def __init__(self):
        self._entries = store.Collection(LedgerEntry)
        self._chain_locks: dict[str, Semaphore] = {}
        self._heads: dict[str, tuple[int, str]] = {}

    def ensure_indexes(self):
        LedgerEntry.ensure_indexes()

    def entry(self, entry_key: str) -> dict | None:
        return _entry(self._entries.find_one({"entry_key": entry_key}, fields=LEDGER_FIELDS))

    def append(self, entry_key: str, entry: dict) -> dict:
        """Appends an entry (tiaki.core.ledger.new_entry) to its provider's chain
        once per entry_key, and returns the stored entry. Serialised per provider
        in this process; another process racing for the same sequence loses on
        the unique index and retries on the new head."""
        provider = entry["provider_id"]

        def attempt() -> dict:
            existing = self.entry(entry_key)
            if existing is not None:
                return existing
            sequence, previous = self._head(provider)
            link = dict(chain(entry, sequence + 1, previous, now_iso()), entry_key=entry_key)
            if not self._entries.insert(link):  # insert copies: link keeps no _id
                self._heads.pop(provider, None)
                raise Conflict("sequence", f"entry {sequence + 1} was appended meanwhile")
            self._heads[provider] = (link["sequence"], link["entry_hash"])
            LEDGER_ENTRIES.labels(link["kind"]).inc()
            return link

        with self._chain_locks.setdefault(provider, Semaphore()):
            return store.retrying(attempt, tries=100, field="sequence",
                                  what="the chain kept growing; try again")

    def _head(self, provider: str) -> tuple[int, str]:
        if provider not in self._heads:
            last = self._entries.latest({"provider_id": provider}, by="sequence",
                                        fields=["sequence", "entry_hash"])
            self._heads[provider] = (last["sequence"], last["entry_hash"]) if last else (0, GENESIS)
        return self._heads[provider]

    def head(self, provider_id: str) -> dict | None:
        """The provider's last entry, read from the store (another instance may
        have appended since this one cached its head)."""
        return _entry(self._entries.latest({"provider_id": provider_id}, by="sequence",
                                           fields=LEDGER_FIELDS))

    def entries(self, provider_id: str, submission_id: str = "", after: int = 0,
                limit: int = 0) -> list[dict]:
        query = {"provider_id": provider_id, "sequence": {"$gt": after}}
        if submission_id:
            query["submission_id"] = submission_id
        return [_entry(e) for e in self._entries.find(query, sort="sequence", limit=limit,
                                                      fields=LEDGER_FIELDS)]

    def delivery(self, delivery_id: str) -> dict | None:
        return self.entry(f"delivery:{delivery_id}")

    def deliveries_to_unit(self, unit_id: str, delivery_ids: list[str],
                           submission_ids: list[str]) -> list[dict]:
        """The unit's own delivery entries among these deliveries, and of these submissions."""
        found = {e["delivery_id"]: _entry(e) for e in self._entries.find_any(
            [{"kind": "delivery", "unit_id": unit_id, key: {"$in": list(ids)}}
             for key, ids in (("delivery_id", delivery_ids), ("submission_id", submission_ids))
             if ids], fields=LEDGER_FIELDS)}
        return [found[d] for d in sorted(found)]

    def deliveries_in(self, provider_id: str, programme_id: str, period: str) -> list[dict]:
        """A provider's delivery entries of one programme and period, in sequence."""
        return [_entry(e) for e in self._entries.find(
            {"provider_id": provider_id, "kind": "delivery", "programme_id": programme_id,
             "period": period}, sort="sequence", fields=LEDGER_FIELDS)]

    def deliveries(self, delivery_ids: list[str]) -> list[dict]:
        """These deliveries' entries (those that exist), in sequence."""
        return [_entry(e) for e in self._entries.find(
            {"delivery_id": {"$in": list(delivery_ids)}, "kind": "delivery"},
            sort="sequence", fields=LEDGER_FIELDS)]

    def superseded(self, delivery_ids: list[str]) -> set[str]:
        """Those of these deliveries a sealed replacement has superseded."""
        return {e["delivery_id"] for e in self._entries.find(
            {"delivery_id": {"$in": list(delivery_ids)}, "kind": "supersession"},
            fields=("delivery_id",))}

    def accesses(self, delivery_ids: list[str]) -> list[dict]:
        return [_entry(e) for e in self._entries.find(
            {"delivery_id": {"$in": list(delivery_ids)}, "kind": "access"},
            sort="sequence", fields=LEDGER_FIELDS)]
