"""requests: access requests brokered for families.

A provider opens a request for its own client. intake turns the client
reference into the person's pseudonyms (the keys never leave intake);
purpose_router names exactly the units holding records under them; each of
those units gets a query on its own queue and answers over gRPC. When every
holder has answered, the family's answer is assembled and rendered."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import zoneinfo

import eventlet
from grpc import StatusCode
from nameko.events import EventDispatcher
from nameko.rpc import ServiceRpc
from nameko.timer import timer
from nameko_grpc.entrypoint import Grpc
from nameko_grpc.errors import GrpcError
from prometheus_client import Counter, Gauge

from services.requests import domain
from services.requests.answer_document import render_answer
from services.requests.storage import RequestsStorage, history, to_domain
from tiaki.core import messages
from tiaki.core.plan import Plan
from tiaki.plumbing import broker
from tiaki.plumbing.health import HealthMixin
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.metrics import Metrics
from tiaki.plumbing.store import Storage
from tiaki.requests.v1 import requests_pb2 as pb
from tiaki.requests.v1.requests_pb2_grpc import RequestsServiceStub, UnitRequestsServiceStub

log = logging.getLogger(__name__)
grpc = Grpc.implementing(RequestsServiceStub)
unit_grpc = Grpc.implementing(UnitRequestsServiceStub)
NZ = zoneinfo.ZoneInfo("Pacific/Auckland")
# Seconds an open request waits before its units are asked again, and between
# escalation rounds. From the environment (read when the module loads, as the
# timer's interval must be): the fault suite asks again within seconds.
QUERY_AGAIN_AFTER = float(os.environ.get("REQUESTS_QUERY_AGAIN_AFTER", "300"))
ESCALATE_EVERY = float(os.environ.get("REQUESTS_ESCALATE_EVERY", "60"))
WATCH_LOOK_AGAIN = 0.25  # seconds a watcher waits for a change made by another instance

REQUESTS_OPENED = Counter("tiaki_requests_opened_total", "Requests opened", ["programme", "kind"])
REQUESTS_COMPLETED = Counter("tiaki_requests_completed_total", "Requests completed",
                             ["programme", "kind"])
UNITS_ESCALATED = Gauge("tiaki_requests_units_escalated",
                        "Holding units past their due date on open requests", ["unit"])
OPEN_REQUESTS = Gauge("tiaki_requests_open",
                      "Open requests by kind and working days left to their due date",
                      ["kind", "days_left"])
# Bands for the dashboard and the deadline alert (3 or fewer working days left);
# every band is always exported, so a band that empties reads 0, not stale.
DAYS_LEFT_BANDS = ("overdue", "0", "1", "2", "3", "4", "5", "6-10", "11-20", "over-20")


def days_left_band(days: int) -> str:
    if days < 0:
        return "overdue"
    if days <= 5:
        return str(days)
    return "6-10" if days <= 10 else "11-20" if days <= 20 else "over-20"


STATES = {"open": pb.REQUEST_STATE_OPEN, "complete": pb.REQUEST_STATE_COMPLETE,
          "transferred": pb.REQUEST_STATE_TRANSFERRED}


def today() -> dt.date:
    return dt.datetime.now(NZ).date()


class RequestChanges:
    """Wakes this process's WatchRequest streams as soon as this process
    changes their request; a change made by another instance is seen at the
    watcher's next look at the store."""

    def __init__(self):
        self._waiting: dict[str, list[eventlet.event.Event]] = {}

    def wait(self, request_id: str, timeout: float):
        event = eventlet.event.Event()
        self._waiting.setdefault(request_id, []).append(event)
        try:
            with eventlet.Timeout(timeout, False):
                event.wait()
        finally:
            waiting = self._waiting.get(request_id, [])
            if event in waiting:
                waiting.remove(event)
            if not waiting:
                self._waiting.pop(request_id, None)

    def notify(self, request_id: str):
        for event in self._waiting.pop(request_id, []):
            event.send()


class RequestsService(HealthMixin):
    name = "requests"

    storage = Storage(RequestsStorage)
    identities = Identities()
    metrics = Metrics()
    unit_queues = broker.UnitQueues()
    events = EventDispatcher()
    intake = ServiceRpc("intake")
    purpose_router = ServiceRpc("purpose_router")
    insights = ServiceRpc("insights")

    _changes = RequestChanges()
    _escalated_units: set = set()  # units ever exported as escalated by this process

    # -- providers ------------------------------------------------------------------

    @grpc
    def OpenAccessRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        doc = self._open(provider, "access", request)
        return pb.OpenAccessRequestResponse(request=request_message(doc))

    @grpc
    def OpenCorrectionRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        c = request.correction
        if not (c.field.strip() and c.corrected_value.strip() and c.reason.strip()):
            raise GrpcError(StatusCode.INVALID_ARGUMENT,
                            "a correction needs the field, what it should say, and why")
        correction = {"field": c.field.strip(), "current_value": c.current_value,
                      "corrected_value": c.corrected_value, "reason": c.reason.strip()}
        doc = self._open(provider, "correction", request, correction)
        return pb.OpenCorrectionRequestResponse(request=request_message(doc))

    @grpc
    def TransferRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        doc = self._own(provider, request.request_id)
        try:
            domain.transfer(to_domain(doc), today(), request.agency)
        except domain.RuleBroken as exc:
            code = (StatusCode.INVALID_ARGUMENT if not request.agency.strip()
                    else StatusCode.FAILED_PRECONDITION)
            raise GrpcError(code, str(exc)) from None
        moved = self.storage.transfer(doc, request.agency.strip(), provider.id)
        if moved is None:
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"request {doc.request_id} is {doc.state}, not open")
        self._changes.notify(moved.request_id)
        self.events(messages.REQUEST_TRANSFERRED, {
            "request_id": moved.request_id, "provider_id": moved.provider_id,
            "agency": moved.transferred_to})
        return pb.TransferRequestResponse(request=request_message(moved))

    @grpc
    def ExtendRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        doc = self._own(provider, request.request_id)
        if doc.state != "open":
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"request {doc.request_id} is {doc.state}; only an open one is extended")
        new_due = self._date(request.new_due, "new_due")
        current = to_domain(doc)
        try:
            rules = domain.extend(current, today(), new_due, request.reasons)
        except domain.RuleBroken as exc:
            late = today() > current.original_due  # too late is a state, not bad input
            raise GrpcError(StatusCode.FAILED_PRECONDITION if late
                            else StatusCode.INVALID_ARGUMENT, str(exc)) from None
        extended = self.storage.extend(doc, rules, provider.id)
        self._changes.notify(extended.request_id)
        return pb.ExtendRequestResponse(request=request_message(extended))

    @grpc
    def WatchRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        doc = self._own(provider, request.request_id)
        seen = None
        deadline = time.monotonic() + 3600  # a watcher reconnects after an hour
        while time.monotonic() < deadline:
            message = request_message(doc)
            if message != seen:
                yield pb.WatchRequestResponse(request=message)
                seen = message
            if doc.state != "open":
                return
            self._changes.wait(doc.request_id, WATCH_LOOK_AGAIN)
            doc = self.storage.get(doc.request_id)

    @grpc
    def GetRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.GetRequestResponse(request=request_message(
            self._own(provider, request.request_id)))

    @grpc
    def ListRequests(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.ListRequestsResponse(
            requests=[request_message(d) for d in self.storage.for_provider(provider.id)])

    @grpc
    def GetAnswer(self, request, context):
        provider = self.identities.require(context, "provider")
        doc = self._own(provider, request.request_id)
        if doc.state == "transferred":
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"request {doc.request_id} was transferred to {doc.transferred_to}, "
                            "which answers it")
        if doc.state != "complete":
            waiting = ", ".join(u["unit_id"] for u in doc.units if not u.get("outcome"))
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"request {doc.request_id} is still waiting for: {waiting}")
        return pb.GetAnswerResponse(html=self.storage.answer_html(doc))

    # -- units ------------------------------------------------------------------------

    @unit_grpc
    def AnswerQuery(self, request, context):
        unit = self.identities.require(context, "unit")
        try:
            doc = self.storage.get(request.request_id)
        except self.storage.NotFound:
            raise GrpcError(StatusCode.NOT_FOUND, f"no request {request.request_id!r}") from None
        part = next((u for u in doc.units if u["unit_id"] == unit.id), None)
        if part is None:
            # Same answer as a missing one: another unit's requests do not exist for you.
            raise GrpcError(StatusCode.NOT_FOUND, f"no request {request.request_id!r}")
        if part.get("outcome"):  # a repeated answer: perhaps the answer was never assembled
            return pb.AnswerQueryResponse(request=request_message(self._finish(doc)))
        allowed = {d for p in part["purposes"] for d in p["delivery_ids"]}
        records = []
        for held in request.records:
            if held.delivery_id not in allowed:
                raise GrpcError(StatusCode.INVALID_ARGUMENT,
                                f"delivery {held.delivery_id!r} is not one that holds this person")
            try:
                fields = json.loads(held.fields_json)
            except ValueError:
                raise GrpcError(StatusCode.INVALID_ARGUMENT, "fields_json is not JSON") from None
            try:
                statements = json.loads(held.statements_json) if held.statements_json else []
            except ValueError:
                raise GrpcError(StatusCode.INVALID_ARGUMENT,
                                "statements_json is not JSON") from None
            records.append({"delivery_id": held.delivery_id, "purpose_id": held.purpose_id,
                            "period": held.period, "fields": fields, "statements": statements})
        outcome = request.outcome or ("answered" if doc.kind == "access" else "")
        for _ in range(20):  # another unit's answer may land between our read and write
            try:
                rules = domain.record_unit_outcome(to_domain(doc), unit.id, outcome,
                                                   request.refusal_reason)
            except domain.RuleBroken as exc:
                raise GrpcError(StatusCode.INVALID_ARGUMENT, str(exc)) from None
            stored = self.storage.record_answer(doc, rules, unit.id, records, unit.id)
            if stored is not None:
                doc = stored
                break
            doc = self.storage.get(doc.request_id)
            log.info("request %s changed under %s's answer (version %s); again",
                     doc.request_id, unit.id, doc.version)
        else:
            raise GrpcError(StatusCode.ABORTED, f"request {doc.request_id} kept changing; "
                                                "answer again")
        doc = self._finish(doc)
        self._changes.notify(doc.request_id)
        return pb.AnswerQueryResponse(request=request_message(doc))

    def _finish(self, doc):
        """Assembles the family's answer once every holding unit has answered.
        Safe to repeat, and repeated: an instance that died (or lost
        purpose_router) between storing the last answer and assembling this
        one leaves it to the unit's repeated answer or the escalation round."""
        if doc.state != "open" or not to_domain(doc).complete:
            return doc
        if self.storage.complete(doc, render_answer(self._answer(doc))):
            REQUESTS_COMPLETED.labels(doc.programme_id, doc.kind).inc()
        return self.storage.get(doc.request_id)

    @timer(interval=ESCALATE_EVERY)
    def escalate(self):
        """Marks holding units past their internal due date (the request stays
        open), and asks units that have not answered again every few minutes:
        a query lost with a broker outage is sent again, and a unit that
        answers twice changes nothing."""
        counts: dict[str, int] = {}
        on = today()
        open_by_band = {(kind, band): 0 for kind in ("access", "correction")
                        for band in DAYS_LEFT_BANDS}
        for doc in self.storage.open_requests():
            if to_domain(doc).complete:  # every unit answered; the answer was not assembled
                try:
                    self._finish(doc)
                except Exception:
                    log.warning("answer to %s not assembled; next round", doc.request_id,
                                exc_info=True)
                continue
            band = days_left_band(domain.working_days_left(to_domain(doc), on))
            open_by_band[(doc.kind, band)] = open_by_band.get((doc.kind, band), 0) + 1
            # Claimed in the store: every instance runs this timer, one asks.
            if self.storage.claim_asking(doc, QUERY_AGAIN_AFTER):
                self._query(doc, only_outstanding=True)
            late = list(domain.escalated(to_domain(doc), on))
            for unit in late:
                counts[unit] = counts.get(unit, 0) + 1
            if late and late != list(doc.escalated) and self.storage.set_escalated(doc, late):
                self._changes.notify(doc.request_id)
                for unit in set(late) - set(doc.escalated):
                    self.events(messages.UNIT_ESCALATED, {
                        "request_id": doc.request_id, "unit_id": unit,
                        "programme_id": doc.programme_id})
        # A unit no longer escalated reads 0, so its alert resolves.
        for unit in self._escalated_units | set(counts):
            UNITS_ESCALATED.labels(unit).set(counts.get(unit, 0))
        self._escalated_units |= set(counts)
        for (kind, band), n in open_by_band.items():
            OPEN_REQUESTS.labels(kind, band).set(n)

    # -- the work -----------------------------------------------------------------------

    def _answer(self, doc) -> dict:
        """What render_answer needs: each holding unit's records, why it has
        them (from the plan), and who used them (from the ledger)."""
        plan = Plan.from_dict(self.purpose_router.get_plan(doc.programme_id, 0))
        units = {u.unit_id: u.name for u in plan.units}
        answers = self.storage.answers(doc)
        delivery_ids = [r["delivery_id"] for rs in answers.values() for r in rs]
        accesses = self.purpose_router.accesses(delivery_ids) if delivery_ids else []
        outcomes = self._outcomes(doc.provider_id, delivery_ids) if delivery_ids else []
        holdings = []
        for unit_id, records in sorted(answers.items()):
            for purpose_id in sorted({r["purpose_id"] for r in records}):
                purpose = plan.purpose(purpose_id)
                mine = [r for r in records if r["purpose_id"] == purpose_id]
                ids = {r["delivery_id"] for r in mine}
                holdings.append({
                    "unit_id": unit_id, "unit_name": units.get(unit_id, unit_id),
                    "purpose_id": purpose_id, "purpose_name": purpose.name,
                    "purpose_description": purpose.description,
                    "fields": [{"name": i.name, "description": i.description,
                                "explanation": next(u.explanation for u in i.uses
                                                    if u.purpose_id == purpose_id)}
                               for i in plan.items if purpose_id in i.purposes()],
                    "records": [{"period": r["period"],
                                 "values": {k: v for k, v in r["fields"].items()
                                            if k not in ("pseudonym", "slk581")},
                                 "statements": r.get("statements", [])}
                                for r in mine],
                    "accesses": [a for a in accesses if a["delivery_id"] in ids],
                })
                if outcomes is not None:
                    holdings[-1]["outcomes"] = [o for o in outcomes if ids & {
                        c["delivery_id"] for c in o["informed_by"]}]
        counts_only = [{"unit_id": p.unit_id, "unit_name": units.get(p.unit_id, p.unit_id),
                        "purpose_name": p.name, "explanation": p.description}
                       for p in plan.purposes if p.form == "aggregate"]
        return {"request_id": doc.request_id, "programme_name": plan.name,
                "provider_name": doc.provider_id, "requester": doc.requester,
                "received": doc.received, "due": doc.due,
                "completed": today().isoformat(), "holdings": holdings,
                "counts_only": counts_only}

    def _outcomes(self, provider_id: str, delivery_ids: list[str]) -> list[dict] | None:
        """What insights was told these deliveries informed; None when insights
        does not answer: the family's answer (what is held) does not wait long for it."""
        try:
            with eventlet.Timeout(5):
                return self.insights.outcomes_informed_by(provider_id, sorted(set(delivery_ids)))
        except (eventlet.Timeout, Exception):
            log.warning("insights did not say what these deliveries informed; the answer goes "
                        "without it", exc_info=True)
            return None

    def _open(self, provider, kind: str, request, correction: dict | None = None):
        """Opens a request and sends a query to exactly the units that hold the
        person's information (for a correction: that hold the field)."""
        received = self._date(request.received, "received") if request.received else today()
        if not request.client_ref.strip():
            raise GrpcError(StatusCode.INVALID_ARGUMENT, "client_ref is required")
        if not request.requester.strip() or not request.authorisation.strip():
            raise GrpcError(StatusCode.INVALID_ARGUMENT,
                            "say who is asking (requester) and how you may act for them "
                            "(authorisation, e.g. a signed form)")
        found = self.purpose_router.get_plan(request.programme_id, 0)
        if found is None:
            raise GrpcError(StatusCode.NOT_FOUND, f"no programme {request.programme_id!r}")
        plan = Plan.from_dict(found)
        pseudonyms = self.intake.pseudonyms(provider.id, request.programme_id,
                                            request.client_ref)
        holders = self.purpose_router.holders(provider.id, request.programme_id, pseudonyms)
        if not holders:
            raise GrpcError(StatusCode.NOT_FOUND,
                            f"no records about client {request.client_ref!r} were sent for "
                            f"{request.programme_id!r}: check the client reference")
        if correction:
            item = plan.item(correction["field"])
            if item is None:
                raise GrpcError(StatusCode.INVALID_ARGUMENT,
                                f"{correction['field']!r} is not an item of the plan")
            holders = [h for h in holders if h["purpose_id"] in item.purposes()]
            if not holders:
                raise GrpcError(StatusCode.NOT_FOUND,
                                f"no unit holds {correction['field']!r} about this client")
        for h in holders:
            # Every generation's pseudonym: a unit holds records under each.
            # `pseudonym`, the newest, is for units whose SDK predates rotation.
            h["pseudonyms"] = pseudonyms[h["purpose_id"]]
            h["pseudonym"] = h["pseudonyms"][-1]
        rules = domain.open_request(kind, received, sorted({h["unit_id"] for h in holders}))
        doc = self.storage.create(provider.id, request.programme_id, request.requester.strip(),
                                  request.authorisation.strip(), rules, holders, provider.id,
                                  correction)
        REQUESTS_OPENED.labels(doc.programme_id, doc.kind).inc()
        self._query(doc)
        return doc

    def _query(self, doc, only_outstanding: bool = False):
        """Sends the request's query to each holding unit's own queue."""
        for unit in doc.units:
            if only_outstanding and unit.get("outcome"):
                continue
            try:
                self.unit_queues.deliver(unit["unit_id"], {
                    "kind": "query", "request_id": doc.request_id, "request_kind": doc.kind,
                    "unit_id": unit["unit_id"], "provider_id": doc.provider_id,
                    "programme_id": doc.programme_id, "purposes": unit["purposes"],
                    "correction": doc.correction or None})
            except Exception:  # the broker is down: the escalation timer asks again
                log.warning("query for %s to %s not sent; asking again later",
                            doc.request_id, unit["unit_id"], exc_info=True)

    def _date(self, text: str, name: str) -> dt.date:
        try:
            if len(text) != 10:  # fromisoformat also takes 20260302 and week dates
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        except ValueError:
            raise GrpcError(StatusCode.INVALID_ARGUMENT,
                            f"{name} must be a date as YYYY-MM-DD, got {text[:20]!r}") from None

    def _own(self, provider, request_id: str):
        try:
            doc = self.storage.get(request_id)
        except self.storage.NotFound:
            doc = None
        if doc is None or doc.provider_id != provider.id:
            raise GrpcError(StatusCode.NOT_FOUND, f"no request {request_id!r}")
        return doc


def request_message(doc) -> pb.Request:
    rules = to_domain(doc)
    late = set(domain.escalated(rules, today()))
    msg = pb.Request(
        request_id=doc.request_id, provider_id=doc.provider_id, programme_id=doc.programme_id,
        kind=doc.kind, requester=doc.requester, authorisation=doc.authorisation,
        state=STATES[doc.state], transferred_to=doc.transferred_to or "",
        received=doc.received, due=doc.due,
        units=[pb.UnitStatus(unit_id=u["unit_id"], outcome=u.get("outcome", ""), due=u["due"],
                             escalated=u["unit_id"] in late,
                             refusal_reason=u.get("refusal_reason", "")) for u in doc.units])
    if doc.correction:
        msg.correction.CopyFrom(pb.Correction(**doc.correction))
    if doc.extension_reasons:
        msg.original_due, msg.extension_reasons = doc.original_due, doc.extension_reasons
    for step in history(doc):
        entry = msg.history.add(who=step["who"], what=step["what"])
        entry.at.FromNanoseconds(int(step["at"] * 1e9))
    msg.opened_at.FromNanoseconds(int(doc.opened_at * 1e9))
    if doc.completed_at:
        msg.completed_at.FromNanoseconds(int(doc.completed_at * 1e9))
    return msg
