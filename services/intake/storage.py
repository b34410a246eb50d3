"""Intake's own database: submissions, stored batches (the outbox) and the
pseudonym keys. Batches are stored whole, records compressed in one field:
the store is fast at few large documents and slow at many small ones."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
import zlib

import mongoengine as me
from bson import Binary
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Submission(me.Document):
    meta = {"collection": "submissions", "indexes": ["provider_id"]}
    submission_id = me.StringField(primary_key=True)
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)
    plan_version = me.IntField(required=True)
    period = me.StringField(required=True)
    state = me.StringField(required=True, choices=("open", "sealed"))
    # Times are epoch seconds: the embedded store turns a date written by
    # $set into text and cannot range-query dates (MongoDB does both).
    opened_at = me.FloatField(required=True)
    sealed_at = me.FloatField()
    # The seal event is in the outbox until published.
    seal_published = me.BooleanField(default=False)
    # The provider's agreement version it was opened under (0: no agreement needed).
    agreement_version = me.IntField(default=0)
    seal_claimed_until = me.FloatField()  # one relay at a time publishes it


class Batch(me.Document):
    """One stored batch: the event payload that goes to purpose_router.

    A submission's batches take numbered slots, 1, 2, 3, ...: the id is
    "<submission>.<slot>", so two intake instances storing the same slot
    collide on the primary key and the loser checks its records again against
    the winner's. Batches stored before slots have a uuid and no `seq`."""
    meta = {"collection": "batches", "indexes": ["submission_id", ("submission_id", "seq")]}
    batch_id = me.StringField(primary_key=True)
    submission_id = me.StringField(required=True)
    seq = me.IntField()  # the slot; absent on batches stored before slots
    closes = me.BooleanField()  # the slot taken by the seal: no batch comes after it
    record_refs = me.ListField(me.StringField())
    accepted_count = me.IntField(required=True)
    rejected_count = me.IntField(required=True)
    payload = me.BinaryField()  # zlib-compressed JSON of the event payload
    stored_at = me.FloatField(required=True)


class OutboxEntry(me.Document):
    """A batch the broker has not confirmed yet. A small document of its own:
    flipping a flag inside a batch would rewrite the whole batch in the store.

    Written before its batch and deleted once published; an entry whose batch
    was never stored (a crash in between, so the call was never acknowledged)
    is dropped by the outbox relay."""
    meta = {"collection": "outbox", "indexes": ["submission_id", "stored_at", "batch_id"]}
    entry_id = me.StringField(primary_key=True)  # the batch id in entries stored before slots
    batch_id = me.StringField()
    submission_id = me.StringField(required=True)
    stored_at = me.FloatField(required=True)
    # Until when one relay (of several instances) has taken it to publish.
    claimed_until = me.FloatField()


class PseudonymKey(me.Document):
    """The secret key per programme and purpose. Held only here."""
    meta = {"collection": "pseudonym_keys"}
    key_id = me.StringField(primary_key=True)  # "<programme>/<purpose>"
    secret = me.BinaryField(required=True)
    created_at = me.DateTimeField(required=True)


class NotFound(LookupError):
    pass


class SlotTaken(Exception):
    """Another writer (another intake instance) stored this batch slot first."""


CLAIM_SECONDS = 30  # how long a relay's claim on an outbox entry holds if it dies


class IntakeStorage:
    NotFound = NotFound
    SlotTaken = SlotTaken

    def __init__(self):
        self._keys: dict[str, bytes] = {}  # keys never change once made
        self._generations: dict[str, tuple[int, float]] = {}  # programme -> (generation, read at)

    def ensure_indexes(self):
        for doc in (Submission, Batch, OutboxEntry, PseudonymKey, KeyGeneration):
            doc.ensure_indexes()

    # -- submissions -----------------------------------------------------------

    def open_submission(self, provider_id, programme_id, plan_version, period,
                        agreement_version=0) -> Submission:
        sub = Submission(submission_id=str(uuid.uuid4()), provider_id=provider_id,
                         programme_id=programme_id, plan_version=plan_version, period=period,
                         agreement_version=agreement_version, state="open",
                         opened_at=time.time())
        sub.save(force_insert=True)
        return sub

    def submission(self, submission_id: str) -> Submission:
        sub = Submission.objects(submission_id=submission_id).first()
        if sub is None:
            raise NotFound(submission_id)
        return sub

    def seal(self, submission_id: str) -> bool:
        """Marks the submission sealed; False when it already was."""
        changed = Submission.objects(submission_id=submission_id, state="open").update_one(
            set__state="sealed", set__sealed_at=time.time())
        return bool(changed)

    def mark_seal_published(self, submission_id: str):
        Submission.objects(submission_id=submission_id).update_one(set__seal_published=True)

    def claim_unpublished_seals(self, older_than: float, limit=100) -> list[Submission]:
        """Sealed submissions whose seal event is unpublished, each claimed for
        this caller, so the relays of several instances do not all send it."""
        now = time.time()
        claimed = []
        for sub in Submission.objects(state="sealed", seal_published=False).limit(limit):
            if not sub.sealed_at or sub.sealed_at >= older_than or (
                    sub.seal_claimed_until or 0) >= now:
                continue
            # Conditional on the value read: one of two relays wins. (None also
            # matches a field never written, on MongoDB and the embedded store.)
            if Submission.objects(submission_id=sub.submission_id, seal_published=False,
                                  seal_claimed_until=sub.seal_claimed_until).update_one(
                    set__seal_claimed_until=now + CLAIM_SECONDS):
                claimed.append(sub)
        return claimed

    def counts(self, submission_id: str) -> tuple[int, int]:
        """(accepted, rejected), summed from the stored batches (never drifts)."""
        rows = Batch._get_collection().aggregate([
            {"$match": {"submission_id": submission_id}},
            {"$group": {"_id": None, "a": {"$sum": "$accepted_count"},
                        "r": {"$sum": "$rejected_count"}}},
        ])
        for row in rows:
            return int(row["a"]), int(row["r"])
        return 0, 0

    # -- batches (the outbox) ----------------------------------------------------

    def refs_after(self, submission_id: str, after: int | None) -> tuple[int, set[str], bool]:
        """(the highest slot stored, the record refs of the batches in slots
        after `after`, whether the seal's slot is among them); None reads every
        batch, those stored before slots too."""
        query = {"submission_id": submission_id}
        if after is not None:
            query["seq"] = {"$gt": after}
        highest, refs, closed = after or 0, set(), False
        for doc in Batch._get_collection().find(query, {"record_refs": 1, "seq": 1,
                                                        "closes": 1}):
            refs.update(doc.get("record_refs") or ())
            highest = max(highest, doc.get("seq") or 0)
            closed |= bool(doc.get("closes"))
        return highest, refs, closed

    def store_batch(self, submission_id, slot, record_refs, rejected_count, payload):
        """Stores the batch in the submission's slot `slot`, with its event
        payload (given its batch_id), and puts it in the outbox when it has
        records to send. Returns the batch id and the payload as JSON text,
        encoded once for the store and the broker. SlotTaken when another
        writer stored that slot first: nothing of this batch stays stored."""
        batch_id = payload["batch_id"] = f"{submission_id}.{slot}"
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        now = time.time()
        entry_id = None
        if record_refs:  # the outbox entry first: a crash after the batch still publishes it
            entry_id = str(uuid.uuid4())
            OutboxEntry._get_collection().insert_one(
                {"_id": entry_id, "batch_id": batch_id, "submission_id": submission_id,
                 "stored_at": now})
        try:
            Batch._get_collection().insert_one({
                "_id": batch_id, "submission_id": submission_id, "seq": slot,
                "record_refs": record_refs, "accepted_count": len(record_refs),
                "rejected_count": rejected_count,
                "payload": Binary(zlib.compress(text.encode(), 1)), "stored_at": now,
            })
        except DuplicateKeyError:
            if entry_id:
                OutboxEntry._get_collection().delete_one({"_id": entry_id})
            raise SlotTaken(batch_id) from None
        return batch_id, text

    def close_batches(self, submission_id: str):
        """Takes the submission's next slot with a batch of nothing, after the
        submission is marked sealed: an instance that read it open a moment
        before can then store no batch after the seal lists the batches (its
        slot is taken, and reading again it finds the submission sealed).
        Safe to repeat."""
        coll = Batch._get_collection()
        while coll.find_one({"submission_id": submission_id, "closes": True}, {"_id": 1}) is None:
            last = coll.find_one({"submission_id": submission_id, "seq": {"$gt": 0}},
                                 {"seq": 1}, sort=[("seq", DESCENDING)])
            slot = (last["seq"] if last else 0) + 1
            try:
                coll.insert_one({"_id": f"{submission_id}.{slot}", "submission_id": submission_id,
                                 "seq": slot, "closes": True, "record_refs": [],
                                 "accepted_count": 0, "rejected_count": 0,
                                 "stored_at": time.time()})
            except DuplicateKeyError:
                continue  # a batch took that slot a moment before: it is in, look again

    def mark_published(self, batch_id: str):
        OutboxEntry._get_collection().delete_many({"batch_id": batch_id})

    def claim_unpublished_batches(self, older_than: float, limit=50):
        """(batch_id, payload text) of batches the broker has not confirmed yet,
        each claimed for CLAIM_SECONDS so the relays of several instances do
        not all publish it (one that dies leaves it to another afterwards)."""
        outbox = OutboxEntry._get_collection()
        out = []
        for _ in range(limit):
            now = time.time()
            entry = outbox.find_one_and_update(
                {"stored_at": {"$lt": older_than},
                 "$or": [{"claimed_until": None}, {"claimed_until": {"$lt": now}}]},
                {"$set": {"claimed_until": now + CLAIM_SECONDS}})
            if entry is None:
                break
            batch_id = entry.get("batch_id") or entry["_id"]
            batch = Batch._get_collection().find_one({"_id": batch_id}, {"payload": 1})
            if batch is None:
                # Never stored, so never acknowledged: nothing to send. Left a
                # while first, in case its batch is still being written.
                if entry["stored_at"] < now - 60:
                    outbox.delete_one({"_id": entry["_id"]})
                continue
            out.append((entry["_id"], batch_id, zlib.decompress(batch["payload"]).decode()))
        return out

    def drop_outbox_entry(self, entry_id: str):
        OutboxEntry._get_collection().delete_one({"_id": entry_id})

    def published_batch_ids(self, submission_id: str) -> list[str]:
        cursor = Batch._get_collection().find(
            {"submission_id": submission_id, "accepted_count": {"$gt": 0}}, {"_id": 1})
        return sorted(d["_id"] for d in cursor)

    def has_unpublished(self, submission_id: str) -> bool:
        return OutboxEntry._get_collection().find_one(
            {"submission_id": submission_id}, {"_id": 1}) is not None

    # -- pseudonym keys ----------------------------------------------------------
    # A programme's keys come in generations: generation 1 is "<programme>/<purpose>"
    # (as before rotation existed), generation n > 1 "<programme>/<purpose>#<n>".
    # Key documents are insert-once (the embedded store cannot update binary);
    # the programme's current generation is a small counter of its own.

    def programme_keys(self, programme_id: str) -> dict[str, list[bytes]]:
        """{purpose_id: [key, ...]}, oldest generation first, for every purpose
        of the programme with a key: a person's pseudonyms under each."""
        prefix = f"{programme_id}/"
        found: dict[str, list[tuple[int, bytes]]] = {}
        # A handful of keys per programme: filtered here, since the embedded
        # store cannot take the regular expression a prefix query sends.
        for doc in PseudonymKey.objects():
            if doc.key_id.startswith(prefix):
                purpose_id, generation = split_key_id(doc.key_id[len(prefix):])
                found.setdefault(purpose_id, []).append((generation, bytes(doc.secret)))
        return {purpose_id: [key for _, key in sorted(keys)] for purpose_id, keys in found.items()}

    def key_generation(self, programme_id: str) -> int:
        """The programme's current key generation, read again after a few
        seconds so another instance's rotation reaches this one."""
        cached = self._generations.get(programme_id)
        if cached and time.monotonic() - cached[1] < GENERATION_TTL:
            return cached[0]
        doc = KeyGeneration._get_collection().find_one({"_id": programme_id})
        generation = 1 + int(doc["rotations"]) if doc else 1
        self._generations[programme_id] = (generation, time.monotonic())
        return generation

    def pseudonym_key(self, programme_id: str, purpose_id: str) -> bytes:
        """The purpose's key of the current generation, made on first use. Two
        workers racing to make it both end up with the one stored first."""
        key_id = make_key_id(programme_id, purpose_id, self.key_generation(programme_id))
        if key_id in self._keys:
            return self._keys[key_id]
        found = PseudonymKey.objects(key_id=key_id).first()
        if found is None:
            try:
                PseudonymKey(key_id=key_id, secret=secrets.token_bytes(32),
                             created_at=now()).save(force_insert=True)
            except (DuplicateKeyError, me.NotUniqueError):
                pass
            found = PseudonymKey.objects(key_id=key_id).first()
        self._keys[key_id] = bytes(found.secret)
        return self._keys[key_id]

    def rotate_keys(self, programme_id: str, purpose_ids: list[str]) -> int:
        """Starts the programme's next key generation: new keys for these
        purposes, stored before the generation moves on, so no batch ever
        finds the new generation without its keys. Returns the generation."""
        current = KeyGeneration._get_collection().find_one({"_id": programme_id})
        generation = 2 + int(current["rotations"]) if current else 2
        for purpose_id in purpose_ids:
            try:
                PseudonymKey(key_id=make_key_id(programme_id, purpose_id, generation),
                             secret=secrets.token_bytes(32), created_at=now()).save(
                                 force_insert=True)
            except (DuplicateKeyError, me.NotUniqueError):
                pass  # a rotation racing this one made it: the same generation
        # Upsert repeats _id: the embedded store ignores the filter's on upsert.
        KeyGeneration._get_collection().replace_one(
            {"_id": programme_id}, {"_id": programme_id, "rotations": generation - 1,
                                    "rotated_at": time.time()}, upsert=True)
        self._generations.pop(programme_id, None)
        return generation


GENERATION_TTL = 2.0  # seconds a key generation is trusted before it is read again


class KeyGeneration(me.Document):
    """How many times a programme's pseudonym keys were rotated (its current
    generation is one more). Numbers only, so it can be updated in place."""
    meta = {"collection": "pseudonym_key_generations"}
    programme_id = me.StringField(primary_key=True)
    rotations = me.IntField(required=True)
    rotated_at = me.FloatField()


def make_key_id(programme_id: str, purpose_id: str, generation: int) -> str:
    base = f"{programme_id}/{purpose_id}"
    return base if generation == 1 else f"{base}#{generation}"


def split_key_id(rest: str) -> tuple[str, int]:
    """'<purpose>' or '<purpose>#<n>' (after the programme prefix) as (purpose, generation)."""
    purpose_id, _, generation = rest.partition("#")
    return purpose_id, int(generation) if generation else 1
