"""A provider corrects a sealed quarter (issue 13, point 4): a second
submission of the period is refused unless it replaces the first; the sealed
replacement supersedes the earlier one at every unit and in the ledger, and a
family's answer shows only what is current; after the plan's correction
window the sealed submission stands."""

from __future__ import annotations

import datetime as dt
import uuid

import grpc
import pytest

from tests.e2e.journey import batches
from tiaki.core.clock import nz_today
from tiaki.core.periods import period_days, period_of
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import ledger_pb2

# The quarter before today's: closed, so a correction of it is what a provider
# would make, and within the plan's 120-day window whenever the test runs.
PERIOD = period_of(period_days(period_of(nz_today()))[0] - dt.timedelta(days=1))
SUPERSESSION = ledger_pb2.ENTRY_KIND_SUPERSESSION
LONG_AGO = "2025Q1"  # its window closed long before any day this test runs


def plan(programme_id: str) -> dict:
    use = {"retention": "7 years", "legal_basis": "funding agreement",
           "explanation": "To learn what helps."}
    return {
        "programme_id": programme_id, "name": "Lifecycle test", "correction_window_days": 120,
        "units": [{"unit_id": "evaluation", "name": "Evaluation team"},
                  {"unit_id": "service-delivery", "name": "Service delivery team"}],
        "purposes": [
            {"purpose_id": "evaluation", "name": "Evaluation", "unit_id": "evaluation",
             "form": "unit_level"},
            {"purpose_id": "counts", "name": "Counts", "unit_id": "service-delivery",
             "form": "aggregate", "dimensions": ["strand"], "suppress_below": 6},
        ],
        "items": [
            {"name": "outcome_code", "type": "string", "required": True,
             "uses": [dict(use, purpose_id="evaluation")]},
            {"name": "strand", "type": "enum", "allowed_values": ["parenting", "children"],
             "uses": [dict(use, purpose_id="counts")]},
        ],
    }


def rows(code: str) -> list[dict]:
    """Three families' records, each carrying `code`: what tells the versions apart."""
    return [{"record_ref": f"r{i}", "client_ref": f"C-{i}", "outcome_code": f"{code}-{i}",
             "strand": "parenting"} for i in range(3)]


def open_(stack, programme_id, period=PERIOD, replaces=""):
    return stack.intake().OpenSubmission(pb.OpenSubmissionRequest(
        programme_id=programme_id, plan_version=1, period=period,
        replaces_submission_id=replaces),
        metadata=stack.metadata("provider", "ccss")).submission.submission_id


def send_and_seal(stack, sid, records) -> pb.Submission:
    meta = stack.metadata("provider", "ccss")
    stack.intake().SubmitRecords(batches(sid, records), metadata=meta)
    return stack.intake().SealSubmission(pb.SealSubmissionRequest(submission_id=sid),
                                         metadata=meta).submission


def refusal(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


@pytest.fixture
def programme(stack):
    programme_id = f"life-{uuid.uuid4().hex[:8]}"
    assert stack.create_plan(plan(programme_id)) == 1
    return programme_id


def test_a_replacement_supersedes_the_earlier_quarter_everywhere(stack, programme):
    ccss = stack.metadata("provider", "ccss")
    first = open_(stack, programme)
    assert send_and_seal(stack, first, rows("FIRST")).state == pb.SUBMISSION_STATE_SEALED
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=first)
                   and stack.unit_deliveries("service-delivery", submission_id=first),
                   what="the first submission at both units")

    unmarked = refusal(lambda: open_(stack, programme))
    assert unmarked.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert first in unmarked.details() and "--replace" in unmarked.details()

    second = open_(stack, programme, replaces=first)
    sealed = send_and_seal(stack, second, rows("CORRECTED"))
    assert sealed.replaces_submission_id == first

    # Every unit keeps the earlier deliveries, marked superseded by the replacement.
    for unit in ("evaluation", "service-delivery"):
        stack.wait_for(lambda unit=unit: (held := stack.unit_deliveries(
            unit, submission_id=first)) and all(
            d.get("superseded_by") == second for d in held),
            what=f"{unit} marks the first submission superseded")
        assert stack.unit_deliveries(unit, submission_id=second)
    earlier = stack.intake().GetSubmission(pb.GetSubmissionRequest(submission_id=first),
                                           metadata=ccss).submission
    assert earlier.superseded_by == second
    listed = stack.intake().ListSubmissions(pb.ListSubmissionsRequest(
        programme_id=programme, period=PERIOD), metadata=ccss).submissions
    assert [(s.submission_id, s.superseded_by) for s in listed] == [(first, second),
                                                                    (second, "")]

    # The ledger records it, and the chain still verifies.
    flows = stack.ledger().ListFlows(ledger_pb2.ListFlowsRequest(submission_id=second),
                                     metadata=ccss).entries
    superseded = sorted((e.unit_id, e.delivery_id) for e in flows if e.kind == SUPERSESSION)
    assert [unit for unit, _ in superseded] == ["evaluation", "service-delivery"]
    assert all(first in e.reason for e in flows if e.kind == SUPERSESSION)
    assert stack.ledger().VerifyLedger(ledger_pb2.VerifyLedgerRequest(), metadata=ccss).intact

    # The family's answer shows only the replacement's record.
    opened = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme, client_ref="C-1", requester="the client",
        authorisation="signed form"), metadata=ccss).request
    stack.wait_for(lambda: stack.requests().GetRequest(rpb.GetRequestRequest(
        request_id=opened.request_id), metadata=ccss).request.state
        == rpb.REQUEST_STATE_COMPLETE, what="the family's answer")
    html = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                      metadata=ccss).html
    assert "CORRECTED-1" in html
    assert "FIRST-1" not in html

    # The period now stands as the replacement: the first cannot be replaced again.
    again = refusal(lambda: open_(stack, programme, replaces=first))
    assert again.code() == grpc.StatusCode.FAILED_PRECONDITION and second in again.details()


def test_after_the_correction_window_the_sealed_submission_stands(stack, programme):
    first = open_(stack, programme, period=LONG_AGO)
    send_and_seal(stack, first, rows("OLD"))
    late = refusal(lambda: open_(stack, programme, period=LONG_AGO, replaces=first))
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "correction window" in late.details() and "2025-07-29" in late.details()


def test_a_failed_attempt_leaves_no_sealed_submission_and_can_be_abandoned(stack, programme):
    ccss = stack.metadata("provider", "ccss")
    failed = open_(stack, programme)
    bad = [dict(r, strand="not a strand") for r in rows("BAD")]
    assert send_and_seal(stack, failed, bad).state == pb.SUBMISSION_STATE_ABANDONED
    # Nothing sealed stands for the period: it opens again without replacing.
    left_open = open_(stack, programme)
    abandoned = stack.intake().AbandonSubmission(pb.AbandonSubmissionRequest(
        submission_id=left_open), metadata=ccss).submission
    assert abandoned.state == pb.SUBMISSION_STATE_ABANDONED
    assert open_(stack, programme)  # and again
