"""The insights service's own database: outcomes of information use (with
the right of reply on draft findings) and evaluation measures.

Every change is one whole-document write naming the version it read
(optimistic concurrency), so two replies at once never lose one. Times are
epoch seconds and dates ISO text; flags are 0/1 numbers: the embedded store
turns a datetime written by $set into text and a boolean into 0/1 (MongoDB
would not), and it keeps a document added with $push as JSON text, so lists
are written whole instead."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import mongoengine as me
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.insights.domain import Measure, Party, Position, Response, Review

# Outcome ids from a unit's own reference are stable, so a retry finds the first.
OUTCOME_REF_NAMESPACE = uuid.UUID("7b0b8a52-5d0e-4a47-9a53-6f1f3c1b7c11")


class StoredOutcome(me.Document):
    """Declares the collection's indexes; documents are read and written as dicts."""
    meta = {"collection": "outcomes", "indexes": [
        "provider_ids", "delivery_ids", "unit_id", "changed_at", "announce_pending", "date"]}
    outcome_id = me.StringField(primary_key=True)
    unit_id = me.StringField()
    provider_ids = me.ListField(me.StringField())
    delivery_ids = me.ListField(me.StringField())
    date = me.StringField()
    changed_at = me.FloatField()
    announce_pending = me.IntField()


class StoredMeasure(me.Document):
    meta = {"collection": "measures", "indexes": ["programme_id"]}
    measure_id = me.StringField(primary_key=True)
    programme_id = me.StringField()


def outcome_id_for(unit_id: str, outcome_ref: str) -> str:
    if outcome_ref:
        return str(uuid.uuid5(OUTCOME_REF_NAMESPACE, f"{unit_id}\n{outcome_ref}"))
    return str(uuid.uuid4())


def step(who: str, what: str) -> dict:
    return {"at": time.time(), "who": who, "what": what}


# -- conversions between stored documents and the domain -----------------------------------


def reviews_from(doc: dict) -> tuple[Review, ...]:
    return tuple(Review(r["provider_id"], dt.date.fromisoformat(r["shared_on"]),
                        dt.date.fromisoformat(r["respond_by"]),
                        tuple(Response(x["kind"], x["text"], x["at"]) for x in r["responses"]))
                 for r in doc.get("reviews") or [])


def reviews_doc(reviews: tuple[Review, ...]) -> list[dict]:
    return [{"provider_id": r.provider_id, "shared_on": r.shared_on.isoformat(),
             "respond_by": r.respond_by.isoformat(),
             "responses": [{"kind": x.kind, "text": x.text, "at": x.at} for x in r.responses]}
            for r in reviews]


def measure_from(doc: dict) -> Measure:
    return Measure(
        measure_id=doc["_id"], programme_id=doc["programme_id"], name=doc["name"],
        definition=doc["definition"], proposed_by=Party(**doc["proposed_by"]),
        positions=tuple(Position(Party(p["kind"], p["id"]), p["stance"], p["reason"], p["at"])
                        for p in doc["positions"]),
        state=doc["state"], agreed_by=tuple(Party(**p) for p in doc.get("agreed_by") or []),
        agreed_at=doc.get("agreed_at"))


def measure_doc(measure: Measure, version: int, history: list[dict]) -> dict:
    return {"_id": measure.measure_id, "programme_id": measure.programme_id,
            "name": measure.name, "definition": measure.definition,
            "proposed_by": {"kind": measure.proposed_by.kind, "id": measure.proposed_by.id},
            "positions": [{"kind": p.party.kind, "id": p.party.id, "stance": p.stance,
                           "reason": p.reason, "at": p.at} for p in measure.positions],
            "state": measure.state, "agreed_at": measure.agreed_at,
            "agreed_by": [{"kind": p.kind, "id": p.id} for p in measure.agreed_by],
            "version": version, "history": history}


class InsightsStorage:
    def ensure_indexes(self):
        StoredOutcome.ensure_indexes()
        StoredMeasure.ensure_indexes()

    @property
    def _outcomes(self):
        return StoredOutcome._get_collection()

    @property
    def _measures(self):
        return StoredMeasure._get_collection()

    # -- outcomes --------------------------------------------------------------------

    def add_outcome(self, doc: dict) -> tuple[dict, bool]:
        """Stores a new outcome, to be announced; (stored, created). An outcome
        already stored under the same id (a retry) is returned unchanged."""
        now = time.time()
        doc = dict(doc, recorded_at=now, changed_at=now, published_at=None, version=1,
                   announce_pending=1)
        try:
            self._outcomes.insert_one(dict(doc))
        except DuplicateKeyError:
            return self.outcome(doc["_id"]), False
        return doc, True

    def outcome(self, outcome_id: str) -> dict | None:
        return self._outcomes.find_one({"_id": outcome_id})

    def change_outcome(self, doc: dict, changes: dict, history: dict) -> dict | None:
        """Writes the changed outcome if nobody changed it since `doc` was read
        (then it is announced again); None when somebody did."""
        new = dict(doc, **changes, version=doc["version"] + 1, changed_at=time.time(),
                   announce_pending=1, history=list(doc.get("history") or []) + [history])
        done = self._outcomes.replace_one({"_id": doc["_id"], "version": doc["version"]}, new)
        return new if done.modified_count else None

    def for_provider(self, provider_id: str, date_from: str = "", date_to: str = "",
                     kind: str = "") -> list[dict]:
        query: dict = {"provider_ids": {"$in": [provider_id]}}
        if date_from or date_to:
            query["date"] = {**({"$gte": date_from} if date_from else {}),
                             **({"$lte": date_to} if date_to else {})}
        if kind:
            query["kind"] = kind
        return list(self._outcomes.find(query).sort([("date", ASCENDING),
                                                     ("recorded_at", ASCENDING)]))

    def changed_for_provider(self, provider_id: str, after: float) -> list[dict]:
        return list(self._outcomes.find({"provider_ids": {"$in": [provider_id]},
                                         "changed_at": {"$gt": after}}).sort("changed_at", 1))

    def told_citing(self, provider_id: str, delivery_ids: list[str]) -> list[dict]:
        """Outcomes told to the provider (never a draft) citing these deliveries."""
        return list(self._outcomes.find({
            "delivery_ids": {"$in": list(delivery_ids)},
            "provider_ids": {"$in": [provider_id]},
            "state": {"$in": ["recorded", "published"]}}).sort("date", 1))

    def pending_announcements(self, older_than: float) -> list[dict]:
        return [d for d in self._outcomes.find({"announce_pending": 1})
                if d["changed_at"] < older_than]

    def announced(self, doc: dict):
        """Clears the flag only if the outcome has not changed again since."""
        self._outcomes.update_one({"_id": doc["_id"], "version": doc["version"]},
                                  {"$set": {"announce_pending": 0}})

    # -- measures ------------------------------------------------------------------------

    def add_measure(self, measure: Measure, who: str) -> dict:
        doc = measure_doc(measure, 1, [step(who, "proposed the measure")])
        self._measures.insert_one(dict(doc))
        return doc

    def measure(self, measure_id: str) -> dict | None:
        return self._measures.find_one({"_id": measure_id})

    def change_measure(self, doc: dict, measure: Measure, history: dict) -> dict | None:
        new = measure_doc(measure, doc["version"] + 1, list(doc["history"]) + [history])
        done = self._measures.replace_one({"_id": doc["_id"], "version": doc["version"]}, new)
        return new if done.modified_count else None

    def measures(self, programme_id: str, agreed_only: bool = False) -> list[dict]:
        query = {"programme_id": programme_id}
        if agreed_only:
            query["state"] = "agreed"
        return sorted(self._measures.find(query), key=lambda d: (d["history"][0]["at"], d["_id"]))

    def measures_by_id(self, measure_ids) -> dict[str, Measure]:
        return {d["_id"]: measure_from(d)
                for d in self._measures.find({"_id": {"$in": list(measure_ids)}})}
