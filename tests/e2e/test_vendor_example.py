"""A vendor's client in another language, from the protos alone: the Node.js
example (tools/vendor-example, docs/vendor-quickstart.md) reads the plan and
ccss's chain head from the running stack with a Bearer token, verifies the
ledger's published test vectors and then ccss's real chain as ListFlows lists
it; a tampered vector, an entry edited in the store and an unknown token each
fail it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.e2e.journey import quarter, submit
from tests.stack import ROOT
from tiaki.router.v1 import ledger_pb2

NODE = shutil.which("node")
EXAMPLE = ROOT / "tools" / "vendor-example" / "tiaki-vendor.js"
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_example(stack, *args: str, token_file=None) -> subprocess.CompletedProcess:
    # The npm packages come from .tools/ (scripts/bootstrap.sh), or a NODE_PATH given.
    env = dict(os.environ, TIAKI_ROUTER=stack.address("purpose_router"),
               TIAKI_TOKEN_FILE=str(token_file or stack.tmp / "tokens" / "provider-ccss"),
               NODE_PATH=os.environ.get("NODE_PATH") or str(ROOT / ".tools" / "node_modules"))
    return subprocess.run([NODE, str(EXAMPLE), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def head(stack) -> str:
    reply = stack.ledger().GetChainHead(ledger_pb2.GetChainHeadRequest(),
                                        metadata=stack.metadata("provider", "ccss"))
    return f"{reply.sequence}:{reply.entry_hash}"


def test_the_node_example_reads_the_plan_and_chain_head_and_verifies_the_vectors(
        stack, example_plan):
    version = stack.create_plan(example_plan)
    submit(stack, example_plan["programme_id"], version, quarter(12))
    stack.wait_for(lambda: not head(stack).startswith("0:"), what="ccss's first ledger entry")

    for _ in range(10):  # entries may still be appended: compare when the head held still
        before = head(stack)
        done = run_example(stack, example_plan["programme_id"])
        if head(stack) == before:
            break
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    vectors = json.loads((ROOT / "docs" / "ledger-test-vectors.json").read_text())
    checks = (len(vectors["canonical"]) + len(vectors["floats_never_hashed"])
              + len(vectors["chain"]) + 3)  # content, Merkle root, signed head
    assert checks == 15 and lines[0] == f"vectors verified: {checks} checks"
    assert lines[1] == (f"plan {example_plan['programme_id']} version {version}: "
                        f"{len(example_plan['items'])} items, "
                        f"{len(example_plan['purposes'])} purposes")
    assert lines[2] == f"chain head {before}"
    # the real chain, listed and checked link by link in JavaScript
    assert lines[3] == f"ledger verified: {before.split(':')[0]} entries, head {before}"


def test_the_node_example_refuses_a_tampered_vector_and_a_missing_token(stack, tmp_path):
    vectors = json.loads((ROOT / "docs" / "ledger-test-vectors.json").read_text())
    vectors["chain"][1]["entry"]["reason"] = "edited"
    tampered = tmp_path / "vectors.json"
    tampered.write_text(json.dumps(vectors))
    (tmp_path / "bad-token").write_text("not-a-token")

    tampered_run = run_example(stack, "", str(tampered))
    unknown_token = run_example(stack, token_file=tmp_path / "bad-token")

    assert tampered_run.returncode == 1
    assert "vector FAILED: entry 2: its contents do not match its hash" in tampered_run.stdout
    assert unknown_token.returncode == 1
    assert "call FAILED: gRPC status 16" in unknown_token.stdout  # UNAUTHENTICATED


def test_the_node_example_finds_an_entry_edited_in_the_store(stack, example_plan):
    if head(stack).startswith("0:"):  # run alone: ccss has no ledger yet
        version = stack.create_plan(example_plan)
        submit(stack, example_plan["programme_id"], version, quarter(6, seed=3))
    stack.wait_for(lambda: not head(stack).startswith("0:"), what="ccss's first ledger entry")
    ledger = stack.client("purpose_router")[f"{stack.name}_purpose_router"].ledger
    first = ledger.find_one({"provider_id": "ccss", "sequence": 1})
    ledger.update_one({"_id": first["_id"]}, {"$set": {"record_count": first["record_count"] + 1}})
    try:
        done = run_example(stack)
    finally:
        ledger.update_one({"_id": first["_id"]}, {"$set": {"record_count": first["record_count"]}})

    assert done.returncode == 1, done.stdout + done.stderr
    assert "entry 1 does not verify" in done.stdout.splitlines()
