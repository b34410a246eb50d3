"""insights: the outcomes of information use, flowing back to providers.

An Agency unit records what the information it received informed (a
decision, advice, a report, an evaluation finding, a policy or service
change), citing ledger deliveries purpose_router confirms it received. Each
outcome reaches only the providers whose data informed it: over gRPC (list,
watch, a Board report) and as an event on the broker. Evaluation findings
start as drafts with a right of reply in working days, and use only measures
the Agency, providers and service-user representatives agreed."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
import zoneinfo

import eventlet
from eventlet.queue import Empty, Full, LightQueue
from grpc import StatusCode
from nameko import config
from nameko.events import BROADCAST, EventDispatcher, event_handler
from nameko.extensions import DependencyProvider
from nameko.rpc import ServiceRpc
from nameko.timer import timer
from nameko_grpc.entrypoint import Grpc
from nameko_grpc.errors import GrpcError
from prometheus_client import Counter, Gauge, Histogram

from services.insights import domain
from services.insights.influence_report import render_influence_report
from services.insights.storage import (
    InsightsStorage,
    measure_from,
    outcome_id_for,
    reviews_doc,
    reviews_from,
    step,
)
from tiaki.core import messages
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1 import outcomes_pb2 as pb
from tiaki.insights.v1.measures_pb2_grpc import MeasuresServiceStub
from tiaki.insights.v1.outcomes_pb2_grpc import OutcomesServiceStub, UnitOutcomesServiceStub
from tiaki.plumbing.dead_letter import rpc
from tiaki.plumbing.health import HealthMixin
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.metrics import Metrics
from tiaki.plumbing.store import Storage

log = logging.getLogger(__name__)
unit_grpc = Grpc.implementing(UnitOutcomesServiceStub)
outcomes_grpc = Grpc.implementing(OutcomesServiceStub)
measures_grpc = Grpc.implementing(MeasuresServiceStub)
NZ = zoneinfo.ZoneInfo("Pacific/Auckland")

WATCH_SECONDS = 3600   # a watcher reconnects after an hour
WATCH_POLL = 2.0       # the store is read again this often even without a broker event
WATCH_LOOKBACK = 5.0   # a write stamped just before our last read may commit just after it
ROUTER_TIMEOUT = 10.0  # seconds to wait for purpose_router before answering UNAVAILABLE

OUTCOMES_RECORDED = Counter("tiaki_insights_outcomes_recorded_total",
                            "Outcomes of information use recorded", ["programme", "unit", "kind"])
CITATIONS_REFUSED = Counter("tiaki_insights_citations_refused_total",
                            "Outcomes refused for citing deliveries the unit never received",
                            ["unit"])
FINDINGS_PUBLISHED = Counter("tiaki_insights_findings_published_total",
                             "Evaluation findings published", ["programme", "unit"])
FINDING_RESPONSES = Counter("tiaki_insights_finding_responses_total",
                            "Providers' responses to draft findings", ["kind"])
MEASURE_POSITIONS = Counter("tiaki_insights_measure_positions_total",
                            "Endorsements and objections of evaluation measures",
                            ["party", "stance"])
MEASURES_AGREED = Counter("tiaki_insights_measures_agreed_total", "Measures agreed", ["programme"])
WATCHERS = Gauge("tiaki_insights_watchers", "Open WatchOutcomes streams")
FEED_DELAY = Histogram("tiaki_insights_feed_delay_seconds",
                       "From an outcome's change to its sending on a provider's feed",
                       buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))

KINDS = {getattr(pb, f"OUTCOME_KIND_{k.upper()}"): k for k in domain.OUTCOME_KINDS}
STATES = {"recorded": pb.OUTCOME_STATE_RECORDED, "draft": pb.OUTCOME_STATE_DRAFT,
          "published": pb.OUTCOME_STATE_PUBLISHED}
RESPONSES = {getattr(pb, f"RESPONSE_KIND_{k.upper()}"): k for k in domain.RESPONSE_KINDS}
STANCES = {mpb.STANCE_ENDORSE: "endorse", mpb.STANCE_OBJECT: "object"}
MEASURE_STATES = {"proposed": mpb.MEASURE_STATE_PROPOSED, "agreed": mpb.MEASURE_STATE_AGREED}


def today() -> dt.date:
    """Today in New Zealand, or the configured TODAY (demonstrations and
    tests of the review window only; empty in production)."""
    fixed = str(config.get("TODAY") or "").strip()
    return dt.date.fromisoformat(fixed) if fixed else dt.datetime.now(NZ).date()


def invalid(exc: domain.Invalid) -> GrpcError:
    return GrpcError(StatusCode.INVALID_ARGUMENT, str(exc))


class OutcomeFeed(DependencyProvider):
    """The open WatchOutcomes streams of this instance, woken when the broker
    says one of their provider's outcomes changed. Each open stream holds a
    worker, so at most half the workers may watch."""

    def setup(self):
        self.watching: dict[str, set[LightQueue]] = {}
        self.limit = max(1, int(config.get("max_workers", 10)) // 2)

    def get_dependency(self, worker_ctx):
        return self

    @contextlib.contextmanager
    def watch(self, provider_id: str):
        if sum(len(w) for w in self.watching.values()) >= self.limit:
            raise GrpcError(StatusCode.RESOURCE_EXHAUSTED,
                            f"{self.limit} feeds are open here already; try again shortly")
        wake = LightQueue(maxsize=1)
        self.watching.setdefault(provider_id, set()).add(wake)
        WATCHERS.inc()
        try:
            yield wake
        finally:
            self.watching[provider_id].discard(wake)
            WATCHERS.dec()

    def serving(self) -> bool:
        """False once the service is stopping. nameko stops entrypoints first and
        then waits for workers, so an open feed must notice and end itself; a
        stopped nameko-grpc entrypoint is no longer registered with its server."""
        return any(e.grpc_server.entrypoints.get(e.method_path) is e
                   for e in self.container.entrypoints if isinstance(e, Grpc))

    def notify(self, provider_id: str):
        for wake in list(self.watching.get(provider_id, ())):
            try:
                wake.put_nowait(True)
            except Full:
                pass  # already woken


class InsightsService(HealthMixin):
    name = "insights"

    storage = Storage(InsightsStorage)
    identities = Identities()
    metrics = Metrics()
    events = EventDispatcher()
    feed = OutcomeFeed()
    purpose_router = ServiceRpc("purpose_router")

    _plans: dict = {}  # programme id -> its latest plan (names only), for a minute

    # -- units record outcomes ------------------------------------------------------------

    @unit_grpc
    def RecordOutcome(self, request, context):
        unit = self.identities.require(context, "unit")
        try:
            draft = domain.check_outcome(domain.OutcomeDraft(
                kind=KINDS.get(request.kind, ""), title=request.title, summary=request.summary,
                date=request.date, audience=request.audience,
                delivery_ids=tuple(request.delivery_ids),
                submission_ids=tuple(request.submission_ids),
                measure_ids=tuple(request.measure_ids), outcome_ref=request.outcome_ref), today())
        except domain.Invalid as exc:
            raise invalid(exc) from None
        outcome_id = outcome_id_for(unit.id, draft.outcome_ref)
        if draft.outcome_ref and (existing := self.storage.outcome(outcome_id)):
            return pb.RecordOutcomeResponse(outcome=outcome_message(view(existing)))
        received = self._router("deliveries_received", unit.id, list(draft.delivery_ids),
                                list(draft.submission_ids))
        deliveries, submissions = domain.unreceived(draft, received)
        if deliveries or submissions:
            CITATIONS_REFUSED.labels(unit.id).inc()
            never = ([f"deliveries {', '.join(deliveries)}"] if deliveries else []) + (
                [f"submissions {', '.join(submissions)}"] if submissions else [])
            raise GrpcError(StatusCode.NOT_FOUND,
                            f"unit {unit.id} never received {'; nor '.join(never)}: an outcome "
                            "cites only deliveries its unit received")
        cites = domain.citations(draft, received)
        for cite in cites:
            cite["purpose_name"] = self._purpose_name(cite["programme_id"], cite["purpose_id"])
        programmes = sorted({c["programme_id"] for c in cites})
        providers = sorted({c["provider_id"] for c in cites})
        state, reviews = "recorded", ()
        if draft.kind == domain.FINDING:
            try:
                domain.check_finding_measures(draft.measure_ids,
                                              self.storage.measures_by_id(draft.measure_ids),
                                              set(programmes))
            except domain.Invalid as exc:
                raise invalid(exc) from None
            except domain.RuleBroken as exc:
                raise GrpcError(StatusCode.FAILED_PRECONDITION, f"measure_ids: {exc}") from None
            state = "draft"
            reviews = domain.open_reviews(providers, today(),
                                          int(config.get("REVIEW_WORKING_DAYS") or
                                              domain.REVIEW_WORKING_DAYS))
        doc, created = self.storage.add_outcome({
            "_id": outcome_id, "outcome_ref": draft.outcome_ref, "unit_id": unit.id,
            "kind": draft.kind, "title": draft.title, "summary": draft.summary,
            "date": draft.date, "audience": draft.audience,
            "cited": {"delivery_ids": list(draft.delivery_ids),
                      "submission_ids": list(draft.submission_ids)},
            "citations": cites, "delivery_ids": [c["delivery_id"] for c in cites],
            "provider_ids": providers, "programme_ids": programmes,
            "measure_ids": list(draft.measure_ids), "state": state,
            "reviews": reviews_doc(reviews),
            "history": [step(unit.id, "recorded the outcome" if state == "recorded"
                             else "shared the draft finding for reply")]})
        if created:
            for programme in programmes:
                OUTCOMES_RECORDED.labels(programme, unit.id, draft.kind).inc()
            self._announce(doc)
        return pb.RecordOutcomeResponse(outcome=outcome_message(view(doc)))

    @unit_grpc
    def PublishFinding(self, request, context):
        unit = self.identities.require(context, "unit")
        doc = self.storage.outcome(request.outcome_id)
        if doc is None or doc["unit_id"] != unit.id:
            raise GrpcError(StatusCode.NOT_FOUND,
                            f"no outcome {request.outcome_id!r} recorded by unit {unit.id}")
        if doc["kind"] != domain.FINDING:
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"outcome {doc['_id']} is a {doc['kind']}, told to providers when "
                            "recorded; only an evaluation finding is published")
        for _ in range(20):
            blockers = domain.publication_blockers(doc["state"], reviews_from(doc), today())
            if blockers:
                raise GrpcError(StatusCode.FAILED_PRECONDITION,
                                f"finding {doc['_id']} cannot be published yet: "
                                + "; ".join(blockers))
            changed = self.storage.change_outcome(
                doc, {"state": "published", "published_at": time.time()},
                step(unit.id, "published the finding with the providers' responses"))
            if changed:
                for programme in doc["programme_ids"]:
                    FINDINGS_PUBLISHED.labels(programme, unit.id).inc()
                self._announce(changed)
                return pb.PublishFindingResponse(outcome=outcome_message(view(changed)))
            doc = self.storage.outcome(doc["_id"])  # a reply landed meanwhile: decide again
        raise GrpcError(StatusCode.ABORTED, f"finding {doc['_id']} kept changing; publish again")

    # -- providers follow them ------------------------------------------------------------

    @outcomes_grpc
    def ListOutcomes(self, request, context):
        provider = self.identities.require(context, "provider")
        date_from, date_to = self._period(request.date_from, request.date_to, required=False)
        kind = ""
        if request.kind:
            kind = KINDS.get(request.kind)
            if kind is None:
                raise GrpcError(StatusCode.INVALID_ARGUMENT, f"kind: unknown kind {request.kind}")
        docs = self.storage.for_provider(provider.id, date_from, date_to, kind)
        return pb.ListOutcomesResponse(
            outcomes=[outcome_message(view(d, provider.id)) for d in docs])

    @outcomes_grpc
    def WatchOutcomes(self, request, context):
        provider = self.identities.require(context, "provider")
        since = time.time()
        if request.HasField("since"):
            try:
                since = request.since.ToNanoseconds() / 1e9
            except ValueError as exc:  # seconds outside years 1 to 9999
                raise GrpcError(StatusCode.INVALID_ARGUMENT, f"since: {exc}") from None
        seen: dict[str, int] = {}
        scanned = since
        deadline = time.monotonic() + WATCH_SECONDS
        with self.feed.watch(provider.id) as wake:
            while (time.monotonic() < deadline and not context.response_stream.closed
                   and self.feed.serving()):
                read_at = time.time()
                for doc in self.storage.changed_for_provider(
                        provider.id, max(since, scanned - WATCH_LOOKBACK)):
                    if seen.get(doc["_id"], 0) >= doc["version"]:
                        continue
                    seen[doc["_id"]] = doc["version"]
                    FEED_DELAY.observe(max(0.0, time.time() - doc["changed_at"]))
                    yield pb.WatchOutcomesResponse(outcome=outcome_message(view(doc, provider.id)))
                scanned = read_at
                try:
                    wake.get(timeout=WATCH_POLL)
                except Empty:
                    pass

    @outcomes_grpc
    def RespondToFinding(self, request, context):
        provider = self.identities.require(context, "provider")
        doc = self.storage.outcome(request.outcome_id)
        if doc is None or provider.id not in doc["provider_ids"]:
            raise GrpcError(StatusCode.NOT_FOUND, f"no outcome {request.outcome_id!r}")
        if doc["kind"] != domain.FINDING:
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"outcome {doc['_id']} is a {doc['kind']}; only a draft evaluation "
                            "finding takes a reply")
        if doc["state"] != "draft":
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"finding {doc['_id']} is already {doc['state']}")
        kind = RESPONSES.get(request.kind, "")
        for _ in range(20):
            reviews = reviews_from(doc)
            mine = next(r for r in reviews if r.provider_id == provider.id)
            try:
                answered = domain.respond(mine, kind, request.text, today(), time.time())
            except domain.Invalid as exc:
                raise invalid(exc) from None
            except domain.RuleBroken as exc:
                raise GrpcError(StatusCode.FAILED_PRECONDITION, str(exc)) from None
            reviews = tuple(answered if r.provider_id == provider.id else r for r in reviews)
            changed = self.storage.change_outcome(
                doc, {"reviews": reviews_doc(reviews)},
                step(provider.id, f"responded: {kind.replace('_', ' ')}"))
            if changed:
                FINDING_RESPONSES.labels(kind).inc()
                self._announce(changed)
                return pb.RespondToFindingResponse(
                    outcome=outcome_message(view(changed, provider.id)))
            doc = self.storage.outcome(doc["_id"])
            if doc["state"] != "draft":
                raise GrpcError(StatusCode.FAILED_PRECONDITION,
                                f"finding {doc['_id']} was {doc['state']} meanwhile")
        raise GrpcError(StatusCode.ABORTED, f"finding {doc['_id']} kept changing; respond again")

    @outcomes_grpc
    def GetInfluenceReport(self, request, context):
        provider = self.identities.require(context, "provider")
        date_from, date_to = self._period(request.date_from, request.date_to, required=True)
        docs = self.storage.for_provider(provider.id, date_from, date_to)
        measures = self.storage.measures_by_id({m for d in docs for m in d["measure_ids"]})
        programmes = {}
        for programme in sorted({p for d in docs for p in d["programme_ids"]}):
            plan = self._plan(programme)
            programmes[programme] = {"name": plan.get("name") or programme,
                                     "units": {u["unit_id"]: u.get("name") or u["unit_id"]
                                               for u in plan.get("units", [])}}
        units = {u: n for p in programmes.values() for u, n in p["units"].items()}
        outcomes = []
        for doc in docs:
            v = view(doc, provider.id)
            v["unit_name"] = units.get(v["unit_id"], v["unit_id"])
            v["programme_names"] = [programmes[p]["name"] for p in doc["programme_ids"]]
            v["measures"] = [{"measure_id": m, "name": measures[m].name if m in measures else m}
                             for m in doc["measure_ids"]]
            outcomes.append(v)
        html = render_influence_report({
            "provider_id": provider.id, "date_from": date_from, "date_to": date_to,
            "generated_on": today().isoformat(), "outcomes": outcomes})
        return pb.GetInfluenceReportResponse(html=html)

    # -- evaluation measures, co-defined -------------------------------------------------

    @measures_grpc
    def ProposeMeasure(self, request, context):
        caller = self.identities.require(context, *domain.PARTY_KINDS)
        if not request.programme_id.strip():
            raise GrpcError(StatusCode.INVALID_ARGUMENT, "programme_id: is required")
        if not self._plan(request.programme_id, must_exist=False):
            raise GrpcError(StatusCode.NOT_FOUND, f"no programme {request.programme_id!r}")
        try:
            measure = domain.propose(str(uuid.uuid4()), request.programme_id, request.name,
                                     request.definition, request.reason,
                                     domain.Party(caller.kind, caller.id), time.time())
        except domain.Invalid as exc:
            raise invalid(exc) from None
        MEASURE_POSITIONS.labels(caller.kind, "endorse").inc()
        doc = self.storage.add_measure(measure, f"{caller.kind} {caller.id}")
        return mpb.ProposeMeasureResponse(measure=measure_message(doc))

    @measures_grpc
    def RespondToMeasure(self, request, context):
        caller = self.identities.require(context, *domain.PARTY_KINDS)
        doc = self.storage.measure(request.measure_id)
        if doc is None:
            raise GrpcError(StatusCode.NOT_FOUND, f"no measure {request.measure_id!r}")
        stance = STANCES.get(request.stance, "")
        for _ in range(20):
            try:
                measure = domain.take_position(measure_from(doc), domain.Party(caller.kind, caller.id),
                                               stance, request.reason, time.time())
            except domain.Invalid as exc:
                raise invalid(exc) from None
            except domain.RuleBroken as exc:
                raise GrpcError(StatusCode.FAILED_PRECONDITION, str(exc)) from None
            what = f"{stance}d" + (f": {request.reason.strip()}" if request.reason.strip() else "")
            changed = self.storage.change_measure(doc, measure, step(f"{caller.kind} {caller.id}",
                                                                     what))
            if changed:
                MEASURE_POSITIONS.labels(caller.kind, stance).inc()
                if measure.state == "agreed":
                    MEASURES_AGREED.labels(measure.programme_id).inc()
                return mpb.RespondToMeasureResponse(measure=measure_message(changed))
            doc = self.storage.measure(doc["_id"])
        raise GrpcError(StatusCode.ABORTED, f"measure {doc['_id']} kept changing; respond again")

    @measures_grpc
    def ListMeasures(self, request, context):
        self.identities.require(context, "unit", *domain.PARTY_KINDS)
        if not request.programme_id.strip():
            raise GrpcError(StatusCode.INVALID_ARGUMENT, "programme_id: is required")
        return mpb.ListMeasuresResponse(measures=[
            measure_message(d) for d in self.storage.measures(request.programme_id,
                                                              request.agreed_only)])

    # -- other services, and the broker ---------------------------------------------------

    @rpc
    def outcomes_informed_by(self, provider_id: str, delivery_ids: list[str]) -> list[dict]:
        """Outcomes told to the provider that these deliveries informed (for a
        family's access answer): the provider's view, never a draft."""
        if not delivery_ids:
            return []
        return [view(d, provider_id) for d in self.storage.told_citing(provider_id, delivery_ids)]

    @event_handler(messages.INSIGHTS, messages.OUTCOME_RECORDED, handler_type=BROADCAST,
                   reliable_delivery=False)
    def wake_on_recorded(self, event: dict):
        self._wake(event)

    @event_handler(messages.INSIGHTS, messages.OUTCOME_CHANGED, handler_type=BROADCAST,
                   reliable_delivery=False)
    def wake_on_changed(self, event: dict):
        self._wake(event)

    def _wake(self, event):
        """Wakes the provider's open feeds; a malformed signal wakes no one
        (the feeds read the store, never the event)."""
        provider_id = event.get("provider_id") if isinstance(event, dict) else None
        if isinstance(provider_id, str):
            self.feed.notify(provider_id)

    @timer(interval=2)
    def announce_pending(self):
        """Announces again what a broker outage left unannounced."""
        for doc in self.storage.pending_announcements(older_than=time.time() - 2):
            self._announce(doc)

    # -- the work -----------------------------------------------------------------------

    def _announce(self, doc: dict):
        """One event per provider reached, with that provider's view; the
        outcome is marked announced only once every event is confirmed."""
        event = messages.OUTCOME_RECORDED if doc["version"] == 1 else messages.OUTCOME_CHANGED
        try:
            for provider_id in doc["provider_ids"]:
                self.events(event, {"provider_id": provider_id,
                                    "outcome": view(doc, provider_id)})
        except Exception:  # the broker is down: announce_pending sends it later
            log.warning("outcome %s v%s not announced yet", doc["_id"], doc["version"],
                        exc_info=True)
            return
        self.storage.announced(doc)

    def _router(self, method: str, *args):
        try:
            with eventlet.Timeout(ROUTER_TIMEOUT):
                return getattr(self.purpose_router, method)(*args)
        except eventlet.Timeout:
            raise GrpcError(StatusCode.UNAVAILABLE, "purpose_router did not answer; nothing was "
                                                    "recorded, try again") from None

    def _plan(self, programme_id: str, must_exist: bool = True) -> dict:
        cached = self._plans.get(programme_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        plan = self._router("get_plan", programme_id, 0)
        if plan is None:
            if must_exist:
                return {"programme_id": programme_id, "name": programme_id}
            return {}
        self._plans[programme_id] = (time.monotonic() + 60, plan)
        return plan

    def _purpose_name(self, programme_id: str, purpose_id: str) -> str:
        for purpose in self._plan(programme_id).get("purposes", []):
            if purpose["purpose_id"] == purpose_id:
                return purpose.get("name") or purpose_id
        return purpose_id

    def _period(self, date_from: str, date_to: str, required: bool) -> tuple[str, str]:
        try:
            if required and not date_from:
                raise domain.Invalid("date_from", "is required")
            if required and not date_to:
                raise domain.Invalid("date_to", "is required")
            start = domain.parse_date(date_from, "date_from") if date_from else None
            end = domain.parse_date(date_to, "date_to") if date_to else None
        except domain.Invalid as exc:
            raise invalid(exc) from None
        if start and end and start > end:
            raise GrpcError(StatusCode.INVALID_ARGUMENT,
                            f"date_to: {date_to} is before date_from {date_from}")
        return date_from, date_to


# -- views and messages ------------------------------------------------------------------


def view(doc: dict, provider_id: str | None = None) -> dict:
    """An outcome as plain data. A provider's view holds only its own
    citations and its own review; a unit's (provider_id None) holds all."""
    def mine(item):
        return provider_id is None or item["provider_id"] == provider_id

    return {
        "outcome_id": doc["_id"], "outcome_ref": doc.get("outcome_ref", ""),
        "unit_id": doc["unit_id"], "kind": doc["kind"], "title": doc["title"],
        "summary": doc["summary"], "date": doc["date"], "audience": doc["audience"],
        "state": doc["state"], "version": doc["version"],
        "informed_by": [c for c in doc["citations"] if mine(c)],
        "measure_ids": list(doc["measure_ids"]),
        "reviews": [r for r in doc.get("reviews") or [] if mine(r)],
        "recorded_at": doc["recorded_at"], "published_at": doc.get("published_at"),
    }


def outcome_message(v: dict) -> pb.Outcome:
    kinds = {name: number for number, name in KINDS.items()}
    responses = {name: number for number, name in RESPONSES.items()}
    msg = pb.Outcome(
        outcome_id=v["outcome_id"], outcome_ref=v["outcome_ref"], unit_id=v["unit_id"],
        kind=kinds[v["kind"]], title=v["title"], summary=v["summary"], date=v["date"],
        audience=v["audience"], state=STATES[v["state"]], version=v["version"],
        measure_ids=v["measure_ids"],
        informed_by=[pb.Citation(**c) for c in v["informed_by"]])
    for r in v["reviews"]:
        review = msg.reviews.add(provider_id=r["provider_id"], shared_on=r["shared_on"],
                                 respond_by=r["respond_by"])
        for x in r["responses"]:
            response = review.responses.add(kind=responses[x["kind"]], text=x["text"])
            response.responded_at.FromNanoseconds(int(x["at"] * 1e9))
    msg.recorded_at.FromNanoseconds(int(v["recorded_at"] * 1e9))
    if v["published_at"]:
        msg.published_at.FromNanoseconds(int(v["published_at"] * 1e9))
    return msg


def measure_message(doc: dict) -> mpb.Measure:
    stances = {name: number for number, name in STANCES.items()}
    msg = mpb.Measure(
        measure_id=doc["_id"], programme_id=doc["programme_id"], name=doc["name"],
        definition=doc["definition"], proposed_by=mpb.Party(**doc["proposed_by"]),
        state=MEASURE_STATES[doc["state"]], version=doc["version"],
        agreed_by=[mpb.Party(**p) for p in doc.get("agreed_by") or []])
    for p in doc["positions"]:
        position = msg.positions.add(party=mpb.Party(kind=p["kind"], id=p["id"]),
                                     stance=stances[p["stance"]], reason=p["reason"])
        position.at.FromNanoseconds(int(p["at"] * 1e9))
    if doc.get("agreed_at"):
        msg.agreed_at.FromNanoseconds(int(doc["agreed_at"] * 1e9))
    return msg
