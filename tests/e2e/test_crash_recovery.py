"""Nothing lost, nothing doubled: purpose_router killed with SIGKILL, and
RabbitMQ restarted, in the middle of a 50,000-record submission."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from tests.e2e.journey import quarter, submit
from tests.stack import ROOT
from tiaki.router.v1 import ledger_pb2
from tiaki.unit.store import UnitStore

RECORDS = 50_000


@pytest.fixture(scope="module")
def version(stack, example_plan):
    return stack.create_plan(example_plan)


def stored(stack, submission_id) -> int:
    return sum(d["record_count"] for d in stack.unit_deliveries(
        "evaluation", submission_id=submission_id, kind="records"))


def submit_in_background(stack, version, rows):
    outcome = {}

    def run():
        try:
            outcome["result"] = submit(stack, "best-foot-forward", version, rows, size=1000)
        except Exception as exc:  # reported by the test, not lost in the thread
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def assert_exactly_once(stack, submission_id, rows):
    """Every record at the evaluation unit once; the aggregate once; the ledger complete."""
    stack.wait_for(lambda: stored(stack, submission_id) >= RECORDS, timeout=300,
                   what=f"{RECORDS} records at the evaluation unit")
    time.sleep(2)  # anything doubled would arrive now
    store = UnitStore(stack.db_uri("unit_evaluation"))
    pseudonyms = []
    for d in store.deliveries.find({"submission_id": submission_id, "kind": "records"}):
        pseudonyms.extend(r["pseudonym"] for r in store.content(d["_id"]))
    assert len(pseudonyms) == RECORDS and len(set(pseudonyms)) == RECORDS

    aggregates = stack.wait_for(lambda: stack.unit_deliveries(
        "service-delivery", submission_id=submission_id), timeout=120, what="the aggregate")
    assert len(aggregates) == 1 and aggregates[0]["record_count"] == RECORDS

    ccss = stack.metadata("provider", "ccss")
    entries = []
    token = ""
    while True:
        page = stack.ledger().ListFlows(ledger_pb2.ListFlowsRequest(
            submission_id=submission_id, page_size=1000, page_token=token), metadata=ccss)
        entries.extend(page.entries)
        if not (token := page.next_page_token):
            break
    deliveries = [e for e in entries if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY]
    assert sum(e.record_count for e in deliveries if e.unit_id == "evaluation") == RECORDS
    assert len({e.delivery_id for e in deliveries}) == len(deliveries)
    assert stack.ledger().VerifyLedger(ledger_pb2.VerifyLedgerRequest(), metadata=ccss).intact


def test_purpose_router_killed_mid_submission_loses_and_doubles_nothing(stack, version):
    rows = quarter(RECORDS, seed=50, quarter="2027Q1")
    thread, outcome = submit_in_background(stack, version, rows)
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", kind="records"), timeout=60,
                   what="the first deliveries")
    stack.kill("purpose_router")          # SIGKILL: no chance to finish or ack anything
    time.sleep(1)
    stack.start("purpose_router")
    thread.join(timeout=300)
    assert "error" not in outcome, outcome.get("error")
    submission_id, summary = outcome["result"]
    assert summary.accepted_count == RECORDS
    assert_exactly_once(stack, submission_id, rows)


def rabbitmqctl(*args):
    return subprocess.run([str(ROOT / "scripts" / "infra.sh"), "rabbitmqctl", *args],
                          capture_output=True, text=True, timeout=120)


def test_rabbitmq_restarted_mid_submission_loses_and_doubles_nothing(stack, version):
    if rabbitmqctl("status").returncode != 0:
        pytest.skip("RabbitMQ was not started by this checkout, so it cannot restart it")
    rows = quarter(RECORDS, seed=51, quarter="2027Q2")
    thread, outcome = submit_in_background(stack, version, rows)
    time.sleep(1.5)
    assert rabbitmqctl("stop_app").returncode == 0
    time.sleep(3)
    assert rabbitmqctl("start_app").returncode == 0
    thread.join(timeout=300)
    assert "error" not in outcome, outcome.get("error")
    submission_id, summary = outcome["result"]
    assert summary.accepted_count == RECORDS
    assert_exactly_once(stack, submission_id, rows)
