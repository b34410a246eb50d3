"""Agency unit staff's journeys in the browser against the real services, on a
stack of their own whose evaluation unit answers after review: a family's
access request (opened through the requests contract) waits at the unit; a
reviewer signs in with the second factor and, with the keyboard alone, opens
it, withholds one item under s 53(b) and approves; the family's answer names
the ground. Every page is checked with axe and at 375 px. Another unit's staff
cannot see the query, even knowing its id; a provider cannot reach unit pages."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import grpc
import pytest
import yaml

from tests.browser.conftest import Portal, fits_375, no_serious_axe
from tests.e2e.journey import submit
from tests.e2e.test_corrections_and_deadlines import finished, two_holder_plan
from tests.stack import drop, free_port, start_stack
from tiaki.core.clock import nz_today
from tiaki.core.withholding import GROUNDS
from tiaki.core.working_days import add_working_days, working_days_until
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.unit.v1 import review_pb2 as pb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceStub

pytestmark = pytest.mark.infra
# Each unit's review service with its own token: evaluation answers after review,
# service-delivery automatically; family-services is in the config (after review) but no
# unit of that name runs, so it never answers.
ANSWERS = {"evaluation": "review", "service-delivery": "auto", "family-services": "review"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unit-review-stack")
    config = {}
    for unit, answer in ANSWERS.items():
        token = tmp / f"unit-staff-{unit}"
        token.write_text(f"tk_unitstaff_{uuid.uuid4().hex}\n")
        config[unit] = {"answer": answer, "review_address": f"127.0.0.1:{free_port()}",
                        "staff_token_file": str(token)}
    (tmp / "units.yaml").write_text(yaml.safe_dump(config))
    s = start_stack(tmp, unit_config=tmp / "units.yaml")
    s.review = config
    try:
        yield s
    finally:
        drop(s)


@pytest.fixture(scope="module")
def portal(stack, tmp_path_factory):
    p = Portal(stack, tmp_path_factory.mktemp("unit-portal"))
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def programme(stack):
    """A programme only the evaluation unit holds records of (clients C-0..C-2, two each)."""
    plan = two_holder_plan(f"unitrev-{uuid.uuid4().hex[:8]}")
    plan["units"], plan["purposes"] = plan["units"][:1], plan["purposes"][:1]
    plan["items"] = [dict(i, uses=[u for u in i["uses"] if u["purpose_id"] == "evaluation"])
                     for i in plan["items"] if i["name"] != "strand"]
    version = stack.create_plan(plan)
    rows = [{"record_ref": f"r{i}", "client_ref": f"C-{i % 3}", "goals_met": "some",
             "sessions": str(i)} for i in range(6)]
    sub, _ = submit(stack, plan["programme_id"], version, rows, period="2026Q3")
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub),
                   what="the delivery at the evaluation unit")
    return plan["programme_id"]


def review_stub(stack, unit="evaluation"):
    c = stack.review[unit]
    token = open(c["staff_token_file"]).read().strip()
    return (UnitReviewServiceStub(grpc.insecure_channel(c["review_address"])),
            (("authorization", f"Bearer {token}"),))


def waiting_at_evaluation(stack, request_id: str) -> pb.WaitingQuery:
    stub, metadata = review_stub(stack)

    def listed():
        try:
            found = stub.ListWaitingQueries(pb.ListWaitingQueriesRequest(), metadata=metadata)
        except grpc.RpcError:  # the unit is still starting
            return None
        return next((q for q in found.queries if q.request_id == request_id), None)
    return stack.wait_for(listed, what=f"request {request_id} waiting at the evaluation unit")


def near_due_received() -> str:
    """A received date that leaves 1 to 3 working days to the due date today."""
    today = nz_today()
    for back in range(1, 90):
        received = today - dt.timedelta(days=back)
        if 1 <= working_days_until(today, add_working_days(received, 20)) <= 3:
            return received.isoformat()
    raise AssertionError("no such date")


def open_access(stack, programme: str, client: str = "C-1", received: str = ""):
    opened = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme, client_ref=client, requester="the client",
        authorisation="signed form", received=received),
        metadata=stack.metadata("provider", "ccss")).request
    waiting_at_evaluation(stack, opened.request_id)
    return opened


def checked(page, tmp_path):
    assert no_serious_axe(page) == [], page.url
    assert fits_375(page) == [], page.url


FOCUSED = """() => { const e = document.activeElement;
  const label = e.labels && e.labels.length ? e.labels[0].innerText : '';
  const text = e.tagName === 'SELECT' ? '' : e.innerText || '';
  return [text, label, e.getAttribute('name') || ''].join('|'); }"""


def tab_to(page, text: str, limit: int = 80) -> None:
    """Presses Tab until the focused element's text, label or name holds `text`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if text in page.evaluate(FOCUSED):
            return
    raise AssertionError(f"{text!r} is not reached with the Tab key on {page.url}")


def sign_in_by_keyboard(page, who) -> None:
    page.goto("/sign-in")
    tab_to(page, "Staff id")
    page.keyboard.type(who.id)
    tab_to(page, "Password")
    page.keyboard.type(who.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign-in/code")
    tab_to(page, "Code from your authenticator app")
    page.keyboard.type(who.code())
    page.keyboard.press("Enter")
    page.wait_for_url("**/")


def test_a_reviewer_withholds_an_item_under_a_ground_and_the_family_is_told_it(
        page, portal, stack, programme, tmp_path):
    opened = open_access(stack, programme, received=near_due_received())
    reviewer = portal.person("unit-reviewer", "unit", "evaluation")
    sign_in_by_keyboard(page, reviewer)

    tab_to(page, "Waiting queries")
    page.keyboard.press("Enter")
    page.wait_for_url("**/unit")
    checked(page, tmp_path)
    row = page.get_by_role("row").filter(has_text=opened.request_id[:8])
    assert "due-near" in row.get_attribute("class")
    assert "near the due date" in row.inner_text() and opened.due in row.inner_text()

    tab_to(page, f"access request {opened.request_id[:8]}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/unit/queries/{opened.request_id}")
    checked(page, tmp_path)
    main = page.inner_text("main")
    assert f"Due\n{opened.due}" in main and "working days left, near the due date" in main
    assert "Extension\nNone" in main and "Transfer\nNot transferred" in main
    assert "Record 1" in main and "Record 2" in main and "goals_met: some" in main
    ground = GROUNDS["s53(b)"]
    assert ground.words in main and ground.citation in main  # the grounds, in plain words

    tab_to(page, "withhold:1:goals_met")
    select = page.locator("select[name='withhold:1:goals_met']")
    codes = select.locator("option").evaluate_all("os => os.map(o => o.value)")
    for _ in range(codes.index("s53(b)")):
        page.keyboard.press("ArrowDown")
    assert select.input_value() == "s53(b)"
    tab_to(page, "Approve the answer")
    page.keyboard.press("Enter")
    page.wait_for_url("**approved=1")
    status = page.get_by_role("status").inner_text()
    assert f"Approved by {reviewer.id}" in status and "1 item withheld" in status
    assert f"Record 1, goals_met: {ground.citation} ({ground.heading})" in page.inner_text("main")
    checked(page, tmp_path)

    done = finished(stack, opened.request_id)
    assert any(f"approved by {reviewer.id}" in step.what for step in done.history), done.history
    html = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                      metadata=stack.metadata("provider", "ccss")).html
    assert html.count("Not given to you.") == 1
    assert f"{ground.citation} (Other reasons: {ground.law})" in html and "another person" in html


def test_the_unit_says_how_it_answers(page, portal, tmp_path):
    sign_in_by_keyboard(page, portal.person("unit-reviewer", "unit", "evaluation"))
    tab_to(page, "How your unit answers")
    page.keyboard.press("Enter")
    page.wait_for_url("**/unit/mode")
    main = page.inner_text("main")
    assert "Answers\nAfter review" in main and "Reviewed by\nunit:evaluation" in main
    since = re.search(r"Since\n(\d\d \w{3} \d{4} \d\d:\d\d)", main)
    assert since, main  # when the running unit began answering so (NZ time)
    assert all(g.citation in main and g.law in main for g in GROUNDS.values())
    checked(page, tmp_path)
    page.context.clear_cookies()

    # A unit answering automatically says so, and nothing waits at it.
    sign_in_by_keyboard(page, portal.person("unit-reviewer", "unit", "service-delivery"))
    page.goto("/unit/mode")
    main = page.inner_text("main")
    assert "Answers\nAutomatically" in main and "Reviewed by" not in main
    assert "s53(b)" not in main
    checked(page, tmp_path)
    page.goto("/unit")
    assert "answers families' queries at once" in page.inner_text("main")
    page.context.clear_cookies()

    # A unit that does not answer: said plainly, never the config file's "review".
    sign_in_by_keyboard(page, portal.person("unit-reviewer", "unit", "family-services"))
    shown = page.goto("/unit/mode")
    main = page.inner_text("main")
    assert shown.status == 503 and "Your unit did not answer" in main
    assert "After review" not in main and "Automatically" not in main
    checked(page, tmp_path)
    page.context.clear_cookies()

    # A unit the config names no review service for cannot be asked either.
    sign_in_by_keyboard(page, portal.person("unit-reviewer", "unit", "not-configured"))
    shown = page.goto("/unit/mode")
    assert shown.status == 503 and "names no review service" in page.inner_text("main")


def test_another_units_staff_cannot_see_or_approve_the_query(page, portal, stack, programme):
    opened = open_access(stack, programme, client="C-2")
    rid = opened.request_id
    sign_in_by_keyboard(page, portal.person("unit-reviewer", "unit", "service-delivery"))
    page.goto("/unit")
    assert rid[:8] not in page.inner_text("main")
    shown = page.request.get(f"/unit/queries/{rid}")
    assert shown.status == 404 and "goals_met" not in shown.text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.content()).group(1)
    sent = page.request.post(f"/unit/queries/{rid}", form={"csrf": csrf})
    assert sent.status == 404
    assert waiting_at_evaluation(stack, rid).state == pb.REVIEW_STATE_WAITING


@pytest.mark.parametrize("role, kind, org", [("privacy-officer", "provider", "ccss"),
                                              ("analyst", "agency", "agency")])
def test_no_unit_page_is_served_to_a_provider_or_the_agency(page, portal, stack, programme,
                                                           role, kind, org):
    opened = open_access(stack, programme, client="C-0")
    sign_in_by_keyboard(page, portal.person(role, kind, org))
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.content()).group(1)
    for path in ("/unit", "/unit/mode", f"/unit/queries/{opened.request_id}"):
        reply = page.request.get(path)
        assert reply.status == 403 and "goals_met" not in reply.text(), path
    assert page.request.post(f"/unit/queries/{opened.request_id}",
                             form={"csrf": csrf}).status == 403
    assert waiting_at_evaluation(stack, opened.request_id).state == pb.REVIEW_STATE_WAITING
