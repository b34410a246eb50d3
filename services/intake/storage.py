"""Intake's own database: submissions, stored batches (the outbox) and the
pseudonym keys. Batches are stored whole, records compressed in one field:
the store is fast at few large documents and slow at many small ones.
Times are epoch seconds: the embedded store turns a date written by $set into
text and cannot range-query dates (MongoDB does both)."""

from __future__ import annotations

import secrets
import time
import uuid
import zlib

import mongoengine as me
from bson import Binary

from services.intake.domain import DIGEST_SIZE, Submission
from tiaki.core import fastjson
from tiaki.core.errors import Conflict, NotFound
from tiaki.plumbing.broker import PackedJson
from tiaki.plumbing.secrets import seal, unseal
from tiaki.plumbing.store import Collection, retrying


class StoredSubmission(me.Document):
    meta = {"collection": "submissions", "indexes": ["provider_id"]}
    submission_id = me.StringField(primary_key=True)
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)
    plan_version = me.IntField(required=True)
    period = me.StringField(required=True)
    state = me.StringField(required=True, choices=("open", "sealed", "abandoned"))
    opened_at = me.FloatField(required=True)
    sealed_at = me.FloatField()
    # The seal event is in the outbox until published (0/1, as the adapter writes booleans).
    seal_published = me.IntField(default=0)
    # The provider's agreement version it was opened under (0: no agreement needed).
    agreement_version = me.IntField(default=0)
    seal_claimed_until = me.FloatField()  # one relay at a time publishes it
    # The sealed submission of the period this one corrects, and the one that replaced it.
    replaces_submission_id = me.StringField()
    superseded_by = me.StringField()


class Batch(me.Document):
    """One stored batch: the event payload that goes to purpose_router.

    A submission's batches take numbered slots, 1, 2, 3, ...: the id is
    "<submission>.<slot>", so two intake instances storing the same slot
    collide on the primary key and the loser checks its records again against
    the winner's."""
    meta = {"collection": "batches", "indexes": ["submission_id", ("submission_id", "seq")]}
    batch_id = me.StringField(primary_key=True)
    submission_id = me.StringField(required=True)
    seq = me.IntField(required=True)  # the slot
    closes = me.BooleanField()  # the slot taken by the seal: no batch comes after it
    record_refs = me.ListField(me.StringField())
    # Their contents' digests (DIGEST_SIZE bytes each, joined, in the same order):
    # a ref sent again is compared by it. One value, not a list: the store's cost
    # grows with the elements of a document.
    record_digests = me.BinaryField()
    accepted_count = me.IntField(required=True)
    rejected_count = me.IntField(required=True)
    payload = me.BinaryField()  # zlib-compressed JSON of the event payload
    # zlib-compressed JSON: [[row, record_ref, field, code, reason], ...], in the order received.
    rejections = me.BinaryField()
    stored_at = me.FloatField(required=True)


class OutboxEntry(me.Document):
    """A batch the broker has not confirmed yet. A small document of its own:
    flipping a flag inside a batch would rewrite the whole batch in the store.

    Written before its batch and deleted once published; an entry whose batch
    was never stored (a crash in between, so the call was never acknowledged)
    is dropped by the outbox relay."""
    meta = {"collection": "outbox", "indexes": ["submission_id", "stored_at", "batch_id"]}
    entry_id = me.StringField(primary_key=True)
    batch_id = me.StringField(required=True)
    submission_id = me.StringField(required=True)
    stored_at = me.FloatField(required=True)
    # Until when one relay (of several instances) has taken it to publish.
    claimed_until = me.FloatField()


class PseudonymKey(me.Document):
    """The secret key of a programme's purpose in one key generation, sealed
    under intake's key-encryption key (tiaki/plumbing/secrets.py). Held only
    here; written once (the embedded store cannot update binary in place)."""
    meta = {"collection": "pseudonym_keys", "indexes": ["programme_id"]}
    key_id = me.StringField(primary_key=True)  # see make_key_id
    programme_id = me.StringField(required=True)
    purpose_id = me.StringField(required=True)
    generation = me.IntField(required=True)
    sealed = me.BinaryField(required=True)
    created_at = me.FloatField(required=True)


class KeyGeneration(me.Document):
    """How many times a programme's pseudonym keys were rotated (its current
    generation is one more). Numbers only, so it can be updated in place."""
    meta = {"collection": "pseudonym_key_generations"}
    programme_id = me.StringField(primary_key=True)
    rotations = me.IntField(required=True)
    rotated_at = me.FloatField()


CLAIM_SECONDS = 30  # how long a relay's claim on an outbox entry holds if it dies
GENERATION_TTL = 2.0  # seconds a key generation is trusted before it is read again


def make_key_id(programme_id: str, purpose_id: str, generation: int) -> str:
    """"<programme>/<purpose>" for generation 1, "<programme>/<purpose>#<n>" after."""
    base = f"{programme_id}/{purpose_id}"
    return base if generation == 1 else f"{base}#{generation}"


def key_purpose(key_id: str) -> str:
    """What a pseudonym key is sealed for: it opens only as the key it was made as."""
    return f"pseudonym-key:{key_id}"


def _submission(doc: dict) -> Submission:
    return Submission(
        submission_id=doc["_id"], provider_id=doc["provider_id"],
        programme_id=doc["programme_id"], plan_version=doc["plan_version"],
        period=doc["period"], state=doc["state"], opened_at=doc["opened_at"],
        sealed_at=doc.get("sealed_at"), agreement_version=doc.get("agreement_version") or 0,
        notice_version=doc.get("notice_version") or 0,
        replaces_submission_id=doc.get("replaces_submission_id") or "",
        superseded_by=doc.get("superseded_by") or "")


class IntakeStorage:
    def __init__(self, kek: bytes):
        self.kek = kek  # seals the pseudonym keys
        self.submissions = Collection(StoredSubmission)
        self.batches = Collection(Batch)
        self.outbox = Collection(OutboxEntry)
        self.keys = Collection(PseudonymKey)
        self.generations = Collection(KeyGeneration)
        self._keys: dict[str, bytes] = {}  # keys never change once made
        self._generations: dict[str, tuple[int, float]] = {}  # programme -> (generation, read at)

    def ensure_indexes(self):
        for doc in (StoredSubmission, Batch, OutboxEntry, PseudonymKey, KeyGeneration):
            doc.ensure_indexes()

    # -- submissions -----------------------------------------------------------

    def open_submission(self, provider_id: str, programme_id: str, plan_version: int,
                        period: str, agreement_version: int = 0,
                        notice_version: int = 0, replaces_submission_id: str = "") -> Submission:
        doc = {"_id": str(uuid.uuid4()), "provider_id": provider_id,
               "programme_id": programme_id, "plan_version": plan_version, "period": period,
               "agreement_version": agreement_version, "notice_version": notice_version,
               "replaces_submission_id": replaces_submission_id, "state": "open",
               "opened_at": time.time(), "seal_published": 0}
        self.submissions.insert(doc)
        return _submission(doc)

    def submission(self, submission_id: str) -> Submission:
        """The submission; NotFound when there is none by that id."""
        doc = self.submissions.get(submission_id)
        if doc is None:
            raise NotFound("", f"no submission {submission_id!r}")
        return _submission(doc)

    def seal(self, submission_id: str) -> bool:
        """Marks the submission sealed; False when it already was."""
        return self.submissions.update({"_id": submission_id, "state": "open"},
                                       set={"state": "sealed", "sealed_at": time.time()}) > 0

    def abandon(self, submission_id: str, state: str = "open") -> bool:
        """Marks the submission abandoned from `state`; False when it was not in it."""
        return self.submissions.update({"_id": submission_id, "state": state},
                                       set={"state": "abandoned", "sealed_at": None}) > 0

    def list_submissions(self, provider_id: str, programme_id: str = "", period: str = "",
                         skip: int = 0, limit: int = 100) -> list[Submission]:
        """The provider's submissions, oldest first, of the programme and
        period when given. Submissions are only added, newest last, so a
        position is a stable page token."""
        query = {"provider_id": provider_id}
        if programme_id:
            query["programme_id"] = programme_id
        if period:
            query["period"] = period
        return [_submission(doc) for doc in self.submissions.find(
            query, sort=[("opened_at", 1), ("_id", 1)], skip=skip, limit=limit)]

    def current_sealed(self, provider_id: str, programme_id: str,
                       period: str) -> Submission | None:
        """The provider's sealed submission of the period that no replacement
        has superseded; None when it has sealed none."""
        doc = self.submissions.latest({"provider_id": provider_id, "programme_id": programme_id,
                                       "period": period, "state": "sealed",
                                       "superseded_by": None}, by="sealed_at")
        return _submission(doc) if doc else None

    def supersede(self, submission_id: str, by: str) -> bool:
        """Marks a sealed submission replaced by `by`; False when another
        replacement was marked first."""
        return self.submissions.update({"_id": submission_id, "state": "sealed",
                                        "superseded_by": None}, set={"superseded_by": by}) > 0

    def drop_outbox(self, submission_id: str) -> None:
        """Forgets the batches of the submission not published yet: never sent."""
        self.outbox.delete_many({"submission_id": submission_id})

    def mark_seal_published(self, submission_id: str) -> None:
        self.submissions.update({"_id": submission_id}, set={"seal_published": 1})

    def claim_unpublished_seals(self, older_than: float, limit: int = 100) -> list[Submission]:
        """Sealed submissions whose seal event is unpublished, each claimed for
        this caller, so the relays of several instances do not all send it."""
        now = time.time()
        claimed = []
        for doc in self.submissions.find({"state": "sealed", "seal_published": 0}, limit=limit):
            if not doc.get("sealed_at") or doc["sealed_at"] >= older_than or (
                    doc.get("seal_claimed_until") or 0) >= now:
                continue
            # Conditional on the value read: one of two relays wins. (None also
            # matches a field never written, on MongoDB and the embedded store.)
            if self.submissions.update({"_id": doc["_id"], "seal_published": 0,
                                        "seal_claimed_until": doc.get("seal_claimed_until")},
                                       set={"seal_claimed_until": now + CLAIM_SECONDS}):
                claimed.append(_submission(doc))
        return claimed

    def counts(self, submission_id: str) -> tuple[int, int]:
        """(accepted, rejected), summed from the stored batches (never drifts)."""
        rows = self.batches.aggregate([
            {"$match": {"submission_id": submission_id}},
            {"$group": {"_id": None, "a": {"$sum": "$accepted_count"},
                        "r": {"$sum": "$rejected_count"}}},
        ])
        return (int(rows[0]["a"]), int(rows[0]["r"])) if rows else (0, 0)

    def rejections(self, submission_id: str, start: tuple[int, int],
                   limit: int) -> tuple[list[list], tuple[int, int] | None]:
        """Up to `limit` of the submission's rejections ([row, record_ref,
        field, code, reason]) from `start` (a batch slot, and how many of its
        rejections to pass over), in slot order, and where the next page
        starts (None: no more now)."""
        slot, offset = start
        out: list[list] = []
        while True:
            docs = self.batches.find({"submission_id": submission_id, "seq": {"$gte": slot},
                                      "rejected_count": {"$gt": 0}},
                                     sort=[("seq", 1)], fields=("seq", "rejections"), limit=16)
            for doc in docs:
                entries = (fastjson.loads(zlib.decompress(doc["rejections"]))
                           if doc.get("rejections") else [])
                first = offset if doc["seq"] == slot else 0
                if len(out) == limit and len(entries) > first:
                    return out, (doc["seq"], first)
                taken = entries[first:first + limit - len(out)]
                out.extend(taken)
                if first + len(taken) < len(entries):
                    return out, (doc["seq"], first + len(taken))
            if len(docs) < 16:
                return out, None
            slot, offset = docs[-1]["seq"] + 1, 0

    # -- batches (the outbox) ----------------------------------------------------

    def refs_after(self, submission_id: str,
                   after: int | None) -> tuple[int, dict[str, bytes], bool]:
        """(the highest slot stored, the record refs of the batches in slots
        after `after` with their contents' digests (b"" when not kept), whether
        the seal's slot is among them); None reads every batch."""
        query: dict = {"submission_id": submission_id}
        if after is not None:
            query["seq"] = {"$gt": after}
        highest, refs, closed = after or 0, {}, False
        for doc in self.batches.find(query, fields=("record_refs", "record_digests", "seq",
                                                    "closes")):
            found = doc.get("record_refs") or []
            digests = bytes(doc.get("record_digests") or b"")
            refs.update(zip(found, [digests[i:i + DIGEST_SIZE]
                                    for i in range(0, len(digests), DIGEST_SIZE)]
                        if digests else [b""] * len(found)))
            highest = max(highest, doc["seq"])
            closed |= bool(doc.get("closes"))
        return highest, refs, closed

    def store_batch(self, submission_id: str, slot: int, record_refs: list[str],
                    rejected_count: int, payload: dict,
                    rejections: list[list] | None = None,
                    record_digests: list[bytes] | None = None) -> tuple[str, PackedJson]:
        """Stores the batch in the submission's slot `slot`, with its event
        payload (given its batch_id), its records' content digests and its
        `rejections` ([row, record_ref, field, code, reason], for `rejections`
        to list), and puts it in the outbox when it has records to send.
        Returns the batch id and the payload as compressed JSON (UTF-8),
        encoded and compressed once for the store and the broker. Conflict
        when another writer stored that slot first: nothing of this batch
        stays stored."""
        batch_id = payload["batch_id"] = f"{submission_id}.{slot}"
        packed = PackedJson.pack(fastjson.dumps(payload))
        now = time.time()
        entry_id = None
        if record_refs:  # the outbox entry first: a crash after the batch still publishes it
            entry_id = str(uuid.uuid4())
            self.outbox.insert({"_id": entry_id, "batch_id": batch_id,
                                "submission_id": submission_id, "stored_at": now})
        doc = {"_id": batch_id, "submission_id": submission_id, "seq": slot,
               "record_refs": record_refs,
               "record_digests": Binary(b"".join(record_digests or ())),
               "accepted_count": len(record_refs),
               "rejected_count": rejected_count,
               "payload": Binary(packed), "stored_at": now}
        if rejections:
            doc["rejections"] = Binary(zlib.compress(fastjson.dumps(rejections), 1))
        if not self.batches.insert(doc):
            if entry_id:
                self.outbox.delete(entry_id)
            raise Conflict("slot", f"batch slot {batch_id} was taken by another writer")
        return batch_id, packed

    def close_batches(self, submission_id: str) -> None:
        """Takes the submission's next slot with a batch of nothing, after the
        submission is marked sealed: an instance that read it open a moment
        before can then store no batch after the seal lists the batches (its
        slot is taken, and reading again it finds the submission sealed).
        Safe to repeat."""
        def attempt() -> None:
            if self.batches.find_one({"submission_id": submission_id, "closes": True},
                                     fields=("_id",)) is not None:
                return
            last = self.batches.latest({"submission_id": submission_id}, by="seq",
                                       fields=("seq",))
            slot = (last["seq"] if last else 0) + 1
            if not self.batches.insert({
                    "_id": f"{submission_id}.{slot}", "submission_id": submission_id,
                    "seq": slot, "closes": True, "record_refs": [], "accepted_count": 0,
                    "rejected_count": 0, "stored_at": time.time()}):
                # A batch took that slot a moment before: it is in, look again.
                raise Conflict("slot", f"slot {slot} of {submission_id} was taken")
        retrying(attempt, field="submission_id",
                 what=f"submission {submission_id} kept taking batches; seal it again")

    def mark_published(self, batch_id: str) -> None:
        self.outbox.delete_many({"batch_id": batch_id})

    def claim_unpublished_batches(self, older_than: float,
                                  limit: int = 50) -> list[tuple[str, str, PackedJson]]:
        """(entry_id, batch_id, payload as stored: compressed JSON) of batches the broker has not
        confirmed yet, each claimed for CLAIM_SECONDS so the relays of several
        instances do not all publish it (one that dies leaves it to another
        afterwards)."""
        out = []
        for _ in range(limit):
            now = time.time()
            entry = self._claim_entry(older_than, now)
            if entry is None:
                break
            batch = self.batches.get(entry["batch_id"], fields=("payload",))
            if batch is None:
                # Never stored, so never acknowledged: nothing to send. Left a
                # while first, in case its batch is still being written.
                if entry["stored_at"] < now - 60:
                    self.outbox.delete(entry["_id"])
                continue
            out.append((entry["_id"], entry["batch_id"], PackedJson(batch["payload"])))
        return out

    def _claim_entry(self, older_than: float, now: float) -> dict | None:
        # Two claims, not one with $or (which the adapter does not rely on):
        # an entry never claimed, else one whose claim ran out. Each is atomic.
        claim = {"claimed_until": now + CLAIM_SECONDS}
        return (self.outbox.claim({"stored_at": {"$lt": older_than}, "claimed_until": None},
                                  claim)
                or self.outbox.claim({"stored_at": {"$lt": older_than},
                                      "claimed_until": {"$lt": now}}, claim))

    def drop_outbox_entry(self, entry_id: str) -> None:
        self.outbox.delete(entry_id)

    def published_batch_ids(self, submission_id: str) -> list[str]:
        return sorted(d["_id"] for d in self.batches.find(
            {"submission_id": submission_id, "accepted_count": {"$gt": 0}}, fields=("_id",)))

    def has_unpublished(self, submission_id: str) -> bool:
        return self.outbox.find_one({"submission_id": submission_id}, fields=("_id",)) is not None

    # -- pseudonym keys ----------------------------------------------------------
    # A programme's keys come in generations; key documents are insert-once and
    # the programme's current generation is a small counter of its own.

    def programme_keys(self, programme_id: str) -> dict[str, list[bytes]]:
        """{purpose_id: [key, ...]}, oldest generation first, for every purpose
        of the programme with a key: a person's pseudonyms under each."""
        found: dict[str, list[tuple[int, bytes]]] = {}
        for doc in self.keys.find({"programme_id": programme_id}):
            found.setdefault(doc["purpose_id"], []).append((doc["generation"], self._open(doc)))
        return {purpose_id: [key for _, key in sorted(keys)] for purpose_id, keys in found.items()}

    def key_generation(self, programme_id: str) -> int:
        """The programme's current key generation, read again after a few
        seconds so another instance's rotation reaches this one."""
        cached = self._generations.get(programme_id)
        if cached and time.monotonic() - cached[1] < GENERATION_TTL:
            return cached[0]
        doc = self.generations.get(programme_id)
        generation = 1 + int(doc["rotations"]) if doc else 1
        self._generations[programme_id] = (generation, time.monotonic())
        return generation

    def pseudonym_key(self, programme_id: str, purpose_id: str) -> bytes:
        """The purpose's key of the current generation, made on first use. Two
        workers racing to make it both end up with the one stored first."""
        generation = self.key_generation(programme_id)
        key_id = make_key_id(programme_id, purpose_id, generation)
        if key_id not in self._keys:
            found = self.keys.get(key_id, fields=("sealed",))
            if found is None:
                self._new_key(programme_id, purpose_id, generation)
                found = self.keys.get(key_id, fields=("sealed",))
            self._keys[key_id] = self._open(found)
        return self._keys[key_id]

    def rotate_keys(self, programme_id: str, purpose_ids: list[str]) -> int:
        """Starts the programme's next key generation: new keys for these
        purposes, stored before the generation moves on, so no batch ever
        finds the new generation without its keys. Returns the generation."""
        current = self.generations.get(programme_id)
        generation = 2 + int(current["rotations"]) if current else 2
        for purpose_id in purpose_ids:
            # A rotation racing this one may have made it: the same generation.
            self._new_key(programme_id, purpose_id, generation)
        self.generations.put(programme_id, {"rotations": generation - 1,
                                            "rotated_at": time.time()})
        self._generations.pop(programme_id, None)
        return generation

    def _new_key(self, programme_id: str, purpose_id: str, generation: int) -> None:
        """Makes the key unless it exists (insert-once: the first one stored stays)."""
        key_id = make_key_id(programme_id, purpose_id, generation)
        sealed = seal(self.kek, secrets.token_bytes(32), key_purpose(key_id))
        self.keys.insert({"_id": key_id, "programme_id": programme_id, "purpose_id": purpose_id,
                          "generation": generation, "sealed": Binary(sealed),
                          "created_at": time.time()})

    def _open(self, doc: dict) -> bytes:
        return unseal(self.kek, doc["sealed"], key_purpose(doc["_id"]))
