"""The Agency's view of outcomes and findings, and providers' item queries
answered in the portal, in the browser against the real services. An analyst
signs in with the second factor and sees a unit's outcome and a draft finding
with a provider's correction of fact, the reply window's closing date and what
stands in the way of publication, then the unit's response; a contract manager
answers a provider's query on an agreement item with the keyboard alone, and
the provider reads the answer on its agreement page. Every page is checked
with axe and at 375 px; providers and representatives are refused every new
route; a post without its CSRF token is refused."""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid

import pytest
import yaml

from services.portal.app import make_app  # noqa: F401  (registers every page)
from services.portal.web import ROUTES
from tests.browser.conftest import fits_375, no_serious_axe, sign_in
from tests.e2e.journey import agreed_measure, quarter, queried_copy, submit
from tests.stack import ROOT
from tiaki.core.clock import nz_today
from tiaki.core.periods import period_of
from tiaki.insights.v1 import outcomes_pb2 as pb
from tiaki.insights.v1.outcomes_pb2_grpc import OutcomesServiceStub, UnitOutcomesServiceStub
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub

pytestmark = pytest.mark.infra
NEW_ROUTES = ("/agency/outcomes", "/agency/queries")
CCSS = "City Centre Social Services"
EVALUATION = "Evaluation and Insights team, Ministry for Families"


def menu(page, name: str):
    return page.get_by_role("navigation", name="Pages").get_by_role("link", name=name)


def checked(page):
    assert no_serious_axe(page) == [], page.url
    assert fits_375(page) == [], page.url


def example() -> dict:
    return yaml.safe_load((ROOT / "programmes" / "best-foot-forward.yaml").read_text())


def named(stack) -> None:
    """ccss and the evaluation unit in the directory, by the names people read."""
    for kind, ident, name in ((dpb.PARTY_KIND_PROVIDER, "ccss", CCSS),
                              (dpb.PARTY_KIND_UNIT, "evaluation", EVALUATION)):
        DirectoryServiceStub(stack.channel("purpose_router")).SetEntry(dpb.SetEntryRequest(
            entry=dpb.DirectoryEntry(kind=kind, id=ident, display_name=name,
                                     postal_address="PO Box 10200, Wellington 6143",
                                     phone="04 555 0100", privacy_email="privacy@example.nz")),
            metadata=stack.metadata("agency", "agency"))


@pytest.fixture(scope="module")
def findings(stack) -> dict:
    """A fresh programme, a quarter of ccss's data at the evaluation unit, an
    agreed measure; the unit's advice and a draft finding, which ccss corrects."""
    named(stack)
    plan = dict(copy.deepcopy(example()), programme_id=f"outcomes-{uuid.uuid4().hex[:8]}")
    pid = plan["programme_id"]
    version = stack.create_plan(plan)
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}") for r in quarter(8, seed=71)]
    sub, _ = submit(stack, pid, version, rows)
    ccss = stack.metadata("provider", "ccss")
    delivery = stack.wait_for(lambda: next((e.delivery_id for e in stack.ledger().ListFlows(
        ledger_pb2.ListFlowsRequest(submission_id=sub), metadata=ccss).entries
        if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY and e.unit_id == "evaluation"), None),
        what="ccss's quarter at the evaluation unit")
    measure = agreed_measure(stack, pid, "Goals met", "Share of families meeting their goals",
                             "Families say goals matter")
    units = UnitOutcomesServiceStub(stack.channel("insights"))
    unit = stack.metadata("unit", "evaluation")
    today = nz_today().isoformat()
    advice = units.RecordOutcome(pb.RecordOutcomeRequest(
        kind=pb.OUTCOME_KIND_ADVICE, title="Keep funding joint sessions", date=today,
        summary="Joint sessions helped families meet goals.", audience="the Minister",
        delivery_ids=[delivery]), metadata=unit).outcome
    finding = units.RecordOutcome(pb.RecordOutcomeRequest(
        kind=pb.OUTCOME_KIND_EVALUATION_FINDING, title="Attendance fell in winter", date=today,
        summary="Families attended 10 sessions on average.", audience="the public",
        delivery_ids=[delivery], measure_ids=[measure.measure_id]), metadata=unit).outcome
    OutcomesServiceStub(stack.channel("insights")).RespondToFinding(pb.RespondToFindingRequest(
        outcome_id=finding.outcome_id, kind=pb.RESPONSE_KIND_CORRECT_FACT,
        text="We ran 12 sessions, not 10."), metadata=ccss)
    return {"programme": pid, "advice": advice, "finding": finding, "delivery": delivery}


def test_an_analyst_sees_the_units_outcomes_and_a_draft_finding_with_its_replies(
        page, portal, stack, findings):
    pid, finding = findings["programme"], findings["finding"]
    sign_in(page, portal.person("analyst", org_kind="agency", org="agency"))
    menu(page, "Outcomes and findings").click()
    checked(page)
    page.get_by_label("Programme").fill(pid)
    page.get_by_label("Programme").press("Enter")
    page.wait_for_url(f"**programme={pid}**")
    rows = page.get_by_role("row")
    advice = rows.filter(has_text="Keep funding joint sessions").inner_text()
    assert re.search(rf"Keep funding joint sessions\s+advice\s+{EVALUATION}\s+\d{{4}}-\d\d-\d\d"
                     rf"\s+recorded\s+{CCSS}\s+{pid}", advice), advice
    draft = rows.filter(has_text="Attendance fell in winter").inner_text()
    respond_by = finding.reviews[0].respond_by
    assert f"draft: replies until {respond_by}" in draft and "in the way of publication" in draft
    checked(page)

    page.get_by_label("State").select_option("draft")
    page.get_by_role("button", name="Show outcomes").click()
    page.wait_for_url("**state=draft**")
    assert page.get_by_role("row").filter(has_text="Keep funding").count() == 0
    page.get_by_role("link", name="Attendance fell in winter").click()
    page.wait_for_url(f"**/agency/outcomes/{finding.outcome_id}")
    main = page.inner_text("main")
    assert f"The providers' reply window closes on {respond_by}." in main
    assert f"{CCSS} corrects a fact: We ran 12 sessions, not 10." in main
    assert f"Recorded by {EVALUATION}" in main.replace("\n", " ")
    assert "Waiting for the unit's response." in main
    blockers = page.locator("ul.problems").inner_text()
    assert f"{CCSS} may respond until {respond_by}" in blockers
    assert f"{CCSS}'s correction of fact 1 ('We ran 12 sessions, not 10.') awaits" in blockers
    cited = page.locator("table").inner_text()
    assert "Goals met" in main and pid in cited and CCSS in cited and "ccss" not in cited
    checked(page)

    UnitOutcomesServiceStub(stack.channel("insights")).RespondToCorrection(
        pb.RespondToCorrectionRequest(outcome_id=finding.outcome_id, provider_id="ccss",
                                      response_number=1, accept=False,
                                      reason="The register shows 10 for most families."),
        metadata=stack.metadata("unit", "evaluation"))
    page.reload()
    main = page.inner_text("main")
    assert "The unit's response: declined: The register shows 10 for most families." in main
    assert "correction of fact" not in page.locator("ul.problems").inner_text()


@pytest.fixture(scope="module")
def many(stack, findings) -> dict:
    """24 decisions more in the findings' programme, each a day older: 26 in all."""
    units = UnitOutcomesServiceStub(stack.channel("insights"))
    for n in range(1, 25):
        units.RecordOutcome(pb.RecordOutcomeRequest(
            kind=pb.OUTCOME_KIND_DECISION, title=f"Decision {n} days ago",
            date=(nz_today() - dt.timedelta(days=n)).isoformat(), summary="Kept as it was.",
            audience="the Agency", delivery_ids=[findings["delivery"]]),
            metadata=stack.metadata("unit", "evaluation"))
    return findings


def test_outcomes_come_a_page_at_a_time_with_a_link_to_the_older_ones(page, portal, browser,
                                                                        many):
    pid = many["programme"]
    sign_in(page, portal.person("analyst", org_kind="agency", org="agency"))
    page.goto(f"/agency/outcomes?programme={pid}")
    titles = page.locator("tbody tr td:first-child")
    assert titles.count() == 25
    assert "older ones on the next page" in page.locator("caption").inner_text()
    assert page.get_by_role("link", name="Newest outcomes").count() == 0
    checked(page)
    page.get_by_role("link", name="Older outcomes").focus()  # with the keyboard alone
    page.keyboard.press("Enter")
    page.wait_for_url("**after=**")
    assert f"programme={pid}" in page.url
    assert titles.all_inner_texts() == ["Decision 24 days ago"]
    assert page.get_by_role("link", name="Older outcomes").count() == 0
    checked(page)
    page.get_by_role("link", name="Newest outcomes").click()
    assert titles.count() == 25 and "Keep funding joint sessions" in titles.all_inner_texts()

    # Without JavaScript the same links page through.
    context = browser.new_context(base_url=portal.url, java_script_enabled=False)
    try:
        plain = context.new_page()
        sign_in(plain, portal.person("contract-manager", org_kind="agency", org="agency"))
        plain.goto(f"/agency/outcomes?programme={pid}&kind=decision")
        assert plain.locator("tbody tr").count() == 24
        assert plain.get_by_role("link", name="Older outcomes").count() == 0
        plain.goto(f"/agency/outcomes?programme={pid}")
        plain.get_by_role("link", name="Older outcomes").click()
        plain.wait_for_url("**after=**")
        assert plain.locator("tbody tr td:first-child").all_inner_texts() == [
            "Decision 24 days ago"]
    finally:
        context.close()


@pytest.fixture
def queried(stack) -> dict:
    """A co-designed programme whose wellbeing_end item ccss queried (the rest accepted)."""
    named(stack)
    return queried_copy(stack, example())


def test_a_contract_manager_answers_a_query_and_the_provider_reads_the_answer(
        page, portal, stack, queried):
    pid = queried["programme_id"]
    answer = "The end score shows whether wellbeing changed over the programme."
    manager = portal.person("contract-manager", org_kind="agency", org="agency")
    sign_in(page, manager)
    page.goto(f"/agency/agreements?programme={pid}&provider=ccss&period={period_of(nz_today())}")
    waiting = page.locator("#queries + ul").inner_text()
    assert f"{CCSS} on wellbeing_end: Why is the end score needed? (Mere Tane" in waiting
    # With the keyboard alone: the link, the answer, the button.
    page.get_by_role("link", name=f"Answer {CCSS}'s query on wellbeing_end").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/agency/queries/**")
    assert "Why is the end score needed?" in page.inner_text("main")
    checked(page)
    page.get_by_label(f"Your answer ({CCSS} reads it beside its query)").focus()
    page.keyboard.type(answer)
    page.get_by_role("button", name="Send the answer").focus()
    with page.expect_navigation(url="**done=answered"):
        page.keyboard.press("Enter")
    assert page.locator("#answer").inner_text() == answer
    assert f"Answered by {manager.id}," in page.inner_text("main")  # the person, recorded
    assert page.get_by_role("button", name="Send the answer").count() == 0
    checked(page)

    page.goto(f"/agency/agreements?programme={pid}&provider=ccss&period={period_of(nz_today())}")
    ccss = page.get_by_role("region", name=CCSS, exact=True).get_by_role("table").inner_text()
    assert "wellbeing_end\tquery\tWhy is the end score needed?\tMere Tane" in ccss
    assert answer in ccss
    assert "None waiting for your answer." in page.inner_text("main")
    checked(page)
    menu(page, "Item queries").click()
    assert f"The Agency's answer: {answer}" in page.inner_text("main")
    checked(page)

    page.context.clear_cookies()
    sign_in(page, portal.person("privacy-officer"))
    page.goto(f"/provider/agreement?programme={pid}&period={period_of(nz_today())}")
    item = page.locator("fieldset.item").filter(has_text="wellbeing_end").inner_text()
    assert f'Your query ("Why is the end score needed?"): the Agency answered: {answer}' in item
    checked(page)


def new_routes() -> list[tuple[str, str]]:
    return [(r.path, m) for r in ROUTES if r.path.startswith(NEW_ROUTES)
            for m in sorted(r.methods - {"HEAD"})]


@pytest.mark.parametrize("role, kind, org", [("privacy-officer", "provider", "ccss"),
                                              ("representative", "representative",
                                               "whanau-voice")])
def test_providers_and_representatives_are_refused_every_new_route(page, portal, findings,
                                                                    role, kind, org):
    routes = new_routes()
    assert {p for p, _ in routes} == {"/agency/outcomes", "/agency/outcomes/{outcome_id}",
                                      "/agency/queries", "/agency/queries/{subject}"}
    sign_in(page, portal.person(role, org_kind=kind, org=org))
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    filled = {"outcome_id": findings["finding"].outcome_id, "subject": "ccss|p@1|goals_met"}
    for path, method in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: filled[m.group(1)], path)
        reply = (page.request.get(url) if method == "GET" else
                 page.request.post(url, form={"csrf": csrf, "answer": "x"}))
        assert reply.status == 403, (path, method)
        assert "Attendance fell" not in reply.text()
    assert "Outcomes and findings" not in page.get_by_role("navigation", name="Pages").inner_text()


def test_an_answer_posted_without_its_csrf_token_is_refused(page, portal, stack, queried):
    sign_in(page, portal.person("contract-manager", org_kind="agency", org="agency"))
    page.goto(f"/agency/queries?programme={queried['programme_id']}")
    link = page.get_by_role("link", name=f"Answer {CCSS}'s query on wellbeing_end")
    target = link.get_attribute("href")
    for form in ({"answer": "forged"}, {"answer": "forged", "csrf": "forged"}):
        reply = page.request.post(target, form=form)
        assert reply.status == 403 and "security token" in reply.text()
    (still,) = AgreementServiceStub(stack.channel("purpose_router")).ListItemQueries(
        apb.ListItemQueriesRequest(programme_id=queried["programme_id"], include_answered=True),
        metadata=stack.metadata("agency", "agency")).queries
    assert still.answer == ""
    # An analyst reads outcomes but does not answer queries: that is a contract manager's.
    page.context.clear_cookies()
    sign_in(page, portal.person("analyst", org_kind="agency", org="agency"))
    assert page.request.get(target).status == 403
    assert page.request.get("/agency/outcomes").status == 200
