"""Notifications in the browser and by email (the local SMTP server), against the
real services: a draft the representatives' group is invited to, a provider's
proposal waiting for the Agency's analyst and a provider's query on an agreement
item waiting for its contract manager each reach the right person, in an email
with the kind, the date and a link only, and on their Notifications page; a
privacy officer of a provider not invited sees none of it."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import no_serious_axe, sign_in
from tests.browser.test_agency_journeys import codesign, example, menu, propose
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub

pytestmark = pytest.mark.infra


def email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:6]}@example.org"


def test_three_kinds_reach_the_right_people_by_email_and_on_the_page(page, portal, stack, mail):
    rep = portal.person("representative", org_kind="representative", org="whanau-voice",
                        email=email("rep"))
    analyst = portal.person("analyst", org_kind="agency", org="agency", email=email("analyst"))
    manager = portal.person("contract-manager", org_kind="agency", org="agency",
                            email=email("manager"))
    other = portal.person("privacy-officer", org="other-ngo", email=email("other"))
    plan = {**example(), "programme_id": f"note-{uuid.uuid4().hex[:8]}"}
    pid, agency = plan["programme_id"], stack.metadata("agency", "agency")
    codesign(stack).OpenDraft(cpb.OpenDraftRequest(plan=plan_proto.to_proto(plan)), metadata=agency)
    codesign(stack).PublishDraft(cpb.PublishDraftRequest(programme_id=pid, version=1),
                                 metadata=agency)  # agreed, so providers may query its items
    codesign(stack).OpenDraft(cpb.OpenDraftRequest(
        programme_id=pid, participants=["provider:ccss", "representative:whanau-voice"]),
        metadata=agency)
    propose(stack, pid, cpb.CHANGE_KIND_REMOVE, "goals_met", "We do not collect it.")
    AgreementServiceStub(stack.channel("purpose_router")).DecideItems(apb.DecideItemsRequest(
        programme_id=pid, plan_version=1, decided_by="Mere", choices=[
            apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_QUERY,
                           note="What is it for?")
            if i["name"] == "goals_met" else
            apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_ACCEPT)
            for i in plan["items"]]), metadata=stack.metadata("provider", "ccss"))

    def arrived(who, title: str, link: str = ""):
        return stack.wait_for(lambda: [m for m in mail.to(who.email) if title in m["Subject"]
                                       and link in m.get_payload()], timeout=30,
                              what=f"{title!r} to {who.role}")

    (invited,) = arrived(rep, "You are invited to a co-design draft",
                         f"/representative/drafts/{pid}/2")
    assert "/representative/drafts/" in invited.get_payload()
    arrived(analyst, "A proposal waits for your decision", f"/agency/drafts/{pid}/2")
    arrived(manager, "A provider queried an agreement item", "/agency/queries")
    for m in mail.to(rep.email) + mail.to(analyst.email) + mail.to(manager.email):
        text = m["Subject"] + m.get_payload()
        assert "What is it for?" not in text and "goals_met" not in text and "Mere" not in text
    assert not [m for m in mail.to(analyst.email) if "queried" in m["Subject"]]  # not its role

    seen = {}
    for who in (rep, analyst, manager, other):
        sign_in(page, who)
        menu(page, "Notifications").click()
        seen[who.role + who.org] = page.inner_text("main")
        assert no_serious_axe(page) == [], who.role
        page.context.clear_cookies()
    assert f"invited to the draft of {pid} version 2" in seen["representativewhanau-voice"]
    assert f"on {pid} version 2 waits for your decision" in seen["analystagency"]
    assert f"ccss queried 'goals_met' of {pid} version 1" in seen["contract-manageragency"]
    assert pid not in seen["privacy-officerother-ngo"]
    assert f"queried 'goals_met' of {pid}" not in seen["analystagency"]
