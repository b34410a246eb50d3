"""purpose_router's own database: plans, the flow ledger (one hash chain per
provider), and the per-batch partial aggregates kept until a submission is
sealed."""

from __future__ import annotations

import datetime as dt

import mongoengine as me
from eventlet.semaphore import Semaphore
from pymongo import DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.purpose_router.domain import GENESIS, entry_hash, holding_bucket
from tiaki.core.plan import Plan


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
    """The people of one batch in one bucket, under the anchor purpose's
    pseudonyms, and the batch's deliveries (see domain.batch_holdings): how a
    family's request finds exactly the units holding the person's information.
    `bucket_key` is one equality lookup on an index (the embedded store indexes
    neither array members nor $in), then the pseudonym is matched among a few."""
    meta = {"collection": "batch_holdings", "indexes": ["bucket_key"]}
    holding_key = me.StringField(primary_key=True)  # "<batch>:<bucket>"
    bucket_key = me.StringField(required=True)  # "<provider>:<programme>:<anchor>:<bucket>"
    pseudonyms = me.ListField(me.StringField())
    deliveries = me.ListField(me.ListField(me.StringField()))  # [delivery_id, unit_id, purpose_id]


def bucket_key(provider_id: str, programme_id: str, anchor_purpose_id: str, bucket: str) -> str:
    return f"{provider_id}:{programme_id}:{anchor_purpose_id}:{bucket}"


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
        self.migrate_holdings()

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

    def chain_head(self, provider_id: str) -> dict | None:
        """The provider's last entry, read from the store (another instance may
        have appended since this one cached its head)."""
        return LedgerEntry._get_collection().find_one(
            {"provider_id": provider_id}, {"_id": 0, "sequence": 1, "entry_hash": 1,
                                           "recorded_at": 1}, sort=[("sequence", DESCENDING)])

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

    def save_holdings(self, batch_id: str, provider_id: str, programme_id: str,
                      holdings: list[dict]):
        docs = [{"_id": f"{batch_id}:{h['bucket']}", "pseudonyms": h["pseudonyms"],
                 "bucket_key": bucket_key(provider_id, programme_id, h["anchor"], h["bucket"]),
                 "deliveries": h["deliveries"]} for h in holdings]
        if not docs:
            return
        try:
            Holding._get_collection().insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            # A redelivered batch: the same people, the same deliveries. Anything
            # but a duplicate is a real failure and the batch is retried.
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    def holdings(self, provider_id: str, programme_id: str, anchor_purpose_id: str,
                 pseudonym: str) -> list[list[str]]:
        """[[delivery_id, unit_id, purpose_id]] of the batches that carried this
        pseudonym, were `anchor_purpose_id` their anchor purpose."""
        key = bucket_key(provider_id, programme_id, anchor_purpose_id, holding_bucket(pseudonym))
        # $in, not equality: the embedded store matches array members only with $in.
        return [d for h in Holding._get_collection().find(
            {"bucket_key": key, "pseudonyms": {"$in": [pseudonym]}}, {"deliveries": 1, "_id": 0})
            for d in h["deliveries"]]

    def migrate_holdings(self):
        """Moves holdings kept one document per delivery (before batch buckets)
        into batch buckets; safe to repeat after a crash (saving ignores duplicates)."""
        old = Holding._get_db()["holdings"]
        by_batch: dict[str, list[dict]] = {}
        for doc in old.find():
            by_batch.setdefault(doc["_id"].rsplit(":", 1)[0], []).append(doc)
        for batch_id, docs in by_batch.items():
            anchor = min(docs, key=lambda d: d["purpose_id"])
            deliveries = [[d["_id"], d["unit_id"], d["purpose_id"]]
                          for d in sorted(docs, key=lambda d: d["purpose_id"])]
            buckets: dict[str, list[str]] = {}
            for pseudonym in anchor.get("pseudonyms") or []:
                buckets.setdefault(holding_bucket(pseudonym), []).append(pseudonym)
            self.save_holdings(batch_id, anchor["provider_id"], anchor["programme_id"], [
                {"bucket": b, "anchor": anchor["purpose_id"], "pseudonyms": sorted(set(m)),
                 "deliveries": deliveries} for b, m in sorted(buckets.items())])
            old.delete_many({"_id": {"$in": [d["_id"] for d in docs]}})

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
