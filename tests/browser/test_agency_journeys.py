"""Agency staff's journeys in the browser against the real services, each page
checked with axe (no serious or critical violation) and at 375 px, the
decisions made with the keyboard alone: co-design (open a draft with
invitations, decide each proposal with a reason, see every problem that stops
publishing, publish, read the differences between versions)."""

from __future__ import annotations

import copy
import uuid

import pytest
import yaml

from tests.browser.conftest import fits_375, no_serious_axe, sign_in
from tests.stack import ROOT
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub

pytestmark = pytest.mark.infra


def menu(page, name: str):
    return page.get_by_role("navigation", name="Pages").get_by_role("link", name=name)


def checked(page, tmp_path):
    assert no_serious_axe(page) == [], page.url
    assert fits_375(page, tmp_path) == [], page.url


def example() -> dict:
    return yaml.safe_load((ROOT / "programmes" / "best-foot-forward.yaml").read_text())


@pytest.fixture
def programme(stack) -> dict:
    """A fresh programme with version 1 made outside co-design."""
    plan = copy.deepcopy(example())
    plan["programme_id"] = f"codesign-{uuid.uuid4().hex[:8]}"
    stack.create_plan(plan)
    return plan


def codesign(stack):
    return CodesignServiceStub(stack.channel("purpose_router"))


def propose(stack, programme: str, kind, name: str, reason: str, item=None, who="ccss"):
    return codesign(stack).ProposeChange(cpb.ProposeChangeRequest(
        programme_id=programme, version=2, kind=kind, item_name=name, item=item, reason=reason),
        metadata=stack.metadata("provider", who)).proposal.number


def decide_by_keyboard(page, number: int, decision: str, reason: str):
    """Keyboard only: each control focused by its label, then used with keys."""
    page.get_by_label("Accept (apply it to the draft)" if decision == "accept" else "Decline",
                      exact=True).and_(page.locator(f"#{decision}-{number}")).focus()
    page.keyboard.press("Space")
    page.get_by_label(f"Reason for proposal {number}").focus()
    page.keyboard.type(reason)
    page.get_by_role("button", name=f"Record the decision on proposal {number}").focus()
    with page.expect_navigation(url=f"**done={decision.rstrip('e')}ed"):
        page.keyboard.press("Enter")


def test_an_analyst_runs_a_draft_from_invitations_to_publishing(page, portal, stack, programme,
                                                                tmp_path):
    pid = programme["programme_id"]
    sign_in(page, portal.person("analyst", org_kind="agency", org="agency"))
    menu(page, "Co-design drafts").click()
    page.get_by_label("Programme").fill(pid)
    page.get_by_role("button", name="Show its drafts").click()
    assert "has no co-design drafts" in page.inner_text("main")
    checked(page, tmp_path)

    page.get_by_label("Invite (provider:ID or representative:ID, one a line)").fill(
        "provider:ccss\nrepresentative:whanau-voice")
    page.get_by_role("button", name=f"Open a draft of {pid}").click()
    page.wait_for_url(f"**/agency/drafts/{pid}/2?done=opened")
    main = page.inner_text("main")
    assert "provider:ccss (provider)" in main
    assert "representative:whanau-voice (service user representative)" in main
    assert "Nothing stops this draft being published" in main
    checked(page, tmp_path)

    # Participants propose (over gRPC, as their systems or pages would).
    first = next(i for i in programme["items"] if i["name"] == "age_band")
    incomplete = propose(stack, pid, cpb.CHANGE_KIND_ADD, "school_attendance",
                         "Attendance shows how children are doing.",
                         item=plan_proto.to_proto({**programme, "items": [
                             {"name": "school_attendance", "type": "string",
                              "description": "Days at school this term",
                              "uses": [{"purpose_id": "evaluation"}]}]}).items[0])
    reworded = propose(stack, pid, cpb.CHANGE_KIND_CHANGE, "age_band", "Plainer words.",
                       item=plan_proto.to_proto({**programme, "items": [
                           {**first, "description": "The child's age group"}]}).items[0])
    codesign(stack).RespondToProposal(cpb.RespondToProposalRequest(
        programme_id=pid, version=2, proposal_number=reworded, kind=cpb.RESPONSE_KIND_ENDORSE,
        text="Whānau understand this."), metadata=stack.metadata("representative", "whanau-voice"))

    page.reload()
    main = page.inner_text("main")
    assert f"Proposals still waiting for your decision: {incomplete}, {reworded}" in main
    assert "Whānau understand this." in main and "1 endorsement" in main
    assert page.get_by_role("button", name="Publish as version 2").count() == 0
    checked(page, tmp_path)

    decide_by_keyboard(page, incomplete, "accept", "Worth trying; its statement comes next.")
    problems = page.locator("ul.problems").inner_text()
    assert "item school_attendance: choice" in problems
    assert "item school_attendance, use for evaluation: legal_basis" in problems
    assert "item school_attendance, use for evaluation: not_seen_by" in problems
    decide_by_keyboard(page, reworded, "accept", "Plainer, and endorsed by whānau.")
    checked(page, tmp_path)

    dropped = propose(stack, pid, cpb.CHANGE_KIND_REMOVE, "wellbeing_end", "It takes time.")
    removed = propose(stack, pid, cpb.CHANGE_KIND_REMOVE, "school_attendance",
                      "We cannot say why it is needed yet.")
    page.reload()
    decide_by_keyboard(page, dropped, "decline", "The evaluation needs the end score.")
    main = page.inner_text("main")
    assert "Declined by agency:agency" in main and "The evaluation needs the end score." in main
    decide_by_keyboard(page, removed, "accept", "Agreed: not this version.")
    assert page.locator("ul.problems").count() == 0
    page.get_by_role("button", name="Publish as version 2").click()
    page.wait_for_url("**done=published")
    assert "published by agency:agency" in page.inner_text("main")
    page.get_by_role("link", name="What changed from the version before").click()
    assert "version 2 against 1" in page.inner_text("h1")
    assert "The child's age group" in page.locator("table").inner_text()
    assert "school_attendance" not in page.inner_text("main")
    checked(page, tmp_path)

    menu(page, "Co-design drafts").click()
    page.get_by_label("Programme").fill(pid)
    page.get_by_role("button", name="Show its drafts").click()
    row = page.get_by_role("row").filter(has_text="Version 2")
    assert "published" in row.inner_text()


def test_co_design_pages_are_the_agencys_alone(page, portal, programme):
    sign_in(page, portal.person("privacy-officer"))
    for path in ("/agency/drafts", f"/agency/drafts/{programme['programme_id']}/1",
                 f"/agency/plans/{programme['programme_id']}/1/diff"):
        assert page.request.get(path).status == 403, path
    reply = page.request.post("/agency/drafts", form={"programme": programme["programme_id"]})
    assert reply.status == 403

