"""A family asks CCSS what the Agency holds about them (issue 3, first journey)."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
import zoneinfo

import grpc
import pytest

from tests.e2e.journey import quarter as synthetic_quarter
from tests.e2e.journey import submit
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import ledger_pb2

PROGRAMME = "best-foot-forward"


@pytest.fixture(scope="module")
def version(stack, example_plan):
    return stack.create_plan(example_plan)


def quarter(count, seed, clients, quarter, tag=None):
    """Synthetic records whose clients belong to this test alone (give the
    same tag for the same families in two quarters): other tests send the
    same synthetic client references, and the same reference at the same
    provider is the same person."""
    tag = tag or uuid.uuid4().hex[:6]
    rows = synthetic_quarter(count, seed=seed, clients=clients, quarter=quarter)
    return [dict(r, client_ref=f"{tag}-{r['client_ref']}") for r in rows]


def open_access(stack, client, provider="ccss", **overrides):
    fields = dict(programme_id=PROGRAMME, client_ref=client, requester="the client",
                  authorisation="signed consent form", received="2026-03-02")
    fields.update(overrides)
    return stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(**fields),
                                              metadata=stack.metadata("provider", provider))


def test_a_family_gets_exactly_what_the_evaluation_unit_holds_about_them(stack, version):
    # Two quarters about the same 30 families; the family asking is client 7.
    families = uuid.uuid4().hex[:6]
    q3 = quarter(30, seed=21, clients=30, quarter="2026Q3", tag=families)
    q4 = quarter(30, seed=22, clients=30, quarter="2026Q4", tag=families)
    sub3, _ = submit(stack, PROGRAMME, version, q3, period="2026Q3")
    sub4, _ = submit(stack, PROGRAMME, version, q4, period="2026Q4")
    stack.wait_for(lambda: len(stack.unit_deliveries("evaluation", submission_id=sub4)) == 1,
                   what="both quarters at the evaluation unit")
    ccss = stack.metadata("provider", "ccss")
    delivery = next(e for e in stack.ledger().ListFlows(
        ledger_pb2.ListFlowsRequest(submission_id=sub3), metadata=ccss).entries
        if e.unit_id == "evaluation")
    stack.units().RecordAccess(ledger_pb2.RecordAccessRequest(
        delivery_id=delivery.delivery_id, accessor="analyst A. Tane", fields=["goals_met"],
        reason="Q3 outcomes report"), metadata=stack.metadata("unit", "evaluation"))

    client = q3[7]["client_ref"]
    opened = open_access(stack, client).request
    assert opened.due == "2026-03-30"
    # Only the evaluation unit holds unit-level records; service delivery has counts only.
    assert [u.unit_id for u in opened.units] == ["evaluation"]

    done = stack.wait_for(lambda: (r := stack.requests().GetRequest(
        rpb.GetRequestRequest(request_id=opened.request_id), metadata=ccss).request)
        .state == rpb.REQUEST_STATE_COMPLETE and r, what="the answer")
    assert done.request_kind == rpb.REQUEST_KIND_ACCESS and done.kind == "access"
    assert [(u.unit_id, u.unit_outcome, u.outcome) for u in done.units] == [
        ("evaluation", rpb.UNIT_OUTCOME_ANSWERED, "answered")]

    html = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                      metadata=ccss).html
    mine = [q3[7], q4[7]]
    others = [r for r in q3 + q4 if r["client_ref"] != client]
    for row in mine:
        assert shows(html, row["referral_date"])
    # Nothing about anyone else: referral dates unique to other families never appear.
    # (The document also shows when it was received, due, answered and accessed.)
    nz_today = dt.datetime.now(zoneinfo.ZoneInfo("Pacific/Auckland")).date()
    shown = {r["referral_date"] for r in mine} | {
        dt.date.today().isoformat(), nz_today.isoformat(), "2026-03-02", "2026-03-30"}
    theirs = {r["referral_date"] for r in others} - shown
    leaked = [d for d in theirs if shows(html, d)]
    assert not leaked, leaked
    assert "analyst A. Tane" in html and "Q3 outcomes report" in html
    assert client not in html  # the provider's reference is not the family's business


def test_another_provider_cannot_open_read_or_download_a_request(stack, version):
    rows = quarter(5, seed=23, clients=5, quarter="2027Q1")
    sub, _ = submit(stack, PROGRAMME, version, rows, period="2027Q1")
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub))
    opened = open_access(stack, rows[0]["client_ref"]).request
    other = stack.metadata("provider", "other-ngo")
    # The same reference at another provider is another person, about whom
    # nothing was sent: answered so, never with CCSS's client's records.
    theirs = open_access(stack, rows[0]["client_ref"], provider="other-ngo").request
    assert theirs.state == rpb.REQUEST_STATE_COMPLETE and list(theirs.units) == []
    said = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=theirs.request_id),
                                      metadata=other).html
    assert "The Agency holds nothing about you for this programme." in said
    assert not shows(said, rows[0]["referral_date"])
    for call, req in ((stack.requests().GetRequest, rpb.GetRequestRequest),
                      (stack.requests().GetAnswer, rpb.GetAnswerRequest)):
        with pytest.raises(grpc.RpcError) as err:
            call(req(request_id=opened.request_id), metadata=other)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    listed = stack.requests().ListRequests(rpb.ListRequestsRequest(), metadata=other).requests
    assert opened.request_id not in {r.request_id for r in listed}


@pytest.mark.parametrize("overrides, code", [
    ({"programme_id": "no-such-programme"}, grpc.StatusCode.NOT_FOUND),
    ({"received": "02/03/2026"}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"received": "20260302"}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"client_ref": "  "}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"authorisation": ""}, grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_requests_get_a_precise_error_and_change_nothing(stack, version, overrides, code):
    ccss = stack.metadata("provider", "ccss")
    before = len(stack.requests().ListRequests(rpb.ListRequestsRequest(), metadata=ccss).requests)
    with pytest.raises(grpc.RpcError) as err:
        open_access(stack, "CCSS-0000001", **overrides)
    assert err.value.code() == code, err.value.details()
    after = len(stack.requests().ListRequests(rpb.ListRequestsRequest(), metadata=ccss).requests)
    assert after == before


def shows(html: str, iso: str) -> bool:
    """Whether the document shows this date, as ISO or as "9 July 2026" (not "19 July")."""
    day = dt.date.fromisoformat(iso)
    return iso in html or re.search(rf"(?<!\d){day.day} {day:%B %Y}", html) is not None


def test_a_unit_that_is_down_is_escalated_and_the_request_completes_when_it_returns(
        stack, version):
    rows = quarter(6, seed=24, clients=6, quarter="2027Q2")
    sub, _ = submit(stack, PROGRAMME, version, rows, period="2027Q2")
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub))
    ccss = stack.metadata("provider", "ccss")
    stack.kill("unit-evaluation")
    try:
        # Received weeks ago, so the unit's 5 working days are already over.
        opened = open_access(stack, rows[2]["client_ref"], received="2026-03-02").request
        time.sleep(2)
        waiting = stack.requests().GetRequest(
            rpb.GetRequestRequest(request_id=opened.request_id), metadata=ccss).request
        assert waiting.state == rpb.REQUEST_STATE_OPEN
        assert [(u.unit_id, u.unit_outcome, u.outcome, u.escalated) for u in waiting.units] == [
            ("evaluation", rpb.UNIT_OUTCOME_OUTSTANDING, "", True)]
        with pytest.raises(grpc.RpcError) as err:
            stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                       metadata=ccss)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        stack.start("unit-evaluation")
    stack.wait_for(lambda: stack.requests().GetRequest(
        rpb.GetRequestRequest(request_id=opened.request_id), metadata=ccss).request.state
        == rpb.REQUEST_STATE_COMPLETE, what="the answer after the unit returned")


def test_the_requests_service_killed_mid_request_loses_nothing(stack, version):
    rows = quarter(6, seed=25, clients=6, quarter="2027Q3")
    sub, _ = submit(stack, PROGRAMME, version, rows, period="2027Q3")
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub))
    ccss = stack.metadata("provider", "ccss")
    stack.kill("unit-evaluation")
    opened = open_access(stack, rows[4]["client_ref"]).request
    stack.kill("requests")                 # SIGKILL while the query waits on the queue
    stack.start("unit-evaluation")         # its answer cannot be delivered yet
    time.sleep(2)
    stack.start("requests")
    done = stack.wait_for(lambda: (r := stack.requests().GetRequest(
        rpb.GetRequestRequest(request_id=opened.request_id), metadata=ccss).request)
        .state == rpb.REQUEST_STATE_COMPLETE and r, what="the answer after the restart")
    assert [(u.unit_id, u.outcome) for u in done.units] == [("evaluation", "answered")]
