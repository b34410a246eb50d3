"""How a unit answers, asked of the running unit (issue 14): its review service
(review.proto GetReviewMode) says automatically or after review, since when
(kept in the unit's own store across restarts) and whose staff review; only
for its staff client's token. The unit is a UnitClient on the real store."""

from __future__ import annotations

import time
import uuid

import grpc
import pymongo
import pytest

from tests.stack import STORE_URI, free_port
from tiaki.unit.client import UnitClient
from tiaki.unit.review_server import serve
from tiaki.unit.v1 import review_pb2 as pb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceStub

STAFF = (("authorization", "Bearer tk_unitstaff_mode"),)


@pytest.fixture
def start():
    """start(answer) runs the unit (again) on one database of its own, as its process
    does at start, and gives a stub of its review service."""
    db = f"test_unit_mode_{uuid.uuid4().hex[:8]}"
    address = f"127.0.0.1:{free_port()}"
    servers, channels = [], []

    def run(answer: str) -> UnitReviewServiceStub:
        for s in servers:
            s.stop(grace=0)
        unit = UnitClient("evaluation", "memory://", f"{STORE_URI}/{db}", "127.0.0.1:1", "t",
                          answer=answer)
        unit.answering_since()
        servers[:] = [serve(unit, address, "tk_unitstaff_mode")]
        channels.append(grpc.insecure_channel(address))
        return UnitReviewServiceStub(channels[-1])

    yield run
    for s in servers:
        s.stop(grace=0)
    for c in channels:
        c.close()
    pymongo.MongoClient(STORE_URI).drop_database(db)


def mode(stub) -> pb.GetReviewModeResponse:
    return stub.GetReviewMode(pb.GetReviewModeRequest(), metadata=STAFF, timeout=10)


def test_the_unit_says_how_it_answers_since_when_and_whose_staff_review(start):
    before = time.time()
    first = mode(start("review"))
    assert first.unit_id == "evaluation" and first.mode == pb.ANSWER_MODE_AFTER_REVIEW
    assert first.reviewers_org == "unit:evaluation"
    assert before - 1 <= first.since.ToSeconds() <= time.time() + 1

    # A restart in the same mode: still answering so since the first start.
    again = mode(start("review"))
    assert again.since == first.since and again.mode == pb.ANSWER_MODE_AFTER_REVIEW

    # Started answering automatically: so it says, from then, with no reviewers.
    time.sleep(1.1)
    auto = mode(start("auto"))
    assert auto.mode == pb.ANSWER_MODE_AUTOMATIC and auto.reviewers_org == ""
    assert auto.since.ToNanoseconds() > first.since.ToNanoseconds()
    waiting = start("auto").ListWaitingQueries(pb.ListWaitingQueriesRequest(), metadata=STAFF)
    assert list(waiting.queries) == []


def test_only_the_units_staff_client_is_told(start):
    stub = start("review")
    for metadata in ((), (("authorization", "Bearer tk_someone_else"),)):
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetReviewMode(pb.GetReviewModeRequest(), metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
