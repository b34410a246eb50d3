"""Corrections reach every holder; a refusal attaches the family's statement;
extensions keep to the law's window; a provider can watch a request move."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import grpc
import pytest

from tests.e2e.journey import submit
from tiaki.requests.v1 import requests_pb2 as rpb


def two_holder_plan(programme_id: str) -> dict:
    use = {"retention": "7 years", "legal_basis": "funding agreement",
           "explanation": "To learn what helps."}
    return {
        "programme_id": programme_id, "name": "Corrections test",
        "units": [{"unit_id": "evaluation", "name": "Evaluation team"},
                  {"unit_id": "service-delivery", "name": "Service delivery team"}],
        "purposes": [
            {"purpose_id": "evaluation", "name": "Evaluation", "unit_id": "evaluation",
             "form": "unit_level"},
            {"purpose_id": "monitoring", "name": "Monitoring", "unit_id": "service-delivery",
             "form": "unit_level"},
            {"purpose_id": "counts", "name": "Counts", "unit_id": "service-delivery",
             "form": "aggregate", "dimensions": ["strand"], "suppress_below": 6},
        ],
        "items": [
            {"name": "goals_met", "type": "enum", "allowed_values": ["none", "some", "most"],
             "required": True, "uses": [dict(use, purpose_id="evaluation"),
                                        dict(use, purpose_id="monitoring")]},
            {"name": "sessions", "type": "integer", "min": 0, "max": 50,
             "uses": [dict(use, purpose_id="evaluation")]},
            {"name": "strand", "type": "enum", "allowed_values": ["parenting", "children"],
             "uses": [dict(use, purpose_id="counts")]},
        ],
    }


@pytest.fixture
def programme(stack):
    programme_id = f"corr-{uuid.uuid4().hex[:8]}"
    version = stack.create_plan(two_holder_plan(programme_id))
    rows = [{"record_ref": f"r{i}", "client_ref": f"C-{i % 3}", "goals_met": "some",
             "sessions": str(i), "strand": "parenting"} for i in range(6)]
    sub, _ = submit(stack, programme_id, version, rows, period="2026Q3")
    stack.wait_for(lambda: len(stack.unit_deliveries("evaluation", submission_id=sub)) == 1
                   and len(stack.unit_deliveries("service-delivery", submission_id=sub,
                                                 kind="records")) == 1,
                   what="both unit-level deliveries")
    return programme_id


def correct(stack, programme_id, client="C-1", provider="ccss", received="", **correction):
    fields = dict(field="goals_met", current_value="some", corrected_value="most",
                  reason="we met most of our goals")
    fields.update(correction)
    return stack.requests().OpenCorrectionRequest(rpb.OpenCorrectionRequestRequest(
        programme_id=programme_id, client_ref=client, requester="the client",
        authorisation="signed form", received=received,
        correction=rpb.Correction(**fields)), metadata=stack.metadata("provider", provider))


def access(stack, programme_id, client="C-1"):
    return stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme_id, client_ref=client, requester="the client",
        authorisation="signed form"), metadata=stack.metadata("provider", "ccss")).request


def finished(stack, request_id):
    ccss = stack.metadata("provider", "ccss")
    return stack.wait_for(lambda: (r := stack.requests().GetRequest(
        rpb.GetRequestRequest(request_id=request_id), metadata=ccss).request).state
        == rpb.REQUEST_STATE_COMPLETE and r, what=f"request {request_id} complete")


def answer(stack, request_id) -> str:
    return stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=request_id),
                                      metadata=stack.metadata("provider", "ccss")).html


def test_a_correction_is_applied_at_every_unit_that_holds_the_field(stack, programme):
    opened = correct(stack, programme).request
    assert sorted(u.unit_id for u in opened.units) == ["evaluation", "service-delivery"]
    done = finished(stack, opened.request_id)
    assert done.request_kind == rpb.REQUEST_KIND_CORRECTION
    assert sorted((u.unit_id, u.unit_outcome) for u in done.units) == [
        ("evaluation", rpb.UNIT_OUTCOME_APPLIED), ("service-delivery", rpb.UNIT_OUTCOME_APPLIED)]
    later = finished(stack, access(stack, programme).request_id)
    html = answer(stack, later.request_id)
    assert "Most" in html and ">Some<" not in html
    assert "You asked for a change here" not in html


def test_a_refused_correction_attaches_the_statement_to_later_answers(stack, programme):
    opened = correct(stack, programme, client="C-2", current_value="none",
                     reason="my goals were recorded wrongly").request
    done = finished(stack, opened.request_id)
    assert {(u.unit_outcome, u.outcome) for u in done.units} == {(rpb.UNIT_OUTCOME_REFUSED, "refused")}
    assert all("our record says" in u.refusal_reason for u in done.units)
    html = answer(stack, finished(stack, access(stack, programme, "C-2").request_id).request_id)
    assert "You asked for a change here" in html
    # The family's own words travel with the record; the unit's staff note does not:
    # the refusal is explained in plain words.
    assert "my goals were recorded wrongly" in html and "our record says" not in html
    assert "The team did not change it. This happens when their records show" in html


@pytest.mark.parametrize("overrides, code", [
    ({"field": "favourite_food"}, grpc.StatusCode.INVALID_ARGUMENT),   # not in the plan
    ({"field": "strand"}, grpc.StatusCode.NOT_FOUND),   # only ever counted, held by nobody
    ({"reason": ""}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"corrected_value": ""}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"client": "NEVER-SENT"}, grpc.StatusCode.NOT_FOUND),
])
def test_a_bad_correction_gets_a_precise_error_and_changes_nothing(stack, programme, overrides,
                                                                    code):
    ccss = stack.metadata("provider", "ccss")
    before = len(stack.requests().ListRequests(rpb.ListRequestsRequest(), metadata=ccss).requests)
    with pytest.raises(grpc.RpcError) as err:
        correct(stack, programme, **overrides)
    assert err.value.code() == code, err.value.details()
    assert len(stack.requests().ListRequests(rpb.ListRequestsRequest(),
                                             metadata=ccss).requests) == before


def test_an_extension_needs_reasons_and_the_original_period(stack, programme):
    ccss = stack.metadata("provider", "ccss")
    stack.kill("unit-evaluation")       # keep the request open while it is extended
    try:
        fresh = access(stack, programme)
        new_due = (dt.date.fromisoformat(fresh.due) + dt.timedelta(days=28)).isoformat()
        with pytest.raises(grpc.RpcError) as err:
            stack.requests().ExtendRequest(rpb.ExtendRequestRequest(
                request_id=fresh.request_id, new_due=new_due, reasons=""), metadata=ccss)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as err:
            stack.requests().ExtendRequest(rpb.ExtendRequestRequest(
                request_id=fresh.request_id, new_due="next month", reasons="x"), metadata=ccss)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        extended = stack.requests().ExtendRequest(rpb.ExtendRequestRequest(
            request_id=fresh.request_id, new_due=new_due,
            reasons="records are held by two teams"), metadata=ccss).request
        assert (extended.due, extended.original_due) == (new_due, fresh.due)
        assert extended.extension_reasons == "records are held by two teams"

        old = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
            programme_id=programme, client_ref="C-1", requester="the client",
            authorisation="signed form", received="2026-03-02"), metadata=ccss).request
        with pytest.raises(grpc.RpcError) as err:   # its 20 working days ended 30 March
            stack.requests().ExtendRequest(rpb.ExtendRequestRequest(
                request_id=old.request_id, new_due="2026-12-31", reasons="late"),
                metadata=ccss)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "original due date" in err.value.details()
    finally:
        stack.start("unit-evaluation")


def test_a_provider_watches_a_request_until_it_completes(stack, programme):
    ccss = stack.metadata("provider", "ccss")
    stack.kill("unit-evaluation")
    seen = []
    try:
        opened = access(stack, programme, "C-0")
        watcher = threading.Thread(target=lambda: seen.extend(
            m.request for m in stack.requests().WatchRequest(
                rpb.WatchRequestRequest(request_id=opened.request_id), metadata=ccss,
                timeout=60)))
        watcher.start()
        stack.wait_for(lambda: seen, what="the first state")
    finally:
        stack.start("unit-evaluation")
    watcher.join(timeout=60)
    assert seen[0].state == rpb.REQUEST_STATE_OPEN
    assert seen[-1].state == rpb.REQUEST_STATE_COMPLETE
    with pytest.raises(grpc.RpcError) as err:
        list(stack.requests().WatchRequest(rpb.WatchRequestRequest(request_id=opened.request_id),
                                           metadata=stack.metadata("provider", "other-ngo"),
                                           timeout=10))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_transfer_is_made_within_10_working_days_and_every_step_is_recorded(stack, programme):
    ccss = stack.metadata("provider", "ccss")
    stack.kill("unit-evaluation")       # keep the request open
    try:
        fresh = access(stack, programme, "C-0")
        stack.wait_for(lambda: any(u.outcome for u in stack.requests().GetRequest(
            rpb.GetRequestRequest(request_id=fresh.request_id), metadata=ccss).request.units),
            what="the unit that is up to answer")
        moved = stack.requests().TransferRequest(rpb.TransferRequestRequest(
            request_id=fresh.request_id, agency="Ministry of Health"), metadata=ccss).request
        assert moved.state == rpb.REQUEST_STATE_TRANSFERRED
        assert moved.transferred_to == "Ministry of Health"
        steps = [(s.who, s.what.split(";")[0]) for s in moved.history]
        assert steps[0] == ("ccss", "opened the request")
        assert steps[-1] == ("ccss", "transferred the request to Ministry of Health")
        # The unit that was up answered before the transfer; that step names it.
        assert ("service-delivery", "answered (2 records)") in steps
        for call, req in ((stack.requests().TransferRequest,
                           rpb.TransferRequestRequest(request_id=fresh.request_id, agency="X")),
                          (stack.requests().GetAnswer,
                           rpb.GetAnswerRequest(request_id=fresh.request_id))):
            with pytest.raises(grpc.RpcError) as err:
                call(req, metadata=ccss)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

        old = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
            programme_id=programme, client_ref="C-0", requester="the client",
            authorisation="signed form", received="2026-03-02"), metadata=ccss).request
        with pytest.raises(grpc.RpcError) as err:   # 10 working days ended 16 March
            stack.requests().TransferRequest(rpb.TransferRequestRequest(
                request_id=old.request_id, agency="Ministry of Health"), metadata=ccss)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as err:
            stack.requests().TransferRequest(rpb.TransferRequestRequest(
                request_id=old.request_id, agency=" "), metadata=ccss)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        stack.start("unit-evaluation")


def test_notices_name_an_overdue_request_and_the_unit_escalated(stack, programme):
    """What the portal notifies, derived from the request's record: past its due
    date it is due (late), and the unit that has not answered is escalated,
    to the provider and to that unit."""
    ccss = stack.metadata("provider", "ccss")
    stack.kill("unit-evaluation")       # the evaluation team does not answer
    try:
        late = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
            programme_id=programme, client_ref="C-2", requester="the client",
            authorisation="signed form", received="2026-03-02"), metadata=ccss).request
        mine = [(n.kind, n.due) for n in stack.requests().ListNotices(
            rpb.ListNoticesRequest(), metadata=ccss).notices if n.subject == late.request_id]
        assert ("request_due_soon", "2026-03-30") in mine
        assert ("unit_escalated", next(u.due for u in late.units
                                       if u.unit_id == "evaluation")) in mine
        unit = [n.kind for n in stack.requests().ListNotices(
            rpb.ListNoticesRequest(), metadata=stack.metadata("unit", "evaluation")).notices
            if n.subject == late.request_id]
        assert "unit_escalated" in unit
        other = stack.requests().ListNotices(rpb.ListNoticesRequest(),
                                             metadata=stack.metadata("provider", "other-ngo"))
        assert late.request_id not in str(other)
    finally:
        stack.start("unit-evaluation")
