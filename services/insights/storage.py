"""The insights service's own database: outcomes of information use (with
the right of reply on draft findings) and evaluation measures.

Every change is one whole-document write naming the version it read
(optimistic concurrency, `Collection.swap`), so two replies at once never
lose one. Times are epoch seconds and dates ISO text; lists are written whole
(see tiaki/plumbing/store.py). Storage hands out the domain's dataclasses."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import asdict

import mongoengine as me
from pymongo import ASCENDING, DESCENDING

from services.insights.domain import (
    Citation,
    Measure,
    Outcome,
    Party,
    Position,
    Response,
    Review,
    Step,
    review_data,
)
from tiaki.core.errors import Conflict
from tiaki.plumbing.store import Collection, contains

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


# -- conversions between stored documents and the domain -----------------------------------


def _steps(doc: dict) -> tuple[Step, ...]:
    return tuple(Step(s["at"], s["who"], s["what"], s.get("person", ""))
                 for s in doc.get("history") or [])


def _steps_doc(steps: tuple[Step, ...]) -> list[dict]:
    return [{"at": s.at, "who": s.who, "what": s.what, "person": s.person} for s in steps]


def outcome_from(doc: dict) -> Outcome:
    return Outcome(
        outcome_id=doc["_id"], outcome_ref=doc["outcome_ref"], unit_id=doc["unit_id"],
        kind=doc["kind"], title=doc["title"], summary=doc["summary"], date=doc["date"],
        audience=doc["audience"], citations=tuple(Citation(**c) for c in doc["citations"]),
        provider_ids=tuple(doc["provider_ids"]), programme_ids=tuple(doc["programme_ids"]),
        measure_ids=tuple(doc["measure_ids"]), state=doc["state"],
        recorded_at=doc["recorded_at"], changed_at=doc["changed_at"],
        reviews=tuple(Review(r["provider_id"], dt.date.fromisoformat(r["shared_on"]),
                             dt.date.fromisoformat(r["respond_by"]),
                             tuple(Response(**x) for x in r["responses"]),
                             r.get("may_publish_early", False))
                      for r in doc["reviews"]),
        history=_steps(doc), published_at=doc["published_at"], version=doc["version"],
        recorded_by_person=doc.get("recorded_by_person", ""),
        published_by_person=doc.get("published_by_person", ""))


def outcome_doc(outcome: Outcome) -> dict:
    """The stored document, to be announced (`announce_pending`) to its providers."""
    return {
        "_id": outcome.outcome_id, "outcome_ref": outcome.outcome_ref,
        "unit_id": outcome.unit_id, "kind": outcome.kind, "title": outcome.title,
        "summary": outcome.summary, "date": outcome.date, "audience": outcome.audience,
        "citations": [asdict(c) for c in outcome.citations],
        # the cited deliveries again, as a flat list the index and queries use
        "delivery_ids": [c.delivery_id for c in outcome.citations],
        "provider_ids": list(outcome.provider_ids),
        "programme_ids": list(outcome.programme_ids),
        "measure_ids": list(outcome.measure_ids), "state": outcome.state,
        "reviews": [review_data(r) for r in outcome.reviews],
        "history": _steps_doc(outcome.history), "recorded_at": outcome.recorded_at,
        "changed_at": outcome.changed_at, "published_at": outcome.published_at,
        "version": outcome.version, "announce_pending": 1,
        "recorded_by_person": outcome.recorded_by_person,
        "published_by_person": outcome.published_by_person}


def _party(data: dict) -> Party:
    return Party(data["kind"], data["id"])


def measure_from(doc: dict) -> Measure:
    return Measure(
        measure_id=doc["_id"], programme_id=doc["programme_id"], name=doc["name"],
        definition=doc["definition"], proposed_by=_party(doc["proposed_by"]),
        positions=tuple(Position(_party(p), p["stance"], p["reason"], p["at"],
                                 p.get("person", ""))
                        for p in doc["positions"]),
        state=doc["state"], agreed_by=tuple(_party(p) for p in doc["agreed_by"]),
        agreed_at=doc["agreed_at"], history=_steps(doc), version=doc["version"])


def measure_doc(measure: Measure) -> dict:
    return {"_id": measure.measure_id, "programme_id": measure.programme_id,
            "name": measure.name, "definition": measure.definition,
            "proposed_by": {"kind": measure.proposed_by.kind, "id": measure.proposed_by.id},
            "positions": [{"kind": p.party.kind, "id": p.party.id, "stance": p.stance,
                           "reason": p.reason, "at": p.at} for p in measure.positions],
            "state": measure.state, "agreed_at": measure.agreed_at,
            "agreed_by": [{"kind": p.kind, "id": p.id} for p in measure.agreed_by],
            "version": measure.version, "history": _steps_doc(measure.history)}


class InsightsStorage:
    def __init__(self):
        self.outcomes = Collection(StoredOutcome)
        self.measures = Collection(StoredMeasure)

    def ensure_indexes(self) -> None:
        StoredOutcome.ensure_indexes()
        StoredMeasure.ensure_indexes()

    # -- outcomes --------------------------------------------------------------------

    def add_outcome(self, outcome: Outcome) -> tuple[Outcome, bool]:
        """Stores a new outcome, to be announced; (stored, created). An outcome
        already stored under the same id (a retry) is returned unchanged."""
        if self.outcomes.insert(outcome_doc(outcome)):
            return outcome, True
        return self.outcome(outcome.outcome_id), False

    def outcome(self, outcome_id: str) -> Outcome | None:
        doc = self.outcomes.get(outcome_id)
        return None if doc is None else outcome_from(doc)

    def change_outcome(self, outcome: Outcome) -> Outcome:
        """Writes the changed outcome (to be announced again) if nobody changed
        it since the version it was read at; raises Conflict if somebody did."""
        return outcome_from(self.outcomes.swap(outcome_doc(outcome), field="version"))

    def drafts_of_unit(self, unit_id: str) -> list[Outcome]:
        """The unit's findings still drafts (waiting for replies or publication)."""
        return [outcome_from(d) for d in self.outcomes.find(
            {"unit_id": unit_id, "state": "draft"}, sort="recorded_at")]

    def for_provider(self, provider_id: str, date_from: str = "", date_to: str = "",
                     kind: str = "") -> list[Outcome]:
        query: dict = {"provider_ids": contains(provider_id)}
        if date_from or date_to:
            query["date"] = {**({"$gte": date_from} if date_from else {}),
                             **({"$lte": date_to} if date_to else {})}
        if kind:
            query["kind"] = kind
        return [outcome_from(d) for d in self.outcomes.find(
            query, sort=[("date", ASCENDING), ("recorded_at", ASCENDING)])]

    def every_outcome(self, programme_id: str = "", kind: str = "", state: str = "",
                      after: tuple[str, float, str] | None = None,
                      limit: int = 0) -> list[Outcome]:
        """Every unit's outcomes (for the Agency), latest date first, then latest
        recorded, then by id: at most `limit` (0: all), those that come `after` the
        (date, recorded_at, outcome_id) given. The store has no `$or` we rely on,
        so "after" is three queries (same date and time, same date, earlier date)."""
        query: dict = {}
        if programme_id:
            query["programme_ids"] = contains(programme_id)
        if kind:
            query["kind"] = kind
        if state:
            query["state"] = state
        order = [("date", DESCENDING), ("recorded_at", DESCENDING), ("_id", DESCENDING)]
        if after is None:
            return [outcome_from(d) for d in self.outcomes.find(query, sort=order, limit=limit)]
        date, recorded_at, outcome_id = after
        found: list[dict] = []
        for then in ({"date": date, "recorded_at": recorded_at, "_id": {"$lt": outcome_id}},
                     {"date": date, "recorded_at": {"$lt": recorded_at}},
                     {"date": {"$lt": date}}):
            if limit and len(found) >= limit:
                break
            found += self.outcomes.find({**query, **then}, sort=order,
                                        limit=limit - len(found) if limit else 0)
        return [outcome_from(d) for d in found]

    def changed_for_provider(self, provider_id: str, after: float) -> list[Outcome]:
        return [outcome_from(d) for d in self.outcomes.find(
            {"provider_ids": contains(provider_id), "changed_at": {"$gt": after}},
            sort="changed_at")]

    def told_citing(self, provider_id: str, delivery_ids: Iterable[str]) -> list[Outcome]:
        """Outcomes told to the provider (never a draft) citing these deliveries."""
        return [outcome_from(d) for d in self.outcomes.find({
            "delivery_ids": {"$in": list(delivery_ids)},
            "provider_ids": contains(provider_id),
            "state": {"$in": ["recorded", "published"]}}, sort="date")]

    def pending_announcements(self, older_than: float) -> list[Outcome]:
        return [outcome_from(d) for d in self.outcomes.find({"announce_pending": 1})
                if d["changed_at"] < older_than]

    def announced(self, outcome: Outcome) -> None:
        """Clears the flag only if the outcome has not changed again since."""
        self.outcomes.update({"_id": outcome.outcome_id, "version": outcome.version},
                             set={"announce_pending": 0})

    # -- measures ------------------------------------------------------------------------

    def add_measure(self, measure: Measure) -> Measure:
        if not self.measures.insert(measure_doc(measure)):
            raise Conflict("measure_id", f"{measure.measure_id} is taken")
        return measure

    def measure(self, measure_id: str) -> Measure | None:
        doc = self.measures.get(measure_id)
        return None if doc is None else measure_from(doc)

    def change_measure(self, measure: Measure) -> Measure:
        """Writes the changed measure if nobody changed it since the version it
        was read at; raises Conflict if somebody did."""
        return measure_from(self.measures.swap(measure_doc(measure), field="version"))

    def measures_of(self, programme_id: str, agreed_only: bool = False) -> list[Measure]:
        query = {"programme_id": programme_id}
        if agreed_only:
            query["state"] = "agreed"
        found = [measure_from(d) for d in self.measures.find(query)]
        return sorted(found, key=lambda m: (m.history[0].at, m.measure_id))

    def measures_by_id(self, measure_ids: Iterable[str]) -> dict[str, Measure]:
        return {d["_id"]: measure_from(d)
                for d in self.measures.find({"_id": {"$in": list(measure_ids)}})}
