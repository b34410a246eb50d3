"""Item-by-item agreement, end to end through the real services: on a plan
agreed through co-design, an item a provider declined is refused at intake for
that provider and accepted for another provider who agreed to it; routing
delivers it to nobody for the first and announces it only for the second; a
change to the agreement waits for the next reporting period."""

from __future__ import annotations

import grpc
import pytest

from tests.e2e.journey import agreed_copy, open_submission, quarter, submit
from tiaki.core.clock import nz_today
from tiaki.core.periods import next_period, period_of
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.unit.store import UnitStore

NOW = period_of(nz_today())
NEXT = next_period(NOW)


@pytest.fixture
def agreed(stack, example_plan):
    """A fresh copy of the example programme, co-designed and published as version 1."""
    return agreed_copy(stack, example_plan)


def decide(stack, plan, provider, who, **special):
    choices = [apb.ItemChoice(item_name=i["name"], decision=special.get(i["name"],
                                                                       apb.ITEM_DECISION_ACCEPT))
               for i in plan["items"]]
    return AgreementServiceStub(stack.channel("purpose_router")).DecideItems(
        apb.DecideItemsRequest(programme_id=plan["programme_id"], plan_version=1,
                               choices=choices, decided_by=who),
        metadata=stack.metadata("provider", provider)).agreement


def test_declined_item_refused_for_one_provider_accepted_for_another(stack, agreed):
    programme = agreed["programme_id"]
    rows = quarter(6, seed=4)

    # No agreement yet: nothing can be collected on an agreed plan.
    with pytest.raises(grpc.RpcError) as caught:
        open_submission(stack, programme, 1, provider="ccss", period=NOW)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "no agreement" in caught.value.details()

    decide(stack, agreed, "ccss", "Mere Tane", wellbeing_end=apb.ITEM_DECISION_DECLINE)
    decide(stack, agreed, "other-ngo", "Sam Lee")

    ccss_sid, ccss = submit(stack, programme, 1, rows, provider="ccss", period=NOW)
    other_sid, other = submit(stack, programme, 1, rows, provider="other-ngo", period=NOW)
    assert (other.accepted_count, other.rejected_count) == (6, 0)
    assert (ccss.accepted_count, ccss.rejected_count) == (0, 6)
    assert {(r.field, r.reason) for r in ccss.rejections} == {
        ("wellbeing_end", "not agreed: you declined it in your agreement "
                          "(never stored or forwarded)")}

    # Without the declined item, ccss's records go through.
    without = [{k: v for k, v in r.items() if k != "wellbeing_end"} for r in rows]
    ccss_sid, ccss = submit(stack, programme, 1, without, provider="ccss", period=NOW)
    assert (ccss.accepted_count, ccss.rejected_count) == (6, 0)

    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    try:
        def delivered(sid):
            return list(evaluation.deliveries.find({"submission_id": sid}))

        stack.wait_for(lambda: delivered(ccss_sid) and delivered(other_sid), 60,
                       "both providers' evaluation deliveries")
        (mine,), (theirs,) = delivered(ccss_sid), delivered(other_sid)
        # Routing never expects the declined item from ccss, and still does from the other.
        assert "wellbeing_end" not in mine["fields"] and "wellbeing_start" in mine["fields"]
        assert "wellbeing_end" in theirs["fields"]
        assert all("wellbeing_end" not in row for row in evaluation.content(mine["_id"]))
        assert all("wellbeing_end" in row for row in evaluation.content(theirs["_id"]))
    finally:
        evaluation.client.close()


def test_a_changed_agreement_applies_from_the_next_period(stack, agreed):
    programme = agreed["programme_id"]
    rows = quarter(3, seed=5)
    first = decide(stack, agreed, "ccss", "Mere Tane", goals_met=apb.ITEM_DECISION_DECLINE)
    second = decide(stack, agreed, "ccss", "Mere Tane")         # now accepts goals_met
    assert second.version == first.version + 1 and second.applies_from == NEXT

    _, now = submit(stack, programme, 1, rows, provider="ccss", period=NOW)
    assert {r.field for r in now.rejections} == {"goals_met"} and now.accepted_count == 0
    # The next period's terms are not settled until it starts: nothing is collected for it yet.
    with pytest.raises(grpc.RpcError) as caught:
        open_submission(stack, programme, 1, provider="ccss", period=NEXT)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"period {NEXT} has not started" in caught.value.details()
    terms = AgreementServiceStub(stack.channel("purpose_router")).GetAgreement(
        apb.GetAgreementRequest(programme_id=programme, plan_version=1, period=NEXT),
        metadata=stack.metadata("provider", "ccss"))
    assert terms.in_force.version == second.version


def test_the_command_line_codesigns_a_change_and_the_letter_follows_it(stack, agreed, tmp_path):
    """The Agency opens version 2, a provider proposes removing an item, the
    Agency accepts and publishes; the provider's letter for version 2 no longer
    mentions the item its letter for version 1 explained."""
    from click.testing import CliRunner

    from services.purpose_router.codesign.family_document import reading_grade
    from tiaki.cli.app import cli

    programme = agreed["programme_id"]
    runner = CliRunner()

    def tiaki(who, *args):
        result = runner.invoke(cli, ["--router", stack.address("purpose_router"), "--token",
                                     stack.tokens[who], *args])
        assert result.exit_code == 0, result.output
        return result.output

    agency, ccss = ("agency", "agency"), ("provider", "ccss")
    letter = ["--provider-name", "City Centre Social Services", "--contact", "Phone 04 123 4567"]
    tiaki(ccss, "agreement", "decide", programme, "--plan-version", "1", "--by", "Mere Tane",
          "--accept-all")
    tiaki(ccss, "agreement", "letter", programme, "--plan-version", "1", "-o",
          str(tmp_path / "v1.html"), *letter)

    opened = tiaki(agency, "codesign", "open", programme, "--invite", "provider:ccss")
    assert f"{programme} version 2 (draft), drafted from version 1" in opened
    assert "proposal 1: remove goals_met" in tiaki(
        ccss, "codesign", "propose", programme, "--version", "2", "remove", "goals_met",
        "--reason", "Families set goals with us; they do not want them scored.")
    tiaki(agency, "codesign", "decide", programme, "--version", "2", "1", "accept",
          "--reason", "Agreed after the hui.")
    assert "published as agreed" in tiaki(agency, "codesign", "publish", programme,
                                          "--version", "2")
    assert "item goals_met: removed" in tiaki(ccss, "codesign", "diff", programme)
    shown = tiaki(ccss, "codesign", "show", programme, "--version", "2")
    assert "accepted by agency:agency: Agreed after the hui." in shown

    decided = tiaki(ccss, "agreement", "decide", programme, "--by", "Mere Tane", "--accept-all")
    assert "agreement version 1 to " + programme + " plan version 2" in decided
    tiaki(ccss, "agreement", "letter", programme, "-o", str(tmp_path / "v2.html"), *letter)

    v1, v2 = ((tmp_path / f"{v}.html").read_text() for v in ("v1", "v2"))
    assert "goals were met" in v1 and "goals were met" not in v2
    assert "plan version 2" in v2 and reading_grade(v2) <= 8
