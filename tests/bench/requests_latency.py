"""`make bench`: how long a family waits for an answer once the Agency holds a lot.

    python -m tests.bench.requests_latency    # progress on stderr, figures on stdout

With BENCH_REQUEST_RECORDS records (1,000,000) routed to five units, the time
from opening an access request to a complete answer, for BENCH_REQUESTS people
(200) with BENCH_PERSON_RECORDS records each (100): p50 and p95 (target: p95
under 1 second).

Runs the real services as processes (tests/stack.py) on the real RabbitMQ and
store, in a throwaway vhost and databases, torn down at the end:

1. a stack with purpose_router, intake, requests and five unit consumers, and a
   plan with five unit-level purposes, one per unit, each item declared for
   several of them (so every record is routed five times);
2. the records, streamed to intake over gRPC in BENCH_SUBMISSIONS submissions
   (4 quarters) of BENCH_STREAMS concurrent streams (2) of BENCH_BATCH-record
   batches (2,000): the people asking have their records scattered at random
   over all of them (so over about as many deliveries per unit as they have
   records), every other record is about a different client; then the wait
   until every unit's store holds every record and has acknowledged it;
3. one request after another: OpenAccessRequest, then WatchRequest until it
   is complete; each answer must name all five units as answered, each with
   exactly the person's records. A request still open after
   BENCH_REQUEST_TIMEOUT (30 s) never completed: it counts as "never" in the
   percentiles, the run says why, and exits non-zero;
4. where the time goes, from the request's own history (when it was opened,
   when each unit answered, when the answer was assembled), and the
   lookups on the way, timed directly against the store: the holdings query
   purpose_router runs per purpose, and the unit SDK's `held_about`.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

from services.purpose_router.routing.storage import bucket_key
from tests.bench.pipeline import stream
from tests.stack import Stack, drop, start_stack
from tiaki.core.records import bucket
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.unit.store import UnitStore

RECORDS = int(os.environ.get("BENCH_REQUEST_RECORDS", "1000000"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
PERSON_RECORDS = int(os.environ.get("BENCH_PERSON_RECORDS", "100"))
SUBMISSIONS = int(os.environ.get("BENCH_SUBMISSIONS", "4"))
STREAMS = int(os.environ.get("BENCH_STREAMS", "2"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))
WAIT = float(os.environ.get("BENCH_TIMEOUT", "1800"))  # seconds for the records to arrive
REQUEST_TIMEOUT = float(os.environ.get("BENCH_REQUEST_TIMEOUT", "30"))  # then it never completes
RETRIES = 3  # a request that fails with an error is asked again (after 10 s) this often
DIAGNOSE = 20  # requests whose lookups are timed directly against the store
TARGET_P95_MS = 1000.0
PROGRAMME = "access-bench"
SUBMIT_RECORDS = "/tiaki.intake.v1.IntakeService/SubmitRecords"

# unit id -> its one unit-level purpose
UNIT_PURPOSES = {"evaluation": "evaluation", "service-delivery": "service_delivery",
                 "research": "research", "policy": "policy", "audit": "audit"}
UNITS = tuple(UNIT_PURPOSES)

REGIONS = ["Northland", "Auckland", "Waikato", "Bay of Plenty", "Wellington", "Canterbury",
           "Otago", "Southland"]
STRANDS = ["parenting", "children", "joint"]
AGE_BANDS = ["18-24", "25-39", "40-64"]
GOALS = ["none", "some", "most", "all"]

_START = time.monotonic()


def say(message: str):
    print(f"bench [{time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def show(label: str, value: str):
    print(f"{label:<46} {value}", flush=True)


# -- 1. the stack and the plan ----------------------------------------------------------

def use(*purposes: str) -> list[dict]:
    return [{"purpose_id": p, "retention": "7 years", "legal_basis": "Funding agreement",
             "explanation": f"Used for {p.replace('_', ' ')}."} for p in purposes]


def plan() -> dict:
    """Five unit-level purposes, one per unit; every item goes to several of them."""
    return {
        "programme_id": PROGRAMME,
        "name": "Access request benchmark",
        "units": [{"unit_id": u, "name": f"{u.replace('-', ' ').title()} team"} for u in UNITS],
        "purposes": [{"purpose_id": p, "name": p.replace("_", " ").title(), "unit_id": u,
                      "form": "unit_level", "description": f"Records for {u}."}
                     for u, p in UNIT_PURPOSES.items()],
        "items": [
            {"name": "referral_date", "type": "date", "required": True,
             "description": "The day the family was referred.",
             "uses": use("evaluation", "research", "audit")},
            {"name": "age_band", "type": "enum", "allowed_values": AGE_BANDS,
             "description": "Age of the main client, in bands.",
             "uses": use("evaluation", "research", "policy")},
            {"name": "region", "type": "enum", "required": True, "allowed_values": REGIONS,
             "description": "Region where the service was delivered.",
             "uses": use("evaluation", "service_delivery", "policy", "audit")},
            {"name": "programme_strand", "type": "enum", "required": True,
             "allowed_values": STRANDS, "description": "Part of the programme.",
             "uses": use("service_delivery", "research", "policy")},
            {"name": "sessions_attended", "type": "integer", "min": 0, "max": 200,
             "required": True, "description": "Sessions attended this quarter.",
             "uses": use("evaluation", "service_delivery", "audit")},
            {"name": "wellbeing_start", "type": "integer", "min": 1, "max": 10,
             "description": "Wellbeing score at the start.",
             "uses": use("evaluation", "research")},
            {"name": "goals_met", "type": "enum", "allowed_values": GOALS,
             "description": "How many of the family's own goals were met.",
             "uses": use("evaluation", "policy", "audit")},
        ],
    }


# -- 2. the records ----------------------------------------------------------------------

def people() -> list[str]:
    return [f"CCSS-P{n:05d}" for n in range(REQUESTS)]


def client_refs(seed: int = 2026) -> list[str]:
    """RECORDS client references: each person asking at PERSON_RECORDS random
    places, everyone else once."""
    if REQUESTS * PERSON_RECORDS > RECORDS:
        raise SystemExit(f"{REQUESTS} people x {PERSON_RECORDS} records do not fit in "
                         f"{RECORDS} records")
    refs = [f"CCSS-{n:07d}" for n in range(RECORDS)]
    asking = people()
    places = random.Random(seed).sample(range(RECORDS), REQUESTS * PERSON_RECORDS)
    for k, place in enumerate(places):
        refs[place] = asking[k // PERSON_RECORDS]
    return refs


def batch_bodies(submission_id: str, quarter: str, refs: list[str], first: int,
                 rng: random.Random) -> list[bytes]:
    year, q = int(quarter[:4]), int(quarter[-1])
    month = 3 * q - 2
    bodies, chunk = [], []
    for n, ref in enumerate(refs):
        fields = {
            "referral_date": f"{year}-{month + rng.randrange(3):02d}-{1 + rng.randrange(28):02d}",
            "age_band": rng.choice(AGE_BANDS),
            "region": rng.choice(REGIONS),
            "programme_strand": rng.choice(STRANDS),
            "sessions_attended": str(rng.randrange(25)),
            "wellbeing_start": str(1 + rng.randrange(7)),
            "goals_met": rng.choice(GOALS),
        }
        chunk.append(pb.Record(record_ref=f"{quarter}-{first + n:07d}", client_ref=ref,
                               fields=fields))
        if len(chunk) == BATCH:
            bodies.append(pb.SubmitRecordsRequest(submission_id=submission_id,
                                                  records=chunk).SerializeToString())
            chunk = []
    if chunk:
        bodies.append(pb.SubmitRecordsRequest(submission_id=submission_id,
                                              records=chunk).SerializeToString())
    return bodies


def submit_all(stack: Stack, version: int) -> float:
    """Streams every record in SUBMISSIONS sealed submissions; returns when the
    last stream was answered (monotonic)."""
    meta = stack.metadata("provider", "ccss")
    intake = stack.intake()
    refs = client_refs()
    rng = random.Random(7)
    per = -(-RECORDS // SUBMISSIONS)
    for k in range(SUBMISSIONS):
        quarter = f"{2026 + k // 4}Q{k % 4 + 1}"
        part = refs[k * per:(k + 1) * per]
        if not part:
            continue
        submission_id = intake.OpenSubmission(pb.OpenSubmissionRequest(
            programme_id=PROGRAMME, plan_version=version, period=quarter),
            metadata=meta).submission.submission_id
        bodies = batch_bodies(submission_id, quarter, part, k * per, rng)
        stream_and_seal(stack, submission_id, bodies, len(part), quarter)
    return time.monotonic()


def stream_and_seal(stack: Stack, submission_id: str, bodies: list[bytes], records: int,
                    label: str) -> None:
    """Streams pre-serialised batches to intake over STREAMS concurrent streams,
    checks that all `records` were accepted, and seals the submission."""
    meta = stack.metadata("provider", "ccss")
    say(f"{label}: streaming {records} records in {len(bodies)} batches "
        f"({sum(map(len, bodies)) / 1e6:.1f} MB) over {STREAMS} stream(s)")
    channels = [grpc.insecure_channel(stack.address("intake")) for _ in range(STREAMS)]
    results: dict[int, object] = {}
    threads = [threading.Thread(target=stream,
                                args=(ch, meta, bodies[i::STREAMS], results, i, WAIT))
               for i, ch in enumerate(channels)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ch in channels:
        ch.close()
    failures = [r for r in results.values() if isinstance(r, Exception)]
    if failures:
        raise failures[0]
    accepted = sum(r.accepted_count for r in results.values())
    if accepted != records:
        raise AssertionError(f"{label}: intake accepted {accepted} of {records} records")
    stack.intake().SealSubmission(pb.SealSubmissionRequest(submission_id=submission_id),
                                  metadata=meta)


def wait_routed(stack: Stack, t0: float) -> float:
    """Waits until every unit's store holds every record and has acknowledged
    every delivery to the ledger (so no routing work is left behind)."""
    stores = {u: UnitStore(stack.db_uri(f"unit_{u}")) for u in UNITS}
    last_said = 0.0
    while time.monotonic() - t0 < WAIT:
        held = {u: s.record_count() for u, s in stores.items()}
        if all(n >= RECORDS for n in held.values()):
            pending = {u: s.deliveries.count_documents({"acknowledged": False})
                       for u, s in stores.items()}
            if not any(pending.values()):
                wrong = {u: n for u, n in held.items() if n != RECORDS}
                if wrong:
                    raise AssertionError(f"units hold {wrong}, not {RECORDS} records each")
                return time.monotonic()
        if time.monotonic() - last_said >= 10:
            say("units hold " + ", ".join(f"{u} {n}" for u, n in held.items()))
            last_said = time.monotonic()
        time.sleep(2)
    for name in stack.procs:
        say(f"--- {name} log ---\n{stack.log_tail(name, 15)}")
    raise AssertionError(f"records not at every unit within {WAIT:.0f}s")


# -- 3. the requests -----------------------------------------------------------------------

def stored_request(stack: Stack, request_id: str) -> dict:
    doc = stack.mongo[f"{stack.name}_requests"]["requests"].find_one({"_id": request_id})
    # The embedded store keeps what $push added to a list as JSON text.
    doc["history"] = [json.loads(h) if isinstance(h, str) else h for h in doc["history"]]
    doc["answers"] = {a["unit_id"]: a["records"] for a in
                      stack.mongo[f"{stack.name}_requests"]["unit_answers"].find(
                          {"request_id": request_id})}
    return doc


def unit_answers(doc: dict) -> list[float]:
    """When each unit's answer was stored (epoch seconds), from the request's history."""
    return [h["at"] for h in doc["history"] if h["who"] in UNIT_PURPOSES]


def ask(stack: Stack, requests_stub, client: str) -> tuple[float | None, float, str]:
    """(seconds to the complete answer, or None if it never completes; seconds
    OpenAccessRequest took; request id). The provider follows the request as a
    real one would, with WatchRequest, until it is complete; a request still
    open after REQUEST_TIMEOUT never completed."""
    meta = stack.metadata("provider", "ccss")
    started = time.perf_counter()
    opened = requests_stub.OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=PROGRAMME, client_ref=client, requester="the client",
        authorisation="signed consent form"), metadata=meta, timeout=REQUEST_TIMEOUT).request
    open_s = time.perf_counter() - started
    request = opened
    try:
        for change in requests_stub.WatchRequest(
                rpb.WatchRequestRequest(request_id=opened.request_id), metadata=meta,
                timeout=REQUEST_TIMEOUT - open_s):
            request = change.request
            if request.state == rpb.REQUEST_STATE_COMPLETE:
                break
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    if request.state != rpb.REQUEST_STATE_COMPLETE:
        return None, open_s, opened.request_id
    total = time.perf_counter() - started
    answered = sorted((u.unit_id, u.outcome) for u in request.units)
    if answered != sorted((u, "answered") for u in UNITS):
        raise AssertionError(f"{client}: units {answered}, not all five answered")
    return total, open_s, opened.request_id


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def msec(seconds: float) -> str:
    return "never" if seconds == math.inf else f"{1000 * seconds:.0f}"


def ms(values: list[float]) -> str:
    return (f"p50 {msec(statistics.median(values))}  p95 {msec(pct(values, 95))}  "
            f"max {msec(max(values))}")


def check_answers(stack: Stack, request_ids: list[str]) -> list[dict]:
    """Every unit answered with exactly the person's records; returns the stored requests."""
    docs = [stored_request(stack, r) for r in request_ids]
    for doc in docs:
        counts = {u: len(doc["answers"].get(u, [])) for u in UNITS}
        if any(n != PERSON_RECORDS for n in counts.values()):
            raise AssertionError(f"request {doc['_id']}: records per unit {counts}, "
                                 f"not {PERSON_RECORDS} each")
    return docs


# -- 4. where the time goes ---------------------------------------------------------------

def breakdown(docs: list[dict]):
    """From each request's history: opened -> each unit answered -> assembled."""
    first, last, assembled = [], [], []
    for doc in docs:
        answers = unit_answers(doc)
        first.append(min(answers) - doc["opened_at"])
        last.append(max(answers) - doc["opened_at"])
        if doc.get("completed_at"):
            assembled.append(doc["completed_at"] - max(answers))
    show("stored: opened -> first unit answered ms", ms(first))
    show("stored: opened -> all units answered ms", ms(last))
    if assembled:
        show("stored: last answer -> answer assembled ms", ms(assembled))


def stuck(docs: list[dict]):
    """The requests every unit answered that stay open: whose outcome is missing."""
    for doc in docs:
        if doc["state"] == "complete":
            continue
        missing = [u["unit_id"] for u in doc["units"] if not u.get("outcome")]
        say(f"request {doc['_id']} stays open: all {len(doc['answers'])} units' answers are "
            f"stored, yet the outcome of {', '.join(missing)} is not")


def lookups(stack: Stack, docs: list[dict]):
    """The lookups a request makes, timed directly against the store from here
    (the services idle): purpose_router's holdings query per purpose, one
    unit's `held_about`, and the ledger query for who used the deliveries."""
    router = stack.mongo[f"{stack.name}_purpose_router"]
    holdings = router["batch_holdings"]
    stores = {u: UnitStore(stack.db_uri(f"unit_{u}")) for u in UNITS}
    per_query, per_person, deliveries, held, accesses = ([] for _ in range(5))
    for doc in docs[:DIAGNOSE]:
        started = time.perf_counter()
        for unit in doc["units"]:
            for purpose in unit["purposes"]:
                for pseudonym in purpose["pseudonyms"]:  # one per key generation
                    t = time.perf_counter()
                    key = bucket_key("ccss", PROGRAMME, purpose["purpose_id"], bucket(pseudonym))
                    list(holdings.find({"bucket_key": key, "pseudonyms": {"$in": [pseudonym]}},
                                       {"deliveries": 1, "_id": 0}))
                    per_query.append(time.perf_counter() - t)
        per_person.append(time.perf_counter() - started)
        unit = doc["units"][0]
        purpose = unit["purposes"][0]
        ids, pseudonyms = purpose["delivery_ids"], purpose["pseudonyms"]
        deliveries.append(len(ids))
        t = time.perf_counter()
        matched = len(stores[unit["unit_id"]].held_about(ids, pseudonyms))
        held.append(time.perf_counter() - t)
        if matched != PERSON_RECORDS:
            raise AssertionError(f"{unit['unit_id']} holds {matched} records about a person "
                                 f"with {PERSON_RECORDS}")
        all_ids = [i for u in doc["units"] for p in u["purposes"] for i in p["delivery_ids"]]
        t = time.perf_counter()
        list(router["ledger"].find({"delivery_id": {"$in": all_ids}, "kind": "access"}))
        accesses.append(time.perf_counter() - t)
    show("batch_holdings documents", f"{holdings.estimated_document_count()}")
    show("direct: holdings query per purpose ms", ms(per_query))
    show("direct: holdings queries per person (5) ms", ms(per_person))
    show("deliveries holding one person, per unit", f"p50 {statistics.median(deliveries):.0f}")
    show("direct: held_about one unit ms", ms(held))
    show("direct: ledger accesses query ms", ms(accesses))


# -- the run ------------------------------------------------------------------------------

def teardown(stack: Stack, attempts: int = 6):
    """tests.stack.drop, again if a service ignored SIGTERM (then it is killed)
    or the shared broker was down (its vhost is deleted once it is back)."""
    for attempt in range(attempts):
        try:
            drop(stack)
            return
        except (AssertionError, subprocess.TimeoutExpired, OSError) as exc:
            say(f"tearing down: {exc}; again")
            for name in list(stack.procs):
                try:
                    stack.kill(name)
                except (AssertionError, subprocess.TimeoutExpired):
                    pass
            if attempt == attempts - 1:
                raise
            time.sleep(10)



def main():
    with tempfile.TemporaryDirectory(prefix="tiaki-bench-requests-") as tmp:
        say(f"starting the stack (purpose_router, intake, requests, units {', '.join(UNITS)})")
        stack = start_stack(Path(tmp), units=UNITS)
        try:
            version = stack.create_plan(plan())
            t0 = time.monotonic()
            t_streamed = submit_all(stack, version)
            say(f"streamed and sealed in {t_streamed - t0:.1f}s; waiting for the units")
            t_routed = wait_routed(stack, t0)
            say(f"every unit holds {RECORDS} records after {t_routed - t0:.1f}s")
            show("records", f"{RECORDS} in {SUBMISSIONS} submission(s), batches of {BATCH}, "
                            f"{STREAMS} stream(s)")
            show("units (one unit-level purpose each)", f"{len(UNITS)}: {', '.join(UNITS)}")
            show("records_routed (records x units)", f"{RECORDS * len(UNITS)}")
            show("routing_s (first send -> all stored, acked)", f"{t_routed - t0:.1f}")
            show("routed_records_per_s", f"{RECORDS / (t_routed - t0):,.0f}")

            stub = stack.requests()
            say(f"{REQUESTS} access requests, one after another, {PERSON_RECORDS} records each")
            totals, opens, ids, errors = [], [], [], []
            for n, client in enumerate(people()):
                for attempt in range(RETRIES + 1):
                    try:
                        total, open_s, request_id = ask(stack, stub, client)
                        break
                    except grpc.RpcError as exc:  # e.g. the shared broker was restarted
                        errors.append(f"{exc.code().name}: {exc.details()}")
                        say(f"{client}: {errors[-1]}; again in 10 s")
                        if attempt == RETRIES:
                            raise
                        time.sleep(10)
                totals.append(math.inf if total is None else total)
                opens.append(open_s)
                ids.append(request_id)
                if (n + 1) % 20 == 0:
                    never = sum(t == math.inf for t in totals)
                    say(f"{n + 1} requests: {ms(totals[-20:])} ms over the last 20; "
                        f"{never} never completed")
            docs = check_answers(stack, ids)
            never = sum(t == math.inf for t in totals)
            show("access_requests", f"{REQUESTS} people, {PERSON_RECORDS} records each, "
                                    f"{len(UNITS)} units answering each")
            show("open_access_request_call ms", ms(opens))
            breakdown(docs)
            say(f"timing the lookups directly for {min(DIAGNOSE, len(docs))} people")
            lookups(stack, docs)
            stuck(docs)
            show("access_request_errors (retried, not timed)",
                 f"{len(errors)}" + (f" (first: {errors[0][:80]})" if errors else ""))
            show("access_requests_never_completed", f"{never} (every unit answered; "
                                                    "the request stayed open)" if never else "0")
            show("access_request_max_ms", msec(max(totals)))
            show("access_request_p50_ms", msec(statistics.median(totals)))
            p95 = pct(totals, 95)
            show("access_request_p95_ms", f"{msec(p95)} (target under {TARGET_P95_MS:.0f}: "
                                          f"{'met' if 1000 * p95 < TARGET_P95_MS else 'NOT met'})")
        finally:
            say("tearing down the stack")
            teardown(stack)
    if never:
        raise SystemExit(f"{never} of {REQUESTS} access requests never completed")




if __name__ == "__main__":
    main()
