"""A unit's review service as its staff client sees it (issue 14): the unit's
process (a UnitClient on the real store) serving review.proto over grpcio on
loopback, the `tiaki unit review` commands, and a stand-in requests service
that records what the unit sends. The whole journey through the real
services is tests/e2e/test_unit_review_journey.py."""

from __future__ import annotations

import json
import uuid
from concurrent import futures

import grpc
import pymongo
import pytest
from click.testing import CliRunner

from tests.stack import STORE_URI, free_port
from tiaki.cli import app as tcli
from tiaki.core.records import PSEUDONYM
from tiaki.core.withholding import GROUNDS
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.requests.v1 import requests_pb2_grpc
from tiaki.unit.client import UnitClient
from tiaki.unit.review_server import serve
from tiaki.unit.v1 import review_pb2 as pb
from tiaki.unit.v1.review_pb2_grpc import UnitReviewServiceStub

STAFF_TOKEN = "tk_unitstaff_test"


class Requests(requests_pb2_grpc.UnitRequestsServiceServicer):
    """Stands in for the requests service: keeps every answer with its metadata."""

    def __init__(self):
        self.answers: list[tuple[rpb.AnswerQueryRequest, dict]] = []
        self.up = True

    def AnswerQuery(self, request, context):
        if not self.up:
            context.abort(grpc.StatusCode.UNAVAILABLE, "down for the test")
        self.answers.append((request, dict(context.invocation_metadata())))
        return rpb.AnswerQueryResponse()

    def GetQueriedRequest(self, request, context):
        return rpb.GetQueriedRequestResponse(request=rpb.QueriedRequest(
            request_id=request.request_id, received="2026-03-02", due="2026-04-13",
            working_days_left=7, original_due="2026-03-30", extension_reasons="many records",
            unit=rpb.UnitStatus(unit_id="evaluation", due="2026-03-09", escalated=True)))


@pytest.fixture
def world():
    """A review-mode unit on a database of its own, its review service, and a stand-in
    requests service; the unit's second life (after a restart) comes from `again`."""
    requests = Requests()
    requests_server = grpc.server(futures.ThreadPoolExecutor(2))
    requests_pb2_grpc.add_UnitRequestsServiceServicer_to_server(requests, requests_server)
    requests_port = requests_server.add_insecure_port("127.0.0.1:0")
    requests_server.start()
    db = f"test_unit_review_{uuid.uuid4().hex[:8]}"
    review_address = f"127.0.0.1:{free_port()}"
    servers = []

    def again() -> UnitClient:
        unit = UnitClient("evaluation", "memory://", f"{STORE_URI}/{db}", "127.0.0.1:1", "t",
                          requests_address=f"127.0.0.1:{requests_port}", answer="review")
        for s in servers:
            s.stop(grace=0)
        servers[:] = [serve(unit, review_address, STAFF_TOKEN)]
        return unit

    yield again, requests, review_address
    for s in servers:
        s.stop(grace=0)
    requests_server.stop(grace=0)
    pymongo.MongoClient(STORE_URI).drop_database(db)


class Message:
    acknowledged = False
    headers: dict = {}
    delivery_info: dict = {}

    def ack(self):
        self.acknowledged = True


def a_query(unit: UnitClient, request_id: str = "r-1") -> Message:
    """Two quarters about person p1 stored, then a family's access query about them."""
    for n, period in enumerate(("2026Q3", "2026Q4")):
        unit.store.save({
            "delivery_id": f"d{n}", "kind": "records", "provider_id": "ccss",
            "programme_id": "best-foot-forward", "submission_id": f"s{n}", "period": period,
            "purpose_id": "evaluation", "fields": ["region", "goals_met"], "record_count": 2,
            "content_hash": "x", "records": [
                {PSEUDONYM: "p1", "region": "Otago", "goals_met": f"goal {n}"},
                {PSEUDONYM: "p9", "region": "Northland", "goals_met": "someone else's"}]})
    message = Message()
    unit.on_query({"kind": "query", "request_id": request_id, "request_kind": "access",
                   "unit_id": "evaluation", "provider_id": "ccss",
                   "programme_id": "best-foot-forward", "correction": None,
                   "purposes": [{"purpose_id": "evaluation", "pseudonyms": ["p1"],
                                 "delivery_ids": ["d0", "d1"]}]}, message)
    return message


def tiaki(address: str, *args: str, token: str = STAFF_TOKEN, person: str = "aroha.ngata"):
    return CliRunner().invoke(tcli.cli, ["--token", token, "unit", "review", "--address",
                                         address, "--person", person, *args])


def test_a_query_waits_for_a_person_and_goes_with_what_they_withheld(world):
    again, requests, address = world
    unit = again()
    assert a_query(unit).acknowledged  # kept in the unit's store, so off the queue
    assert requests.answers == []      # nothing goes before a person approves

    listed = tiaki(address, "list")
    assert listed.exit_code == 0, listed.output
    assert "r-1" in listed.output and "waiting" in listed.output
    assert "due 2026-04-13, 7 working days left (extended from 2026-03-30: many records)" \
        in listed.output
    shown = tiaki(address, "show", "r-1")
    assert shown.exit_code == 0, shown.output
    assert "record 2: evaluation, 2026Q4" in shown.output and "goals_met: goal 1" in shown.output
    assert "ESCALATED" in shown.output
    assert "someone else's" not in shown.output and "p1" not in shown.output

    approved = tiaki(address, "approve", "r-1", "--withhold", "2:goals_met:s53(b)")
    assert approved.exit_code == 0, approved.output
    assert "Approved by aroha.ngata, 1 item(s) withheld: sent" in approved.output
    [(sent, metadata)] = requests.answers
    assert metadata["tiaki-person"] == sent.reviewed_by == "aroha.ngata"
    assert [(r.period, json.loads(r.fields_json), [(w.item, w.ground) for w in r.withheld])
            for r in sent.records] == [
        ("2026Q3", {"region": "Otago", "goals_met": "goal 0"}, []),
        ("2026Q4", {"region": "Otago"}, [("goals_met", "s53(b)")])]
    assert "No query is waiting" in tiaki(address, "list").output
    # Approved once: a second approval is refused, and nothing more is sent.
    again_ = tiaki(address, "approve", "r-1")
    assert again_.exit_code == 1 and "FAILED_PRECONDITION" in again_.output
    assert len(requests.answers) == 1


def test_a_restart_loses_neither_a_waiting_query_nor_an_approved_answer(world):
    again, requests, address = world
    a_query(again())
    unit = again()  # the unit's process restarted while the query waited
    a_query(unit)   # the requests service asks again: the first arrival stands
    stub = UnitReviewServiceStub(grpc.insecure_channel(address))
    staff = (("authorization", f"Bearer {STAFF_TOKEN}"), ("tiaki-person", "mere.tipene"))
    [waiting] = stub.ListWaitingQueries(pb.ListWaitingQueriesRequest(), metadata=staff).queries
    grounds = stub.ListWithholdingGrounds(pb.ListWithholdingGroundsRequest(),
                                          metadata=staff).grounds
    assert [(g.code, g.citation, g.words, g.law) for g in grounds] == [
        (g.code, g.citation, g.words, g.law) for g in GROUNDS.values()]
    assert grounds[0].code == "s49(1)(a)(i)"
    assert (waiting.request_id, waiting.state, waiting.record_count) == (
        "r-1", pb.REVIEW_STATE_WAITING, 2)

    requests.up = False  # approved while the requests service is down: kept, sent later
    got = stub.ApproveAnswer(pb.ApproveAnswerRequest(request_id="r-1"), metadata=staff).query
    assert got.state == pb.REVIEW_STATE_APPROVED and got.approved_by == "mere.tipene"
    requests.up = True
    unit = again()  # and restarted before it was sent
    assert unit.send_approved() == 1
    [(sent, metadata)] = requests.answers
    assert sent.reviewed_by == "mere.tipene" and len(sent.records) == 2
    assert stub.GetWaitingQuery(pb.GetWaitingQueryRequest(request_id="r-1"),
                                metadata=staff).query.state == pb.REVIEW_STATE_SENT


def test_only_the_units_staff_client_reviews_and_a_person_approves(world):
    again, _, address = world
    a_query(again())
    wrong = tiaki(address, "list", token="tk_someone_else")
    assert wrong.exit_code == 1 and "UNAUTHENTICATED" in wrong.output
    nobody = tiaki(address, "approve", "r-1", person="")
    assert nobody.exit_code == 1 and "INVALID_ARGUMENT" in nobody.output
    malformed = tiaki(address, "list", person="Aroha Ngata")
    assert malformed.exit_code == 1 and "INVALID_ARGUMENT" in malformed.output
    no_ground = tiaki(address, "approve", "r-1", "--withhold", "1:goals_met:not-wanted")
    assert no_ground.exit_code == 1 and "not a ground" in no_ground.output
    assert "waiting" in tiaki(address, "list").output  # nothing refused changed anything
