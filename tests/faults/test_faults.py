"""The fault suite (issue 6): nothing lost, nothing doubled, the ledger
complete and verifiable, every request completed, whatever fails.

On a broker and store of its own (tests/faults/infra.py), a provider streams
FAULT_RECORDS records (100,000 in `make test-faults`, fewer in `make test`)
while, in turn: intake, purpose_router and the evaluation unit are killed
with SIGKILL and started again, RabbitMQ is restarted, and the store is
stopped and started again. The provider does what a provider's system does
when a call fails: sends the whole submission again (intake counts what it
already has as duplicates). Then families' access requests are opened while
requests, purpose_router, intake and the unit are killed in turn.

Afterwards the figures are printed (pytest -s, as `make test-faults` runs it)
and checked: every record once in the unit's store, the aggregate once, one
ledger entry and one acknowledgement per delivery, the chain intact, every
request complete."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from typing import NamedTuple

import grpc
import pytest
import yaml

from tests.e2e.journey import batches, open_submission
from tests.e2e.journey import quarter as synthetic_quarter
from tests.faults.infra import RabbitNode, StoreNode, start_fault_stack
from tests.stack import ROOT
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import ledger_pb2
from tiaki.unit.store import UnitStore

RECORDS = int(os.environ.get("FAULT_RECORDS", "100000"))
REQUESTS = int(os.environ.get("FAULT_REQUESTS", "12"))
PROGRAMME = "best-foot-forward"
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
             grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
             grpc.StatusCode.CANCELLED, grpc.StatusCode.RESOURCE_EXHAUSTED}
FIGURES: list[tuple[str, object]] = []


def figure(label: str, value):
    FIGURES.append((label, value))
    print(f"faults {label:<52} {value}", flush=True)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    rabbit = RabbitNode(tmp_path_factory.mktemp("rabbit"))
    store = StoreNode(tmp_path_factory.mktemp("store"))
    rabbit.start()
    try:
        store.start()
        stack = start_fault_stack(tmp_path_factory.mktemp("faults"), rabbit, store)
        try:
            yield stack, rabbit, store
        finally:
            stack.stop()
    finally:
        store.stop()
        rabbit.stop()


def retrying(what: str, call, within: float = 240):
    """Calls until it succeeds, as a provider's system would while a service
    restarts; returns (result, failed attempts)."""
    deadline, failed = time.monotonic() + within, 0
    while True:
        try:
            return call(), failed
        except grpc.RpcError as exc:
            if exc.code() not in RETRYABLE or time.monotonic() > deadline:
                raise AssertionError(f"{what}: {exc.code().name} {exc.details()}") from exc
            failed += 1
            time.sleep(0.5)


class Faults(threading.Thread):
    """Runs faults one after another, each when `ready()` says so; records
    how long each took to recover from."""

    def __init__(self, faults, ready=lambda: True):
        super().__init__(daemon=True)
        self.faults, self.ready = faults, ready
        self.done: list[tuple[str, float]] = []
        self.error: BaseException | None = None

    def run(self):
        try:
            for name, fault in self.faults:
                while not self.ready():
                    time.sleep(0.1)
                started = time.monotonic()
                fault()
                self.done.append((name, time.monotonic() - started))
                time.sleep(1.5)  # let work flow between faults
        except BaseException as exc:  # reported by the test
            self.error = exc


RESTARTS_AGAIN: list[str] = []  # restarts that did not come up within 60 s, tried again


def kill_and_restart(stack, process):
    def fault():
        stack.kill(process, signal.SIGKILL)
        time.sleep(0.5)
        for attempt in range(3):
            try:
                stack.start(process)
                return
            except AssertionError as exc:
                # Not healthy within 60 s (seen once on a machine under heavy load):
                # counted in the figures, and started again, at most twice.
                if attempt == 2:
                    raise
                RESTARTS_AGAIN.append(f"{process}: {str(exc).splitlines()[0]}")
                stack.kill(process, signal.SIGKILL)
    return fault


def stored_at_evaluation(unit: UnitStore, sid: str) -> int:
    return sum(d["record_count"] for d in unit.deliveries.find(
        {"submission_id": sid, "kind": "records"}, {"record_count": 1}))


def ledger_entries(stack, sid):
    meta, entries, token = stack.metadata("provider", "ccss"), [], ""
    while True:
        page, _ = retrying("ListFlows", lambda: stack.ledger().ListFlows(ledger_pb2.ListFlowsRequest(
            submission_id=sid, page_size=1000, page_token=token), metadata=meta, timeout=30))
        entries.extend(page.entries)
        if not (token := page.next_page_token):
            return entries


class Accounted(NamedTuple):
    arrived: float  # time.monotonic() when the last record and the aggregate were in
    pseudonyms: list[str]  # of every record at the evaluation unit, doubles included
    aggregates: list[dict]  # aggregate deliveries at the service-delivery unit
    delivered: set[str]  # delivery ids in the units' stores
    deliveries: list[str]  # delivery ids of the ledger's delivery entries
    acks: list[str]  # delivery ids of its acknowledgements
    verified: ledger_pb2.VerifyLedgerResponse

    def report(self, figure, records: int):
        """Prints what was lost, doubled and recorded."""
        figure("records in the evaluation unit's store", len(self.pseudonyms))
        figure("records lost", records - len(set(self.pseudonyms)))
        figure("records duplicated in the unit's store",
               len(self.pseudonyms) - len(set(self.pseudonyms)))
        figure("aggregate deliveries (want 1)", len(self.aggregates))
        figure("deliveries in unit stores", len(self.delivered))
        figure("ledger delivery entries", len(self.deliveries))
        figure("ledger acknowledgements", len(self.acks))
        figure("ledger entries (provider's chain)", self.verified.entry_count)
        figure("ledger verifies", self.verified.intact)

    def check(self, records: int):
        """Every record once, the aggregate once, every delivery once in the
        ledger and acknowledged once, the chain intact."""
        assert len(self.pseudonyms) == records and len(set(self.pseudonyms)) == records
        assert len(self.aggregates) == 1 and self.aggregates[0]["record_count"] == records
        assert sorted(self.deliveries) == sorted(set(self.deliveries)) == sorted(self.delivered)
        assert sorted(self.acks) == sorted(self.delivered)
        assert self.verified.intact, self.verified.problem


def account(stack, evaluation: UnitStore, sid: str, records: int,
            within: float = 300) -> Accounted:
    """Waits for every record and the aggregate at the units and every delivery
    acknowledged in the ledger; then what each holds, anything doubled included."""
    stack.wait_for(lambda: stored_at_evaluation(evaluation, sid) >= records, timeout=within,
                   what=f"{records} records at the evaluation unit")
    stack.wait_for(lambda: stack.unit_deliveries("service-delivery", submission_id=sid),
                   timeout=within, what="the aggregate")
    arrived = time.monotonic()
    time.sleep(3)  # anything doubled would arrive now
    pseudonyms = [r["pseudonym"] for d in evaluation.deliveries.find(
        {"submission_id": sid, "kind": "records"}) for r in evaluation.content(d["_id"])]
    aggregates = stack.unit_deliveries("service-delivery", submission_id=sid)
    delivered = {d["_id"] for unit in ("evaluation", "service-delivery")
                 for d in stack.unit_deliveries(unit, submission_id=sid)}
    entries = stack.wait_for(lambda: (e := ledger_entries(stack, sid)) and len(
        {x.delivery_id for x in e if x.kind == ledger_pb2.ENTRY_KIND_ACKNOWLEDGEMENT}) >= len(
        delivered) and e, timeout=within, what="every delivery acknowledged in the ledger")
    verified, _ = retrying("VerifyLedger", lambda: stack.ledger().VerifyLedger(
        ledger_pb2.VerifyLedgerRequest(), metadata=stack.metadata("provider", "ccss"),
        timeout=60))
    return Accounted(arrived, pseudonyms, aggregates, delivered,
                     [e.delivery_id for e in entries if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY],
                     [e.delivery_id for e in entries
                      if e.kind == ledger_pb2.ENTRY_KIND_ACKNOWLEDGEMENT], verified)


def test_nothing_lost_or_doubled_whatever_fails(faulty):
    stack, rabbit, store = faulty
    meta = stack.metadata("provider", "ccss")
    version, _ = retrying("CreatePlan", lambda: stack.create_plan(yaml.safe_load(
        (ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text())))
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}")
            for r in synthetic_quarter(RECORDS, seed=66, quarter="2027Q1")]
    sid, _ = retrying("OpenSubmission", lambda: open_submission(stack, PROGRAMME, version,
                                                                period="2027Q1"))
    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    started = time.monotonic()

    # -- a 100,000-record submission, with a fault every few seconds ----------------
    first_in = lambda: stored_at_evaluation(evaluation, sid) > 0  # noqa: E731
    faults = Faults([
        ("SIGKILL intake", kill_and_restart(stack, "intake")),
        ("SIGKILL purpose_router", kill_and_restart(stack, "purpose_router")),
        ("RabbitMQ restarted", rabbit.restart_app),
        ("SIGKILL unit-evaluation", kill_and_restart(stack, "unit-evaluation")),
        ("store stopped and restarted", store.restart),
        ("SIGKILL requests", kill_and_restart(stack, "requests")),
    ], ready=first_in)
    faults.start()
    streams = []

    def stream_everything():
        streams.append(None)
        return stack.intake().SubmitRecords(batches(sid, rows, size=1000), metadata=meta,
                                            timeout=600)

    summary, resent = retrying("SubmitRecords", stream_everything, within=600)
    streamed = time.monotonic()
    faults.join(timeout=600)
    assert faults.error is None, faults.error
    # The stream that got through counts every record: new, or already stored.
    assert summary.accepted_count + summary.duplicate_count == RECORDS
    assert summary.rejected_count == 0
    _, seal_retries = retrying("SealSubmission", lambda: seal(stack, sid, meta))
    got, _ = retrying("GetSubmission", lambda: stack.intake().GetSubmission(
        pb.GetSubmissionRequest(submission_id=sid), metadata=meta, timeout=30))
    assert got.submission.accepted_count == RECORDS

    books = account(stack, evaluation, sid, RECORDS)

    figure("records sent", RECORDS)
    for name, took in faults.done:
        figure(f"fault: {name} (s to restart)", f"{took:.1f}")
    figure("whole-submission resends by the provider", resent)
    figure("seal retries", seal_retries)
    figure("streamed, s (all faults included)", f"{streamed - started:.1f}")
    figure("all records at the unit, s", f"{books.arrived - started:.1f}")
    figure("records accepted by intake", got.submission.accepted_count)
    books.report(figure, RECORDS)
    books.check(RECORDS)

    # -- families' requests, opened while every service is killed in turn ----------------
    clients = [r["client_ref"] for r in rows[:: max(1, RECORDS // REQUESTS)]][:REQUESTS]
    opened_ids, opening = [], {"n": 0}
    faults = Faults([
        ("SIGKILL requests (requests open)", kill_and_restart(stack, "requests")),
        ("SIGKILL purpose_router (requests open)", kill_and_restart(stack, "purpose_router")),
        ("SIGKILL unit-evaluation (requests open)", kill_and_restart(stack, "unit-evaluation")),
        ("SIGKILL intake (requests open)", kill_and_restart(stack, "intake")),
    ], ready=lambda: opening["n"] >= 1)
    faults.start()
    retries = 0
    for client in clients:
        reply, failed = retrying("OpenAccessRequest", lambda c=client: stack.requests().OpenAccessRequest(
            rpb.OpenAccessRequestRequest(programme_id=PROGRAMME, client_ref=c,
                                         requester="the client",
                                         authorisation="signed consent form",
                                         received="2026-03-02"), metadata=meta, timeout=30))
        opened_ids.append(reply.request.request_id)
        retries += failed
        opening["n"] += 1
        time.sleep(0.3)
    faults.join(timeout=600)
    assert faults.error is None, faults.error

    def every_request():
        listed, _ = retrying("ListRequests", lambda: stack.requests().ListRequests(
            rpb.ListRequestsRequest(), metadata=meta, timeout=30))
        return listed.requests

    try:
        stack.wait_for(lambda: all(r.state == rpb.REQUEST_STATE_COMPLETE
                                   for r in every_request()),
                       timeout=180, what="every request complete")
    except AssertionError:
        for r in every_request():
            if r.state != rpb.REQUEST_STATE_COMPLETE:
                print("not complete:", r.request_id, [(u.unit_id, u.outcome) for u in r.units],
                      [h.what for h in r.history])
        raise
    requests = every_request()
    for name, took in faults.done:
        figure(f"fault: {name} (s to restart)", f"{took:.1f}")
    figure("access requests opened", len(opened_ids))
    figure("open calls retried", retries)
    figure("requests stored (a retried open may add one)", len(requests))
    figure("requests complete", sum(r.state == rpb.REQUEST_STATE_COMPLETE for r in requests))
    answers_per_unit = [sum(h.who == "evaluation" for h in r.history) for r in requests]
    figure("unit answers recorded per request (want 1)", sorted(set(answers_per_unit)))
    assert {r.request_id for r in requests} >= set(opened_ids)
    assert all(r.state == rpb.REQUEST_STATE_COMPLETE for r in requests)
    assert all([(u.unit_id, u.outcome) for u in r.units] == [("evaluation", "answered")]
               for r in requests)
    assert set(answers_per_unit) == {1}
    for request_id in opened_ids:
        answer, _ = retrying("GetAnswer", lambda r=request_id: stack.requests().GetAnswer(
            rpb.GetAnswerRequest(request_id=r), metadata=meta, timeout=30))
        assert "<html" in answer.html.lower()
    figure("restarts that had to be tried again", RESTARTS_AGAIN or 0)
    final, _ = retrying("VerifyLedger", lambda: stack.ledger().VerifyLedger(
        ledger_pb2.VerifyLedgerRequest(), metadata=meta, timeout=60))
    figure("ledger verifies after the requests", final.intact)
    assert final.intact


def seal(stack, sid, meta):
    try:
        return stack.intake().SealSubmission(pb.SealSubmissionRequest(submission_id=sid),
                                             metadata=meta, timeout=30)
    except grpc.RpcError as exc:
        # A retry after a seal whose answer was lost with its instance.
        if exc.code() == grpc.StatusCode.FAILED_PRECONDITION and "already sealed" in (
                exc.details() or ""):
            return None
        raise
