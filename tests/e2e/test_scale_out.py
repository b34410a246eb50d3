"""Two instances of every service against one broker and store (issue 6): the
reporting journey and the request journey give the same results as with one.

A provider streams one submission to both intake instances at once, with
records overlapping; the seal goes to the other instance. Every record
arrives at the evaluation unit exactly once, the aggregate once, every
delivery has one ledger entry and one acknowledgement, and the chain
verifies. Families' requests opened on both requests instances are each
answered, once per holding unit, whichever instance the unit answers."""

from __future__ import annotations

import threading
import uuid

import grpc
import pytest
import yaml

from tests.e2e.journey import batches, fresh_period, open_submission
from tests.e2e.journey import quarter as synthetic_quarter
from tests.stack import ROOT, drop, start_stack
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1 import intake_pb2_grpc
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.requests.v1 import requests_pb2_grpc
from tiaki.router.v1 import ledger_pb2, ledger_pb2_grpc
from tiaki.unit.store import UnitStore

PROGRAMME = "best-foot-forward"
RECORDS = 6000  # two streams of 4,000 records, 2,000 of them in both
FAMILIES = 6


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("scaled"), instances=2)
    try:
        yield s
    finally:
        drop(s)


@pytest.fixture(scope="module")
def version(scaled):
    return scaled.create_plan(yaml.safe_load((ROOT / "programmes" / f"{PROGRAMME}.yaml")
                                             .read_text()))


def instance_stub(stack, process, stub):
    return stub(stack.channel(process))


def ledger_entries(stack, submission_id):
    ccss = stack.metadata("provider", "ccss")
    entries, token = [], ""
    while True:
        page = stack.ledger().ListFlows(ledger_pb2.ListFlowsRequest(
            submission_id=submission_id, page_size=1000, page_token=token), metadata=ccss)
        entries.extend(page.entries)
        if not (token := page.next_page_token):
            return entries


def test_one_submission_streamed_to_both_intake_instances_arrives_once(scaled, version):
    stack = scaled
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}")
            for r in synthetic_quarter(RECORDS, seed=61, quarter="2027Q3")]
    meta = stack.metadata("provider", "ccss")
    sid = open_submission(stack, PROGRAMME, version, period=fresh_period())
    halves = {"intake": rows[:4000], "intake-2": rows[2000:][::-1]}  # 2,000 in both
    replies, failures = {}, []

    def send(process, part):
        try:
            stub = instance_stub(stack, process, intake_pb2_grpc.IntakeServiceStub)
            replies[process] = stub.SubmitRecords(batches(sid, part, size=250), metadata=meta,
                                                  timeout=120)
        except grpc.RpcError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=send, args=item) for item in halves.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert sum(r.accepted_count for r in replies.values()) == RECORDS
    assert sum(r.duplicate_count for r in replies.values()) == 2000
    assert all(r.accepted_count > 0 for r in replies.values())  # both instances took records
    sealed = instance_stub(stack, "intake-2", intake_pb2_grpc.IntakeServiceStub).SealSubmission(
        pb.SealSubmissionRequest(submission_id=sid), metadata=meta)
    assert sealed.submission.accepted_count == RECORDS

    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    stack.wait_for(lambda: sum(d["record_count"] for d in evaluation.deliveries.find(
        {"submission_id": sid, "kind": "records"})) >= RECORDS, timeout=120,
        what=f"{RECORDS} records at the evaluation unit")
    aggregates = stack.wait_for(lambda: stack.unit_deliveries(
        "service-delivery", submission_id=sid), timeout=60, what="the aggregate")
    pseudonyms = [r["pseudonym"] for d in evaluation.deliveries.find(
        {"submission_id": sid, "kind": "records"}) for r in evaluation.content(d["_id"])]
    assert len(pseudonyms) == RECORDS
    assert len(aggregates) == 1 and aggregates[0]["record_count"] == RECORDS

    delivered = {d["_id"] for unit in ("evaluation", "service-delivery")
                 for d in stack.unit_deliveries(unit, submission_id=sid)}
    # Units acknowledge through either purpose_router instance.
    entries = stack.wait_for(lambda: (e := ledger_entries(stack, sid)) and len(
        [x for x in e if x.kind == ledger_pb2.ENTRY_KIND_ACKNOWLEDGEMENT]) == len(delivered)
        and e, timeout=60, what="every delivery acknowledged in the ledger")
    deliveries = [e.delivery_id for e in entries if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY]
    acks = [e.delivery_id for e in entries if e.kind == ledger_pb2.ENTRY_KIND_ACKNOWLEDGEMENT]
    assert sorted(deliveries) == sorted(set(deliveries)) == sorted(delivered)
    assert sorted(acks) == sorted(delivered)
    for process in stack.service_processes("purpose_router"):
        ledger = instance_stub(stack, process, ledger_pb2_grpc.LedgerServiceStub)
        assert ledger.VerifyLedger(ledger_pb2.VerifyLedgerRequest(), metadata=meta).intact


def test_requests_opened_on_both_instances_are_each_answered_once(scaled, version):
    stack = scaled
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}")
            for r in synthetic_quarter(60, seed=62, clients=20, quarter="2027Q4")]
    meta = stack.metadata("provider", "ccss")
    sid = open_submission(stack, PROGRAMME, version, period=fresh_period())
    stack.intake().SubmitRecords(batches(sid, rows), metadata=meta)
    stack.intake().SealSubmission(pb.SealSubmissionRequest(submission_id=sid), metadata=meta)
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sid),
                   what="the records at the evaluation unit")

    clients = sorted({r["client_ref"] for r in rows})[:FAMILIES]
    processes = stack.service_processes("requests")
    opened = []
    for n, client in enumerate(clients):  # each instance in turn
        stub = instance_stub(stack, processes[n % 2], requests_pb2_grpc.RequestsServiceStub)
        opened.append(stub.OpenAccessRequest(rpb.OpenAccessRequestRequest(
            programme_id=PROGRAMME, client_ref=client, requester="the client",
            authorisation="signed consent form", received="2026-03-02"),
            metadata=meta).request.request_id)

    def all_complete():
        got = [stack.requests().GetRequest(rpb.GetRequestRequest(request_id=r), metadata=meta)
               .request for r in opened]
        return all(g.state == rpb.REQUEST_STATE_COMPLETE for g in got) and got

    done = stack.wait_for(all_complete, timeout=90, what="every request answered")
    for request in done:
        assert [(u.unit_id, u.outcome) for u in request.units] == [("evaluation", "answered")]
        # One answer per unit in the history, whichever instance took it.
        assert sum(h.who == "evaluation" for h in request.history) == 1
    for n, request_id in enumerate(opened):  # the answer, from the other instance
        stub = instance_stub(stack, processes[(n + 1) % 2], requests_pb2_grpc.RequestsServiceStub)
        html = stub.GetAnswer(rpb.GetAnswerRequest(request_id=request_id), metadata=meta).html
        assert "<html" in html.lower()
    answers = stack.mongo[f"{stack.name}_requests"]["unit_answers"]
    assert answers.count_documents({"request_id": {"$in": opened}}) == len(opened)
