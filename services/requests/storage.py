"""The requests service's own database: one document per family's request,
with each step recorded (who, what, when); each unit's answer and the
assembled answer for the family are documents of their own, so the request
itself stays small for the many reads a request gets while it is open."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import mongoengine as me

from services.requests.domain import Request, UnitPart


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
    # [{unit_id, due, outcome, purposes: [{purpose_id, pseudonym, pseudonyms, delivery_ids}]}]
    units = me.ListField(me.DictField())
    # Requests stored before unit answers had documents of their own:
    # {unit_id: [{delivery_id, purpose_id, period, fields, statements}]}
    answers = me.DictField()
    # Correction requests: {field, current_value, corrected_value, reason}
    correction = me.DictField()
    extension_reasons = me.StringField(default="")
    state = me.StringField(required=True, choices=("open", "complete", "transferred"))
    transferred_to = me.StringField(default="")
    escalated = me.ListField(me.StringField())
    answer_html = me.StringField()  # requests stored before AnswerDocument
    opened_at = me.FloatField(required=True)
    completed_at = me.FloatField()
    history = me.ListField(me.DictField())
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


class AnswerDocument(me.Document):
    """The answer for the family, as rendered when the last unit answered."""
    meta = {"collection": "answer_documents"}
    request_id = me.StringField(primary_key=True)
    html = me.StringField(required=True)


class NotFound(LookupError):
    pass


def to_domain(doc: StoredRequest) -> Request:
    return Request(
        kind=doc.kind, received=dt.date.fromisoformat(doc.received),
        due=dt.date.fromisoformat(doc.due), original_due=dt.date.fromisoformat(doc.original_due),
        transfer_due=dt.date.fromisoformat(doc.transfer_due),
        units=tuple(UnitPart(u["unit_id"], dt.date.fromisoformat(u["due"]), u.get("outcome", ""),
                             u.get("refusal_reason", ""))
                    for u in doc.units),
        extension_reasons=doc.extension_reasons or "", transferred_to=doc.transferred_to or "")


class RequestsStorage:
    NotFound = NotFound

    def ensure_indexes(self):
        for doc in (StoredRequest, UnitAnswer, AnswerDocument):
            doc.ensure_indexes()

    def create(self, provider_id, programme_id, requester, authorisation,
               request: Request, holders: list[dict], who: str,
               correction: dict | None = None) -> StoredRequest:
        purposes = {}
        for h in holders:
            purposes.setdefault(h["unit_id"], []).append(
                {k: h[k] for k in ("purpose_id", "pseudonym", "pseudonyms", "delivery_ids")})
        doc = StoredRequest(
            request_id=str(uuid.uuid4()), provider_id=provider_id, programme_id=programme_id,
            kind=request.kind, requester=requester, authorisation=authorisation,
            received=request.received.isoformat(), due=request.due.isoformat(),
            original_due=request.original_due.isoformat(),
            transfer_due=request.transfer_due.isoformat(),
            units=[{"unit_id": u.unit_id, "due": u.due.isoformat(), "outcome": "",
                    "purposes": purposes[u.unit_id]} for u in request.units],
            correction=correction or {},
            state="complete" if request.complete else "open",
            opened_at=time.time(), history=[step(who, "opened the request")])
        if request.complete:
            doc.completed_at = doc.opened_at
        doc.save(force_insert=True)
        return doc

    def get(self, request_id: str) -> StoredRequest:
        doc = StoredRequest.objects(request_id=request_id).first()
        if doc is None:
            raise NotFound(request_id)
        return doc

    def for_provider(self, provider_id: str) -> list[StoredRequest]:
        return list(StoredRequest.objects(provider_id=provider_id).order_by("opened_at"))

    def open_requests(self) -> list[StoredRequest]:
        return list(StoredRequest.objects(state="open"))

    def record_answer(self, doc: StoredRequest, request: Request, unit_id: str,
                      records: list[dict], who: str) -> StoredRequest | None:
        """Stores one unit's answer, then its new outcome; None when the request
        changed since `doc` was read (read it again and retry). The answer is
        replaced whole, so a unit answering again after a crash leaves one."""
        key = f"{doc.request_id}:{unit_id}"
        # Upserts repeat _id in the replacement: the embedded store ignores the filter's.
        UnitAnswer._get_collection().replace_one(
            {"_id": key},
            {"_id": key, "request_id": doc.request_id, "unit_id": unit_id, "records": records},
            upsert=True)
        parts = {p.unit_id: p for p in request.units}
        units = [dict(u, outcome=parts[u["unit_id"]].outcome,
                      refusal_reason=parts[u["unit_id"]].refusal_reason) for u in doc.units]
        mine = StoredRequest.objects(request_id=doc.request_id, version=doc.version)
        changed = mine.update_one(
            set__units=units, inc__version=1,
            push__history=step(who, f"{parts[unit_id].outcome} ({len(records)} "
                                    f"record{'' if len(records) == 1 else 's'})"))
        return self.get(doc.request_id) if changed else None

    def answers(self, doc: StoredRequest) -> dict[str, list[dict]]:
        """{unit_id: records} of the units that answered (with an outcome)."""
        answered = {u["unit_id"] for u in doc.units if u.get("outcome")}
        found = {a["unit_id"]: a["records"] for a in
                 UnitAnswer._get_collection().find({"request_id": doc.request_id})}
        found = found or dict(doc.answers or {})
        return {unit: records for unit, records in found.items() if unit in answered}

    def complete(self, doc: StoredRequest, html: str) -> bool:
        """False when it was already complete (another instance assembled it)."""
        AnswerDocument._get_collection().replace_one(
            {"_id": doc.request_id}, {"_id": doc.request_id, "html": html}, upsert=True)
        return bool(StoredRequest.objects(request_id=doc.request_id, state="open").update_one(
            set__state="complete", set__completed_at=time.time(),
            push__history=step("tiaki", "assembled the answer for the family")))

    def answer_html(self, doc: StoredRequest) -> str:
        found = AnswerDocument._get_collection().find_one({"_id": doc.request_id})
        return found["html"] if found else (doc.answer_html or "")

    def extend(self, doc: StoredRequest, request: Request, who: str) -> StoredRequest:
        StoredRequest.objects(request_id=doc.request_id).update_one(
            inc__version=1, set__due=request.due.isoformat(),
            set__extension_reasons=request.extension_reasons,
            push__history=step(who, f"extended the due date to {request.due.isoformat()}: "
                                    f"{request.extension_reasons}"))
        return self.get(doc.request_id)

    def transfer(self, doc: StoredRequest, agency: str, who: str) -> StoredRequest | None:
        """None when the request is no longer open (answered or already transferred)."""
        changed = StoredRequest.objects(request_id=doc.request_id, state="open").update_one(
            inc__version=1, set__state="transferred", set__transferred_to=agency,
            push__history=step(who, f"transferred the request to {agency}; "
                                    "the requester is told"))
        return self.get(doc.request_id) if changed else None

    def set_escalated(self, doc: StoredRequest, units: list[str]) -> bool:
        """False when the request changed since `doc` was read (another
        instance escalated it first, or a unit answered): the caller tells
        no one, and looks again on its next round."""
        return bool(StoredRequest.objects(request_id=doc.request_id,
                                          version=doc.version).update_one(
            set__escalated=units, inc__version=1,
            push__history=step("tiaki", f"escalated {', '.join(units)}: past their due date")))

    def claim_asking(self, doc: StoredRequest, every: float) -> bool:
        """True when the request's units are due to be asked again and this
        caller, of all the instances, is the one to ask them."""
        now = time.time()
        if (doc.asked_at or doc.opened_at) > now - every:
            return False
        # Conditional on the value read (None matches a field never written).
        return bool(StoredRequest.objects(request_id=doc.request_id,
                                          asked_at=doc.asked_at).update_one(set__asked_at=now))


def history(doc: StoredRequest) -> list[dict]:
    """The recorded steps, oldest first. The embedded store keeps a document
    added with $push as JSON text (MongoDB keeps the document): read both."""
    return [json.loads(s) if isinstance(s, str) else s for s in doc.history]


def step(who: str, what: str) -> dict:
    return {"at": time.time(), "who": who, "what": what}
