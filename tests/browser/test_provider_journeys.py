"""Provider staff's journeys in the browser against the real services, each
page checked with axe (no serious or critical violation) and at 375 px:
upload a quarter's CSV and download every rejection, see the period at a glance
with where it went (from the ledger, verified), follow an access request to the
family's answer, watch outcomes arrive live, download the families' letter, and
see the agreement. Another organisation's objects are refused."""

from __future__ import annotations

import csv
import datetime as dt
import uuid

import pytest
import yaml

from tests.browser.conftest import fits_375, no_serious_axe, sign_in
from tests.e2e.journey import agreed_copy, csv_text, quarter, submit
from tests.stack import ROOT
from tiaki.cli.directory import entries_from_file
from tiaki.core.clock import nz_today
from tiaki.core.working_days import add_working_days, working_days_until
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub
from tiaki.unit.client import UnitClient

pytestmark = pytest.mark.infra
PROGRAMME = "best-foot-forward"


@pytest.fixture(scope="module")
def version(stack):
    return stack.create_plan(yaml.safe_load((ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text()))


@pytest.fixture(scope="module")
def sent(stack, version):
    """A quarter (2026Q2) sent by CCSS through gRPC, at the evaluation unit: (submission, rows)."""
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}")
            for r in quarter(12, seed=61, clients=12, quarter="2026Q2")]
    sub, _ = submit(stack, PROGRAMME, version, rows, period="2026Q2")
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub),
                   what="the quarter at the evaluation unit")
    return sub, rows


def menu(page, name: str):
    return page.get_by_role("navigation", name="Pages").get_by_role("link", name=name)


def checked(page):
    assert no_serious_axe(page) == [], page.url
    assert fits_375(page) == [], page.url


def test_upload_a_quarter_then_download_every_rejection_and_see_where_it_went(
        page, portal, version, tmp_path):
    rows = quarter(20, seed=62, clients=20, quarter="2026Q3")
    rows[3]["client_ref"] = ""           # rejected: a record needs its client
    rows[7]["goals_met"] = "nearly"      # rejected: not an allowed value
    for r in rows:
        r["case_worker_notes"] = "stays here"  # not an item: never sent
    upload = tmp_path / "2026Q3.csv"
    upload.write_text(csv_text(rows))

    sign_in(page, portal.person("reporting-admin"))
    menu(page, "Upload a quarter").click()
    checked(page)
    page.get_by_label("Period").fill("2026Q3")
    page.get_by_label("The quarter's CSV file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and send").click()
    page.wait_for_url("**/provider/uploads/**")
    summary = page.get_by_role("status").inner_text()
    assert "20 rows read; 18 accepted" in summary and "2 rejected" in summary
    assert "case_worker_notes" in page.inner_text("main")
    table = page.locator("table").inner_text()
    assert "Row" in table and "client_ref" in table and "goals_met" in table
    checked(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download every rejection").click()
    got = list(csv.DictReader(open(download.value.path(), encoding="utf-8")))
    assert [(r["row"], r["field"]) for r in got] == [("5", "client_ref"), ("9", "goals_met")]

    page.get_by_role("link", name="See where it went").click()
    main = page.inner_text("main")
    assert "sealed" in main and "18 records accepted" in main
    assert "chain verified" in main
    assert page.locator("svg.flow").count() == 1
    assert "evaluation" in page.locator("svg.flow").text_content()
    checked(page)


def test_follow_an_access_request_to_the_familys_answer(page, portal, stack, sent):
    sub, rows = sent
    opened = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=PROGRAMME, client_ref=rows[4]["client_ref"], requester="Whānau of client 4",
        authorisation="signed consent form", received=nz_today().isoformat()),
        metadata=stack.metadata("provider", "ccss")).request
    stack.wait_for(lambda: stack.requests().GetRequest(
        rpb.GetRequestRequest(request_id=opened.request_id),
        metadata=stack.metadata("provider", "ccss")).request.state == rpb.REQUEST_STATE_COMPLETE,
        what="the unit's answer")
    stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=PROGRAMME, client_ref="nobody-here", requester="An old request",
        authorisation="signed consent form", received="2026-01-05"),
        metadata=stack.metadata("provider", "ccss"))

    sign_in(page, portal.person("privacy-officer"))
    menu(page, "Requests").click()
    checked(page)
    row = page.get_by_role("row").filter(has_text="Whānau of client 4")
    assert "complete" in row.inner_text()
    page.get_by_role("link", name="Whānau of client 4").click()
    assert "evaluation" in page.inner_text("main") and "answered" in page.inner_text("main")
    checked(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the family's answer").click()
    answer = open(download.value.path(), encoding="utf-8").read()
    assert "evaluation" in answer.lower()


def test_another_organisations_request_and_upload_are_refused(page, portal, stack, sent):
    sub, rows = sent
    theirs = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=PROGRAMME, client_ref=rows[2]["client_ref"], requester="ccss's client",
        authorisation="signed consent form", received=nz_today().isoformat()),
        metadata=stack.metadata("provider", "ccss")).request
    sign_in(page, portal.person("privacy-officer", org="other-ngo"))
    for path in (f"/provider/requests/{theirs.request_id}",
                 f"/provider/requests/{theirs.request_id}/answer.html",
                 f"/provider/uploads/{sub}", f"/provider/uploads/{sub}/rejections.csv"):
        reply = page.request.get(path)
        assert reply.status == 404, path
        assert "ccss's client" not in reply.text()
    page.goto("/provider/requests")
    assert "ccss's client" not in page.inner_text("main")


def test_outcomes_arrive_live_and_the_page_works_without_scripts(
        page, browser, portal, stack, sent):
    sub, _ = sent
    unit_name = named_as_in_the_example(stack, "evaluation")
    who = portal.person("board-member")
    sign_in(page, who)
    menu(page, "Outcomes").click()
    page.locator("#feed-status", has_text="Live").wait_for()  # the page's CSP forbids eval
    checked(page)
    unit = UnitClient("evaluation", stack.amqp_uri, stack.db_uri("unit_evaluation"),
                      stack.address("purpose_router"), stack.tokens[("unit", "evaluation")])
    unit.insights_address = stack.address("insights")
    title = f"Fund two more groups {uuid.uuid4().hex[:4]}"
    unit.record_outcome("decision", title, "Joint sessions worked.", nz_today().isoformat(),
                        "Agency leadership", submission_ids=[sub])
    page.locator("#outcomes").get_by_text(title).wait_for(timeout=15000)  # no reload: an event

    context = browser.new_context(base_url=portal.url, java_script_enabled=False)
    try:
        plain = context.new_page()
        sign_in(plain, who)
        plain.goto("/provider/outcomes")
        assert f"{title} (decision, {nz_today().isoformat()}, {unit_name})" in plain.inner_text("main")
    finally:
        context.close()

    menu(page, "Board report").click()
    checked(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the report").click()
    assert title in open(download.value.path(), encoding="utf-8").read()


def named_as_in_the_example(stack, unit_id: str) -> str:
    """The unit's entry of programmes/directory.yaml in the directory: its name."""
    entry = next(e for e in entries_from_file(str(ROOT / "programmes" / "directory.yaml"))
                 if e.kind == dpb.PARTY_KIND_UNIT and e.id == unit_id)
    DirectoryServiceStub(stack.channel("purpose_router")).SetEntry(
        dpb.SetEntryRequest(entry=entry), metadata=stack.metadata("agency", "agency"))
    return entry.display_name


def tab_to(page, element_id: str, most: int = 80) -> None:
    """Presses Tab until the element has the focus (fails when the keyboard cannot reach it)."""
    for _ in range(most):
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


@pytest.fixture
def agreed(stack):
    """A copy of the example programme, co-designed and published as version 1."""
    return agreed_copy(stack, yaml.safe_load((ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text()))


def test_the_agreement_item_by_item_with_the_keyboard_alone(page, portal, stack, agreed):
    programme = agreed["programme_id"]
    items = [i["name"] for i in agreed["items"]]
    who = portal.person("privacy-officer")
    sign_in(page, who)
    page.goto(f"/provider/agreement?programme={programme}")
    checked(page)
    main = page.inner_text("main")
    assert all(name in main for name in items)
    assert "Seen by" in main  # each item's purpose statement
    decisions = {name: "accept" for name in items}
    decisions[items[1]], decisions[items[2]] = "decline", "query"
    for name, decision in decisions.items():
        tab_to(page, f"d-{name}-accept")
        if decision != "accept":  # arrows move between a group's radio buttons
            for _ in ("decline", "query")[: ("decline", "query").index(decision) + 1]:
                page.keyboard.press("ArrowRight")
        else:
            page.keyboard.press("Space")
    tab_to(page, f"n-{items[2]}")
    page.keyboard.type("Who outside the unit sees this?")
    tab_to(page, "record-decisions")
    page.keyboard.press("Enter")
    page.wait_for_url("**saved=1")
    assert "Your decisions are recorded" in page.inner_text("main")
    recorded = AgreementServiceStub(stack.channel("purpose_router")).GetAgreement(
        apb.GetAgreementRequest(programme_id=programme, plan_version=1),
        metadata=stack.metadata("provider", "ccss")).versions[-1]
    got = {d.item_name: (apb.ItemDecision.Name(d.decision), d.decided_by) for d in recorded.items}
    assert got[items[1]] == ("ITEM_DECISION_DECLINE", who.id)  # the person, not only the provider
    assert got[items[2]][0] == "ITEM_DECISION_QUERY"
    assert got[items[0]][0] == "ITEM_DECISION_ACCEPT"


def test_the_families_letter_and_the_agreement(page, portal, version):
    sign_in(page, portal.person("privacy-officer"))
    menu(page, "Families' letter").click()
    checked(page)
    page.get_by_label("Period").fill("2026Q3")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the letter").click()
    letter = open(download.value.path(), encoding="utf-8").read()
    assert "<html" in letter.lower()
    page.goto("/provider/agreement")
    checked(page)
    assert "agreement" in page.inner_text("main").lower()


def test_a_request_near_its_due_date_stands_out_and_is_notified(page, portal, stack, sent, mail):
    """The evaluation unit is down, so the request stays open; received 18 working days
    ago, it has 2 left: the row is marked near the due date, in colour and in words, and
    the privacy officer gets a notification in the portal and by email (no family detail)."""
    _, rows = sent
    today = nz_today()
    received = today
    while working_days_until(today, add_working_days(received, 20)) > 2:
        received -= dt.timedelta(days=1)
    who = portal.person("privacy-officer", email=f"officer-{uuid.uuid4().hex[:6]}@ccss.example")
    reviewer = portal.person("unit-reviewer", org_kind="unit", org="evaluation",
                             email=f"reviewer-{uuid.uuid4().hex[:6]}@unit.example")
    stack.kill("unit-evaluation")
    try:
        stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
            programme_id=PROGRAMME, client_ref=rows[6]["client_ref"], requester="Client 6's aunt",
            authorisation="signed consent form", received=received.isoformat()),
            metadata=stack.metadata("provider", "ccss"))
        sign_in(page, who)
        menu(page, "Requests").click()
        row = page.get_by_role("row").filter(has_text="Client 6's aunt")
        assert row.get_attribute("class") == "due-near"
        assert "2 (near the due date)" in row.inner_text()
        colour = row.evaluate("r => getComputedStyle(r).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
        checked(page)
        arrived = stack.wait_for(lambda: [m for m in mail.to(who.email)  # the kind and date
                                          if "near its due date" in m["Subject"]],
                                 timeout=30, what="the email")
        assert "/provider/requests/" in arrived[0].get_payload()
        stack.wait_for(lambda: [m for m in mail.to(reviewer.email)  # the unit's part too
                                if "near its due date" in m["Subject"]], timeout=30,
                       what="the unit reviewer's email")
        for m in mail.to(who.email) + mail.to(reviewer.email):  # and any other waiting
            assert rows[6]["client_ref"] not in m.get_payload()
            assert "aunt" not in m.get_payload() + m["Subject"]
        menu(page, "Notifications").click()
        assert "2 working days left" in page.inner_text("main")
        checked(page)
    finally:
        stack.start("unit-evaluation")
