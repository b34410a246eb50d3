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


class Batch(me.Document):
    """One stored batch: the event payload that goes to purpose_router."""
    meta = {"collection": "batches", "indexes": ["submission_id"]}
    batch_id = me.StringField(primary_key=True)
    submission_id = me.StringField(required=True)
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
    meta = {"collection": "outbox", "indexes": ["submission_id", "stored_at"]}
    batch_id = me.StringField(primary_key=True)
    submission_id = me.StringField(required=True)
    stored_at = me.FloatField(required=True)


class PseudonymKey(me.Document):
    """The secret key per programme and purpose. Held only here."""
    meta = {"collection": "pseudonym_keys"}
    key_id = me.StringField(primary_key=True)  # "<programme>/<purpose>"
    secret = me.BinaryField(required=True)
    created_at = me.DateTimeField(required=True)


class NotFound(LookupError):
    pass


class IntakeStorage:
    NotFound = NotFound

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

    def unpublished_seals(self, limit=100) -> list[Submission]:
        return list(Submission.objects(state="sealed", seal_published=False).limit(limit))

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

    def record_refs(self, submission_id: str) -> set[str]:
        refs: set[str] = set()
        for doc in Batch._get_collection().find({"submission_id": submission_id},
                                                {"record_refs": 1}):
            refs.update(doc.get("record_refs") or ())
        return refs

    def store_batch(self, submission_id, record_refs, rejected_count, payload):
        """Stores the batch, with its event payload (given its batch_id), and
        puts it in the outbox when it has records to send. Returns the batch id
        and the payload as JSON text, encoded once for the store and the broker."""
        batch_id = payload["batch_id"] = str(uuid.uuid4())
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        now = time.time()
        if record_refs:
            OutboxEntry._get_collection().insert_one(
                {"_id": batch_id, "submission_id": submission_id, "stored_at": now})
        Batch._get_collection().insert_one({
            "_id": batch_id, "submission_id": submission_id, "record_refs": record_refs,
            "accepted_count": len(record_refs), "rejected_count": rejected_count,
            "payload": Binary(zlib.compress(text.encode(), 1)), "stored_at": now,
        })
        return batch_id, text

    def mark_published(self, batch_id: str):
        OutboxEntry._get_collection().delete_one({"_id": batch_id})

    def unpublished_batches(self, older_than: float, limit=50):
        """(batch_id, payload text) of batches the broker has not confirmed yet."""
        out = []
        for entry in OutboxEntry._get_collection().find(
                {"stored_at": {"$lt": older_than}}).limit(limit):
            batch = Batch._get_collection().find_one({"_id": entry["_id"]}, {"payload": 1})
            if batch is None:  # never stored, never acknowledged: nothing to send
                self.mark_published(entry["_id"])
                continue
            out.append((entry["_id"], zlib.decompress(batch["payload"]).decode()))
        return out

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
