"""The ledger proves itself without trusting the store: with the services as
processes, someone who can write the store (not read purpose_router's
key-encryption key) cuts the tail off ccss's ledger, edits an entry and
rehashes every later one, and replaces the signing key; `tiaki flows --verify`
run as the provider would run it, with no head passed by hand, reports each,
and so does an Agency unit's SDK. Each tampering is undone before the next."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.journey import quarter, submit
from tests.stack import ROOT, drop, start_stack
from tiaki.core.ledger import entry_hash
from tiaki.unit.client import UnitClient


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A stack of this module's own: it tampers with the store."""
    s = start_stack(tmp_path_factory.mktemp("signed"), units=("evaluation",))
    try:
        yield s
    finally:
        drop(s)


@pytest.fixture(scope="module")
def ledger(stack, example_plan):
    """ccss's ledger after two submissions, as the store holds it."""
    version = stack.create_plan(example_plan)
    for seed in (1, 2):
        submit(stack, "best-foot-forward", version, quarter(40, seed=seed), size=10)
    db = stack.mongo[f"{stack.name}_purpose_router"].ledger
    # Deliveries to both units and the evaluation unit's acknowledgements.
    stack.wait_for(lambda: db.count_documents({"provider_id": "ccss",
                                               "kind": "acknowledgement"}) >= 8,
                   what="deliveries acknowledged")
    return db


def tiaki(stack, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, TIAKI_ROUTER=stack.address("purpose_router"),
               TIAKI_TOKEN_FILE=str(stack.tmp / "tokens" / "provider-ccss"))
    return subprocess.run([sys.executable, "-c", "from tiaki.cli.app import main; main()",
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def verify(stack) -> tuple[int, str]:
    done = tiaki(stack, "flows", "--verify")
    return done.returncode, done.stdout + done.stderr


def entries(ledger) -> list[dict]:
    return list(ledger.find({"provider_id": "ccss"}).sort("sequence"))


def restore(ledger, saved: list[dict]):
    ledger.delete_many({"provider_id": "ccss"})
    ledger.insert_many(saved)


@pytest.fixture(scope="module")
def unit(stack, tmp_path_factory):
    client = UnitClient("evaluation", stack.amqp_uri, stack.db_uri("unit_evaluation"),
                        stack.target("purpose_router"),
                        (stack.tmp / "tokens" / "unit-evaluation").read_text().strip(),
                        heads_file=str(tmp_path_factory.mktemp("unit") / "heads.json"))
    yield client
    client.channel.close()


def test_first_verify_pins_the_key_and_remembers_the_head(stack, ledger, unit):
    code, out = verify(stack)
    assert code == 0, out
    assert "note: trust on first use: pinned the ledger's signing key" in out
    assert f"signed head holds: {len(entries(ledger))} entries" in out
    assert unit.check_ledger("ccss").problem == ""
    # Again, nothing changed: holds, no new pin.
    code, out = verify(stack)
    assert code == 0 and "trust on first use" not in out, out


def test_tail_truncation_is_detected(stack, ledger, unit):
    saved = entries(ledger)
    ledger.delete_many({"provider_id": "ccss", "sequence": {"$gt": len(saved) - 3}})
    try:
        code, out = verify(stack)
        assert code == 1, out
        assert "ledger intact" in out  # the chain that is left is whole
        assert (f"signed head broken: the ledger now has {len(saved) - 3} entries, fewer than "
                f"the head of {len(saved)} entries") in out
        assert "entries were removed" in unit.check_ledger("ccss").problem
    finally:
        restore(ledger, saved)
    assert verify(stack)[0] == 0


def test_an_edit_with_the_rest_rehashed_is_detected(stack, ledger, unit):
    saved = entries(ledger)
    previous = saved[4]["previous_hash"]
    for doc in saved[4:]:   # entry 5 says it held 1 record; every later link is remade
        changed = dict(doc, previous_hash=previous)
        if doc["sequence"] == 5:
            changed["record_count"] = 1
        changed["entry_hash"] = previous = entry_hash(changed)
        ledger.replace_one({"_id": doc["_id"]}, changed)
    try:
        code, out = verify(stack)
        assert code == 1, out
        assert "server: ledger intact" in out and "\nledger intact" in out  # the chain holds
        assert (f"signed head broken: the ledger's first {len(saved)} entries are no longer "
                "those of the head") in out
        assert "it was rewritten" in unit.check_ledger("ccss").problem
    finally:
        restore(ledger, saved)
    assert verify(stack)[0] == 0


def test_a_head_signed_with_another_key_is_detected(stack, ledger, unit):
    """The store writer removes the sealed signing key: purpose_router, restarted,
    makes another and signs with it. Heads signed with it are not trusted."""
    keys = stack.mongo[f"{stack.name}_purpose_router"].ledger_keys
    assert keys.count_documents({}) == 1
    keys.delete_many({})
    stack.kill("purpose_router")
    stack.start("purpose_router")
    code, out = verify(stack)
    assert code == 1, out
    assert "signed head broken: the ledger's signing key is now" in out
    assert "heads signed with another key are not trusted" in out
    assert "not trusted" in unit.check_ledger("ccss").problem
