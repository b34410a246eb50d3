"""requests: access requests brokered for families.

A provider opens a request for its own client. intake turns the client
reference into the person's pseudonyms (the keys never leave intake);
purpose_router names exactly the units holding records under them; each of
those units gets a query on its own queue and answers over gRPC. When every
holder has answered, the family's answer is assembled and rendered."""

from __future__ import annotations

import json
import logging
import time

import eventlet
from nameko import config
from nameko.events import EventDispatcher
from nameko.timer import Timer
from nameko_grpc.entrypoint import Grpc
from prometheus_client import Counter, Gauge

from services.requests import answer, domain
from services.requests.answer_document import render_answer
from services.requests.domain import FamilyRequest
from services.requests.storage import RequestsStorage
from tiaki.core import messages
from tiaki.core.clock import nz_today, parse_day
from tiaki.core.errors import Conflict, Invalid, NotFound
from tiaki.core.person import person_id
from tiaki.core.plan import Plan
from tiaki.plumbing import broker
from tiaki.plumbing.broker import ServiceRpc
from tiaki.plumbing.health import HealthMixin
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.metrics import Metrics
from tiaki.plumbing.store import Storage, retrying
from tiaki.requests.v1 import requests_pb2 as pb
from tiaki.requests.v1.requests_pb2_grpc import RequestsServiceStub, UnitRequestsServiceStub

log = logging.getLogger(__name__)
grpc = Grpc.implementing(RequestsServiceStub)
unit_grpc = Grpc.implementing(UnitRequestsServiceStub)
# Seconds an open request waits before its units are asked again, and between
# escalation rounds, unless config/requests.yaml says otherwise (the fault
# suite asks again within seconds).
QUERY_AGAIN_AFTER = 300.0
ESCALATE_EVERY = 60.0
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
KINDS = {kind: pb.RequestKind.Value(f"REQUEST_KIND_{kind.upper()}") for kind in domain.KINDS}
OUTCOMES = {outcome: pb.UnitOutcome.Value(f"UNIT_OUTCOME_{outcome.upper()}")
            for outcome in domain.UNIT_OUTCOMES} | {"": pb.UNIT_OUTCOME_OUTSTANDING}
OUTCOME_WORDS = {value: outcome for outcome, value in OUTCOMES.items()}


class EscalationTimer(Timer):
    """nameko's timer, its interval read from the config when the service starts."""

    def __init__(self, **kwargs):
        super().__init__(interval=ESCALATE_EVERY, **kwargs)

    def setup(self):
        self.interval = float(config.get("ESCALATE_EVERY", ESCALATE_EVERY))


escalation_timer = EscalationTimer.decorator


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
        opened = self._open(provider, "access", request)
        return pb.OpenAccessRequestResponse(request=request_message(opened))

    @grpc
    def OpenCorrectionRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        c = request.correction
        if not (c.field.strip() and c.corrected_value.strip() and c.reason.strip()):
            raise Invalid("", "a correction needs the field, what it should say, and why")
        correction = {"field": c.field.strip(), "current_value": c.current_value,
                      "corrected_value": c.corrected_value, "reason": c.reason.strip()}
        opened = self._open(provider, "correction", request, correction)
        return pb.OpenCorrectionRequestResponse(request=request_message(opened))

    @grpc
    def TransferRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        found = self._own(provider, request.request_id)
        rules = domain.transfer(found.rules, nz_today(), request.agency)
        moved = self.storage.transfer(found, rules.transferred_to, provider.id, provider.person)
        self._changes.notify(moved.request_id)
        self.events(messages.REQUEST_TRANSFERRED, {
            "request_id": moved.request_id, "provider_id": moved.provider_id,
            "agency": moved.rules.transferred_to})
        return pb.TransferRequestResponse(request=request_message(moved))

    @grpc
    def ExtendRequest(self, request, context):
        provider = self.identities.require(context, "provider")

        def attempt():  # decided on the request as read; read again if a unit answered meanwhile
            found = self._own(provider, request.request_id)
            domain.must_be_open(found, then="only an open one is extended")
            new_due = parse_day(request.new_due, "new_due")
            rules = domain.extend(found.rules, nz_today(), new_due, request.reasons)
            return self.storage.extend(found, rules, provider.id, provider.person)
        extended = retrying(attempt, field="", what=f"request {request.request_id} kept "
                                                    "changing; try again")
        self._changes.notify(extended.request_id)
        return pb.ExtendRequestResponse(request=request_message(extended))

    @grpc
    def WatchRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        found = self._own(provider, request.request_id)
        seen = None
        deadline = time.monotonic() + 3600  # a watcher reconnects after an hour
        while time.monotonic() < deadline:
            message = request_message(found)
            if message != seen:
                yield pb.WatchRequestResponse(request=message)
                seen = message
            if found.state != "open":
                return
            self._changes.wait(found.request_id, WATCH_LOOK_AGAIN)
            found = self.storage.get(found.request_id)

    @grpc
    def GetRequest(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.GetRequestResponse(request=request_message(
            self._own(provider, request.request_id)))

    @grpc
    def ListRequests(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.ListRequestsResponse(
            requests=[request_message(f) for f in self.storage.for_provider(provider.id)])

    @grpc
    def GetAnswer(self, request, context):
        provider = self.identities.require(context, "provider")
        found = self._own(provider, request.request_id)
        domain.answer_ready(found)
        return pb.GetAnswerResponse(html=self.storage.answer_html(found))

    @grpc
    def ListNotices(self, request, context):
        caller = self.identities.require(context, "provider", "unit")
        today = nz_today()
        if caller.kind == "provider":
            found = [n for r in self.storage.for_provider(caller.id)
                     for n in domain.notices(r, today)]
        else:
            found = [n for r in self.storage.open_requests()
                     for n in domain.notices(r, today, unit_id=caller.id)]
        return pb.ListNoticesResponse(notices=[pb.Notice(**n) for n in sorted(
            found, key=lambda n: (n["due"], n["subject"], n["kind"]))])

    # -- units ------------------------------------------------------------------------

    @unit_grpc
    def AnswerQuery(self, request, context):
        unit = self.identities.require(context, "unit")
        found = self.storage.get(request.request_id)
        part = found.unit(unit.id)
        if part is None:
            # Same answer as a missing one: another unit's requests do not exist for you.
            raise NotFound("", f"no request {request.request_id!r}")
        if part.outcome:  # a repeated answer: perhaps the answer was never assembled
            return pb.AnswerQueryResponse(request=request_message(self._finish(found)))
        records = unit_records(part, request.records)
        reviewed_by = person_id(request.reviewed_by, "reviewed_by")
        outcome = domain.answered_as(found.kind, OUTCOME_WORDS.get(request.unit_outcome,
                                                                   request.outcome))

        def record() -> FamilyRequest:
            # Read afresh each try: another unit's answer may land between our read and write.
            now = self.storage.get(found.request_id)
            rules = domain.record_unit_outcome(now.rules, unit.id, outcome,
                                               request.refusal_reason)
            return self.storage.record_answer(now, rules, unit.id, records, unit.id,
                                              reviewed_by, unit.person)

        stored = retrying(record, field="",
                          what=f"request {found.request_id} kept changing; answer again")
        stored = self._finish(stored)
        self._changes.notify(stored.request_id)
        return pb.AnswerQueryResponse(request=request_message(stored))

    @unit_grpc
    def GetQueriedRequest(self, request, context):
        unit = self.identities.require(context, "unit")
        found = self.storage.get(request.request_id)
        if found.unit(unit.id) is None:  # the same answer as a missing one
            raise NotFound("", f"no request {request.request_id!r}")
        return pb.GetQueriedRequestResponse(request=queried_message(found, unit.id))

    def _finish(self, found: FamilyRequest) -> FamilyRequest:
        """Assembles the family's answer once every holding unit has answered.
        Safe to repeat, and repeated: an instance that died (or lost
        purpose_router) between storing the last answer and assembling this
        one leaves it to the unit's repeated answer or the escalation round."""
        if not found.to_assemble:
            return found
        if self.storage.complete(found, render_answer(self._answer(found))):
            REQUESTS_COMPLETED.labels(found.programme_id, found.kind).inc()
        return self.storage.get(found.request_id)

    @escalation_timer()
    def escalate(self):
        """Marks holding units past their internal due date (the request stays
        open), and asks units that have not answered again every few minutes:
        a query lost with a broker outage is sent again, and a unit that
        answers twice changes nothing."""
        counts: dict[str, int] = {}
        on = nz_today()
        query_again_after = float(config.get("QUERY_AGAIN_AFTER", QUERY_AGAIN_AFTER))
        open_by_band = {(kind, band): 0 for kind in domain.KINDS for band in DAYS_LEFT_BANDS}
        for found in self.storage.open_requests():
            if found.to_assemble:  # every unit answered; the answer was not assembled
                try:
                    self._finish(found)
                except Exception:
                    log.warning("answer to %s not assembled; next round", found.request_id,
                                exc_info=True)
                continue
            band = days_left_band(domain.working_days_left(found.rules, on))
            open_by_band[(found.kind, band)] += 1
            # Claimed in the store: every instance runs this timer, one asks.
            if self.storage.claim_asking(found, query_again_after):
                self._query(found, only_outstanding=True)
            late = list(domain.escalated(found.rules, on))
            for unit in late:
                counts[unit] = counts.get(unit, 0) + 1
            if late and late != list(found.escalated):
                try:
                    self.storage.set_escalated(found, late)
                except Conflict:  # another instance escalated it, or a unit answered
                    continue
                self._changes.notify(found.request_id)
                for unit in set(late) - set(found.escalated):
                    self.events(messages.UNIT_ESCALATED, {
                        "request_id": found.request_id, "unit_id": unit,
                        "programme_id": found.programme_id})
        # A unit no longer escalated reads 0, so its alert resolves.
        for unit in self._escalated_units | set(counts):
            UNITS_ESCALATED.labels(unit).set(counts.get(unit, 0))
        self._escalated_units |= set(counts)
        for (kind, band), n in open_by_band.items():
            OPEN_REQUESTS.labels(kind, band).set(n)

    # -- the work -----------------------------------------------------------------------

    def _answer(self, found: FamilyRequest) -> dict:
        """What render_answer needs, from the units' answers, the ledger's
        record of each delivery answered from (the plan and agreement versions
        it was collected under), those plan versions, the directory's names,
        the ledger's accesses and what insights says they informed."""
        answers = self.storage.answers(found)
        delivery_ids = answer.delivery_ids(answers)
        # Asked all at once, not one after another: while a large submission streams,
        # each call waits its turn at a busy service (tests/bench/requests_under_load.py).
        router = self.purpose_router
        current = router.get_plan.call_async(found.programme_id, 0)
        directory = router.directory_entries.call_async()
        provenance_call = router.provenance.call_async(delivery_ids) if delivery_ids else None
        accesses_call = router.accesses.call_async(delivery_ids) if delivery_ids else None
        outcomes_call = (eventlet.spawn(self._outcomes, found.provider_id, delivery_ids)
                         if delivery_ids else None)
        provenance = {p["delivery_id"]: p for p in (
            provenance_call.result() if provenance_call else [])}
        plans = {plan.version: plan for plan in [Plan.from_dict(current.result())]}
        older = [router.get_plan.call_async(found.programme_id, version) for version in
                 {p["plan_version"] for p in provenance.values()} - set(plans)]
        plans.update((plan.version, plan) for plan in (Plan.from_dict(c.result()) for c in older))
        names = {key: entry["display_name"] for key, entry in directory.result().items()}
        accesses = accesses_call.result() if accesses_call else []
        # `is not None`: a green thread that has finished is falsy.
        outcomes = outcomes_call.wait() if outcomes_call is not None else []
        return answer.assemble(found, answer.Facts(plans, provenance, names), answers,
                               accesses, outcomes, nz_today())

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

    def _open(self, provider, kind: str, request,
              correction: dict | None = None) -> FamilyRequest:
        """Opens a request and sends a query to exactly the units that hold the
        person's information (for a correction: that hold the field)."""
        received = parse_day(request.received, "received") if request.received else nz_today()
        if not request.client_ref.strip():
            raise Invalid("", "client_ref is required")
        if not request.requester.strip() or not request.authorisation.strip():
            raise Invalid("", "say who is asking (requester) and how you may act for them "
                              "(authorisation, e.g. a signed form)")
        # Both at once (see _answer); the programme is checked first all the same.
        pseudonyms_call = self.intake.pseudonyms.call_async(provider.id, request.programme_id,
                                                            request.client_ref)
        plan_dict = self.purpose_router.get_plan(request.programme_id, 0)
        if plan_dict is None:
            raise NotFound("", f"no programme {request.programme_id!r}")
        plan = Plan.from_dict(plan_dict)
        pseudonyms = pseudonyms_call.result()
        holders = self.purpose_router.holders(provider.id, request.programme_id, pseudonyms)
        purposes = domain.asked(holders, pseudonyms, plan, request.client_ref,
                                request.programme_id, correction)
        rules = domain.open_request(kind, received, sorted(purposes), purposes=purposes)
        opened = self.storage.create(provider.id, request.programme_id,
                                     request.requester.strip(), request.authorisation.strip(),
                                     rules, provider.id, correction, provider.person)
        REQUESTS_OPENED.labels(opened.programme_id, opened.kind).inc()
        self._query(opened)
        # Nobody holds anything: the answer (that the Agency holds nothing) is
        # made now; the request keeps its received and due dates.
        return self._finish(opened) if not opened.units else opened

    def _query(self, found: FamilyRequest, only_outstanding: bool = False):
        """Sends the request's query to each holding unit's own queue, to all
        at once: each waits for the broker's confirmation, which takes long
        while records stream (tests/bench/requests_under_load.py)."""
        def send(unit: domain.UnitPart):
            try:
                self.unit_queues.deliver(unit.unit_id, domain.query(found, unit))
            except Exception:  # the broker is down: the escalation timer asks again
                log.warning("query for %s to %s not sent; asking again later",
                            found.request_id, unit.unit_id, exc_info=True)

        sending = [eventlet.spawn(send, unit) for unit in found.units
                   if not (only_outstanding and unit.outcome)]
        for sent in sending:
            sent.wait()

    def _own(self, provider, request_id: str) -> FamilyRequest:
        found = self.storage.get(request_id)
        if found.provider_id != provider.id:  # the same answer as a missing one
            raise NotFound("", f"no request {request_id!r}")
        return found


def unit_records(part: domain.UnitPart, held) -> list[dict]:
    """A unit's answered records (AnswerQuery's `records`) as stored, each
    from a delivery that holds this person."""
    allowed = part.delivery_ids
    records = []
    for r in held:
        if r.delivery_id not in allowed:
            raise Invalid("", f"delivery {r.delivery_id!r} is not one that holds this person")
        try:
            fields = json.loads(r.fields_json)
        except ValueError:
            raise Invalid("", "fields_json is not JSON") from None
        try:
            statements = json.loads(r.statements_json) if r.statements_json else []
        except ValueError:
            raise Invalid("", "statements_json is not JSON") from None
        record = {"delivery_id": r.delivery_id, "purpose_id": r.purpose_id,
                  "period": r.period, "fields": fields, "statements": statements}
        if r.withheld:
            record["withheld"] = domain.withheld(fields, [(w.item, w.ground) for w in r.withheld])
        records.append(record)
    return records


def unit_status(part: domain.UnitPart, late: set[str]) -> pb.UnitStatus:
    return pb.UnitStatus(unit_id=part.unit_id, outcome=part.outcome,
                         unit_outcome=OUTCOMES[part.outcome], due=part.due.isoformat(),
                         escalated=part.unit_id in late, refusal_reason=part.refusal_reason)


def queried_message(found: FamilyRequest, unit_id: str) -> pb.QueriedRequest:
    """What a unit asked about the request sees of it: no requester, no other unit."""
    rules, today = found.rules, nz_today()
    msg = pb.QueriedRequest(
        request_id=found.request_id, request_kind=KINDS[rules.kind], state=STATES[found.state],
        received=rules.received.isoformat(), due=rules.due.isoformat(),
        working_days_left=domain.working_days_left(rules, today),
        transferred_to=rules.transferred_to,
        unit=unit_status(found.unit(unit_id), set(domain.escalated(rules, today))))
    if rules.extension_reasons:
        msg.original_due = rules.original_due.isoformat()
        msg.extension_reasons = rules.extension_reasons
    return msg


def request_message(found: FamilyRequest) -> pb.Request:
    rules = found.rules
    late = set(domain.escalated(rules, nz_today()))
    msg = pb.Request(
        request_id=found.request_id, provider_id=found.provider_id,
        programme_id=found.programme_id, kind=rules.kind, request_kind=KINDS[rules.kind],
        requester=found.requester,
        authorisation=found.authorisation, state=STATES[found.state],
        transferred_to=rules.transferred_to, received=rules.received.isoformat(),
        due=rules.due.isoformat(), units=[unit_status(u, late) for u in rules.units])
    if found.correction:
        msg.correction.CopyFrom(pb.Correction(**found.correction))
    if rules.extension_reasons:
        msg.original_due = rules.original_due.isoformat()
        msg.extension_reasons = rules.extension_reasons
    for step in found.history:
        entry = msg.history.add(who=step.who, what=step.what, person=step.person)
        entry.at.FromNanoseconds(int(step.at * 1e9))
    msg.opened_at.FromNanoseconds(int(found.opened_at * 1e9))
    if found.completed_at:
        msg.completed_at.FromNanoseconds(int(found.completed_at * 1e9))
    return msg
