"""Service-user representatives' journeys in the browser against the real
services, each page checked with axe (no serious or critical violation) and at
375 px, responses sent from the keyboard alone: the drafts their group is
invited to (and not others), a proposal endorsed, a change proposed, the
lessons shared from past programmes, an evaluation measure endorsed."""

from __future__ import annotations

import copy
import uuid

import pytest

from tests.browser.conftest import fits_375, no_serious_axe, sign_in
from tests.browser.test_agency_journeys import codesign, example, menu, propose, send_by_keyboard
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1.measures_pb2_grpc import MeasuresServiceStub
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import codesign_pb2 as cpb

pytestmark = pytest.mark.infra


def checked(page, tmp_path):
    assert no_serious_axe(page) == [], page.url
    assert fits_375(page) == [], page.url


def drafted(stack, invited: list[str]) -> dict:
    """A fresh programme (version 1 made outside co-design) with a draft of version 2."""
    plan = copy.deepcopy(example())
    plan["programme_id"] = f"rep-{uuid.uuid4().hex[:8]}"
    stack.create_plan(plan)
    codesign(stack).OpenDraft(cpb.OpenDraftRequest(programme_id=plan["programme_id"],
                                                   participants=invited),
                              metadata=stack.metadata("agency", "agency"))
    return plan


@pytest.fixture
def invited(stack) -> dict:
    plan = drafted(stack, ["provider:ccss", "representative:whanau-voice"])
    age_band = next(i for i in plan["items"] if i["name"] == "age_band")
    propose(stack, plan["programme_id"], cpb.CHANGE_KIND_CHANGE, "age_band", "Plainer words.",
            item=plan_proto.to_proto({**plan, "items": [
                {**age_band, "description": "The child's age group"}]}).items[0])
    codesign(stack).AttachLesson(cpb.AttachLessonRequest(
        programme_id=plan["programme_id"], version=2, from_programme="Strong start 2019",
        what_went_wrong="Families were never told where their answers went.",
        what_would_help="A letter in plain words before anything is collected."),
        metadata=stack.metadata("provider", "ccss"))
    return plan


def test_a_representative_takes_part_in_a_draft(page, portal, stack, invited, tmp_path):
    pid = invited["programme_id"]
    sign_in(page, portal.person("representative", org_kind="representative", org="whanau-voice"))
    menu(page, "Drafts you are invited to").click()
    page.get_by_label("Programme").fill(pid)
    page.get_by_label("Programme").press("Enter")
    row = page.get_by_role("row").filter(has_text="Version 2")
    assert "open to your proposals" in row.inner_text() and "1 open" in row.inner_text()
    checked(page, tmp_path)
    row.get_by_role("link", name="Version 2").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/representative/drafts/{pid}/2")
    main = page.inner_text("main")
    assert "Proposal 1: change age_band (open)" in main and "Proposed wording: The child's age group" in main
    assert "From Strong start 2019" in main
    assert "Families were never told where their answers went." in main
    checked(page, tmp_path)

    # Endorse proposal 1 with the keyboard alone.
    send_by_keyboard(page, "#endorse-1", "What you say about proposal 1",
                     "Whānau understand these words.", "Send your response to proposal 1",
                     "responded")
    main = page.inner_text("main")
    assert "Endorse by representative:whanau-voice" in main
    assert "Whānau understand these words." in main and "1 endorsement" in main

    page.get_by_label("Item").select_option("ethnicity")
    page.get_by_label("Remove it").check()
    page.get_by_label("Why").fill("Families told us this question puts them off.")
    page.get_by_role("button", name="Send the proposal").click()
    page.wait_for_url("**done=proposed")
    main = page.inner_text("main")
    assert "Proposal 2: remove ethnicity (open)" in main
    assert "By representative:whanau-voice (service user representative)" in main
    checked(page, tmp_path)
    (p2,) = [p for p in codesign(stack).GetDraft(cpb.GetDraftRequest(
        programme_id=pid, version=2), metadata=stack.metadata("agency", "agency")).draft.proposals
        if p.number == 2]
    assert p2.reason == "Families told us this question puts them off."


def test_a_draft_the_group_is_not_invited_to_is_neither_listed_nor_shown(page, portal, stack):
    pid = drafted(stack, ["provider:ccss"])["programme_id"]
    sign_in(page, portal.person("representative", org_kind="representative", org="whanau-voice"))
    page.goto(f"/representative/drafts?programme={pid}")
    assert f"You are not invited to any draft of {pid}" in page.inner_text("main")
    reply = page.request.get(f"/representative/drafts/{pid}/2")
    assert reply.status == 404
    assert page.request.get("/agency/drafts").status == 403


def test_a_representative_endorses_an_evaluation_measure(page, portal, stack, invited, tmp_path):
    pid = invited["programme_id"]
    MeasuresServiceStub(stack.channel("insights")).ProposeMeasure(mpb.ProposeMeasureRequest(
        programme_id=pid, name="Goals met", definition="Share of families meeting their goals.",
        reason="What the funder asks."), metadata=stack.metadata("agency", "agency"))
    sign_in(page, portal.person("representative", org_kind="representative", org="whanau-voice"))
    page.goto(f"/representative/measures?programme={pid}")
    assert "Goals met (proposed)" in page.inner_text("main")
    checked(page, tmp_path)
    send_by_keyboard(page, "#endorse-1", "Why (for Goals met)", "Families choose their own goals.",
                     "Record your position on Goals met", "endorsed")
    main = page.inner_text("main")
    assert "Endorse by representative:whanau-voice" in main
    assert "Families choose their own goals." in main and "(now: endorse)" in main
    checked(page, tmp_path)
