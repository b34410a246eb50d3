"""purpose_router's own database: plans, the flow ledger (one hash chain per
provider), and the per-batch partial aggregates kept until a submission is
sealed."""

from __future__ import annotations

import datetime as dt

import mongoengine as me
from eventlet.semaphore import Semaphore
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from services.purpose_router.domain import GENESIS, entry_hash
from tiaki.plan import Plan


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


class StoredPlan(me.Document):
    meta = {"collection": "plans", "indexes": [{"fields": ["programme_id", "-version"]}]}
    plan_key = me.StringField(primary_key=True)  # "<programme>@<version>"
    programme_id = me.StringField(required=True)
    version = me.IntField(required=True)
    plan = me.DictField(required=True)
    created_at = me.DateTimeField(required=True)
    created_by = me.StringField(required=True)


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


class Holding(me.Document):
    """Which pseudonyms one unit-level delivery carried: how a family's request
    finds exactly the units that hold the person's information."""
    meta = {"collection": "holdings", "indexes": [("provider_id", "programme_id")]}
    delivery_id = me.StringField(primary_key=True)
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)
    purpose_id = me.StringField(required=True)
    unit_id = me.StringField(required=True)
    pseudonyms = me.ListField(me.StringField())


class Partial(me.Document):
    meta = {"collection": "partials", "indexes": [("submission_id", "purpose_id")]}
    partial_key = me.StringField(primary_key=True)  # "<batch>:<purpose>"
    submission_id = me.StringField(required=True)
    purpose_id = me.StringField(required=True)
    # [[cell key, count, [sums]], ...]: a list, since cell keys are free text
    cells = me.ListField()


class Seal(me.Document):
    meta = {"collection": "seals"}
    submission_id = me.StringField(primary_key=True)
    event = me.DictField(required=True)


class RouterStorage:
    def __init__(self):
        self._chain_locks: dict[str, Semaphore] = {}
        self._heads: dict[str, tuple[int, str]] = {}

    def ensure_indexes(self):
        for doc in (StoredPlan, LedgerEntry, Holding, Partial, Seal):
            doc.ensure_indexes()

    # -- plans ------------------------------------------------------------------

    def create_plan(self, plan_dict: dict, created_by: str) -> Plan:
        """Stores the programme's next plan version (checked before storing)."""
        while True:
            latest = self.plan(plan_dict.get("programme_id", ""), 0)
            version = latest.version + 1 if latest else 1
            plan = Plan.from_dict(plan_dict, version=version)
            try:
                StoredPlan(plan_key=f"{plan.programme_id}@{version}",
                           programme_id=plan.programme_id, version=version,
                           plan=plan.to_dict(), created_by=created_by,
                           created_at=dt.datetime.now(dt.timezone.utc)).save(force_insert=True)
                return plan
            except (DuplicateKeyError, me.NotUniqueError):
                continue  # another writer took this version number: take the next

    def plan(self, programme_id: str, version: int) -> Plan | None:
        if version:
            doc = StoredPlan._get_collection().find_one({"_id": f"{programme_id}@{version}"})
        else:
            doc = StoredPlan._get_collection().find_one(
                {"programme_id": programme_id}, sort=[("version", DESCENDING)])
        return Plan.from_dict(doc["plan"]) if doc else None

    # -- the ledger -------------------------------------------------------------

    def entry(self, entry_key: str) -> dict | None:
        return LedgerEntry._get_collection().find_one({"entry_key": entry_key}, {"_id": 0})

    def append(self, entry_key: str, entry: dict) -> dict:
        """Appends to the provider's chain once per entry_key, and returns the
        stored entry. Serialised per provider in this process; another
        process racing for the same sequence loses on the unique index and
        retries on the new head."""
        provider = entry["provider_id"]
        lock = self._chain_locks.setdefault(provider, Semaphore())
        coll = LedgerEntry._get_collection()
        with lock:
            while True:
                existing = self.entry(entry_key)
                if existing is not None:
                    return existing
                seq, previous = self._head(provider)
                doc = dict(entry, entry_key=entry_key, sequence=seq + 1,
                           previous_hash=previous, recorded_at=now_iso())
                doc["entry_hash"] = entry_hash(doc)
                try:
                    coll.insert_one(dict(doc))
                except DuplicateKeyError:
                    self._heads.pop(provider, None)
                    continue
                self._heads[provider] = (doc["sequence"], doc["entry_hash"])
                return doc

    def _head(self, provider: str) -> tuple[int, str]:
        if provider not in self._heads:
            last = LedgerEntry._get_collection().find_one(
                {"provider_id": provider}, sort=[("sequence", DESCENDING)])
            self._heads[provider] = (last["sequence"], last["entry_hash"]) if last else (0, GENESIS)
        return self._heads[provider]

    def entries(self, provider_id: str, submission_id: str = "", after: int = 0,
                limit: int = 0) -> list[dict]:
        query = {"provider_id": provider_id, "sequence": {"$gt": after}}
        if submission_id:
            query["submission_id"] = submission_id
        cursor = LedgerEntry._get_collection().find(query, {"_id": 0}).sort("sequence", 1)
        if limit:
            cursor = cursor.limit(limit)
        return list(cursor)

    def delivery(self, delivery_id: str) -> dict | None:
        return self.entry(f"delivery:{delivery_id}")

    def deliveries_to_unit(self, unit_id: str, delivery_ids: list[str],
                           submission_ids: list[str]) -> list[dict]:
        """The unit's own delivery entries among these deliveries, and of these
        submissions (two queries: the embedded store has no $or we rely on)."""
        coll = LedgerEntry._get_collection()
        found = {}
        for key, ids in (("delivery_id", delivery_ids), ("submission_id", submission_ids)):
            if ids:
                for e in coll.find({"kind": "delivery", "unit_id": unit_id,
                                    key: {"$in": list(ids)}}, {"_id": 0}):
                    found[e["delivery_id"]] = e
        return [found[d] for d in sorted(found)]

    # -- holdings -----------------------------------------------------------------

    def save_holding(self, delivery_id: str, provider_id: str, programme_id: str,
                     purpose_id: str, unit_id: str, pseudonyms: list[str]):
        try:
            Holding._get_collection().insert_one({
                "_id": delivery_id, "provider_id": provider_id, "programme_id": programme_id,
                "purpose_id": purpose_id, "unit_id": unit_id, "pseudonyms": pseudonyms})
        except DuplicateKeyError:
            pass  # a redelivered batch: the same delivery, the same pseudonyms

    def holdings(self, provider_id: str, programme_id: str, purpose_id: str,
                 pseudonym: str) -> list[dict]:
        # $in, not equality: the embedded store matches array members only with $in.
        return list(Holding._get_collection().find(
            {"provider_id": provider_id, "programme_id": programme_id,
             "purpose_id": purpose_id, "pseudonyms": {"$in": [pseudonym]}},
            {"pseudonyms": 0}))

    def accesses(self, delivery_ids: list[str]) -> list[dict]:
        return list(LedgerEntry._get_collection().find(
            {"delivery_id": {"$in": delivery_ids}, "kind": "access"}, {"_id": 0})
            .sort("sequence", 1))

    # -- aggregates ---------------------------------------------------------------

    # Upserts repeat _id in the replacement: the embedded store ignores the
    # filter's _id on an upsert (MongoDB accepts it either way).
    def save_partial(self, batch_id: str, submission_id: str, purpose_id: str, cells: dict):
        Partial._get_collection().replace_one(
            {"_id": f"{batch_id}:{purpose_id}"},
            {"_id": f"{batch_id}:{purpose_id}", "submission_id": submission_id,
             "purpose_id": purpose_id, "cells": [[key, count, sums] for key, (count, sums) in cells.items()]},
            upsert=True)

    def partials(self, submission_id: str, purpose_id: str) -> dict[str, dict]:
        cursor = Partial._get_collection().find(
            {"submission_id": submission_id, "purpose_id": purpose_id})
        return {d["_id"].rsplit(":", 1)[0]: {key: [count, sums] for key, count, sums in d["cells"]}
                for d in cursor}

    def save_seal(self, event: dict):
        Seal._get_collection().replace_one({"_id": event["submission_id"]},
                                           {"_id": event["submission_id"], "event": event},
                                           upsert=True)

    def seal(self, submission_id: str) -> dict | None:
        doc = Seal._get_collection().find_one({"_id": submission_id})
        return doc["event"] if doc else None


class Secret(me.Document):
    meta = {"collection": "secrets"}
    name = me.StringField(primary_key=True)
    value = me.BinaryField(required=True)


def stored_secret(name: str) -> bytes:
    """A random secret made on first use and kept in this service's store, so
    it survives restarts and every instance shares it."""
    import secrets

    found = Secret.objects(name=name).first()
    if found is None:
        try:
            Secret(name=name, value=secrets.token_bytes(32)).save(force_insert=True)
        except (DuplicateKeyError, me.NotUniqueError):
            pass
        found = Secret.objects(name=name).first()
    return bytes(found.value)
