"""`make bench`: how fast records go from a provider to the Agency units, against
what the broker alone can do, and what it costs in memory and call latency.

    python -m tests.bench.pipeline        # progress on stderr, figures on stdout

Runs the real services as processes (tests/stack.py) on the real RabbitMQ and
store, in a throwaway vhost and databases, torn down at the end. Measures:

1. the raw broker ceiling, a fixed recipe whatever the pipeline does: the same
   synthetic records published with kombu to a durable queue, persistent
   messages, publisher confirms, JSON, 500 records a message;
2. end to end: BENCH_RECORDS records (200,000) streamed to intake over gRPC in
   BENCH_STREAMS concurrent streams (2) of BENCH_BATCH-record batches (2,000),
   sealed, from the first send until the evaluation unit's store holds every
   record and the service-delivery unit has the submission's aggregate;
3. each service process's resident memory during that run (peak, and the
   average of the first and last quarter of the run, to show it is flat);
4. the p50 latency of a unary call: intake's GetSubmission over nameko-grpc
   against a plain grpcio server doing the same protobuf work
   (tests/bench/grpcio_server.py), with a nameko-grpc server doing that same
   fixed work (tests/bench/nameko_server.py) to tell framework from store.

The last line is `end_to_end_vs_raw_broker <ratio>`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import yaml
from kombu import Connection, Queue

from tests.e2e.journey import open_submission, to_record
from tests.stack import AMQP_HOST, ROOT, STORE_URI, drop, free_port, start_stack
from tiaki.cli.synthetic import records as synthetic_records
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1 import intake_pb2_grpc
from tiaki.unit.store import UnitStore

RECORDS = int(os.environ.get("BENCH_RECORDS", "200000"))
STREAMS = int(os.environ.get("BENCH_STREAMS", "2"))
BATCH = int(os.environ.get("BENCH_BATCH", "2000"))
WAIT = float(os.environ.get("BENCH_TIMEOUT", "240"))  # seconds for the pipeline to finish
RAW_MESSAGE_RECORDS = 500  # the fixed recipe of the broker ceiling (DESIGN.md "Baselines")
LATENCY_CALLS, LATENCY_WARMUP = 300, 30
PROGRAMME = "best-foot-forward"
SUBMIT_RECORDS = "/tiaki.intake.v1.IntakeService/SubmitRecords"
SAMPLE_EVERY = 0.5  # seconds between RSS samples

_START = time.monotonic()


def say(message: str):
    print(f"bench [{time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def show(label: str, value: str):
    print(f"{label:<46} {value}", flush=True)


# -- 1. the raw broker ceiling -------------------------------------------------------

def raw_broker(amqp_uri: str, rows: list[dict]) -> tuple[float, float]:
    """Records/s published in JSON messages of 500 records, persistent, each
    confirmed by the broker, to a durable queue (then deleted): with kombu
    encoding the JSON (the recipe), and with the JSON encoded beforehand (the
    broker's share alone)."""
    chunks = [rows[i:i + RAW_MESSAGE_RECORDS] for i in range(0, len(rows), RAW_MESSAGE_RECORDS)]
    encoded = [json.dumps(chunk) for chunk in chunks]
    queue = Queue("tiaki.bench.raw", routing_key="tiaki.bench.raw", durable=True)
    rates = []
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        bound = queue(channel)
        bound.declare()
        producer = conn.Producer(channel)
        for chunk in chunks[:10]:  # warm-up: connection, queue, message store
            producer.publish(chunk, exchange="", routing_key=queue.name, serializer="json",
                             delivery_mode=2, retry=False)
        bound.purge()
        for bodies, options in ((chunks, {"serializer": "json"}),
                                (encoded, {"content_type": "application/json",
                                           "content_encoding": "utf-8"})):
            started = time.perf_counter()
            for body in bodies:
                producer.publish(body, exchange="", routing_key=queue.name, delivery_mode=2,
                                 retry=False, **options)
            rates.append(len(rows) / (time.perf_counter() - started))
            depth = bound.queue_declare(passive=True).message_count
            if depth != len(chunks):
                raise AssertionError(f"raw broker: {depth} messages queued, {len(chunks)} sent")
            bound.purge()
        bound.delete()
    return rates[0], rates[1]


# -- 3. memory, and where the CPU went --------------------------------------------

def vm_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (its threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def listener_pid(port: int) -> int | None:
    """The process listening on a local TCP port (the store, RabbitMQ), if visible."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                for line in fh.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            continue
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


class RssSampler(threading.Thread):
    """Samples VmRSS of each process every SAMPLE_EVERY seconds."""

    def __init__(self, pids: dict[str, int]):
        super().__init__(daemon=True, name="rss-sampler")
        self.pids = pids
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            now = time.monotonic()
            self.samples.append((now, {n: vm_kb(p, "VmRSS") for n, p in self.pids.items()}))
            self.done.wait(SAMPLE_EVERY)

    def report(self, start: float, end: float):
        window = [s for t, s in self.samples if start <= t <= end] or [s for _, s in self.samples]
        quarter = max(1, len(window) // 4)
        for name, pid in self.pids.items():
            values = [s[name] for s in window if s.get(name)]
            if not values:
                show(f"rss_{name}", "no samples (process gone?)")
                continue
            first = statistics.mean(values[:quarter])
            last = statistics.mean(values[-quarter:])
            hwm = vm_kb(pid, "VmHWM")
            show(f"rss_peak_mb {name}",
                 f"{max(values) / 1024:.1f} (VmHWM {hwm / 1024 if hwm else float('nan'):.1f}; "
                 f"first quarter {first / 1024:.1f}, last quarter {last / 1024:.1f}, "
                 f"{len(values)} samples)")


class CpuMeter:
    """CPU seconds each process spent between start() and stop(), and how busy
    the whole machine was (other work on it slows every figure here)."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids

    def start(self):
        self.began = {n: cpu_seconds(p) for n, p in self.pids.items()}
        self.busy0, self.total0 = machine_busy()
        self.t0 = time.monotonic()

    def stop(self):
        self.used = {n: (cpu_seconds(p) or 0) - (self.began[n] or 0)
                     for n, p in self.pids.items() if self.began[n] is not None}
        busy, total = machine_busy()
        self.wall = time.monotonic() - self.t0
        self.machine = (busy - self.busy0) / max(1, total - self.total0)

    def report(self, records: int):
        ours = sum(self.used.values())
        for name, used in sorted(self.used.items(), key=lambda kv: -kv[1]):
            show(f"cpu_s {name}", f"{used:.1f} ({100 * used / self.wall:.0f}% of one core, "
                                  f"{1e6 * used / records:.0f} us/record)")
        show("cpu_s all of the above", f"{ours:.1f} over {self.wall:.1f}s wall on "
                                       f"{os.cpu_count()} cores")
        show("machine_busy_pct (everything on it)", f"{100 * self.machine:.0f}")


# -- 2. end to end ------------------------------------------------------------------------

def stream(channel: grpc.Channel, metadata, bodies: list[bytes], out: dict, key: int,
           timeout: float = WAIT):
    """One SubmitRecords stream of pre-serialised batches on its own connection."""
    try:
        # No request serializer: the batches are already protobuf bytes.
        call = channel.stream_unary(SUBMIT_RECORDS, request_serializer=None,
                                    response_deserializer=pb.SubmitRecordsResponse.FromString)
        out[key] = call(iter(bodies), metadata=metadata, timeout=timeout)
    except Exception as exc:  # reported by the caller
        out[key] = exc


def end_to_end(stack, rows: list[dict], sampler_pids: dict[str, int], cpu_pids: dict[str, int]):
    version = stack.create_plan(yaml.safe_load(
        (ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text()))
    meta = stack.metadata("provider", "ccss")
    submission_id = open_submission(stack, PROGRAMME, version)
    say(f"building {RECORDS} records into batches of {BATCH} for {STREAMS} stream(s)")
    records = [to_record(r) for r in rows]
    bodies = [pb.SubmitRecordsRequest(submission_id=submission_id,
                                      records=records[i:i + BATCH]).SerializeToString()
              for i in range(0, len(records), BATCH)]
    del records
    per_stream = [bodies[k::STREAMS] for k in range(STREAMS)]
    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    service_delivery = UnitStore(stack.db_uri("unit_service-delivery"))

    sampler = RssSampler(sampler_pids)
    sampler.start()
    time.sleep(2 * SAMPLE_EVERY)  # a baseline sample or two before the load
    say(f"streaming {len(bodies)} batches ({sum(map(len, bodies)) / 1e6:.1f} MB)")
    results: dict[int, object] = {}
    channels = [grpc.insecure_channel(stack.address("intake")) for _ in per_stream]
    for channel in channels:  # connected before the clock starts
        grpc.channel_ready_future(channel).result(timeout=10)
    threads = [threading.Thread(target=stream, args=(channel, meta, part, results, k))
               for k, (channel, part) in enumerate(zip(channels, per_stream))]
    cpu = CpuMeter(cpu_pids)
    cpu.start()
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t_streamed = time.monotonic()
    for channel in channels:
        channel.close()
    failures = [r for r in results.values() if isinstance(r, Exception)]
    if failures:
        raise failures[0]
    accepted = sum(r.accepted_count for r in results.values())
    rejected = sum(r.rejected_count + r.duplicate_count for r in results.values())
    say(f"streamed in {t_streamed - t0:.1f}s: {accepted} accepted, {rejected} not; sealing")
    if accepted != RECORDS:
        raise AssertionError(f"intake accepted {accepted} of {RECORDS} records")
    stack.intake().SealSubmission(pb.SealSubmissionRequest(submission_id=submission_id),
                                  metadata=meta)
    t_sealed = time.monotonic()

    t_records = t_aggregate = None
    last_said = t_sealed
    while time.monotonic() - t0 < WAIT:
        now = time.monotonic()
        if t_records is None:
            stored = evaluation.record_count()
            if stored >= RECORDS:
                t_records = now
            elif now - last_said >= 2:
                say(f"evaluation unit holds {stored} records")
                last_said = now
        if t_aggregate is None and service_delivery.deliveries.find_one(
                {"submission_id": submission_id, "kind": "aggregate"}, {"_id": 1}):
            t_aggregate = now
        if t_records and t_aggregate:
            break
        time.sleep(0.2)
    cpu.stop()
    sampler.done.set()
    sampler.join()
    if t_records is None or t_aggregate is None:
        for name in stack.procs:
            say(f"--- {name} log ---\n{stack.log_tail(name, 15)}")
        raise AssertionError(f"not done within {WAIT:.0f}s: evaluation records "
                             f"{evaluation.record_count()}/{RECORDS}, aggregate "
                             f"{'in' if t_aggregate else 'missing'}")
    stored = evaluation.record_count()
    if stored != RECORDS:
        raise AssertionError(f"the evaluation unit stored {stored} records, not {RECORDS}")
    end = max(t_records, t_aggregate)
    rate = RECORDS / (end - t0)
    say(f"done in {end - t0:.1f}s")
    show("e2e_records", f"{RECORDS} in {len(bodies)} batches of {BATCH}, {STREAMS} stream(s)")
    show("e2e_streamed_s (intake answered)", f"{t_streamed - t0:.2f}")
    show("e2e_sealed_s", f"{t_sealed - t0:.2f}")
    show("e2e_evaluation_records_stored_s", f"{t_records - t0:.2f}")
    show("e2e_aggregate_stored_s", f"{t_aggregate - t0:.2f}")
    show("intake_records_per_s (to stream answers)", f"{RECORDS / (t_streamed - t0):,.0f}")
    show("end_to_end_records_per_s", f"{rate:,.0f}")
    sampler.report(t0, end)
    cpu.report(RECORDS)
    return rate, submission_id, version


# -- 4. unary latency -------------------------------------------------------------------

def p50_ms(call, calls: int = LATENCY_CALLS, warmup: int = LATENCY_WARMUP) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def fixture_server(module: str, *args: str) -> tuple[subprocess.Popen, str]:
    """Starts tests.bench.<module> on a free port; returns it once it says ready."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", f"tests.bench.{module}", str(port), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    line = proc.stdout.readline()
    if "ready" not in line:
        proc.kill()
        raise AssertionError(f"{module} did not start: {line}{proc.stdout.read()}")
    return proc, f"127.0.0.1:{port}"


def getsubmission_p50(address: str, submission_id: str, metadata=None,
                      calls: int = LATENCY_CALLS) -> float:
    with grpc.insecure_channel(address) as channel:
        stub = intake_pb2_grpc.IntakeServiceStub(channel)
        request = pb.GetSubmissionRequest(submission_id=submission_id)
        return p50_ms(lambda: stub.GetSubmission(request, metadata=metadata, timeout=30),
                      calls=calls, warmup=min(LATENCY_WARMUP, calls))


def latency(stack, version: int, big_submission: str):
    meta = stack.metadata("provider", "ccss")
    small = open_submission(stack, PROGRAMME, version, period="2026Q4")
    intake = stack.intake()
    intake.SubmitRecords(iter([pb.SubmitRecordsRequest(submission_id=small, records=[
        to_record(r) for r in synthetic_records(10, seed=4, quarter="2026Q4")])]), metadata=meta)
    say(f"GetSubmission x{LATENCY_CALLS}: intake (nameko-grpc)")
    intake_ms = getsubmission_p50(stack.address("intake"), small, meta)
    big_ms = getsubmission_p50(stack.address("intake"), big_submission, meta, calls=20)
    results = {}
    servers = {"grpcio_server": (), "nameko_server": (),
               "grpcio_same_work": (stack.db_uri("intake"), str(stack.identities))}
    for name, args in servers.items():
        say(f"GetSubmission x{LATENCY_CALLS}: {name}")
        proc, address = fixture_server("grpcio_server" if args else name, *args)
        try:
            results[name] = getsubmission_p50(address, small, meta if args else None)
        finally:
            proc.kill()
            proc.wait(timeout=10)
    grpcio_ms, nameko_ms = results["grpcio_server"], results["nameko_server"]
    same_ms = results["grpcio_same_work"]
    show("getsubmission_p50_ms intake (nameko-grpc)", f"{intake_ms:.2f}")
    show("getsubmission_p50_ms plain grpcio, same work", f"{same_ms:.2f}")
    show("getsubmission_p50_ratio intake/grpcio same work", f"{intake_ms / same_ms:.1f}")
    show("getsubmission_p50_ms intake, big submission", f"{big_ms:.2f} (p50 of 20)")
    show("getsubmission_p50_ms nameko-grpc fixed reply", f"{nameko_ms:.2f}")
    show("getsubmission_p50_ms grpcio fixed reply", f"{grpcio_ms:.2f}")
    show("getsubmission_p50_ratio intake/grpcio fixed reply", f"{intake_ms / grpcio_ms:.1f}")
    show("getsubmission_p50_ratio nameko-grpc/grpcio", f"{nameko_ms / grpcio_ms:.1f}")


# -- the run ------------------------------------------------------------------------------

def main():
    say(f"generating {RECORDS} synthetic records")
    rows = list(synthetic_records(RECORDS, seed=2026))
    with tempfile.TemporaryDirectory(prefix="tiaki-bench-") as tmp:
        say("starting the stack (purpose_router, intake, two units)")
        stack = start_stack(Path(tmp))
        try:
            say(f"raw broker: {RECORDS} records in messages of {RAW_MESSAGE_RECORDS}")
            raw, preencoded = raw_broker(stack.amqp_uri, rows)
            show("raw_broker_records_per_s", f"{raw:,.0f}")
            show("raw_broker_preencoded_records_per_s", f"{preencoded:,.0f} (not in the ratio)")
            pids = {name: proc.pid for name, proc in stack.procs.items()}
            infra = {"store": listener_pid(int(STORE_URI.rsplit(":", 1)[1].split("/")[0])),
                     "rabbitmq": listener_pid(int(AMQP_HOST.rsplit(":", 1)[1]))}
            cpu_pids = dict(pids, bench=os.getpid(),
                            **{f"{k} (shared)": v for k, v in infra.items() if v})
            e2e, submission_id, version = end_to_end(stack, rows, pids, cpu_pids)
            del rows
            latency(stack, version, submission_id)
        finally:
            say("tearing down the stack")
            drop(stack)
    print(f"end_to_end_vs_raw_broker {e2e / raw:.3f}", flush=True)


if __name__ == "__main__":
    main()
