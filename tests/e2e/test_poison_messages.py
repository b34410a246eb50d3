"""Malformed broker messages on every queue a service or a unit consumes (found
on the broker, so a new consumer is covered without editing this file): not
JSON, not UTF-8, pickles, deep nesting, the wrong shape, missing fields, wrong
types, unknown kinds, huge payloads and near-misses that pass the first checks.

Each is parked in its queue's `.dlq`, no process ends, every consumer stays
attached and serves the next good message (a whole submission afterwards),
and nothing of a poison message is stored. `tiaki dead-letters` reads them
and puts them back."""

from __future__ import annotations

import json
import pickle
import time
import uuid

import amqp
import pytest
import requests
from click.testing import CliRunner
from kombu import Connection, Exchange, Producer, Queue

from tests.e2e.journey import submit
from tests.e2e.test_bad_input import new_programme, plan_dict
from tests.stack import RABBIT_MGMT
from tiaki.cli.app import cli
from tiaki.plumbing.dead_letter import dlq_name
from tiaki.requests.v1 import requests_pb2 as rpb

EXPECTED = {"evt-intake-records_accepted--purpose_router.route_batch",
            "evt-intake-submission_sealed--purpose_router.seal_submission",
            "rpc-intake", "rpc-purpose_router", "tiaki.unit.evaluation",
            "tiaki.unit.service-delivery"}
JSON = "application/json"

# (name, body bytes, content type): poison on any queue.
COMMON = [
    ("not_json", b"{not json", JSON),
    ("not_utf8", b'{"kind": "records", "unit_id": "\xff\xfe"}', JSON),
    ("pickle", pickle.dumps({"kind": "records"}), "application/x-python-serialize"),
    ("deep", b"[" * 100_000 + b"]" * 100_000, JSON),
    ("list", b"[1, 2, 3]", JSON),
    ("string", b'"records_accepted"', JSON),
    ("null", b"null", JSON),
    ("empty", b"{}", JSON),
    ("wrong_types", json.dumps({"submission_id": 5, "provider_id": None, "programme_id": [],
                                "plan_version": "1", "batch_id": {}, "records": "x", "kind": 7,
                                "unit_id": 3, "args": "x", "kwargs": []}).encode(), JSON),
    ("unknown_kind", json.dumps({"kind": "teleport", "unit_id": "evaluation",
                                 "delivery_id": "d"}).encode(), JSON),
    ("huge", json.dumps({"kind": "records", "records": [{"junk": "x" * 100}] * 30_000,
                         "batch_id": "b", "args": [], "kwargs": {}}).encode(), JSON),
]


def consumed_queues(stack) -> dict[str, int]:
    """Queue -> consumers, for every queue something consumes in the stack's vhost
    (not reply queues, which belong to one caller, nor the .dlq queues, nor an
    instance's own auto-delete wake-up queue: it carries signals, acked on
    receipt, so a malformed one is dropped, never redelivered)."""
    reply = requests.get(f"{RABBIT_MGMT}/api/queues/{stack.vhost}", auth=stack.broker.admin,
                         timeout=10)
    reply.raise_for_status()
    return {q["name"]: q.get("consumers", 0) for q in reply.json()
            if not q["name"].startswith("rpc.reply-") and not q["name"].endswith(".dlq")
            and not q.get("auto_delete") and q.get("consumers", 0)}


def parked(conn, queue: str) -> int:
    with conn.channel() as channel:
        return channel.queue_declare(dlq_name(queue), passive=True)[1]


def documents(stack) -> dict[str, int]:
    out = {}
    for db in stack.mongo.list_database_names():
        if db.startswith(stack.name):
            for name in stack.mongo[db].list_collection_names():
                out[f"{db}.{name}"] = stack.mongo[db][name].count_documents({})
    return out


def batch(programme_id: str, version: int, **changes) -> dict:
    body = {"submission_id": f"poison-{uuid.uuid4().hex[:8]}", "provider_id": "ccss",
            "programme_id": programme_id, "plan_version": version, "period": "2026Q3",
            "batch_id": f"poison-{uuid.uuid4().hex[:8]}",
            "records": [{"pseudonyms": {"eval": "a" * 64}, "fields": {
                "referral_date": "2026-07-01", "region": "North", "sessions": 3}}]}
    body.update(changes)
    return body


def delivery(unit: str, **changes) -> dict:
    records = [{"pseudonym": "b" * 64, "region": "North"}]
    body = {"delivery_id": f"poison-{uuid.uuid4().hex[:8]}", "kind": "records",
            "provider_id": "ccss", "programme_id": "p", "plan_version": 1,
            "submission_id": "s", "period": "2026Q3", "purpose_id": "eval", "unit_id": unit,
            "fields": ["pseudonym", "region"], "record_count": 1,
            "content_hash": "0" * 64, "records": records}
    body.update(changes)
    return body


def near_misses(queue: str, programme_id: str, version: int) -> list[tuple[str, bytes, str]]:
    """Messages of the right shape at first sight, wrong further in."""
    out: list[dict] = []
    if queue.endswith("route_batch"):
        out = [batch(programme_id, version, records=[{"pseudonyms": {}, "fields": {}}]),
               batch("no-such-programme", 1),
               batch(programme_id, version, plan_version=2**70),
               batch(programme_id, version, records=[{"pseudonyms": {"eval": "c" * 64},
                                                      "fields": {"sessions": "many"}}])]
    elif queue.endswith("seal_submission"):
        out = [{**batch(programme_id, version), "batch_ids": "b1"},
               {**batch(programme_id, version), "batch_ids": [1, 2]}]
    elif queue.startswith("tiaki.unit."):
        unit = queue.removeprefix("tiaki.unit.")
        out = [delivery(unit),  # its content hash does not match
               delivery("someone-else"),
               delivery(unit, record_count=2**70),
               delivery(unit, records=[{"region": "North"}]),
               {"kind": "query", "unit_id": unit, "request_id": "r", "request_kind": "access",
                "purposes": [{"purpose_id": "eval"}]}]
    elif queue.startswith("rpc-"):
        out = [{"args": ["ccss", programme_id, "client-1"], "kwargs": {}}]  # no reply_to
    return [(f"near_miss_{i}", json.dumps(b).encode(), JSON) for i, b in enumerate(out)]


@pytest.fixture(scope="module")
def programme(stack):
    programme_id = new_programme("poison")
    return programme_id, stack.create_plan(plan_dict(programme_id))


def test_poison_is_parked_and_consumers_carry_on(stack, programme):
    programme_id, version = programme
    queues = stack.wait_for(lambda: (q := consumed_queues(stack)) and EXPECTED <= set(q) and q,
                            what=f"consumers on {sorted(EXPECTED)}")
    before = documents(stack)
    sent: dict[str, int] = {}
    with Connection(stack.amqp_uri) as conn:
        producer = Producer(conn.channel(), exchange=Exchange(""))
        start = {q: parked(conn, q) for q in queues}
        for queue in queues:
            messages = COMMON + near_misses(queue, programme_id, version)
            for name, body, content_type in messages:
                producer.publish(body, routing_key=queue, serializer=None,
                                 content_type=content_type, content_encoding="binary",
                                 headers={"poison": name}, delivery_mode=2)
            sent[queue] = len(messages)
        raw = conn.channel()  # no properties at all (no content type, no headers): raw AMQP
        for queue in queues:
            raw.basic_publish(amqp.Message(b"\x00\x01 no content type", reply_to="nowhere"),
                              exchange="", routing_key=queue)
            sent[queue] += 1
        for queue in queues:
            stack.wait_for(lambda q=queue: parked(conn, q) - start[q] >= sent[q], timeout=90,
                           what=f"{sent[queue]} messages parked in {dlq_name(queue)}")
        assert {q: parked(conn, q) - start[q] for q in queues} == sent

    for name, proc in stack.procs.items():
        assert proc.poll() is None, f"{name} ended:\n{stack.log_tail(name)}"
    assert consumed_queues(stack) == queues  # every consumer still attached
    assert documents(stack) == before, "a poison message left something stored"

    # ...and the next good messages are served: a submission reaches the units,
    # and requests' RPCs to intake and purpose_router are answered.
    rows = [{"record_ref": f"r-{i}", "client_ref": f"client-{i}", "referral_date": "2026-07-01",
             "region": "North", "sessions": "2"} for i in range(20)]
    submission_id, summary = submit(stack, programme_id, version, rows)
    assert summary.accepted_count == 20
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=submission_id)
                   and stack.unit_deliveries("service-delivery", submission_id=submission_id),
                   what="the good submission's deliveries")
    # After intake and purpose_router answered requests' RPCs: nobody holds anything.
    nobody = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme_id, client_ref="nobody-at-all", requester="A parent",
        authorisation="signed form"), metadata=stack.metadata("provider", "ccss"), timeout=30)
    assert nobody.request.state == rpb.REQUEST_STATE_COMPLETE


def test_rpc_caller_is_told_its_request_is_malformed(stack):
    with Connection(stack.amqp_uri) as conn, conn.channel() as channel:
        reply_queue = Queue(f"poison-reply-{uuid.uuid4().hex[:8]}", exchange=Exchange(
            "nameko-rpc", type="topic", durable=True), routing_key="poison-reply",
            exclusive=True)(channel)
        reply_queue.declare()
        before = parked(conn, "rpc-intake")
        Producer(channel).publish({"args": "not a list"}, exchange="", routing_key="rpc-intake",
                                  reply_to="poison-reply", correlation_id="c-1",
                                  serializer="json")
        deadline = time.monotonic() + 30
        while (answer := reply_queue.get(no_ack=True)) is None:
            assert time.monotonic() < deadline, "no reply to a malformed call"
            time.sleep(0.1)
        error = answer.payload["error"]
        assert error["exc_type"] == "MalformedRequest" and "args" in error["value"]
        stack.wait_for(lambda: parked(conn, "rpc-intake") == before + 1,
                       what="the malformed call parked")


def test_dead_letters_cli_lists_and_replays(stack, programme):
    """A parked delivery is read, put back with `replay`, and parked again by
    the unit (it is still poison): the CLI's round trip, on the real broker."""
    queue = "tiaki.unit.evaluation"
    runner = CliRunner()
    base = ["dead-letters", "--amqp-uri", stack.amqp_uri]
    with Connection(stack.amqp_uri) as conn:
        Producer(conn.channel()).publish(delivery("evaluation", delivery_id="poison-cli"),
                                         exchange="", routing_key=queue, serializer="json",
                                         headers={"nameko.call_id_stack": ["cli-test"]})
        stack.wait_for(lambda: "poison-cli" in runner.invoke(cli, base + ["list", queue,
                                                                          "--limit", "500"]).output,
                       what="the delivery listed as parked")
        listed = runner.invoke(cli, base + ["list", queue, "--limit", "500"])
        assert listed.exit_code == 0, listed.output
        assert "rejected from tiaki.unit.evaluation" in listed.output
        # Listing reads without acknowledging: the messages are back in the queue once the
        # listing's connection is closed, which the broker sees a moment later.
        count = stack.wait_for(lambda: parked(conn, queue), what="the listed messages back")
        replayed = runner.invoke(cli, base + ["replay", f"{queue}.dlq"])
        assert replayed.exit_code == 0, replayed.output
        assert f"replayed {count} message(s)" in replayed.output
        # Still poison: the unit parks every one of them again.
        stack.wait_for(lambda: parked(conn, queue) == count, what="the replayed messages parked")
    missing = runner.invoke(cli, base + ["list", "tiaki.unit.nobody"])
    assert missing.exit_code != 0 and "no dead-letter queue" in missing.output
