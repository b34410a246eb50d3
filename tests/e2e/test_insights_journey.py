"""Journey stage 5 on the real services, broker and store: Agency units tell
providers what their information informed; measures are co-defined; draft
findings get a right of reply in working days (issue 5)."""

from __future__ import annotations

import datetime as dt
import queue
import re
import signal
import statistics
import threading
import time
import uuid

import grpc
import pytest
import requests
from google.protobuf.timestamp_pb2 import Timestamp
from kombu import Connection, Queue
from nameko.standalone.events import get_event_exchange

from services.purpose_router.codesign.family_document import visible_text
from tests.e2e.journey import agreed_measure as journey_agreed_measure
from tests.e2e.journey import quarter as synthetic_quarter
from tests.e2e.journey import submit
from tiaki.core import messages
from tiaki.core.clock import nz_today
from tiaki.core.working_days import add_working_days
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1 import outcomes_pb2 as pb
from tiaki.insights.v1.measures_pb2_grpc import MeasuresServiceStub
from tiaki.insights.v1.outcomes_pb2_grpc import OutcomesServiceStub, UnitOutcomesServiceStub
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub
from tiaki.unit.client import UnitClient

PROGRAMME = "best-foot-forward"


@pytest.fixture(scope="module")
def version(stack, example_plan):
    return stack.create_plan(example_plan)


@pytest.fixture(scope="module")
def sent(stack, version):
    """A quarter from CCSS and one from the other provider, at the units:
    {provider: (submission id, evaluation delivery id, rows)}."""
    out = {}
    for provider, seed in (("ccss", 51), ("other-ngo", 52)):
        tag = uuid.uuid4().hex[:6]
        rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}")
                for r in synthetic_quarter(12, seed=seed, clients=12, quarter="2026Q2")]
        sub, _ = submit(stack, PROGRAMME, version, rows, provider=provider, period="2026Q2")
        stack.wait_for(lambda s=sub: stack.unit_deliveries("evaluation", submission_id=s),
                       what=f"{provider}'s quarter at the evaluation unit")
        (delivery,) = [e.delivery_id for e in stack.ledger().ListFlows(
            ledger_pb2.ListFlowsRequest(submission_id=sub),
            metadata=stack.metadata("provider", provider)).entries
            if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY and e.unit_id == "evaluation"]
        out[provider] = (sub, delivery, rows)
    return out


def units(stack):
    return UnitOutcomesServiceStub(stack.channel("insights"))


def outcomes(stack):
    return OutcomesServiceStub(stack.channel("insights"))


def measures(stack):
    return MeasuresServiceStub(stack.channel("insights"))


def sdk(stack, unit="evaluation") -> UnitClient:
    """The unit SDK as an Agency unit uses it to record outcomes."""
    client = UnitClient(unit, stack.amqp_uri, stack.db_uri(f"unit_{unit}"),
                        stack.address("purpose_router"), stack.tokens[("unit", unit)])
    client.insights_address = stack.address("insights")
    return client


def stored_outcomes(stack) -> int:
    return stack.mongo[f"{stack.name}_insights"]["outcomes"].count_documents({})


def today() -> str:
    return dt.date.today().isoformat()


def record(stack, unit="evaluation", **fields):
    request = dict(kind=pb.OUTCOME_KIND_ADVICE, title="Advice to the Minister",
                   summary="Keep funding joint sessions.", date=today(),
                   audience="the Minister")
    request.update(fields)
    return units(stack).RecordOutcome(pb.RecordOutcomeRequest(**request),
                                      metadata=stack.metadata("unit", unit)).outcome


def agreed_measure(stack, name: str) -> mpb.Measure:
    return journey_agreed_measure(stack, PROGRAMME, name)


def metric(stack, name: str) -> float:
    """A sample from insights' /metrics (its port is in the process's environment)."""
    environ = open(f"/proc/{stack.procs['insights'].pid}/environ", "rb").read().split(b"\0")
    port = dict(e.decode().split("=", 1) for e in environ if b"=" in e)["INSIGHTS_METRICS_PORT"]
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, flags=re.MULTILINE)
    return float(found.group(1)) if found else 0.0


class Feed:
    """A provider's WatchOutcomes stream read in a thread: what arrived, when."""

    def __init__(self, stack, provider):
        since = Timestamp()
        since.GetCurrentTime()
        self.call = outcomes(stack).WatchOutcomes(pb.WatchOutcomesRequest(since=since),
                                                  metadata=stack.metadata("provider", provider))
        self.arrived: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for reply in self.call:
                self.arrived.put((time.monotonic(), reply.outcome))
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.arrived.put((time.monotonic(), exc))

    def next(self, timeout: float):
        at, outcome = self.arrived.get(timeout=timeout)
        if isinstance(outcome, Exception):
            raise outcome
        return at, outcome

    def close(self):
        self.call.cancel()
        self.thread.join(timeout=5)


# -- outcomes ------------------------------------------------------------------------


def test_an_outcome_citing_a_delivery_its_unit_never_received_is_refused(stack, sent):
    _, ccss_delivery, _ = sent["ccss"]
    before = stored_outcomes(stack)
    with pytest.raises(grpc.RpcError) as err:
        record(stack, unit="service-delivery", delivery_ids=[ccss_delivery])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"never received deliveries {ccss_delivery}" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        record(stack, submission_ids=["no-such-submission"])
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert stored_outcomes(stack) == before


def test_a_providers_feed_shows_a_new_outcome_within_a_second_through_the_broker(stack, sent):
    ccss_sub, _, _ = sent["ccss"]
    subscriber = Queue(f"test-outcomes-{uuid.uuid4().hex[:6]}",
                       exchange=get_event_exchange(messages.INSIGHTS),
                       routing_key=messages.OUTCOME_RECORDED, auto_delete=True)
    with Connection(stack.amqp_uri) as conn:
        subscriber(conn.default_channel).declare()
    mine, theirs = Feed(stack, "ccss"), Feed(stack, "other-ngo")
    unit = sdk(stack)
    delays, titles = [], []
    try:
        time.sleep(0.5)  # both streams open before the first outcome
        for n in range(5):
            title = f"Decision {n} {uuid.uuid4().hex[:4]}"
            started = time.monotonic()
            recorded = unit.record_outcome("decision", title, "Fund two more groups.", today(),
                                           "Agency leadership", submission_ids=[ccss_sub])
            at, shown = mine.next(timeout=5)
            delays.append(at - started)
            titles.append(title)
            assert shown.outcome_id == recorded.outcome_id and shown.title == title
            assert {c.submission_id for c in shown.informed_by} == {ccss_sub}
            time.sleep(0.3)
        with pytest.raises(queue.Empty):
            theirs.next(timeout=0.5)  # the other provider's data informed none of it
    finally:
        mine.close()
        theirs.close()
    print(f"\nfeed delay over {len(delays)} outcomes: median {statistics.median(delays) * 1000:.0f} "
          f"ms, max {max(delays) * 1000:.0f} ms")
    assert max(delays) < 1.0, delays
    assert metric(stack, "tiaki_insights_feed_delay_seconds_bucket{le=\"1.0\"}") >= 5
    # A cancelled stream is noticed and its worker freed.
    stack.wait_for(lambda: metric(stack, "tiaki_insights_watchers") == 0, timeout=5,
                   what="the closed feeds to end")

    with Connection(stack.amqp_uri) as conn:
        bound = subscriber(conn.default_channel)
        events = []
        while (message := bound.get(no_ack=True)) is not None:
            events.append(message.payload)
        bound.delete()
    assert [(e["provider_id"], e["outcome"]["title"]) for e in events] == [
        ("ccss", t) for t in titles]


def test_outcomes_reach_only_the_provider_whose_data_informed_them(stack, sent):
    ccss_sub, ccss_delivery, _ = sent["ccss"]
    other_sub, other_delivery, _ = sent["other-ngo"]
    both = record(stack, title="Regional report", kind=pb.OUTCOME_KIND_REPORT,
                  delivery_ids=[ccss_delivery, other_delivery])
    listed = {p: outcomes(stack).ListOutcomes(pb.ListOutcomesRequest(),
                                              metadata=stack.metadata("provider", p)).outcomes
              for p in ("ccss", "other-ngo")}
    for provider, sub in (("ccss", ccss_sub), ("other-ngo", other_sub)):
        (seen,) = [o for o in listed[provider] if o.outcome_id == both.outcome_id]
        assert [c.submission_id for c in seen.informed_by] == [sub]  # only its own sources
    assert all(c.provider_id == "ccss" for o in listed["ccss"] for c in o.informed_by)


def test_the_influence_report_charts_and_traces_each_outcome(stack, sent):
    ccss_sub, ccss_delivery, _ = sent["ccss"]
    other_sub, other_delivery, _ = sent["other-ngo"]
    for kind, ident, name in ((dpb.PARTY_KIND_PROVIDER, "ccss", "City Centre Social Services"),
                              (dpb.PARTY_KIND_UNIT, "evaluation",
                               "Evaluation and Insights team, Ministry for Families")):
        DirectoryServiceStub(stack.channel("purpose_router")).SetEntry(dpb.SetEntryRequest(
            entry=dpb.DirectoryEntry(kind=kind, id=ident, display_name=name,
                                     postal_address="PO Box 10200, Wellington 6143",
                                     phone="04 555 0100", privacy_email="privacy@example.nz")),
            metadata=stack.metadata("agency", "agency"))
    change = record(stack, kind=pb.OUTCOME_KIND_POLICY_OR_SERVICE_CHANGE,
                    title="Evening sessions added", delivery_ids=[ccss_delivery, other_delivery])
    html = outcomes(stack).GetInfluenceReport(pb.GetInfluenceReportRequest(
        date_from=(dt.date.today() - dt.timedelta(days=90)).isoformat(), date_to=today()),
        metadata=stack.metadata("provider", "ccss")).html
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html
    assert re.search(r'<rect class="bar policy_or_service_change"', html)
    article = html[html.index(f'id="o-{change.outcome_id}"'):]
    article = article[:article.index("</article>")]
    assert "Evening sessions added" in article
    # The Board reads the period it sent and the names of who used it; ids are for staff.
    assert "<tr><td>April to June 2026</td><td>Programme evaluation</td>" in article
    assert "By</dt><dd>Evaluation and Insights team, Ministry for Families" in article
    seen, footer = html[:html.index("<footer")], html[html.index("<footer"):]
    assert "City Centre Social Services" in visible_text(seen)
    assert ccss_sub not in visible_text(seen) and ccss_sub in footer
    assert other_sub not in html  # another provider's submissions are not CCSS's business
    with pytest.raises(grpc.RpcError) as err:
        outcomes(stack).GetInfluenceReport(pb.GetInfluenceReportRequest(
            date_from="2026-06-30", date_to="2026-01-01"), metadata=stack.metadata("provider", "ccss"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "date_to" in err.value.details()


def test_a_familys_answer_says_what_their_information_helped_with(stack, sent):
    ccss_sub, _, rows = sent["ccss"]
    record(stack, kind=pb.OUTCOME_KIND_DECISION, title="Keep the children's strand",
           summary="The strand continues in 2027", submission_ids=[ccss_sub])
    ccss = stack.metadata("provider", "ccss")
    opened = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=PROGRAMME, client_ref=rows[3]["client_ref"], requester="the client",
        authorisation="signed consent form"), metadata=ccss).request
    stack.wait_for(lambda: stack.requests().GetRequest(rpb.GetRequestRequest(
        request_id=opened.request_id), metadata=ccss).request.state == rpb.REQUEST_STATE_COMPLETE,
        what="the family's answer")
    html = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                      metadata=ccss).html
    assert "What it helped the Agency do" in html
    assert "Keep the children&#x27;s strand" in html and "The strand continues in 2027." in html


# -- measures and the right of reply -----------------------------------------------------


def test_measures_are_agreed_by_all_three_voices_and_findings_use_only_agreed_ones(stack, sent):
    _, ccss_delivery, _ = sent["ccss"]
    proposed = measures(stack).ProposeMeasure(mpb.ProposeMeasureRequest(
        programme_id=PROGRAMME, name="Whānau-set goals met", definition="Goals met of goals set",
        reason="Success is what families say it is"),
        metadata=stack.metadata("representative", "whanau-voice")).measure
    with pytest.raises(grpc.RpcError) as err:
        measures(stack).RespondToMeasure(mpb.RespondToMeasureRequest(
            measure_id=proposed.measure_id, stance=mpb.STANCE_OBJECT),
            metadata=stack.metadata("provider", "other-ngo"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reason" in err.value.details()
    for who, stance, reason in ((("provider", "other-ngo"), mpb.STANCE_OBJECT, "Too vague"),
                                (("agency", "agency"), mpb.STANCE_ENDORSE, ""),
                                (("provider", "ccss"), mpb.STANCE_ENDORSE, "")):
        m = measures(stack).RespondToMeasure(mpb.RespondToMeasureRequest(
            measure_id=proposed.measure_id, stance=stance, reason=reason),
            metadata=stack.metadata(*who)).measure
    assert m.state == mpb.MEASURE_STATE_PROPOSED  # the objection stands
    with pytest.raises(grpc.RpcError) as err:
        record(stack, kind=pb.OUTCOME_KIND_EVALUATION_FINDING, delivery_ids=[ccss_delivery],
               measure_ids=[proposed.measure_id])
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    m = measures(stack).RespondToMeasure(mpb.RespondToMeasureRequest(
        measure_id=proposed.measure_id, stance=mpb.STANCE_ENDORSE, reason="Defined clearly now"),
        metadata=stack.metadata("provider", "other-ngo")).measure
    assert m.state == mpb.MEASURE_STATE_AGREED
    assert {(p.kind, p.id) for p in m.agreed_by} == {
        ("representative", "whanau-voice"), ("provider", "other-ngo"), ("agency", "agency"),
        ("provider", "ccss")}
    agreed = measures(stack).ListMeasures(mpb.ListMeasuresRequest(
        programme_id=PROGRAMME, agreed_only=True), metadata=stack.metadata("provider", "ccss"))
    assert proposed.measure_id in {x.measure_id for x in agreed.measures}
    finding = record(stack, kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                     delivery_ids=[ccss_delivery], measure_ids=[proposed.measure_id])
    assert finding.state == pb.OUTCOME_STATE_DRAFT


def test_right_of_reply_then_publication_and_a_restart_loses_nothing(stack, sent):
    ccss_sub, _, _ = sent["ccss"]
    measure = agreed_measure(stack, "Wellbeing change")
    finding = dict(kind=pb.OUTCOME_KIND_EVALUATION_FINDING, submission_ids=[ccss_sub],
                   measure_ids=[measure.measure_id], audience="the public")
    quiet = record(stack, title="Wellbeing rose for most families", **finding)
    answered = record(stack, title="Attendance fell in winter", **finding)
    (review,) = quiet.reviews
    assert review.provider_id == "ccss" and review.respond_by > review.shared_on
    unit = stack.metadata("unit", "evaluation")

    with pytest.raises(grpc.RpcError) as err:  # the window is open and CCSS has not replied
        units(stack).PublishFinding(pb.PublishFindingRequest(outcome_id=quiet.outcome_id),
                                    metadata=unit)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"ccss may respond until {review.respond_by}" in err.value.details()

    outcomes(stack).RespondToFinding(pb.RespondToFindingRequest(
        outcome_id=answered.outcome_id, kind=pb.RESPONSE_KIND_ADD_CONTEXT,
        text="Two winter storms closed the venue for three weeks.", may_publish_early=True),
        metadata=stack.metadata("provider", "ccss"))
    published = units(stack).PublishFinding(pb.PublishFindingRequest(
        outcome_id=answered.outcome_id), metadata=unit).outcome  # it may go early: no wait
    assert published.state == pb.OUTCOME_STATE_PUBLISHED
    assert [r.text for r in published.reviews[0].responses] == [
        "Two winter storms closed the venue for three weeks."]

    ccss = stack.metadata("provider", "ccss")
    before = outcomes(stack).ListOutcomes(pb.ListOutcomesRequest(), metadata=ccss).outcomes
    stack.kill("insights", signal.SIGKILL)  # insights killed outright, and back
    stack.start("insights")
    after = outcomes(stack).ListOutcomes(pb.ListOutcomesRequest(), metadata=ccss).outcomes
    assert list(after) == list(before)

    # The quiet finding as if shared two months ago: its window (the same working
    # days, counted as insights counts them) closed weeks ago, and CCSS never replied.
    shared_on = nz_today() - dt.timedelta(days=60)
    respond_by = add_working_days(shared_on, 10)
    assert respond_by < nz_today()
    stored = stack.mongo[f"{stack.name}_insights"]["outcomes"]
    doc = stored.find_one({"_id": quiet.outcome_id})
    doc["reviews"] = [dict(r, shared_on=shared_on.isoformat(), respond_by=respond_by.isoformat())
                      for r in doc["reviews"]]
    assert stored.replace_one({"_id": quiet.outcome_id}, doc).matched_count == 1
    late = units(stack).PublishFinding(pb.PublishFindingRequest(
        outcome_id=quiet.outcome_id), metadata=unit).outcome
    assert late.state == pb.OUTCOME_STATE_PUBLISHED and not late.reviews[0].responses
    with pytest.raises(grpc.RpcError) as err:
        units(stack).PublishFinding(pb.PublishFindingRequest(outcome_id=quiet.outcome_id),
                                    metadata=unit)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    (shown,) = [o for o in outcomes(stack).ListOutcomes(pb.ListOutcomesRequest(),
                                                       metadata=ccss).outcomes
                if o.outcome_id == answered.outcome_id]
    assert shown.reviews[0].responses[0].kind == pb.RESPONSE_KIND_ADD_CONTEXT


def test_the_command_line_follows_outcomes_and_downloads_the_report(stack, sent, tmp_path):
    from click.testing import CliRunner

    from tiaki.cli import app as tcli

    ccss_sub, _, _ = sent["ccss"]
    told = record(stack, title="Advice on waiting lists", submission_ids=[ccss_sub])
    base = ["--token", stack.tokens[("provider", "ccss")], "outcomes", "--insights",
            stack.address("insights")]
    listed = CliRunner().invoke(tcli.cli, base + ["list", "--kind", "advice"])
    assert listed.exit_code == 0, listed.output
    assert "advice: Advice on waiting lists" in listed.output
    # Named by what the provider knows it by: the period it sent (2026Q2), not an id.
    assert "informed by what you sent for April to June 2026 (Programme evaluation; 1 delivery)" \
        in listed.output
    assert ccss_sub not in listed.output
    out = tmp_path / "board.html"
    report = CliRunner().invoke(tcli.cli, base + ["report", "--from", "2026-01-01", "--to",
                                                  today(), "-o", str(out)])
    assert report.exit_code == 0, report.output
    assert told.outcome_id in out.read_text() and "<svg" in out.read_text()
    bad = CliRunner().invoke(tcli.cli, base + ["report", "--from", "2026-13-01", "--to", today(),
                                               "-o", str(out)])
    assert bad.exit_code == 1 and "INVALID_ARGUMENT: date_from: must be a date" in bad.output
