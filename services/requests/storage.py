"""The requests service's own database: one document per family's request,
with each step recorded (who, what, when); each unit's answer and the
assembled answer for the family are documents of their own, so the request
itself stays small for the many reads a request gets while it is open."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import mongoengine as me

from services.requests.domain import STATES, FamilyRequest, Request, Step, UnitPart, must_be_open
from tiaki.core.errors import Conflict, NotFound
from tiaki.plumbing.store import Collection, appended


class StoredRequest(me.Document):
    # Times are epoch seconds and dates ISO text: the embedded store turns a
    # date written by $set into text (MongoDB would not).
    meta = {"collection": "requests", "indexes": ["provider_id", "state"]}
    request_id = me.StringField(primary_key=True)
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)
    kind = me.StringField(required=True)
    requester = me.StringField(required=True)
    authorisation = me.StringField(required=True)
    received = me.StringField(required=True)
    due = me.StringField(required=True)
    original_due = me.StringField(required=True)
    transfer_due = me.StringField(required=True)
    # [{unit_id, due, outcome, refusal_reason,
    #   purposes: [{purpose_id, pseudonym, pseudonyms, delivery_ids}]}]
    units = me.ListField(me.DictField())
    # Correction requests: {field, current_value, corrected_value, reason}
    correction = me.DictField()
    extension_reasons = me.StringField(default="")
    state = me.StringField(required=True, choices=STATES)
    transferred_to = me.StringField(default="")
    escalated = me.ListField(me.StringField())
    opened_at = me.FloatField(required=True)
    completed_at = me.FloatField()
    history = me.ListField(me.DictField())  # [{at, who, what, person}]: read with store.appended
    # Optimistic concurrency: two units answering at once must not overwrite
    # each other's outcome (each write names the version it read).
    version = me.IntField(default=0)
    # When its outstanding units were last asked: every requests instance runs
    # the escalation timer, and the one that moves this on asks (absent: opened_at).
    asked_at = me.FloatField()


class UnitAnswer(me.Document):
    """What one unit holds about the person: [{delivery_id, purpose_id, period,
    fields, statements}]."""
    meta = {"collection": "unit_answers", "indexes": ["request_id"]}
    answer_key = me.StringField(primary_key=True)  # "<request>:<unit>"
    request_id = me.StringField(required=True)
    unit_id = me.StringField(required=True)
    records = me.ListField(me.DictField())
    reviewed_by = me.StringField(default="")  # the person at the unit who approved it


class AnswerDocument(me.Document):
    """The answer for the family, as rendered when the last unit answered."""
    meta = {"collection": "answer_documents"}
    request_id = me.StringField(primary_key=True)
    html = me.StringField(required=True)


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _request(doc: dict) -> FamilyRequest:
    rules = Request(
        kind=doc["kind"], received=_day(doc["received"]), due=_day(doc["due"]),
        original_due=_day(doc["original_due"]), transfer_due=_day(doc["transfer_due"]),
        units=tuple(UnitPart(u["unit_id"], _day(u["due"]), u.get("outcome", ""),
                             u.get("refusal_reason", ""), tuple(u.get("purposes", ())))
                    for u in doc.get("units", ())),
        extension_reasons=doc.get("extension_reasons") or "",
        transferred_to=doc.get("transferred_to") or "")
    return FamilyRequest(
        request_id=doc["_id"], provider_id=doc["provider_id"], programme_id=doc["programme_id"],
        requester=doc["requester"], authorisation=doc["authorisation"], rules=rules,
        state=doc["state"], opened_at=doc["opened_at"], correction=doc.get("correction") or None,
        escalated=tuple(doc.get("escalated") or ()), completed_at=doc.get("completed_at"),
        history=tuple(Step(s["at"], s["who"], s["what"], s.get("person", ""))
                      for s in appended(doc.get("history"))),
        version=doc.get("version", 0), asked_at=doc.get("asked_at"))


def _units(request: Request) -> list[dict]:
    return [{"unit_id": u.unit_id, "due": u.due.isoformat(), "outcome": u.outcome,
             "refusal_reason": u.refusal_reason, "purposes": list(u.purposes)}
            for u in request.units]


def step(who: str, what: str, person: str = "") -> dict:
    return {"at": time.time(), "who": who, "what": what, "person": person}


class RequestsStorage:
    def __init__(self):
        self.requests = Collection(StoredRequest)
        self.unit_answers = Collection(UnitAnswer)
        self.documents = Collection(AnswerDocument)

    def ensure_indexes(self):
        for doc in (StoredRequest, UnitAnswer, AnswerDocument):
            doc.ensure_indexes()

    def create(self, provider_id: str, programme_id: str, requester: str, authorisation: str,
               request: Request, who: str, correction: dict | None = None,
               person: str = "") -> FamilyRequest:
        """Stores a new request; `request.units` name what each unit is asked about."""
        now = time.time()
        doc = {
            "_id": str(uuid.uuid4()), "provider_id": provider_id, "programme_id": programme_id,
            "kind": request.kind, "requester": requester, "authorisation": authorisation,
            "received": request.received.isoformat(), "due": request.due.isoformat(),
            "original_due": request.original_due.isoformat(),
            "transfer_due": request.transfer_due.isoformat(), "units": _units(request),
            "correction": correction or {}, "extension_reasons": "", "transferred_to": "",
            # Open until its answer is assembled, even when nobody holds anything.
            "state": "open", "escalated": [],
            "opened_at": now, "history": [step(who, "opened the request", person)], "version": 0}
        self.requests.insert(doc)
        return _request(doc)

    def get(self, request_id: str) -> FamilyRequest:
        doc = self.requests.get(request_id)
        if doc is None:
            raise NotFound("", f"no request {request_id!r}")
        return _request(doc)

    def for_provider(self, provider_id: str) -> list[FamilyRequest]:
        return [_request(d) for d in self.requests.find({"provider_id": provider_id},
                                                        sort="opened_at")]

    def open_requests(self) -> list[FamilyRequest]:
        return [_request(d) for d in self.requests.find({"state": "open"})]

    def record_answer(self, found: FamilyRequest, request: Request, unit_id: str,
                      records: list[dict], who: str, reviewed_by: str = "",
                      person: str = "") -> FamilyRequest:
        """Stores one unit's answer, then its new outcome; Conflict when the
        request changed since `found` was read (read it again and retry). The
        answer is replaced whole, so a unit answering again after a crash leaves one.
        `reviewed_by`: the person at the unit who approved it ("" without review)."""
        key = f"{found.request_id}:{unit_id}"
        self.unit_answers.put(key, {"request_id": found.request_id, "unit_id": unit_id,
                                    "records": records, "reviewed_by": reviewed_by})
        outcome = next(u.outcome for u in request.units if u.unit_id == unit_id)
        withheld = sum(len(r.get("withheld", ())) for r in records)
        what = (f"{outcome} ({len(records)} record{'' if len(records) == 1 else 's'}"
                + (f", {withheld} item{'' if withheld == 1 else 's'} withheld" if withheld else "")
                + ")" + (f", approved by {reviewed_by}" if reviewed_by else ""))
        if not self.requests.update(
                {"_id": found.request_id, "version": found.version},
                set={"units": _units(request)}, inc={"version": 1},
                push={"history": step(who, what, reviewed_by or person)}):
            raise Conflict("version", f"request {found.request_id} changed meanwhile")
        return self.get(found.request_id)

    def answers(self, found: FamilyRequest) -> dict[str, list[dict]]:
        """{unit_id: records} of the units that answered (with an outcome)."""
        answered = {u.unit_id for u in found.units if u.outcome}
        return {a["unit_id"]: a["records"]
                for a in self.unit_answers.find({"request_id": found.request_id})
                if a["unit_id"] in answered}

    def complete(self, found: FamilyRequest, html: str) -> bool:
        """False when it was already complete (another instance assembled it)."""
        self.documents.put(found.request_id, {"html": html})
        return bool(self.requests.update(
            {"_id": found.request_id, "state": "open"},
            set={"state": "complete", "completed_at": time.time()},
            push={"history": step("tiaki", "assembled the answer for the family")}))

    def answer_html(self, found: FamilyRequest) -> str:
        doc = self.documents.get(found.request_id)
        return doc["html"] if doc else ""

    def extend(self, found: FamilyRequest, request: Request, who: str,
               person: str = "") -> FamilyRequest:
        """Conflict when the request changed since `found` was read: an extension
        decided on what was read is written once, never over another's."""
        if not self.requests.update(
                {"_id": found.request_id, "version": found.version}, inc={"version": 1},
                set={"due": request.due.isoformat(), "extension_reasons": request.extension_reasons},
                push={"history": step(who, f"extended the due date to {request.due.isoformat()}: "
                                           f"{request.extension_reasons}", person)}):
            raise Conflict("version", f"request {found.request_id} changed meanwhile")
        return self.get(found.request_id)

    def transfer(self, found: FamilyRequest, agency: str, who: str,
                 person: str = "") -> FamilyRequest:
        """NotNow when the request is no longer open (answered or already transferred)."""
        if not self.requests.update(
                {"_id": found.request_id, "state": "open"}, inc={"version": 1},
                set={"state": "transferred", "transferred_to": agency},
                push={"history": step(who, f"transferred the request to {agency}; "
                                           "the requester is told", person)}):
            must_be_open(self.get(found.request_id))
        return self.get(found.request_id)

    def set_escalated(self, found: FamilyRequest, units: list[str]) -> None:
        """Conflict when the request changed since `found` was read (another
        instance escalated it first, or a unit answered): the caller tells
        no one, and looks again on its next round."""
        if not self.requests.update(
                {"_id": found.request_id, "version": found.version},
                set={"escalated": units}, inc={"version": 1},
                push={"history": step("tiaki", f"escalated {', '.join(units)}: "
                                               "past their due date")}):
            raise Conflict("version", f"request {found.request_id} changed meanwhile")

    def claim_asking(self, found: FamilyRequest, every: float) -> bool:
        """True when the request's units are due to be asked again and this
        caller, of all the instances, is the one to ask them."""
        now = time.time()
        if (found.asked_at or found.opened_at) > now - every:
            return False
        # Conditional on the value read (None matches a field never written).
        return bool(self.requests.update({"_id": found.request_id, "asked_at": found.asked_at},
                                         set={"asked_at": now}))
