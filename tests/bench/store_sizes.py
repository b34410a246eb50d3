"""`make bench`: how many bytes the stores keep per record, per ledger entry and per
access request (the figures docs/capacity.md sizes the stores from).

    python -m tests.bench.store_sizes     # progress on stderr, figures on stdout

Runs the real services as processes (tests/stack.py) with the example programme
(programmes/best-foot-forward.yaml: the evaluation unit gets records, service delivery an
aggregate) in a throwaway vhost and databases: BENCH_SIZE_RECORDS synthetic records (20,000)
streamed in batches of BENCH_BATCH (2,000), sealed and routed, then BENCH_SIZE_REQUESTS
access requests (20) answered. Then every collection of every database of the stack is
read back and its documents' BSON size summed: that is what MongoDB keeps before its
block compression and without indexes, whatever the embedded store does on disk (it is
SQLite). Prints one line per collection (documents, bytes per document, bytes per
record submitted) and the per-record, per-ledger-entry and per-request totals; then what
one signed tree head costs per ledger entry (purpose_router verifies the provider's whole
chain and hashes its Merkle tree for each GetSignedTreeHead), timed on a chain of
BENCH_SIZE_CHAIN entries (20,000) in this process.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import bson
import yaml

from tests.bench.pipeline import ROOT, say, show
from tests.bench.requests_latency import stream_and_seal
from tests.e2e.journey import open_submission, to_record
from tests.stack import Stack, drop, start_stack
from tiaki.cli.synthetic import records as synthetic_records
from tiaki.core import ledger, tree_heads
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.unit.store import UnitStore

RECORDS = int(os.environ.get("BENCH_SIZE_RECORDS", "20000"))
REQUESTS = int(os.environ.get("BENCH_SIZE_REQUESTS", "20"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))
WAIT = float(os.environ.get("BENCH_TIMEOUT", "600"))
CHAIN = int(os.environ.get("BENCH_SIZE_CHAIN", "20000"))
PROGRAMME = "best-foot-forward"


def submit(stack: Stack, rows: list[dict]) -> str:
    version = stack.create_plan(yaml.safe_load(
        (ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text()))
    submission_id = open_submission(stack, PROGRAMME, version)
    records = [to_record(r) for r in rows]
    bodies = [pb.SubmitRecordsRequest(submission_id=submission_id,
                                      records=records[i:i + BATCH]).SerializeToString()
              for i in range(0, len(records), BATCH)]
    stream_and_seal(stack, submission_id, bodies, len(rows), "the submission")
    return submission_id


def wait_routed(stack: Stack, submission_id: str) -> None:
    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    service_delivery = UnitStore(stack.db_uri("unit_service-delivery"))
    t0 = time.monotonic()
    while time.monotonic() - t0 < WAIT:
        if (evaluation.record_count() >= RECORDS
                and service_delivery.deliveries.find_one({"submission_id": submission_id,
                                                          "kind": "aggregate"})
                and not evaluation.deliveries.count_documents({"acknowledged": False})
                and not service_delivery.deliveries.count_documents({"acknowledged": False})):
            return
        time.sleep(1)
    raise AssertionError(f"not routed within {WAIT:.0f}s")


def ask(stack: Stack, client_refs: list[str]) -> None:
    """Access requests, each followed until complete."""
    stub, meta = stack.requests(), stack.metadata("provider", "ccss")
    for ref in client_refs:
        opened = stub.OpenAccessRequest(rpb.OpenAccessRequestRequest(
            programme_id=PROGRAMME, client_ref=ref, requester="the client",
            authorisation="signed consent form"), metadata=meta, timeout=60).request
        for change in stub.WatchRequest(rpb.WatchRequestRequest(request_id=opened.request_id),
                                        metadata=meta, timeout=60):
            if change.request.state == rpb.REQUEST_STATE_COMPLETE:
                break


def sizes(stack: Stack) -> dict[str, tuple[int, int]]:
    """{database.collection: (documents, BSON bytes)} of every database of the stack."""
    out = {}
    for db in sorted(stack.mongo.list_database_names()):
        if not db.startswith(stack.name):
            continue
        for name in sorted(stack.mongo[db].list_collection_names()):
            docs = list(stack.mongo[db][name].find())
            out[f"{db.removeprefix(stack.name + '_')}.{name}"] = (
                len(docs), sum(len(bson.encode(d)) for d in docs))
    return out


def signed_head_cost() -> tuple[float, float]:
    """(microseconds per entry to verify a chain, to hash its Merkle root)."""
    previous, entries = ledger.GENESIS, []
    for n in range(CHAIN):
        entry = ledger.new_entry(
            "delivery", delivery_id=f"s.{n}:evaluation", provider_id="ccss",
            programme_id=PROGRAMME, submission_id="s", purpose_id="evaluation",
            unit_id="evaluation", fields=["goals_met", "region", "sessions_attended"],
            record_count=BATCH, content_hash="ab" * 32, period="2026Q1", plan_version=1)
        link = ledger.chain(entry, n + 1, previous, "2026-01-01T00:00:00Z")
        previous = link["entry_hash"]
        entries.append(link)
    t0 = time.perf_counter()
    assert ledger.verify_chain(entries).intact
    t1 = time.perf_counter()
    tree_heads.root_of([e["entry_hash"] for e in entries])
    t2 = time.perf_counter()
    return 1e6 * (t1 - t0) / CHAIN, 1e6 * (t2 - t1) / CHAIN


def main():
    say(f"generating {RECORDS} synthetic records")
    rows = list(synthetic_records(RECORDS, seed=2026))
    with tempfile.TemporaryDirectory(prefix="tiaki-bench-sizes-") as tmp:
        stack = start_stack(Path(tmp))
        try:
            submission_id = submit(stack, rows)
            wait_routed(stack, submission_id)
            routed = sizes(stack)
            clients = list(dict.fromkeys(r["client_ref"] for r in rows))[:REQUESTS]
            say(f"{RECORDS} records routed; {len(clients)} access requests")
            ask(stack, clients)
            answered = sizes(stack)
        finally:
            drop(stack)
    show("size_records", f"{RECORDS} (example programme, batches of {BATCH})")
    total = 0
    for key, (docs, size) in answered.items():
        if not docs:
            continue
        total += routed.get(key, (0, 0))[1]
        show(f"size {key}", f"{docs} docs, {size / docs:,.0f} B/doc, "
                            f"{routed.get(key, (0, 0))[1] / RECORDS:,.1f} B/record")
    ledger_docs, ledger_bytes = answered.get("purpose_router.ledger", (0, 0))
    routed_ledger_docs, routed_ledger = routed.get("purpose_router.ledger", (0, 0))
    show("size_bytes_per_record (all stores, after routing)", f"{total / RECORDS:,.1f}")
    if ledger_docs:
        show("size_bytes_per_ledger_entry", f"{ledger_bytes / ledger_docs:,.0f}")
        show("size_ledger_entries_per_1000_records", f"{1000 * routed_ledger_docs / RECORDS:.2f}")
        show("size_ledger_bytes_per_record", f"{routed_ledger / RECORDS:,.1f}")
    grown = sum(size for size in (s for _, s in answered.values())) - sum(
        s for _, s in routed.values())
    new_ledger = ledger_docs - routed_ledger_docs
    show("size_bytes_per_access_request (all stores)", f"{grown / max(1, REQUESTS):,.0f}")
    show("size_ledger_entries_per_access_request", f"{new_ledger / max(1, REQUESTS):.1f}")
    verify, root = signed_head_cost()
    show("signed_head_us_per_entry (verify chain + root)", f"{verify:.0f} + {root:.0f} "
                                                           f"(over {CHAIN} entries)")


if __name__ == "__main__":
    main()
