"""The per-record CPU of each process's own work, without the store, the
broker or the network: what `make bench` cannot separate from a busy
machine's noise. Runs the real code of intake (checking, pseudonyms, sorting
and encoding a batch), purpose_router (decoding, projecting, aggregating and
encoding each delivery) and the unit SDK (decoding, checking the content hash,
packing into buckets), with stand-ins for the store and the broker.

    python -m tests.bench.per_record      # CPU microseconds per record, per process

BENCH_RECORDS (20,000) records in batches of BENCH_BATCH (2,000); the best of
BENCH_ROUNDS (3) rounds, so other work on the machine counts as little as it can.
"""

from __future__ import annotations

import os
import time
import types
from pathlib import Path

import yaml
from kombu.compression import decompress
from kombu.serialization import loads as kombu_loads

from services.intake.domain import Submission
from services.intake.service import IntakeService, OpenSubmissions
from services.intake.storage import IntakeStorage
from services.purpose_router.routing.entrypoints import RoutingEntrypoints
from tests.e2e.journey import to_record
from tiaki.cli.synthetic import records as synthetic_records
from tiaki.core.plan import Plan, RecordRules
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.plumbing.broker import ZLIB, encode_delivery  # (registers the JSON codec)
from tiaki.unit.client import UnitClient
from tiaki.unit.store import UnitStore

RECORDS = int(os.environ.get("BENCH_RECORDS", "20000"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
ROOT = Path(__file__).resolve().parents[2]


class Nothing:
    """Any method, doing nothing and returning None (a store or broker stand-in)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class Inserts(Nothing):
    def insert(self, *args, **kwargs):
        return True


def best(run) -> float:
    """The least process CPU seconds of ROUNDS runs."""
    times = []
    for _ in range(ROUNDS):
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
    return min(times)


def intake_part(plan: Plan, sub: Submission, batches: list[bytes]) -> tuple[float, list[bytes]]:
    published: list[bytes] = []
    storage = IntakeStorage.__new__(IntakeStorage)
    storage.outbox, storage.batches = Inserts(), Inserts()
    storage.pseudonym_key = lambda programme_id, purpose_id: purpose_id.encode() * 4
    storage.submission = lambda submission_id: sub
    storage.refs_after = lambda submission_id, after: (after or 0, set(), False)
    service = types.SimpleNamespace(storage=storage, _rules={})
    service._plan_rules = lambda *args: RecordRules(plan)
    service._publish_batch = lambda batch_id, programme_id, text: published.append(text)

    def run():
        published.clear()
        views = OpenSubmissions()
        views.setup()
        service.open_submissions = views
        for body in batches:
            request = pb.SubmitRecordsRequest.FromString(body)  # as the stream hands it over
            IntakeService._accept_batch(service, sub, request.records)

    return best(run), list(published)


def router_part(plan: Plan, published: list[bytes]) -> tuple[float, list[tuple[bytes, dict]]]:
    delivered: list[tuple[bytes, dict]] = []

    class Queues:
        def deliver(self, unit_id, body):
            if unit_id == "evaluation":  # as the publisher encodes it
                delivered.append(encode_delivery(body))

    router = types.SimpleNamespace(
        plans=types.SimpleNamespace(plan=lambda *args: plan, is_agreed=lambda *args: False),
        codesign_store=Nothing(), storage=Nothing(), unit_queues=Queues(),
        ledger=Nothing())
    for name in ("_as_agreed", "_notice_said", "_complete_aggregates", "_deliver"):
        setattr(router, name, types.MethodType(getattr(RoutingEntrypoints, name), router))
    router.ledger.append = lambda key, entry: entry

    def run():
        delivered.clear()
        for body in published:  # decompressed as kombu's consumer does (its header says zlib)
            batch = kombu_loads(decompress(body, ZLIB), "application/json", "utf-8",
                                accept=["application/json"])
            RoutingEntrypoints.route_batch(router, batch)

    return best(run), list(delivered)


def unit_part(delivered: list[tuple[bytes, dict]]) -> float:
    store = UnitStore.__new__(UnitStore)
    store.buckets, store.deliveries = Nothing(), Nothing()
    unit = types.SimpleNamespace(unit_id="evaluation", store=store)
    unit.store.save = types.MethodType(lambda self, body: UnitStore.save(self, body) or True,
                                       store)
    message = types.SimpleNamespace(ack=lambda: None, reject=lambda: None)

    def run():
        for body, headers in delivered:  # decompressed as the SDK's kombu consumer does
            if headers:
                body = decompress(body, headers["compression"])
            decoded = kombu_loads(body, "application/json", "utf-8", accept=["application/json"])
            UnitClient.on_delivery(unit, decoded, message)

    return best(run)


def main():
    plan = Plan.from_dict(yaml.safe_load(
        (ROOT / "programmes" / "best-foot-forward.yaml").read_text()), version=1)
    sub = Submission("sub-1", "ccss", plan.programme_id, 1, "2026Q3", "open", time.time())
    records = [to_record(r) for r in synthetic_records(RECORDS, seed=2026)]
    batches = [pb.SubmitRecordsRequest(submission_id=sub.submission_id,
                                       records=records[i:i + BATCH]).SerializeToString()
               for i in range(0, len(records), BATCH)]
    intake, published = intake_part(plan, sub, batches)
    router, delivered = router_part(plan, published)
    unit = unit_part(delivered)
    total = intake + router + unit
    for name, seconds in (("intake", intake), ("purpose_router", router),
                          ("unit-evaluation", unit), ("all three", total)):
        print(f"per_record_cpu_us {name:<20} {1e6 * seconds / RECORDS:6.1f}", flush=True)


if __name__ == "__main__":
    main()
