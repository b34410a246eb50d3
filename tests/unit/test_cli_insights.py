"""`tiaki outcomes` and `tiaki measures` without a server: usage errors and
how an outcome or a measure reads on a terminal."""

from __future__ import annotations

from click.testing import CliRunner

from tiaki.cli import app as tcli
from tiaki.cli.insights import describe_measure, describe_outcome
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1 import outcomes_pb2 as pb


def test_a_reply_is_exactly_one_of_agree_correct_or_context():
    runner = CliRunner()
    for args in ([], ["--agree", "--context", "Staff changed"]):
        result = runner.invoke(tcli.cli, ["--token", "t", "outcomes", "reply", "o-1", *args])
        assert result.exit_code == 2
        assert "exactly one of --agree, --correct TEXT, --context TEXT" in result.output


def test_an_objection_needs_reasons_before_anything_is_sent():
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "measures", "object", "m-1"])
    assert result.exit_code == 2 and "--reason" in result.output


def test_an_unreachable_insights_is_one_line_and_exit_1():
    result = CliRunner().invoke(tcli.cli, ["--token", "t", "outcomes", "--insights",
                                           "127.0.0.1:1", "list"])
    assert result.exit_code == 1 and result.output.startswith("tiaki: UNAVAILABLE:")


def test_an_outcome_reads_with_its_sources_and_replies():
    o = pb.Outcome(outcome_id="o-1", unit_id="evaluation", kind=pb.OUTCOME_KIND_EVALUATION_FINDING,
                   title="Wellbeing rose", summary="Most families felt better.", date="2026-03-02",
                   audience="the public", state=pb.OUTCOME_STATE_PUBLISHED, version=3,
                   measure_ids=["m-1"], informed_by=[
                       pb.Citation(delivery_id=f"b{i}:evaluation", submission_id="sub-7",
                                   purpose_id="evaluation", purpose_name="Programme evaluation",
                                   period="2025Q4")
                       for i in range(2)] + [
                       pb.Citation(delivery_id="old:evaluation", submission_id="sub-1",
                                   purpose_id="evaluation", purpose_name="Programme evaluation")])
    review = o.reviews.add(provider_id="ccss", shared_on="2026-03-02", respond_by="2026-03-16")
    review.responses.add(kind=pb.RESPONSE_KIND_CORRECT_FACT, text="12 sessions, not 10")
    names = {"unit:evaluation": "Evaluation and Insights team",
             "provider:ccss": "City Centre Social Services"}
    assert describe_outcome(o, names).splitlines() == [
        "2026-03-02  evaluation finding: Wellbeing rose  (published, by Evaluation and Insights "
        "team, for the public)",
        "  Most families felt better.",
        "  informed by submission sub-1 (Programme evaluation; 1 delivery)",  # no period kept
        "  informed by what you sent for October to December 2025 (Programme evaluation; "
        "2 deliveries)",
        "  measures: m-1",
        "  right of reply for City Centre Social Services: shared 2026-03-02, respond by "
        "2026-03-16",
        "    correct_fact: 12 sessions, not 10",
        "  id o-1 (version 3)"]  # the handle for `tiaki outcomes reply`
    assert "by evaluation," in describe_outcome(o)  # no directory: its id, not nothing


def test_an_agreed_measure_says_who_agreed():
    m = mpb.Measure(measure_id="m-1", name="Goals met", definition="Goals met of goals set",
                    proposed_by=mpb.Party(kind="agency", id="agency"),
                    state=mpb.MEASURE_STATE_AGREED,
                    agreed_by=[mpb.Party(kind="agency", id="agency"),
                               mpb.Party(kind="representative", id="whanau-voice")])
    m.positions.add(party=mpb.Party(kind="representative", id="whanau-voice"),
                    stance=mpb.STANCE_OBJECT, reason="Too vague")
    m.agreed_at.FromSeconds(1772409600)  # 2026-03-02
    text = describe_measure(m)
    assert "representative whanau-voice objects: Too vague" in text
    assert "agreed 2026-03-02 by agency agency, representative whanau-voice" in text
