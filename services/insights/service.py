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
import logging
import time
import uuid

import eventlet
from eventlet.queue import Empty, Full, LightQueue
from nameko import config
from nameko.events import BROADCAST, EventDispatcher, event_handler
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from nameko_grpc.entrypoint import Grpc
from prometheus_client import Counter, Gauge, Histogram

from services.insights import domain
from services.insights.domain import Measure, Outcome, view
from services.insights.influence_report import influence_report, render_influence_report
from services.insights.storage import InsightsStorage, outcome_id_for
from tiaki.core import messages
from tiaki.core.clock import nz_today
from tiaki.core.errors import Exhausted, Invalid, NotFound, Unavailable
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1 import outcomes_pb2 as pb
from tiaki.insights.v1.measures_pb2_grpc import MeasuresServiceStub
from tiaki.insights.v1.outcomes_pb2_grpc import (
    AgencyOutcomesServiceStub,
    OutcomesServiceStub,
    UnitOutcomesServiceStub,
)
from tiaki.plumbing.broker import ServiceRpc
from tiaki.plumbing.dead_letter import rpc
from tiaki.plumbing.health import HealthMixin
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.metrics import Metrics
from tiaki.plumbing.store import Storage, retrying

log = logging.getLogger(__name__)
unit_grpc = Grpc.implementing(UnitOutcomesServiceStub)
outcomes_grpc = Grpc.implementing(OutcomesServiceStub)
measures_grpc = Grpc.implementing(MeasuresServiceStub)
agency_grpc = Grpc.implementing(AgencyOutcomesServiceStub)

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
            raise Exhausted("", f"{self.limit} feeds are open here already; try again shortly")
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
        today = nz_today()
        draft = domain.check_outcome(domain.OutcomeDraft(
            kind=KINDS.get(request.kind, ""), title=request.title, summary=request.summary,
            date=request.date, audience=request.audience,
            delivery_ids=tuple(request.delivery_ids), submission_ids=tuple(request.submission_ids),
            measure_ids=tuple(request.measure_ids), outcome_ref=request.outcome_ref), today)
        outcome_id = outcome_id_for(unit.id, draft.outcome_ref)
        if draft.outcome_ref and (existing := self.storage.outcome(outcome_id)):
            return pb.RecordOutcomeResponse(outcome=outcome_message(view(existing)))
        received = self._router("deliveries_received", unit.id, list(draft.delivery_ids),
                                list(draft.submission_ids))
        try:
            outcome = domain.new_outcome(
                outcome_id, unit.id, draft, received,
                lambda programme, purpose: domain.purpose_name(self._plan(programme), purpose),
                self.storage.measures_by_id(draft.measure_ids) if draft.measure_ids else {},
                today, int(config.get("REVIEW_WORKING_DAYS") or domain.REVIEW_WORKING_DAYS),
                time.time(), unit.person)
        except NotFound:
            CITATIONS_REFUSED.labels(unit.id).inc()
            raise
        outcome, created = self.storage.add_outcome(outcome)
        if created:
            for programme in outcome.programme_ids:
                OUTCOMES_RECORDED.labels(programme, unit.id, outcome.kind).inc()
            self._announce(outcome)
        return pb.RecordOutcomeResponse(outcome=outcome_message(view(outcome)))

    @unit_grpc
    def PublishFinding(self, request, context):
        unit = self.identities.require(context, "unit")

        def attempt() -> Outcome:  # a reply landing meanwhile means deciding again
            return self.storage.change_outcome(domain.publish(
                self.storage.outcome(request.outcome_id), request.outcome_id, unit.id,
                nz_today(), time.time(), unit.person))

        published = retrying(attempt, field="", what=f"finding {request.outcome_id} kept "
                                                      "changing; publish again")
        for programme in published.programme_ids:
            FINDINGS_PUBLISHED.labels(programme, unit.id).inc()
        self._announce(published)
        return pb.PublishFindingResponse(outcome=outcome_message(view(published)))

    @unit_grpc
    def RespondToCorrection(self, request, context):
        unit = self.identities.require(context, "unit")

        def attempt() -> Outcome:
            return self.storage.change_outcome(domain.resolve_correction(
                self.storage.outcome(request.outcome_id), request.outcome_id, unit.id,
                request.provider_id.strip(), request.response_number, request.accept,
                request.reason, request.revised_summary, request.revised_title, time.time(),
                unit.person))

        resolved = retrying(attempt, field="", what=f"finding {request.outcome_id} kept "
                                                     "changing; respond again")
        self._announce(resolved)
        return pb.RespondToCorrectionResponse(outcome=outcome_message(view(resolved)))

    @unit_grpc
    def ListUnitNotices(self, request, context):
        unit = self.identities.require(context, "unit")
        return pb.ListUnitNoticesResponse(notices=[
            pb.Notice(**n) for o in self.storage.drafts_of_unit(unit.id)
            for n in domain.notices(o, nz_today())])

    # -- providers follow them ------------------------------------------------------------

    @outcomes_grpc
    def ListOutcomes(self, request, context):
        provider = self.identities.require(context, "provider")
        date_from, date_to = domain.period(request.date_from, request.date_to, required=False)
        found = self.storage.for_provider(provider.id, date_from, date_to, kind_of(request.kind))
        return pb.ListOutcomesResponse(
            outcomes=[outcome_message(view(o, provider.id)) for o in found])

    @outcomes_grpc
    def WatchOutcomes(self, request, context):
        provider = self.identities.require(context, "provider")
        since = time.time()
        if request.HasField("since"):
            try:
                since = request.since.ToNanoseconds() / 1e9
            except ValueError as exc:  # seconds outside years 1 to 9999
                raise Invalid("since", str(exc)) from None
        seen: dict[str, int] = {}
        scanned = since
        deadline = time.monotonic() + WATCH_SECONDS
        with self.feed.watch(provider.id) as wake:
            while (time.monotonic() < deadline and not context.response_stream.closed
                   and self.feed.serving()):
                read_at = time.time()
                for outcome in self.storage.changed_for_provider(
                        provider.id, max(since, scanned - WATCH_LOOKBACK)):
                    if seen.get(outcome.outcome_id, 0) >= outcome.version:
                        continue
                    seen[outcome.outcome_id] = outcome.version
                    FEED_DELAY.observe(max(0.0, time.time() - outcome.changed_at))
                    yield pb.WatchOutcomesResponse(
                        outcome=outcome_message(view(outcome, provider.id)))
                scanned = read_at
                try:
                    wake.get(timeout=WATCH_POLL)
                except Empty:
                    pass

    @outcomes_grpc
    def RespondToFinding(self, request, context):
        provider = self.identities.require(context, "provider")
        kind = RESPONSES.get(request.kind, "")

        def attempt() -> Outcome:
            return self.storage.change_outcome(domain.reply(
                self.storage.outcome(request.outcome_id), request.outcome_id, provider.id, kind,
                request.text, nz_today(), time.time(), provider.person,
                request.may_publish_early))

        answered = retrying(attempt, field="", what=f"finding {request.outcome_id} kept "
                                                     "changing; respond again")
        FINDING_RESPONSES.labels(kind).inc()
        self._announce(answered)
        return pb.RespondToFindingResponse(outcome=outcome_message(view(answered, provider.id)))

    @outcomes_grpc
    def GetInfluenceReport(self, request, context):
        provider = self.identities.require(context, "provider")
        date_from, date_to = domain.period(request.date_from, request.date_to, required=True)
        found = self.storage.for_provider(provider.id, date_from, date_to)
        plans = {p: self._plan(p) for p in sorted({p for o in found for p in o.programme_ids})}
        measures = self.storage.measures_by_id({m for o in found for m in o.measure_ids})
        names = {key: entry["display_name"]
                 for key, entry in self._router("directory_entries").items()}
        return pb.GetInfluenceReportResponse(html=render_influence_report(influence_report(
            provider.id, date_from, date_to, found, plans, measures, nz_today(), names)))

    @outcomes_grpc
    def ListNotices(self, request, context):
        provider = self.identities.require(context, "provider")
        today = nz_today()
        found = [n for o in self.storage.for_provider(provider.id)
                 for n in domain.notices(o, today, provider.id)]
        return pb.ListNoticesResponse(notices=[pb.Notice(**n) for n in sorted(
            found, key=lambda n: (n["due"], n["subject"], n["kind"]))])

    # -- the Agency sees every unit's outcomes, drafts and replies whole -------------------

    @agency_grpc
    def ListAgencyOutcomes(self, request, context):
        self.identities.require(context, "agency")
        state = ""
        if request.state:
            state = next((n for n, v in STATES.items() if v == request.state), None)
            if state is None:
                raise Invalid("state", f"unknown state {request.state}")
        size = domain.page_size(request.page_size)
        after = domain.read_page_token(request.page_token)
        today = nz_today()
        found = self.storage.every_outcome(request.programme_id.strip(), kind_of(request.kind),
                                           state, after=after, limit=size + 1)
        return pb.ListAgencyOutcomesResponse(
            outcomes=[agency_message(domain.agency_view(o, today)) for o in found[:size]],
            next_page_token=domain.page_token(found[size - 1]) if len(found) > size else "")

    @agency_grpc
    def GetAgencyOutcome(self, request, context):
        self.identities.require(context, "agency")
        outcome = self.storage.outcome(request.outcome_id.strip())
        if outcome is None:
            raise NotFound("", f"no outcome {request.outcome_id!r}")
        return pb.GetAgencyOutcomeResponse(
            outcome=agency_message(domain.agency_view(outcome, nz_today())))

    # -- evaluation measures, co-defined -------------------------------------------------

    @measures_grpc
    def ProposeMeasure(self, request, context):
        caller = self.identities.require(context, *domain.PARTY_KINDS)
        if not request.programme_id.strip():
            raise Invalid("programme_id", "is required")
        if not self._plan(request.programme_id, must_exist=False):
            raise NotFound("", f"no programme {request.programme_id!r}")
        measure = self.storage.add_measure(domain.propose(
            str(uuid.uuid4()), request.programme_id, request.name, request.definition,
            request.reason, domain.Party(caller.kind, caller.id), time.time(), caller.person))
        MEASURE_POSITIONS.labels(caller.kind, "endorse").inc()
        return mpb.ProposeMeasureResponse(measure=measure_message(measure))

    @measures_grpc
    def RespondToMeasure(self, request, context):
        caller = self.identities.require(context, *domain.PARTY_KINDS)
        stance = STANCES.get(request.stance, "")

        def attempt() -> Measure:
            measure = self.storage.measure(request.measure_id)
            if measure is None:
                raise NotFound("", f"no measure {request.measure_id!r}")
            return self.storage.change_measure(domain.respond_to_measure(
                measure, domain.Party(caller.kind, caller.id), stance, request.reason,
                time.time(), caller.person))

        measure = retrying(attempt, field="", what=f"measure {request.measure_id} kept "
                                                    "changing; respond again")
        MEASURE_POSITIONS.labels(caller.kind, stance).inc()
        if measure.state == "agreed":
            MEASURES_AGREED.labels(measure.programme_id).inc()
        return mpb.RespondToMeasureResponse(measure=measure_message(measure))

    @measures_grpc
    def ListMeasures(self, request, context):
        self.identities.require(context, "unit", *domain.PARTY_KINDS)
        if not request.programme_id.strip():
            raise Invalid("programme_id", "is required")
        return mpb.ListMeasuresResponse(measures=[
            measure_message(m) for m in self.storage.measures_of(request.programme_id,
                                                                 request.agreed_only)])

    # -- other services, and the broker ---------------------------------------------------

    @rpc
    def outcomes_informed_by(self, provider_id: str, delivery_ids: list[str]) -> list[dict]:
        """Outcomes told to the provider that these deliveries informed (for a
        family's access answer): the provider's view, never a draft."""
        if not delivery_ids:
            return []
        return [view(o, provider_id) for o in self.storage.told_citing(provider_id, delivery_ids)]

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
        for outcome in self.storage.pending_announcements(older_than=time.time() - 2):
            self._announce(outcome)

    # -- the work -----------------------------------------------------------------------

    def _announce(self, outcome: Outcome):
        """One event per provider reached, with that provider's view; the
        outcome is marked announced only once every event is confirmed."""
        event = messages.OUTCOME_RECORDED if outcome.version == 1 else messages.OUTCOME_CHANGED
        try:
            for provider_id in outcome.provider_ids:
                self.events(event, {"provider_id": provider_id,
                                    "outcome": view(outcome, provider_id)})
        except Exception:  # the broker is down: announce_pending sends it later
            log.warning("outcome %s v%s not announced yet", outcome.outcome_id, outcome.version,
                        exc_info=True)
            return
        self.storage.announced(outcome)

    def _router(self, method: str, *args):
        try:
            with eventlet.Timeout(ROUTER_TIMEOUT):
                return getattr(self.purpose_router, method)(*args)
        except eventlet.Timeout:
            raise Unavailable("", "purpose_router did not answer; nothing was recorded, "
                                  "try again") from None

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


# -- messages ----------------------------------------------------------------------------


def outcome_message(v: dict) -> pb.Outcome:
    """An outcome's view (domain.view) as the contract's message."""
    kinds = {name: number for number, name in KINDS.items()}
    responses = {name: number for number, name in RESPONSES.items()}
    msg = pb.Outcome(
        outcome_id=v["outcome_id"], outcome_ref=v["outcome_ref"], unit_id=v["unit_id"],
        kind=kinds[v["kind"]], title=v["title"], summary=v["summary"], date=v["date"],
        audience=v["audience"], state=STATES[v["state"]], version=v["version"],
        measure_ids=v["measure_ids"],
        informed_by=[pb.Citation(**c) for c in v["informed_by"]],
        recorded_by_person=v.get("recorded_by_person", ""),
        published_by_person=v.get("published_by_person", ""))
    for r in v["reviews"]:
        review = msg.reviews.add(provider_id=r["provider_id"], shared_on=r["shared_on"],
                                 respond_by=r["respond_by"],
                                 may_publish_early=r.get("may_publish_early", False))
        for x in r["responses"]:
            response = review.responses.add(
                kind=responses[x["kind"]], text=x["text"], person=x.get("person", ""),
                resolution=x.get("resolution", ""),
                resolution_reason=x.get("resolution_reason", ""),
                resolved_by_person=x.get("resolved_by_person", ""))
            response.responded_at.FromNanoseconds(int(x["at"] * 1e9))
            if x.get("resolved_at"):
                response.resolved_at.FromNanoseconds(int(x["resolved_at"] * 1e9))
    msg.recorded_at.FromNanoseconds(int(v["recorded_at"] * 1e9))
    if v["published_at"]:
        msg.published_at.FromNanoseconds(int(v["published_at"] * 1e9))
    return msg


def kind_of(number: int) -> str:
    """A requested kind's name; "" (every kind) when unspecified."""
    if not number:
        return ""
    if number not in KINDS:
        raise Invalid("kind", f"unknown kind {number}")
    return KINDS[number]


def agency_message(v: dict) -> pb.AgencyOutcome:
    """The Agency's view of an outcome (domain.agency_view) as the contract's message."""
    return pb.AgencyOutcome(outcome=outcome_message(v["outcome"]),
                            reply_window_closes=v["reply_window_closes"],
                            publication_blockers=v["publication_blockers"],
                            may_publish=v["may_publish"])


def measure_message(measure: Measure) -> mpb.Measure:
    stances = {name: number for number, name in STANCES.items()}
    msg = mpb.Measure(
        measure_id=measure.measure_id, programme_id=measure.programme_id, name=measure.name,
        definition=measure.definition,
        proposed_by=mpb.Party(kind=measure.proposed_by.kind, id=measure.proposed_by.id),
        state=MEASURE_STATES[measure.state], version=measure.version,
        agreed_by=[mpb.Party(kind=p.kind, id=p.id) for p in measure.agreed_by])
    for p in measure.positions:
        position = msg.positions.add(party=mpb.Party(kind=p.party.kind, id=p.party.id),
                                     stance=stances[p.stance], reason=p.reason,
                                     person=p.person)
        position.at.FromNanoseconds(int(p.at * 1e9))
    if measure.agreed_at:
        msg.agreed_at.FromNanoseconds(int(measure.agreed_at * 1e9))
    return msg
