"""insights as a service, started with purpose_router on the real broker and
store: outcomes cite only deliveries their unit received (purpose_router's
ledger says which), reach only the providers whose data informed them, and
evaluation findings go through co-defined measures and the right of reply."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from grpc import StatusCode
from kombu import Connection, Queue
from nameko import config
from nameko.standalone.events import event_dispatcher, get_event_exchange
from nameko.testing.services import entrypoint_hook, entrypoint_waiter
from nameko.testing.utils import find_free_port, get_extension
from nameko_grpc.client import Client
from nameko_grpc.errors import GrpcError

from services.insights import domain as insights_domain
from services.insights import service as insights_service
from services.insights.service import InsightsService
from services.purpose_router.codesign.family_document import visible_text
from services.purpose_router.directory.domain import checked
from services.purpose_router.directory.storage import DirectoryStorage
from services.purpose_router.plans import PlanRepository
from services.purpose_router.service import PurposeRouterService
from tests.service.factories import WHO, accepted_batch
from tiaki.core import messages
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1 import outcomes_pb2 as pb
from tiaki.insights.v1.measures_pb2_grpc import MeasuresServiceStub
from tiaki.insights.v1.outcomes_pb2_grpc import (
    AgencyOutcomesServiceStub,
    OutcomesServiceStub,
    UnitOutcomesServiceStub,
)
from tiaki.plumbing.store import Storage
from tiaki.plumbing.tokens import ensure_tokens

PEOPLE = WHO + [("representative", "whanau-voice")]
EVAL = "evaluation"


@pytest.fixture
def identities(tmp_path):
    """The usual identities, and a service-user representative."""
    path = ensure_tokens(str(tmp_path), PEOPLE)
    tokens = {(k, i): (tmp_path / "tokens" / f"{k}-{i}").read_text().strip() for k, i in PEOPLE}
    return path, tokens


@pytest.fixture(autouse=True)
def clear_insights_cache():
    InsightsService._plans.clear()
    yield
    InsightsService._plans.clear()


@pytest.fixture
def events_queue(service_config):
    """Every insights event in the test's vhost, to look at what subscribers get."""
    queue = Queue("test-insights-events", exchange=get_event_exchange(messages.INSIGHTS),
                  routing_key="#")
    with Connection(config["AMQP_URI"]) as conn:
        queue(conn.default_channel).declare()
    return queue


def take_all(queue: Queue) -> list[dict]:
    bodies = []
    with Connection(config["AMQP_URI"]) as conn:
        bound = queue(conn.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            bodies.append(message.payload)
    return bodies


@pytest.fixture
def running(start_container, plan, plan_dict, identities):
    """purpose_router with the example plan and three deliveries to the
    evaluation unit (two of CCSS's submissions, one of another provider's),
    and insights beside it."""
    with config.patch({"GRPC_BIND_PORT": find_free_port()}):  # insights' port is its own
        router = start_container(PurposeRouterService)
    assert get_extension(router, Storage, storage_class=PlanRepository).storage.create(
        plan_dict, "agency").version == 1
    for batch in (accepted_batch(plan, n=2, batch_id="b1", submission_id="sub-1"),
                  accepted_batch(plan, n=2, batch_id="b2", submission_id="sub-2"),
                  dict(accepted_batch(plan, n=2, batch_id="b3", submission_id="sub-3"),
                       provider_id="other-ngo")):
        with entrypoint_waiter(router, "route_batch", timeout=15) as result:
            event_dispatcher()(messages.INTAKE, messages.RECORDS_ACCEPTED, batch)
        result.get()
    insights = start_container(InsightsService)
    _, tokens = identities
    target = f"//127.0.0.1:{config['GRPC_BIND_PORT']}"
    with Client(target, UnitOutcomesServiceStub) as units, \
            Client(target, OutcomesServiceStub) as outcomes, \
            Client(target, MeasuresServiceStub) as measures:
        yield Running(insights, tokens, units, outcomes, measures, router)


class Running:
    def __init__(self, container, tokens, units, outcomes, measures, router=None):
        self.container, self.tokens, self.router = container, tokens, router
        self.units, self.outcomes, self.measures = units, outcomes, measures

    def auth(self, kind, ident):
        return [("authorization", f"Bearer {self.tokens[(kind, ident)]}")]

    def record(self, unit=EVAL, **fields):
        request = dict(kind=pb.OUTCOME_KIND_DECISION, title="Keep the parenting strand",
                       summary="Funded for two more years.", date="2026-03-02",
                       audience="Agency leadership", delivery_ids=[f"b1:{EVAL}"])
        request.update(fields)
        return self.units.RecordOutcome(pb.RecordOutcomeRequest(**request),
                                        metadata=self.auth("unit", unit)).outcome

    def listed(self, provider):
        return list(self.outcomes.ListOutcomes(pb.ListOutcomesRequest(),
                                               metadata=self.auth("provider", provider)).outcomes)

    def agreed_measure(self, name="Goals met"):
        m = self.measures.ProposeMeasure(mpb.ProposeMeasureRequest(
            programme_id="best-foot-forward", name=name, definition="Share meeting most goals",
            reason="Families say goals matter"), metadata=self.auth("agency", "agency")).measure
        for who in (("provider", "ccss"), ("representative", "whanau-voice")):
            m = self.measures.RespondToMeasure(mpb.RespondToMeasureRequest(
                measure_id=m.measure_id, stance=mpb.STANCE_ENDORSE), metadata=self.auth(*who)).measure
        assert m.state == mpb.MEASURE_STATE_AGREED
        return m


def refused(call) -> GrpcError:
    with pytest.raises(GrpcError) as caught:
        call()
    return caught.value


class TestOutcomes:
    def test_an_outcome_reaches_only_the_providers_whose_data_informed_it(
            self, running, store_db, events_queue):
        both = running.record(delivery_ids=[f"b1:{EVAL}"], submission_ids=["sub-3"])
        assert [(c.delivery_id, c.provider_id, c.purpose_name) for c in both.informed_by] == [
            (f"b1:{EVAL}", "ccss", "Programme evaluation"),
            (f"b3:{EVAL}", "other-ngo", "Programme evaluation")]
        only_other = running.record(submission_ids=["sub-3"], delivery_ids=[], title="Other")

        mine = running.listed("ccss")
        theirs = running.listed("other-ngo")
        assert [o.outcome_id for o in mine] == [both.outcome_id]
        assert [c.provider_id for c in mine[0].informed_by] == ["ccss"]  # not the other's sources
        assert [o.outcome_id for o in theirs] == [both.outcome_id, only_other.outcome_id]
        assert {c.provider_id for o in theirs for c in o.informed_by} == {"other-ngo"}

        events = take_all(events_queue)
        assert sorted((e["provider_id"], e["outcome"]["title"]) for e in events) == [
            ("ccss", "Keep the parenting strand"), ("other-ngo", "Keep the parenting strand"),
            ("other-ngo", "Other")]
        assert all({c["provider_id"] for c in e["outcome"]["informed_by"]} == {e["provider_id"]}
                   for e in events)
        assert store_db.outcomes.count_documents({"announce_pending": 1}) == 0

    def test_the_board_report_names_periods_and_parties_from_the_ledger_and_directory(
            self, running):
        directory = get_extension(running.router, Storage, storage_class=DirectoryStorage).storage
        for kind, ident, name in (("provider", "ccss", "City Centre Social Services"),
                                  ("unit", EVAL, "Evaluation and Insights team")):
            directory.put(checked(kind, ident, display_name=name, postal_address="PO Box 1, "
                                  "Wellington", phone="04 555 0100", privacy_email="p@x.example"))
        recorded = running.record(submission_ids=["sub-1"], delivery_ids=[])
        assert [c.period for c in recorded.informed_by] == ["2026Q3"]  # the ledger's, kept
        html = running.outcomes.GetInfluenceReport(pb.GetInfluenceReportRequest(
            date_from="2026-01-01", date_to="2026-12-31"), metadata=running.auth("provider", "ccss")).html
        seen = visible_text(html[:html.index("<footer")])
        for words in ("City Centre Social Services", "Evaluation and Insights team",
                      "July to September 2026", "Programme evaluation"):
            assert words in seen, words
        assert "sub-1" not in seen and recorded.outcome_id not in seen and "ccss" not in seen
        assert "sub-1" in html[html.index("<footer"):]  # for staff

    def test_a_delivery_the_unit_never_received_is_refused_and_nothing_kept(
            self, running, store_db):
        error = refused(lambda: running.record(unit="service-delivery"))
        assert error.code == StatusCode.NOT_FOUND
        assert f"unit service-delivery never received deliveries b1:{EVAL}" in error.message
        error = refused(lambda: running.record(delivery_ids=[f"b1:{EVAL}", "b9:x"],
                                               submission_ids=["sub-404"]))
        assert "deliveries b9:x; nor submissions sub-404" in error.message
        assert store_db.outcomes.count_documents({}) == 0

    @pytest.mark.parametrize("fields, words", [
        ({"kind": pb.OUTCOME_KIND_UNSPECIFIED}, "kind: must be one of"),
        ({"title": " "}, "title: is required"),
        ({"date": "02/03/2026"}, "date: must be a date as YYYY-MM-DD"),
        ({"date": "2099-01-01"}, "date: 2099-01-01 is in the future"),
        ({"delivery_ids": []}, "delivery_ids: name the deliveries"),
        ({"measure_ids": ["m1"]}, "measure_ids: only an evaluation finding"),
    ])
    def test_bad_input_is_named_and_nothing_kept(self, running, store_db, fields, words):
        error = refused(lambda: running.record(**fields))
        assert error.code == StatusCode.INVALID_ARGUMENT and words in error.message
        assert store_db.outcomes.count_documents({}) == 0

    def test_only_units_record_and_only_providers_read(self, running):
        error = refused(lambda: running.units.RecordOutcome(
            pb.RecordOutcomeRequest(), metadata=running.auth("provider", "ccss")))
        assert error.code == StatusCode.PERMISSION_DENIED
        error = refused(lambda: running.outcomes.ListOutcomes(
            pb.ListOutcomesRequest(), metadata=running.auth("unit", EVAL)))
        assert error.code == StatusCode.PERMISSION_DENIED

    def test_the_same_reference_records_once(self, running, store_db):
        first = running.record(outcome_ref="eval-2026-007")
        again = running.record(outcome_ref="eval-2026-007", title="Retried")
        assert again.outcome_id == first.outcome_id and again.title == first.title
        assert store_db.outcomes.count_documents({}) == 1

    def test_family_answers_get_only_told_outcomes_citing_their_deliveries(self, running):
        told = running.record()
        running.record(delivery_ids=[f"b2:{EVAL}"], title="Another submission's")
        with entrypoint_hook(running.container, "outcomes_informed_by") as informed_by:
            found = informed_by("ccss", [f"b1:{EVAL}"])
            other = informed_by("other-ngo", [f"b1:{EVAL}"])
        assert [o["outcome_id"] for o in found] == [told.outcome_id]
        assert other == []


class TestFindings:
    def test_a_finding_uses_only_agreed_measures(self, running, store_db):
        proposed = running.measures.ProposeMeasure(mpb.ProposeMeasureRequest(
            programme_id="best-foot-forward", name="Attendance", definition="Sessions attended",
            reason="Easy to count"), metadata=running.auth("agency", "agency")).measure
        objected = running.measures.RespondToMeasure(mpb.RespondToMeasureRequest(
            measure_id=proposed.measure_id, stance=mpb.STANCE_OBJECT,
            reason="Attending is not the same as helped"),
            metadata=running.auth("representative", "whanau-voice")).measure
        assert objected.state == mpb.MEASURE_STATE_PROPOSED
        error = refused(lambda: running.record(kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                                               measure_ids=[proposed.measure_id]))
        assert error.code == StatusCode.FAILED_PRECONDITION
        assert "'Attendance') is not agreed yet" in error.message
        error = refused(lambda: running.record(kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                                               measure_ids=["no-such"]))
        assert error.code == StatusCode.INVALID_ARGUMENT
        assert store_db.outcomes.count_documents({}) == 0

        agreed = running.agreed_measure()
        listed = running.measures.ListMeasures(mpb.ListMeasuresRequest(
            programme_id="best-foot-forward", agreed_only=True),
            metadata=running.auth("unit", EVAL)).measures
        assert [m.name for m in listed] == ["Goals met"]
        assert [(p.kind, p.id) for p in listed[0].agreed_by] == [
            ("agency", "agency"), ("provider", "ccss"), ("representative", "whanau-voice")]
        finding = running.record(kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                                 measure_ids=[agreed.measure_id])
        assert finding.state == pb.OUTCOME_STATE_DRAFT

    def test_right_of_reply_window_in_working_days(self, running, monkeypatch):
        def on(day: dt.date):  # the service's clock says it is `day` in New Zealand
            monkeypatch.setattr(insights_service, "nz_today", lambda: day)

        measure = running.agreed_measure()
        on(dt.date(2026, 3, 2))
        with config.patch({"REVIEW_WORKING_DAYS": 2}):
            draft = running.record(kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                                   measure_ids=[measure.measure_id], submission_ids=["sub-3"],
                                   delivery_ids=[f"b1:{EVAL}"])
            assert [(r.provider_id, r.shared_on, r.respond_by) for r in draft.reviews] == [
                ("ccss", "2026-03-02", "2026-03-04"), ("other-ngo", "2026-03-02", "2026-03-04")]
            publish = pb.PublishFindingRequest(outcome_id=draft.outcome_id)
            error = refused(lambda: running.units.PublishFinding(
                publish, metadata=running.auth("unit", EVAL)))
            assert error.code == StatusCode.FAILED_PRECONDITION
            assert "ccss may respond until 2026-03-04" in error.message
            replied = running.outcomes.RespondToFinding(pb.RespondToFindingRequest(
                outcome_id=draft.outcome_id, kind=pb.RESPONSE_KIND_CORRECT_FACT,
                text="We ran 12 sessions, not 10.", may_publish_early=True),
                metadata=running.auth("provider", "ccss"))
            assert [r.provider_id for r in replied.outcome.reviews] == ["ccss"]  # its own only
            assert replied.outcome.reviews[0].may_publish_early
            error = refused(lambda: running.units.PublishFinding(
                publish, metadata=running.auth("unit", EVAL)))
            assert "other-ngo may respond until" in error.message
            assert "ccss may respond" not in error.message  # it said the finding may go early
            assert "ccss's correction of fact 1" in error.message
        on(dt.date(2026, 3, 5))
        late = refused(lambda: running.outcomes.RespondToFinding(pb.RespondToFindingRequest(
            outcome_id=draft.outcome_id, kind=pb.RESPONSE_KIND_AGREE),
            metadata=running.auth("provider", "other-ngo")))
        assert late.code == StatusCode.FAILED_PRECONDITION
        assert "closed on 2026-03-04" in late.message
        # The windows closed, but the correction of fact waits for the Agency's response.
        error = refused(lambda: running.units.PublishFinding(
            publish, metadata=running.auth("unit", EVAL)))
        assert error.code == StatusCode.FAILED_PRECONDITION
        assert "correction of fact 1 ('We ran 12 sessions, not 10.') awaits" in error.message
        correction = pb.RespondToCorrectionRequest(outcome_id=draft.outcome_id,
                                                   provider_id="ccss", response_number=1)
        error = refused(lambda: running.units.RespondToCorrection(
            correction, metadata=running.auth("unit", EVAL)))
        assert error.code == StatusCode.INVALID_ARGUMENT and "reason" in error.message
        correction.reason = "The register shows 10 sessions for most families."
        running.units.RespondToCorrection(correction, metadata=running.auth("unit", EVAL))
        published = running.units.PublishFinding(
            publish, metadata=running.auth("unit", EVAL)).outcome
        assert published.state == pb.OUTCOME_STATE_PUBLISHED
        (ccss,) = [o for o in running.listed("ccss") if o.outcome_id == draft.outcome_id]
        assert [(r.kind, r.text, r.resolution, r.resolution_reason)
                for r in ccss.reviews[0].responses] == [
            (pb.RESPONSE_KIND_CORRECT_FACT, "We ran 12 sessions, not 10.", "declined",
             "The register shows 10 sessions for most families.")]
        assert ccss.state == pb.OUTCOME_STATE_PUBLISHED and ccss.version == 4

    def test_notices_say_what_a_draft_finding_waits_for(self, running):
        measure = running.agreed_measure()
        draft = running.record(kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                               measure_ids=[measure.measure_id])
        ccss = running.auth("provider", "ccss")
        waiting = running.outcomes.ListNotices(pb.ListNoticesRequest(), metadata=ccss).notices
        assert [(n.kind, n.subject, n.due) for n in waiting] == [
            ("draft_finding_open", draft.outcome_id, draft.reviews[0].respond_by)]
        running.outcomes.RespondToFinding(pb.RespondToFindingRequest(
            outcome_id=draft.outcome_id, kind=pb.RESPONSE_KIND_CORRECT_FACT,
            text="We ran 12 sessions.", may_publish_early=True), metadata=ccss)
        assert list(running.outcomes.ListNotices(pb.ListNoticesRequest(),
                                                 metadata=ccss).notices) == []
        unit = running.units.ListUnitNotices(pb.ListUnitNoticesRequest(),
                                             metadata=running.auth("unit", EVAL)).notices
        assert [(n.kind, n.subject) for n in unit] == [("correction_to_answer", draft.outcome_id)]

    def test_replies_are_for_the_providers_the_finding_is_about(self, running):
        measure = running.agreed_measure()
        draft = running.record(kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                               measure_ids=[measure.measure_id])
        error = refused(lambda: running.outcomes.RespondToFinding(pb.RespondToFindingRequest(
            outcome_id=draft.outcome_id, kind=pb.RESPONSE_KIND_AGREE),
            metadata=running.auth("provider", "other-ngo")))
        assert error.code == StatusCode.NOT_FOUND
        error = refused(lambda: running.outcomes.RespondToFinding(pb.RespondToFindingRequest(
            outcome_id=draft.outcome_id, kind=pb.RESPONSE_KIND_ADD_CONTEXT, text=" "),
            metadata=running.auth("provider", "ccss")))
        assert error.code == StatusCode.INVALID_ARGUMENT and "text: is required" in error.message
        decision = running.record()
        error = refused(lambda: running.units.PublishFinding(
            pb.PublishFindingRequest(outcome_id=decision.outcome_id),
            metadata=running.auth("unit", EVAL)))
        assert error.code == StatusCode.FAILED_PRECONDITION


class TestFeed:
    # nameko's own gRPC client tries to reconnect to the stopped service in a
    # thread of its own, which fails loudly; that is the point of the test.
    @pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
    def test_a_watcher_gets_only_its_providers_outcomes_and_stopping_ends_it(self, running):
        import eventlet
        from google.protobuf.timestamp_pb2 import Timestamp

        from services.insights.service import OutcomeFeed

        feed = get_extension(running.container, OutcomeFeed)
        since = Timestamp()
        since.GetCurrentTime()
        arrived = []
        target = f"//127.0.0.1:{config['GRPC_BIND_PORT']}"
        with Client(target, OutcomesServiceStub) as client:
            def watch():
                for reply in client.WatchOutcomes(pb.WatchOutcomesRequest(since=since),
                                                  metadata=running.auth("provider", "other-ngo")):
                    arrived.append(reply.outcome)

            reader = eventlet.spawn(watch)
            try:
                running.record(title="Not theirs")
                told = running.record(title="Theirs", submission_ids=["sub-3"], delivery_ids=[])
                with eventlet.Timeout(5, False):
                    while not arrived:
                        eventlet.sleep(0.05)
                assert [o.outcome_id for o in arrived] == [told.outcome_id]
                assert sum(len(w) for w in feed.watching.values()) == 1
                # A graceful stop waits for workers, and an open feed holds one:
                # the feed notices the stop and ends, so the stop is prompt.
                started = time.monotonic()
                running.container.stop()
                assert time.monotonic() - started < 10
                assert not sum(len(w) for w in feed.watching.values())
            finally:
                reader.kill()


# -- worker_factory on the real store: the broker is down ---------------------------------


@pytest.fixture
def insights_worker(store_uri, plan):
    """An InsightsService worker on its real storage, purpose_router answering
    that the evaluation unit received one CCSS delivery."""
    import mongoengine
    from nameko.testing.services import worker_factory

    from services.insights.storage import InsightsStorage
    from tiaki.plumbing.identity import Caller
    from tiaki.plumbing.store import connect

    connect(store_uri)
    storage = InsightsStorage()
    storage.ensure_indexes()
    service = worker_factory(InsightsService, storage=storage)
    service.identities.require.return_value = Caller("unit", EVAL)
    service.purpose_router.deliveries_received.return_value = [
        {"delivery_id": f"b1:{EVAL}", "provider_id": "ccss", "programme_id": plan.programme_id,
         "submission_id": "sub-1", "purpose_id": EVAL, "unit_id": EVAL}]
    service.purpose_router.get_plan.return_value = plan.to_dict()
    yield service
    mongoengine.disconnect()


class TestAnnouncements:
    def test_an_outcome_recorded_while_the_broker_is_down_is_announced_later(
            self, insights_worker, store_db):
        from unittest import mock

        service = insights_worker
        service.events.side_effect = ConnectionRefusedError("broker down")
        recorded = service.RecordOutcome(pb.RecordOutcomeRequest(
            kind=pb.OUTCOME_KIND_REPORT, title="Annual report", summary="Published in June.",
            date="2026-03-02", audience="Parliament", delivery_ids=[f"b1:{EVAL}"]),
            mock.Mock()).outcome
        assert store_db.outcomes.count_documents({"announce_pending": 1}) == 1

        service.events.side_effect = None
        service.events.reset_mock()
        service.announce_pending()  # too soon: the inline attempt may still be under way
        assert service.events.call_count == 0
        with mock.patch("services.insights.service.time") as clock:
            clock.time.return_value = time.time() + 10
            service.announce_pending()
        ((event_type, payload),) = [c.args for c in service.events.call_args_list]
        assert event_type == messages.OUTCOME_RECORDED
        assert payload["provider_id"] == "ccss"
        assert payload["outcome"]["outcome_id"] == recorded.outcome_id
        assert store_db.outcomes.count_documents({"announce_pending": 1}) == 0


class TestAgencyView:
    """The Agency sees every unit's outcomes, drafts included, whole; nobody else does."""

    @pytest.fixture
    def agency(self, running):
        with Client(f"//127.0.0.1:{config['GRPC_BIND_PORT']}", AgencyOutcomesServiceStub) as c:
            yield c

    def test_the_agency_sees_drafts_with_every_providers_replies_and_what_blocks_them(
            self, running, agency):
        measure = running.agreed_measure()
        decision = running.record(date="2026-03-01")
        draft = running.record(kind=pb.OUTCOME_KIND_EVALUATION_FINDING, title="Attendance fell",
                               measure_ids=[measure.measure_id], submission_ids=["sub-3"])
        running.outcomes.RespondToFinding(pb.RespondToFindingRequest(
            outcome_id=draft.outcome_id, kind=pb.RESPONSE_KIND_CORRECT_FACT,
            text="We ran 12 sessions, not 10."), metadata=running.auth("provider", "ccss"))
        who = running.auth("agency", "agency")
        listed = agency.ListAgencyOutcomes(pb.ListAgencyOutcomesRequest(), metadata=who).outcomes
        assert [o.outcome.outcome_id for o in listed] == [draft.outcome_id, decision.outcome_id]
        seen = listed[0]
        assert [r.provider_id for r in seen.outcome.reviews] == ["ccss", "other-ngo"]
        assert {c.provider_id for c in seen.outcome.informed_by} == {"ccss", "other-ngo"}
        assert seen.outcome.reviews[0].responses[0].text == "We ran 12 sessions, not 10."
        assert seen.reply_window_closes == draft.reviews[0].respond_by
        assert not seen.may_publish
        assert any("ccss's correction of fact 1" in b for b in seen.publication_blockers)
        only = agency.ListAgencyOutcomes(pb.ListAgencyOutcomesRequest(
            state=pb.OUTCOME_STATE_DRAFT, kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
            programme_id="best-foot-forward"), metadata=who).outcomes
        assert [o.outcome.outcome_id for o in only] == [draft.outcome_id]
        assert list(agency.ListAgencyOutcomes(pb.ListAgencyOutcomesRequest(
            programme_id="another"), metadata=who).outcomes) == []
        one = agency.GetAgencyOutcome(pb.GetAgencyOutcomeRequest(outcome_id=draft.outcome_id),
                                      metadata=who).outcome
        assert one == seen
        error = refused(lambda: agency.GetAgencyOutcome(
            pb.GetAgencyOutcomeRequest(outcome_id="nope"), metadata=who))
        assert error.code == StatusCode.NOT_FOUND

    def test_the_list_comes_a_page_at_a_time_and_each_outcome_once(self, running, agency,
                                                                   store_db, monkeypatch):
        who = running.auth("agency", "agency")
        dates = ["2026-03-05", "2026-03-04", "2026-03-04", "2026-03-04", "2026-03-01"]
        ids = [running.record(date=d, title=f"Outcome {n}").outcome_id
               for n, d in enumerate(dates)]
        # Two recorded in the same instant: the id decides their order.
        stamp = store_db.outcomes.find_one({"_id": ids[1]})["recorded_at"]
        store_db.outcomes.update_many({"_id": {"$in": ids[1:3]}}, {"$set": {"recorded_at": stamp}})

        def page(size=0, token=""):
            got = agency.ListAgencyOutcomes(pb.ListAgencyOutcomesRequest(
                page_size=size, page_token=token), metadata=who)
            return [o.outcome.outcome_id for o in got.outcomes], got.next_page_token

        whole, last = page()
        assert sorted(whole) == sorted(ids) and last == ""
        assert whole[0] == ids[0] and whole[-1] == ids[-1]
        pages, token = [], ""
        while True:
            listed, token = page(2, token)
            pages.append(listed)
            if not token:
                break
            if len(pages) == 1:  # recorded meanwhile, latest of all: it pushes none onto two pages
                running.record(date="2026-03-06", title="Late")
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sum(pages, []) == whole

        monkeypatch.setattr(insights_domain, "DEFAULT_PAGE", 4)  # 0 asks for the default
        listed, token = page()
        assert len(listed) == 4 and token
        assert page(0, token)[0] == whole[3:]

    def test_a_page_is_at_most_the_documented_cap(self, running, agency):
        who = running.auth("agency", "agency")
        running.record()
        cap = insights_domain.MAX_PAGE
        assert cap == 500  # as outcomes.proto documents it
        assert len(agency.ListAgencyOutcomes(pb.ListAgencyOutcomesRequest(page_size=cap),
                                             metadata=who).outcomes) == 1
        for request in (pb.ListAgencyOutcomesRequest(page_size=cap + 1),
                        pb.ListAgencyOutcomesRequest(page_size=-1),
                        pb.ListAgencyOutcomesRequest(page_token="not-ours"),
                        pb.ListAgencyOutcomesRequest(page_token="2026-13-01|1.0|x")):
            error = refused(lambda r=request: agency.ListAgencyOutcomes(r, metadata=who))
            assert error.code == StatusCode.INVALID_ARGUMENT, request
        assert "500" in refused(lambda: agency.ListAgencyOutcomes(
            pb.ListAgencyOutcomesRequest(page_size=cap + 1), metadata=who)).message

    @pytest.mark.parametrize("caller", [("provider", "ccss"), ("representative", "whanau-voice"),
                                        ("unit", EVAL)])
    def test_only_the_agency_gets_the_list(self, running, agency, caller):
        draft = running.record()
        for call in (lambda: agency.ListAgencyOutcomes(
                         pb.ListAgencyOutcomesRequest(), metadata=running.auth(*caller)),
                     lambda: agency.GetAgencyOutcome(pb.GetAgencyOutcomeRequest(
                         outcome_id=draft.outcome_id), metadata=running.auth(*caller))):
            error = refused(call)
            assert error.code == StatusCode.PERMISSION_DENIED and draft.outcome_id not in error.message
