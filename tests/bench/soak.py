"""`make bench`, the soak: sustained submissions for SOAK_SECONDS (600) at the
benchmark rate, each process's resident memory sampled, to show it stays flat.

    python -m tests.bench.soak            # progress on stderr, figures on stdout
    SOAK_SECONDS=120 python -m tests.bench.soak

The real services as processes (tests/stack.py) on the real broker and store,
in a throwaway vhost and databases. A provider submits again and again:
opens a submission, streams SOAK_SUBMISSION records (20,000) in batches of
2,000 over two streams as the pipeline benchmark does, seals it, and starts the
next while the last is still flowing to the units; SOAK_RATE (records/s, 0 =
as fast as the pipeline takes them, the benchmark rate) throttles it. Every
so often a family's access request is opened too. Every second the RSS of each
service and unit is sampled.

Flat means: after the first minute (imports, caches, connection pools, the
store's and broker's first work), the least-squares slope of each process's
RSS is under SOAK_FLAT_MB_PER_10MIN (10) MB per 10 minutes, and the last
minute's mean is within that of the second minute's. Each process's figures
are printed, then one line `soak_memory_flat yes|no`."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import yaml

from tests.bench.pipeline import vm_kb
from tests.e2e.journey import open_submission, to_record
from tests.stack import ROOT, drop, start_stack
from tiaki.cli.synthetic import records as synthetic_records
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.unit.store import UnitStore

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
SUBMISSION = int(os.environ.get("SOAK_SUBMISSION", "20000"))
RATE = float(os.environ.get("SOAK_RATE", "0"))
FLAT_MB = float(os.environ.get("SOAK_FLAT_MB_PER_10MIN", "10"))
WARM_UP = min(60.0, SECONDS / 5)  # seconds left out of the trend
BATCH, STREAMS = 2000, 2
PROGRAMME = "best-foot-forward"
SUBMIT_RECORDS = "/tiaki.intake.v1.IntakeService/SubmitRecords"

_START = time.monotonic()


def say(message: str):
    print(f"soak [{time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def show(label: str, value: str):
    print(f"{label:<46} {value}", flush=True)


def slope_per_10min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per 10 minutes."""
    if len(points) < 2:
        return 0.0
    ts = [t for t, _ in points]
    vs = [v for _, v in points]
    mt, mv = statistics.mean(ts), statistics.mean(vs)
    var = sum((t - mt) ** 2 for t in ts)
    return 600 * sum((t - mt) * (v - mv) for t, v in points) / var if var else 0.0


class Sampler(threading.Thread):
    def __init__(self, pids: dict[str, int], every: float = 1.0):
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.samples: dict[str, list[tuple[float, float]]] = {n: [] for n in pids}
        self.done = threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self.done.is_set():
            now = time.monotonic() - t0
            for name, pid in self.pids.items():
                kb = vm_kb(pid, "VmRSS")
                if kb:
                    self.samples[name].append((now, kb / 1024))
            self.done.wait(self.every)


def main():
    say(f"soak for {SECONDS:.0f}s, submissions of {SUBMISSION} records"
        + (f" at {RATE:,.0f} records/s" if RATE else " as fast as the pipeline takes them"))
    bodies_rows = list(synthetic_records(SUBMISSION, seed=606))
    records = [to_record(r) for r in bodies_rows]
    clients = [r["client_ref"] for r in bodies_rows[::max(1, SUBMISSION // 50)]]
    with tempfile.TemporaryDirectory(prefix="tiaki-soak-") as tmp:
        stack = start_stack(Path(tmp))
        try:
            run(stack, records, clients)
        finally:
            say("tearing down the stack")
            drop(stack)


def run(stack, records, clients):
    version = stack.create_plan(yaml.safe_load(
        (ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text()))
    meta = stack.metadata("provider", "ccss")
    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    channels = [grpc.insecure_channel(stack.address("intake")) for _ in range(STREAMS)]
    calls = [c.stream_unary(SUBMIT_RECORDS, request_serializer=None,
                            response_deserializer=pb.SubmitRecordsResponse.FromString)
             for c in channels]
    sampler = Sampler({name: proc.pid for name, proc in stack.procs.items()})
    sampler.start()
    started = time.monotonic()
    submitted = submissions = requests_opened = 0
    quarters = [f"{y}Q{q}" for y in range(2030, 2100) for q in range(1, 5)]
    try:
        while time.monotonic() - started < SECONDS:
            period = quarters[submissions % len(quarters)]
            sid = open_submission(stack, PROGRAMME, version, period=period)
            bodies = [pb.SubmitRecordsRequest(submission_id=sid,
                                              records=records[i:i + BATCH]).SerializeToString()
                      for i in range(0, len(records), BATCH)]
            results: dict[int, object] = {}

            def send(k, results=results, bodies=bodies):
                try:
                    results[k] = calls[k](iter(bodies[k::STREAMS]), metadata=meta, timeout=300)
                except grpc.RpcError as exc:
                    results[k] = exc

            threads = [threading.Thread(target=send, args=(k,)) for k in range(STREAMS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            failed = [r for r in results.values() if isinstance(r, Exception)]
            if failed:
                raise failed[0]
            stack.intake().SealSubmission(pb.SealSubmissionRequest(submission_id=sid),
                                          metadata=meta, timeout=60)
            submissions += 1
            submitted += len(records)
            if submissions % 3 == 0:  # a family's request now and then, about the last quarter
                stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
                    programme_id=PROGRAMME, client_ref=clients[submissions % len(clients)],
                    requester="the client", authorisation="signed consent form"),
                    metadata=meta, timeout=60)
                requests_opened += 1
            elapsed = time.monotonic() - started
            if RATE and submitted / RATE > elapsed:
                time.sleep(min(submitted / RATE - elapsed, SECONDS - elapsed))
            if submissions % 5 == 0:
                say(f"{submitted:,} records in {submissions} submissions; evaluation unit holds "
                    f"{evaluation.record_count():,}")
        say("load done; waiting for the units to catch up")
        stack.wait_for(lambda: evaluation.record_count() >= submitted, timeout=300,
                       what="every record at the evaluation unit")
        drained = time.monotonic() - started
        # Answered before the stack stops: a request still being answered holds
        # requests' graceful stop on its call to purpose_router.
        stack.wait_for(lambda: all(
            r.state == rpb.REQUEST_STATE_COMPLETE for r in stack.requests().ListRequests(
                rpb.ListRequestsRequest(), metadata=meta, timeout=60).requests),
            timeout=120, what="every access request answered")
    finally:
        sampler.done.set()
        sampler.join()
        for c in channels:
            c.close()
    report(sampler, submitted, submissions, requests_opened, drained)


def report(sampler: Sampler, submitted: int, submissions: int, requests_opened: int,
           drained: float):
    show("soak_seconds", f"{SECONDS:.0f} of load, {drained:.0f} until the units had it all")
    show("soak_records", f"{submitted:,} in {submissions} submissions of {SUBMISSION:,}; "
                         f"{requests_opened} access requests")
    show("soak_records_per_s (sustained, end to end)", f"{submitted / drained:,.0f}")
    flat = True
    for name, points in sampler.samples.items():
        steady = [(t, v) for t, v in points if t >= WARM_UP]
        if len(steady) < 10:
            show(f"soak_rss_mb {name}", "too few samples")
            flat = False
            continue
        minute = max(1, int(len(steady) * 60 / max(1.0, steady[-1][0] - steady[0][0])))
        early = statistics.mean(v for _, v in steady[:minute])
        late = statistics.mean(v for _, v in steady[-minute:])
        trend = slope_per_10min(steady)
        ok = trend < FLAT_MB and late - early < FLAT_MB
        flat &= ok
        show(f"soak_rss_mb {name}",
             f"start {points[0][1]:.1f}, after warm-up {early:.1f}, end {late:.1f}, "
             f"peak {max(v for _, v in points):.1f}; trend {trend:+.1f} MB/10min "
             f"({'flat' if ok else 'GROWING'})")
    show("soak_memory_flat", "yes" if flat else "no")


if __name__ == "__main__":
    main()
