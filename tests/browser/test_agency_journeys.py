"""Agency staff's journeys in the browser against the real services, each page
checked with axe (no serious or critical violation) and at 375 px, the
decisions made with the keyboard alone: co-design (open a draft with
invitations, decide each proposal with a reason, see every problem that stops
publishing, publish, read the differences between versions); every
provider's agreement item by item with their queries; evaluation measures
proposed and endorsed."""

from __future__ import annotations

import copy
import uuid

import pytest
import yaml

from tests.browser.conftest import fits_375, no_serious_axe, sign_in
from tests.stack import ROOT
from tiaki.core.clock import nz_today
from tiaki.core.periods import period_of
from tiaki.insights.v1 import measures_pb2 as mpb
from tiaki.insights.v1.measures_pb2_grpc import MeasuresServiceStub
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub

pytestmark = pytest.mark.infra


def menu(page, name: str):
    return page.get_by_role("navigation", name="Pages").get_by_role("link", name=name)


def checked(page, tmp_path):
    assert no_serious_axe(page) == [], page.url
    assert fits_375(page) == [], page.url


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


def send_by_keyboard(page, choice: str, field: str, text: str, button: str, done: str):
    """A form used with the keyboard alone: the radio button `choice` (a CSS
    selector) selected with Space, `text` typed into the field labelled
    `field`, the button pressed with Enter; waits for the page saying `done`."""
    page.locator(choice).focus()
    page.keyboard.press("Space")
    page.get_by_label(field).focus()
    page.keyboard.type(text)
    page.get_by_role("button", name=button).focus()
    with page.expect_navigation(url=f"**done={done}"):
        page.keyboard.press("Enter")


def decide_by_keyboard(page, number: int, decision: str, reason: str):
    send_by_keyboard(page, f"#{decision}-{number}", f"Reason for proposal {number}", reason,
                     f"Record the decision on proposal {number}", decision.rstrip("e") + "ed")


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


def test_the_agency_proposes_a_change_of_its_own(page, portal, stack, programme, tmp_path):
    pid = programme["programme_id"]
    codesign(stack).OpenDraft(cpb.OpenDraftRequest(programme_id=pid,
                                                   participants=["provider:ccss"]),
                              metadata=stack.metadata("agency", "agency"))
    sign_in(page, portal.person("analyst", org_kind="agency", org="agency"))
    page.goto(f"/agency/drafts/{pid}/2")
    page.get_by_label("Item").select_option("region")
    page.get_by_label("New wording (when rewording)").fill("The region the family lives in")
    page.get_by_label("Why").fill("Plainer words for families.")
    page.get_by_role("button", name="Send the proposal").click()
    page.wait_for_url("**done=proposed")
    main = page.inner_text("main")
    assert "Proposal 1: change region (open)" in main
    assert "By agency:agency (agency)" in main and "Proposed wording: The region the family lives in" in main
    checked(page, tmp_path)
    (proposal,) = codesign(stack).GetDraft(cpb.GetDraftRequest(programme_id=pid, version=2),
                                           metadata=stack.metadata("provider", "ccss")).draft.proposals
    assert proposal.item.description == "The region the family lives in"


def test_co_design_pages_are_the_agencys_alone(page, portal, programme):
    sign_in(page, portal.person("privacy-officer"))
    for path in ("/agency/drafts", f"/agency/drafts/{programme['programme_id']}/1",
                 f"/agency/plans/{programme['programme_id']}/1/diff", "/agency/agreements",
                 "/agency/measures"):
        assert page.request.get(path).status == 403, path
    reply = page.request.post("/agency/drafts", form={"programme": programme["programme_id"]})
    assert reply.status == 403


def test_each_agency_role_sees_its_own_pages(page, portal):
    sign_in(page, portal.person("contract-manager", org_kind="agency", org="agency"))
    pages = page.get_by_role("navigation", name="Pages").inner_text()
    assert "Providers' agreements" in pages and "Co-design drafts" not in pages
    assert page.request.get("/agency/drafts").status == 403


@pytest.fixture
def agreed(stack) -> dict:
    """A fresh programme co-designed and published as version 1; ccss and
    other-ngo in the directory."""
    plan = copy.deepcopy(example())
    plan["programme_id"] = f"agreed-{uuid.uuid4().hex[:8]}"
    agency = stack.metadata("agency", "agency")
    codesign(stack).OpenDraft(cpb.OpenDraftRequest(plan=plan_proto.to_proto(plan)), metadata=agency)
    codesign(stack).PublishDraft(cpb.PublishDraftRequest(programme_id=plan["programme_id"],
                                                         version=1), metadata=agency)
    directory = DirectoryServiceStub(stack.channel("purpose_router"))
    for provider, name in (("ccss", "City Centre Social Services"), ("other-ngo", "Other NGO")):
        directory.SetEntry(dpb.SetEntryRequest(entry=dpb.DirectoryEntry(
            kind=dpb.PARTY_KIND_PROVIDER, id=provider, display_name=name,
            postal_address="PO Box 1, Wellington", phone="04 123 4567",
            privacy_email=f"privacy@{provider}.example.nz")), metadata=agency)
    return plan


def test_a_contract_manager_reads_every_providers_agreement_and_their_queries(
        page, portal, stack, agreed, tmp_path):
    pid = agreed["programme_id"]
    special = {"wellbeing_end": (apb.ITEM_DECISION_QUERY, "Why is the end score needed?"),
               "ethnicity": (apb.ITEM_DECISION_DECLINE, "Our families asked us not to.")}
    AgreementServiceStub(stack.channel("purpose_router")).DecideItems(apb.DecideItemsRequest(
        programme_id=pid, plan_version=1, decided_by="Mere Tane", choices=[
            apb.ItemChoice(item_name=i["name"], decision=special.get(i["name"], (
                apb.ITEM_DECISION_ACCEPT, ""))[0], note=special.get(i["name"], (0, ""))[1])
            for i in agreed["items"]]), metadata=stack.metadata("provider", "ccss"))

    sign_in(page, portal.person("contract-manager", org_kind="agency", org="agency"))
    menu(page, "Providers' agreements").click()
    page.get_by_label("Programme").fill(pid)
    page.get_by_label("Period").fill(period_of(nz_today()))
    page.get_by_label("Period").press("Enter")  # the form sent from the keyboard
    page.wait_for_url(f"**programme={pid}**")
    ccss = page.get_by_role("region", name="City Centre Social Services", exact=True)
    table = ccss.get_by_role("table").inner_text()
    assert "ethnicity\tdecline\tOur families asked us not to.\tMere Tane" in table
    assert "age_band\taccept" in table
    other = page.get_by_role("region", name="Other NGO").inner_text()
    assert "has made no agreement in force" in other
    queries = page.locator("#queries + ul").inner_text()
    assert "City Centre Social Services on wellbeing_end: Why is the end score needed?" in queries
    page.get_by_role("link", name="1 query from providers").focus()
    page.keyboard.press("Enter")
    checked(page, tmp_path)


def test_an_analyst_proposes_a_measure_and_sees_it_agreed(page, portal, stack, agreed, tmp_path):
    pid = agreed["programme_id"]
    sign_in(page, portal.person("analyst", org_kind="agency", org="agency"))
    menu(page, "Evaluation measures").click()
    page.get_by_label("Programme").fill(pid)
    page.get_by_role("button", name="Show its measures").click()
    assert f"No measures proposed for {pid} yet" in page.inner_text("main")
    checked(page, tmp_path)
    page.get_by_label("Measure", exact=True).fill("Goals met")
    page.get_by_label("How it is worked out").fill("Share of families meeting their goals.")
    page.get_by_label("Why it matters").fill("Families said goals matter most.")
    page.get_by_role("button", name="Propose the measure").click()
    page.wait_for_url("**done=proposed")
    main = page.inner_text("main")
    assert "Goals met (proposed)" in main and "Endorse by agency:agency" in main
    checked(page, tmp_path)

    measures = MeasuresServiceStub(stack.channel("insights"))
    (measure,) = measures.ListMeasures(mpb.ListMeasuresRequest(programme_id=pid),
                                       metadata=stack.metadata("agency", "agency")).measures
    for kind, who in (("provider", "ccss"), ("representative", "whanau-voice")):
        measures.RespondToMeasure(mpb.RespondToMeasureRequest(
            measure_id=measure.measure_id, stance=mpb.STANCE_ENDORSE, reason="Yes."),
            metadata=stack.metadata(kind, who))
    page.reload()
    assert "Goals met (agreed)" in page.inner_text("main")
    assert "Agreed by" in page.inner_text("main")
