"""Issue 14, the Agency unit staff's review, through the real services: a
family's access request reaches two holding units; the one set to answer
after review waits (and the request shows it pending there) while the one
set to answer at once does; the waiting unit restarts and loses nothing; a
person approves, withholding one item under s 49(1)(a)(ii); the family's answer
names that ground."""

from __future__ import annotations

import uuid

import grpc
import pytest
import yaml

from tests.e2e import test_corrections_and_deadlines as corrections
from tests.e2e.test_corrections_and_deadlines import access, finished
from tests.stack import drop, free_port, start_stack
from tiaki.core.withholding import GROUNDS
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.unit.v1 import review_pb2 as pb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceStub

STAFF_TOKEN = f"tk_unitstaff_{uuid.uuid4().hex}"
# A programme both units hold two records of client C-1 under, on this module's stack.
programme = corrections.programme


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of its own whose evaluation unit answers after review."""
    tmp = tmp_path_factory.mktemp("review-stack")
    token = tmp / "unit-staff-evaluation"
    token.write_text(STAFF_TOKEN + "\n")
    config = tmp / "units.yaml"
    address = f"127.0.0.1:{free_port()}"
    config.write_text(yaml.safe_dump({
        "evaluation": {"answer": "review", "review_address": address,
                       "staff_token_file": str(token)},
        "service-delivery": {"answer": "auto"}}))
    s = start_stack(tmp, unit_config=config)
    s.review_address = address
    try:
        yield s
    finally:
        drop(s)


def staff(person: str = "aroha.ngata"):
    return (("authorization", f"Bearer {STAFF_TOKEN}"), ("tiaki-person", person))


def waiting(stack, stub, request_id: str) -> pb.WaitingQuery:
    def listed():
        try:
            found = stub.ListWaitingQueries(pb.ListWaitingQueriesRequest(), metadata=staff())
        except grpc.RpcError:  # the unit's process is still starting
            return None
        return next((q for q in found.queries if q.request_id == request_id), None)
    return stack.wait_for(listed, what=f"request {request_id} waiting at the evaluation unit")


def test_a_reviewed_answer_withholds_an_item_and_the_family_is_told_the_ground(
        stack, programme):
    opened = access(stack, programme, client="C-1")
    ccss = stack.metadata("provider", "ccss")

    def request():
        return stack.requests().GetRequest(rpb.GetRequestRequest(
            request_id=opened.request_id), metadata=ccss).request

    # The unit answering at once answers; the reviewing one keeps the request open.
    stub = UnitReviewServiceStub(grpc.insecure_channel(stack.review_address))
    query = waiting(stack, stub, opened.request_id)
    stack.wait_for(lambda: {u.unit_id: u.unit_outcome for u in request().units} == {
        "evaluation": rpb.UNIT_OUTCOME_OUTSTANDING,
        "service-delivery": rpb.UNIT_OUTCOME_ANSWERED}, what="service delivery's answer")
    assert request().state == rpb.REQUEST_STATE_OPEN
    assert query.state == pb.REVIEW_STATE_WAITING and query.record_count == 2
    assert query.deadline.known and query.deadline.due == opened.due
    assert query.deadline.received == opened.received
    assert 15 <= query.deadline.working_days_left <= 20  # opened today: 20 working days
    assert query.deadline.unit_due == next(u.due for u in opened.units
                                           if u.unit_id == "evaluation")

    # The reviewing unit restarts while the query waits: nothing is lost.
    stack.kill("unit-evaluation")
    stack.start("unit-evaluation")
    assert waiting(stack, stub, opened.request_id).received_at == query.received_at
    shown = stub.GetWaitingQuery(pb.GetWaitingQueryRequest(request_id=opened.request_id),
                                 metadata=staff()).query
    assert [r.number for r in shown.records] == [1, 2]
    assert all("goals_met" in r.fields_json and "pseudonym" not in r.fields_json
               for r in shown.records)

    approved = stub.ApproveAnswer(pb.ApproveAnswerRequest(
        request_id=opened.request_id,
        withhold=[pb.Withholding(record=1, item="goals_met", ground="s49(1)(a)(ii)")]),
        metadata=staff()).query
    assert approved.approved_by == "aroha.ngata"
    assert [(w.record, w.item, w.ground) for w in approved.withheld] == [
        (1, "goals_met", "s49(1)(a)(ii)")]

    done = finished(stack, opened.request_id)
    assert any(step.who == "evaluation" and step.what ==
               "answered (2 records, 1 item withheld), approved by aroha.ngata"
               for step in done.history), done.history
    html = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                      metadata=ccss).html
    ground = GROUNDS["s49(1)(a)(ii)"]
    assert html.count("Not given to you.") == 1
    # The precise ground, as the Act words it, and what it means.
    assert f"{ground.citation} (Protection, etc, of individual: disclosure would create a " \
           "significant likelihood of serious harassment of an individual)" in html
    assert ground.words in html
    assert "the Commissioner can check the reason" in html
