"""Issue 15: tiaki on a real three-node RabbitMQ cluster (tests/cluster/infra.py),
with every queue a service or unit consumes a quorum queue with a member on
each node, and every process given all three nodes' addresses.

A provider streams CLUSTER_RECORDS records (100,000 in `make test-cluster`,
5,000 in `make test`) in parts, and families open access requests meanwhile,
while in turn: the node leading the evaluation unit's queue is killed with
SIGKILL and started again later; a follower of that queue is killed and
started again; every node is restarted one by one (a rolling restart, each
node taken down only once no quorum queue needs it for its majority).
CLUSTER_FAULTS=leader (`make test`) does the first only. SCALE=2 runs two
instances of every service.

Afterwards the figures are printed (pytest -s) and checked: every record once
in the unit's store, the aggregate once, every delivery in the ledger once
and acknowledged, the ledger verifies, every request complete. Before the
faults, a submission on the healthy cluster measures records/s end to end."""

from __future__ import annotations

import math
import os
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.cluster.infra import RabbitCluster, cpu_seconds
from tests.e2e.journey import batches, open_submission
from tests.e2e.journey import quarter as synthetic_quarter
from tests.faults.test_faults import Faults, account, retrying, seal, stored_at_evaluation
from tests.stack import ROOT, drop, start_stack
from tiaki.core.messages import unit_queue_name
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.unit.store import UnitStore

RECORDS = int(os.environ.get("CLUSTER_RECORDS", "100000"))
REQUESTS = int(os.environ.get("CLUSTER_REQUESTS", "12"))
FAULTS = os.environ.get("CLUSTER_FAULTS", "all")
SCALE = int(os.environ.get("SCALE", "1") or "1")
STREAMS = 2  # concurrent SubmitRecords streams in the healthy measurement
PARTS = 10  # the submission goes in parts, so records flow through every fault
DOWN_FOR = 5.0  # seconds a killed node stays down
PROGRAMME = "best-foot-forward"
EVALUATION_QUEUE = unit_queue_name("evaluation")


def figure(label: str, value):
    print(f"cluster(SCALE={SCALE}) {label:<56} {value}", flush=True)


@pytest.fixture(scope="module")
def cluster():
    c = RabbitCluster()
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def stack(cluster, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIAKI_STATE_DIR", str(tmp_path_factory.mktemp("state")))
        # A query lost with a node is asked again within seconds, not five minutes.
        patch.setenv("REQUESTS_QUERY_AGAIN_AFTER", "10")
        patch.setenv("REQUESTS_ESCALATE_EVERY", "3")
        s = start_stack(tmp_path_factory.mktemp("cluster"), instances=SCALE,
                        broker=cluster.broker)
        try:
            yield s
        finally:
            drop(s)


@pytest.fixture(scope="module")
def version(stack):
    v, _ = retrying("CreatePlan", lambda: stack.create_plan(yaml.safe_load(
        (ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text())))
    return v


def fresh_rows(count: int, seed: int, quarter: str) -> list[dict]:
    tag = uuid.uuid4().hex[:6]
    return [dict(r, client_ref=f"{tag}-{r['client_ref']}")
            for r in synthetic_quarter(count, seed=seed, quarter=quarter)]


def send(stack, sid, rows) -> tuple[int, int]:
    """One SubmitRecords stream, sent again whole until it gets through (intake
    counts what it already has as duplicates); returns (accepted + duplicates, resends)."""
    meta = stack.metadata("provider", "ccss")
    summary, resent = retrying("SubmitRecords", lambda: stack.intake().SubmitRecords(
        batches(sid, rows, size=1000), metadata=meta, timeout=600), within=600)
    assert summary.rejected_count == 0
    return summary.accepted_count + summary.duplicate_count, resent


def test_every_consumed_queue_is_replicated_on_all_three_nodes(cluster, stack, version):
    """The units' queues, the services' event and RPC queues and every
    dead-letter queue: quorum, a member on each node. What stays classic is a
    process's own, gone with it: its RPC reply queue (transient, so made again
    on the node it reconnects to) and insights' wake-up queues (exclusive)."""
    listed = cluster.api(f"/api/queues/{stack.vhost}")
    quorum = {q["name"]: sorted(q.get("members", [])) for q in listed if q["type"] == "quorum"}
    classic = sorted(q["name"] for q in listed if q["type"] != "quorum")
    figure("quorum queues (members on every node)", len(quorum))
    figure("classic queues (a process's own)", classic)
    every_node = sorted(n.node for n in cluster.nodes)
    assert quorum and all(members == every_node for members in quorum.values()), quorum
    for name in (EVALUATION_QUEUE, unit_queue_name("service-delivery"), "rpc-purpose_router",
                 "rpc-intake", "evt-intake-records_accepted--purpose_router.route_batch"):
        assert name in quorum and f"{name}.dlq" in quorum, name
    assert all(name.startswith("rpc.reply-") or ".wake_on_" in name
               for name in classic), classic
    assert not [q["name"] for q in listed if q["type"] != "quorum" and q["durable"]
                and not q.get("exclusive")]


def test_records_per_second_on_the_healthy_cluster(cluster, stack, version):
    """The journey with no fault: records/s from the first record sent to the
    last at the evaluation unit, the provider sending two streams at once (as
    two of its systems would; with SCALE=2 each goes to an intake instance of
    its own), and the CPU each process spent per record."""
    rows = fresh_rows(RECORDS, seed=70, quarter="2028Q1")
    sid, _ = retrying("OpenSubmission", lambda: open_submission(stack, PROGRAMME, version,
                                                                period="2028Q1"))
    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    cpu = {**{p: (proc.pid, False) for p, proc in stack.procs.items()},
           **{n.node.split("@")[0]: (n.proc.pid, True) for n in cluster.nodes}}
    before = {name: cpu_seconds(*how) for name, how in cpu.items()}
    started = time.monotonic()
    with ThreadPoolExecutor(STREAMS) as pool:
        counted = sum(n for n, _ in pool.map(lambda part: send(stack, sid, part),
                                             [rows[i::STREAMS] for i in range(STREAMS)]))
    streamed = time.monotonic()
    stack.wait_for(lambda: stored_at_evaluation(evaluation, sid) >= RECORDS, timeout=600,
                   what=f"{RECORDS} records at the evaluation unit")
    arrived = time.monotonic()
    used = {name: cpu_seconds(*how) - before[name] for name, how in cpu.items()}
    figure("healthy: records", counted)
    figure("healthy: streamed, s", f"{streamed - started:.1f}")
    figure("healthy: records/s end to end (machine shared, loaded)",
           f"{RECORDS / (arrived - started):.0f}")
    for name, seconds in sorted(used.items()):
        figure(f"healthy: CPU us/record, {name}", f"{seconds / RECORDS * 1e6:.0f}")
    figure("healthy: CPU us/record, all of ours (the shared store not counted)",
           f"{sum(used.values()) / RECORDS * 1e6:.0f}")
    figure("healthy: cores ours kept busy (the machine has 2)",
           f"{sum(used.values()) / (arrived - started):.2f}")
    assert counted == RECORDS


def test_nothing_lost_or_doubled_when_nodes_fail(cluster, stack, version):
    meta = stack.metadata("provider", "ccss")
    rows = fresh_rows(RECORDS, seed=71, quarter="2028Q2")
    sid, _ = retrying("OpenSubmission", lambda: open_submission(stack, PROGRAMME, version,
                                                                period="2028Q2"))
    evaluation = UnitStore(stack.db_uri("unit_evaluation"))
    notes: list[tuple[str, object]] = []
    leader_down = threading.Event()  # parts after the first wait for it: records in flight

    def kill_the_leader():
        leader = cluster.leader(stack.vhost, EVALUATION_QUEUE)
        cluster.wait_until_safe_to_stop(leader)
        before = stored_at_evaluation(evaluation, sid)
        leader.kill()
        killed = time.monotonic()
        leader_down.set()
        new = stack.wait_for(lambda: (n := cluster.queue(stack.vhost, EVALUATION_QUEUE)
                                      .get("leader")) != leader.node and n, timeout=60,
                             what="a new leader of the evaluation unit's queue")
        notes.append(("leader killed, new leader elected in s",
                      f"{leader.node} -> {new}, {time.monotonic() - killed:.1f}"))
        time.sleep(DOWN_FOR)
        notes.append(("records stored while the old leader was down",
                      stored_at_evaluation(evaluation, sid) - before))
        leader.start()

    def kill_a_follower():
        leader = cluster.leader(stack.vhost, EVALUATION_QUEUE)
        follower = next(n for n in cluster.nodes if n.node != leader.node)
        cluster.wait_until_safe_to_stop(follower)
        follower.kill()
        notes.append(("follower killed", follower.node))
        time.sleep(DOWN_FOR)
        follower.start()

    def rolling_restart():
        for node in cluster.nodes:
            cluster.wait_until_safe_to_stop(node)
            node.stop()
            node.start()

    plan = [("kill -9 the evaluation queue's leader, restart it", kill_the_leader)]
    if FAULTS == "all":
        plan += [("kill -9 a follower, restart it", kill_a_follower),
                 ("rolling restart of the three nodes", rolling_restart)]
    faults = Faults(plan, ready=lambda: stored_at_evaluation(evaluation, sid) > 0)
    faults.start()

    # -- the submission in parts, paced so that records flow through every fault,
    # -- with families' requests opened meanwhile -------------------------------------
    size = math.ceil(RECORDS / PARTS)
    parts = [rows[i:i + size] for i in range(0, RECORDS, size)]
    clients = [r["client_ref"] for r in parts[0][:: max(1, size // REQUESTS)]][:REQUESTS]
    per_part = math.ceil(REQUESTS / (len(parts) - 1))
    opened, counted, resent, open_retries = [], 0, 0, 0
    started = time.monotonic()
    for i, part in enumerate(parts):
        if i:
            leader_down.wait(timeout=300)
        while (faults.is_alive() and faults.error is None
               and len(faults.done) < i * len(plan) // len(parts)):
            time.sleep(0.2)
        n, again = send(stack, sid, part)
        counted, resent = counted + n, resent + again
        for client in clients[(i - 1) * per_part:i * per_part] if i else []:
            reply, failed = retrying("OpenAccessRequest", lambda c=client: stack.requests()
                                     .OpenAccessRequest(rpb.OpenAccessRequestRequest(
                                         programme_id=PROGRAMME, client_ref=c,
                                         requester="the client",
                                         authorisation="signed consent form",
                                         received="2026-03-02"), metadata=meta, timeout=30))
            opened.append(reply.request.request_id)
            open_retries += failed
    streamed = time.monotonic()
    _, seal_retries = retrying("SealSubmission", lambda: seal(stack, sid, meta))
    got, _ = retrying("GetSubmission", lambda: stack.intake().GetSubmission(
        pb.GetSubmissionRequest(submission_id=sid), metadata=meta, timeout=30))

    books = account(stack, evaluation, sid, RECORDS, within=600)
    faults.join(timeout=900)  # a node restarting meanwhile: the seal and the records wait for none
    assert not faults.is_alive(), "the faults did not finish within 15 minutes"
    assert faults.error is None, faults.error

    def every_request():
        listed, _ = retrying("ListRequests", lambda: stack.requests().ListRequests(
            rpb.ListRequestsRequest(), metadata=meta, timeout=30))
        return [r for r in listed.requests if r.request_id in set(opened)]

    stack.wait_for(lambda: all(r.state == rpb.REQUEST_STATE_COMPLETE for r in every_request()),
                   timeout=300, what="every access request complete")
    requests = every_request()
    answers = [sum(h.who == "evaluation" for h in r.history) for r in requests]

    figure("records sent", RECORDS)
    for name, took in faults.done:
        figure(f"fault: {name}, s", f"{took:.1f}")
    for name, value in notes:
        figure(name, value)
    figure("parts resent whole by the provider", resent)
    figure("seal retries", seal_retries)
    figure("streamed, s (faults included)", f"{streamed - started:.1f}")
    figure("all records at the unit, s", f"{books.arrived - started:.1f}")
    figure("records accepted by intake", got.submission.accepted_count)
    books.report(figure, RECORDS)
    figure("access requests opened during the faults", len(opened))
    figure("open calls retried", open_retries)
    figure("access requests complete", sum(r.state == rpb.REQUEST_STATE_COMPLETE
                                           for r in requests))
    figure("evaluation answers per request (want 0 or 1)", sorted(set(answers)))

    assert counted >= RECORDS and got.submission.accepted_count == RECORDS
    books.check(RECORDS)
    assert len(requests) == len(opened) == len(clients)
    assert all(r.state == rpb.REQUEST_STATE_COMPLETE for r in requests)
    assert set(answers) <= {0, 1}


def test_no_broker_password_in_any_log(cluster, stack):
    """Every process was given a URI per node; kombu masks only the first's
    password in what it logs (tiaki/plumbing/logs.py masks the rest)."""
    passwords = {cluster.admin[1]} | {urllib.parse.unquote(uri.split(":")[2].split("@")[0])
                                      for uri in stack.broker_uris.values()}
    logs = {p.name: p.read_text(errors="replace") for p in stack.tmp.glob("*.log")}
    assert logs and all(not any(p in text for p in passwords) for text in logs.values()), [
        name for name, text in logs.items() if any(p in text for p in passwords)]
