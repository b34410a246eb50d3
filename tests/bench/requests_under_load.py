"""`make bench`: how long a family waits for an answer while a large submission streams.

    python -m tests.bench.requests_under_load    # progress on stderr, figures on stdout

tests/bench/requests_latency.py times access requests on an idle stack; this times them
while the pipeline is busiest, as in the last days of a correction window: the same
plan (five units, every record routed to each of them), the same services as
processes on the real RabbitMQ and store (throwaway vhost and databases):

1. BENCH_LOAD_PEOPLE people (40) with BENCH_LOAD_PERSON_RECORDS records each (20) are
   submitted, sealed and routed to every unit first (the stack is then idle);
2. a large submission of BENCH_LOAD_RECORDS records (100,000) about other clients is
   streamed to intake over BENCH_STREAMS concurrent streams (2), in batches of
   BENCH_BATCH (2,000), then sealed;
3. from a moment after the stream starts until every unit has stored and acknowledged
   the large submission, one access request after another (up to BENCH_LOAD_REQUESTS,
   100, each person in turn): OpenAccessRequest, then WatchRequest until complete.
   Each answer must name all five units as answered, each with exactly the person's
   records; one still open after BENCH_REQUEST_TIMEOUT (30 s) counts as "never".

Prints open-to-complete p50/p95/max for the requests made while records were still
streaming and for all of them (target: p95 under 1 s), how far behind the units were
when each was opened, and where the time went (from each request's own history).
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.bench import requests_latency as idle
from tests.stack import Stack, start_stack
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.unit.store import UnitStore

LOAD = int(os.environ.get("BENCH_LOAD_RECORDS", "100000"))
PEOPLE = int(os.environ.get("BENCH_LOAD_PEOPLE", "40"))
PERSON_RECORDS = int(os.environ.get("BENCH_LOAD_PERSON_RECORDS", "20"))
REQUESTS = int(os.environ.get("BENCH_LOAD_REQUESTS", "100"))
WAIT = float(os.environ.get("BENCH_TIMEOUT", "1800"))  # seconds for the records to arrive
START_AFTER = 2.0  # seconds into the stream before the first request
# intake and purpose_router as two processes each, bulk and interactive (tiaki/plumbing/parts.py);
# TIAKI_SPLIT=0 runs each as one process, as before.
SPLIT = os.environ.get("TIAKI_SPLIT", "1") == "1"


def people() -> list[str]:
    return [f"CCSS-P{n:05d}" for n in range(PEOPLE)]


def submit(stack: Stack, version: int, quarter: str, refs: list[str], first: int) -> None:
    """One submission of these client refs, streamed and sealed."""
    meta = stack.metadata("provider", "ccss")
    intake = stack.intake()
    submission_id = intake.OpenSubmission(pb.OpenSubmissionRequest(
        programme_id=idle.PROGRAMME, plan_version=version, period=quarter),
        metadata=meta).submission.submission_id
    bodies = idle.batch_bodies(submission_id, quarter, refs, first, random.Random(first))
    idle.stream_and_seal(stack, submission_id, bodies, len(refs), quarter)


def held(stores: dict[str, UnitStore]) -> int:
    """The fewest records any unit has stored and acknowledged."""
    return min(s.record_count() - sum(d["record_count"] for d in s.deliveries.find(
        {"acknowledged": False}, {"record_count": 1})) for s in stores.values())


def wait_held(stores: dict[str, UnitStore], count: int, t0: float) -> float:
    while time.monotonic() - t0 < WAIT:
        if held(stores) >= count:
            return time.monotonic()
        time.sleep(1)
    raise AssertionError(f"records not at every unit within {WAIT:.0f}s")


def check_answers(stack: Stack, request_ids: list[str]) -> list[dict]:
    """Every unit answered with exactly the person's records; the stored requests."""
    docs = [idle.stored_request(stack, r) for r in request_ids]
    for doc in docs:
        counts = {u: len(doc["answers"].get(u, [])) for u in idle.UNITS}
        if any(n != PERSON_RECORDS for n in counts.values()):
            raise AssertionError(f"request {doc['_id']}: records per unit {counts}, "
                                 f"not {PERSON_RECORDS} each")
    return docs


def main():
    preload = PEOPLE * PERSON_RECORDS
    with tempfile.TemporaryDirectory(prefix="tiaki-bench-loaded-") as tmp:
        idle.say("starting the stack (purpose_router, intake, requests, units "
                 f"{', '.join(idle.UNITS)}; intake and purpose_router "
                 f"{'each split in two' if SPLIT else 'one process each'})")
        stack = start_stack(Path(tmp), units=idle.UNITS, split=SPLIT)
        never = 0
        try:
            version = stack.create_plan(idle.plan())
            stores = {u: UnitStore(stack.db_uri(f"unit_{u}")) for u in idle.UNITS}
            t0 = time.monotonic()
            refs = [p for p in people() for _ in range(PERSON_RECORDS)]
            random.Random(2026).shuffle(refs)
            submit(stack, version, "2026Q1", refs, 0)
            wait_held(stores, preload, t0)
            idle.say(f"{PEOPLE} people's {preload} records at every unit; now the large submission")

            streaming = threading.Event()
            streaming.set()
            failure: list[BaseException] = []

            def load():
                try:
                    submit(stack, version, "2026Q2",
                           [f"CCSS-{n:07d}" for n in range(LOAD)], preload)
                except BaseException as exc:  # reported below
                    failure.append(exc)
                finally:
                    streaming.clear()

            t_load = time.monotonic()
            loader = threading.Thread(target=load)
            loader.start()
            time.sleep(START_AFTER)
            stub = stack.requests()
            totals, during_stream, behind, ids, opens = [], [], [], [], []
            for n in range(REQUESTS):
                lag = preload + LOAD - held(stores)
                if (not streaming.is_set() and lag <= 0) or failure:
                    break
                was_streaming = streaming.is_set()
                total, open_s, request_id = idle.ask(stack, stub, people()[n % PEOPLE])
                opens.append(open_s)
                totals.append(math.inf if total is None else total)
                ids.append(request_id)
                behind.append(lag)
                if was_streaming:
                    during_stream.append(totals[-1])
                if (n + 1) % 10 == 0:
                    idle.say(f"{n + 1} requests: {idle.ms(totals[-10:])} ms over the last 10; "
                             f"units {lag} records behind; "
                             f"{'streaming' if was_streaming else 'routing'}")
            loader.join()
            if failure:
                raise failure[0]
            t_routed = wait_held(stores, preload + LOAD, t_load)
            docs = check_answers(stack, ids)
            never = sum(t == math.inf for t in totals)
            idle.show("split (bulk and interactive processes)", "yes" if SPLIT else "no")
            idle.show("load_records (x5 units)",
                      f"{LOAD} in batches of {idle.BATCH}, {idle.STREAMS} stream(s)")
            idle.show("load_routing_s (first send -> all stored, acked)", f"{t_routed - t_load:.1f}")
            idle.show("loaded_requests (made, while streaming)",
                      f"{len(totals)}, {len(during_stream)}")
            idle.show("units_behind_when_opened (records)",
                      f"p50 {statistics.median(behind):.0f}  max {max(behind)}")
            if during_stream:
                idle.show("loaded_request_while_streaming ms", idle.ms(during_stream))
            idle.show("open_access_request_call ms", idle.ms(opens))
            idle.breakdown(docs)
            idle.show("loaded_requests_never_completed", f"{never}")
            idle.show("loaded_request_p50_ms", idle.msec(statistics.median(totals)))
            p95 = idle.pct(totals, 95)
            met = "met" if 1000 * p95 < idle.TARGET_P95_MS else "NOT met"
            idle.show("loaded_request_p95_ms",
                      f"{idle.msec(p95)} (target under {idle.TARGET_P95_MS:.0f}: {met})")
        finally:
            idle.say("tearing down the stack")
            idle.teardown(stack)
    if never:
        raise SystemExit(f"{never} loaded access requests never completed")


if __name__ == "__main__":
    sys.exit(main())
