"""`tiaki flows --verify` against a ledger server that is lying or whose store
was changed: it remembers the last verified signed head by itself, and reports
entries removed from the end, an edit with the rest rehashed, a head signed
with another key and a root the listed entries do not rebuild, each with no
head passed by hand; the honest growing ledger passes and --kept-head works."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from services.purpose_router.routing.entrypoints import entry_message
from tiaki.cli import app as tcli
from tiaki.cli import flows
from tiaki.core import ledger, merkle, tree_heads
from tiaki.router.v1 import ledger_pb2

KEY = tree_heads.new_signing_key()


def chain(n: int, edited_at: int = 0) -> list[dict]:
    """n chained entries; `edited_at` (a sequence) edited and everything after rehashed."""
    out, previous = [], ledger.GENESIS
    for seq in range(1, n + 1):
        entry = ledger.chain(ledger.new_entry(
            "delivery", delivery_id=f"b{seq}:evaluation", provider_id="ccss",
            programme_id="bff", submission_id="s1", purpose_id="evaluation",
            unit_id="evaluation", fields=["goals_met"],
            record_count=1000 if seq == edited_at else seq, content_hash="ab"),
            seq, previous, f"2026-11-{seq:02d}T09:00:00.000000+00:00")
        previous = entry["entry_hash"]
        out.append(entry)
    return out


class FakeLedger:
    """A LedgerService: lists `entries`, signs a head over `signed` (default
    the entries) with `sign_key`, and publishes `public`."""

    def __init__(self, entries, signed=None, sign_key=KEY, public=None):
        self.entries, self.signed = entries, signed if signed is not None else entries
        self.sign_key = sign_key
        self.public = public or tree_heads.public_key(KEY)

    def ListFlows(self, request, metadata=None):
        return ledger_pb2.ListFlowsResponse(entries=[entry_message(e) for e in self.entries])

    def VerifyLedger(self, request, metadata=None):
        verdict = ledger.verify_chain(self.entries, (request.kept_sequence, request.kept_hash))
        return ledger_pb2.VerifyLedgerResponse(
            intact=verdict.intact, entry_count=len(self.entries),
            head_hash=self.entries[-1]["entry_hash"], first_broken_sequence=verdict.first_broken,
            problem=verdict.problem)

    def GetLedgerKey(self, request, metadata=None):
        return ledger_pb2.GetLedgerKeyResponse(public_key=self.public)

    def GetSignedTreeHead(self, request, metadata=None):
        head = tree_heads.sign(self.sign_key, "ccss", len(self.signed),
                               tree_heads.root_of([e["entry_hash"] for e in self.signed]),
                               "2026-12-01T00:00:00+00:00")
        return ledger_pb2.GetSignedTreeHeadResponse(head=ledger_pb2.SignedTreeHead(
            provider_id=head.provider_id, tree_size=head.tree_size, root_hash=head.root_hash,
            timestamp=head.timestamp, signature=bytes.fromhex(head.signature)))

    def GetConsistencyProof(self, request, metadata=None):
        leaves = [merkle.leaf_hash(e["entry_hash"]) for e in self.signed[:request.second_size]]
        return ledger_pb2.GetConsistencyProofResponse(
            hashes=merkle.consistency_proof(request.first_size, leaves))


@pytest.fixture
def verify(monkeypatch, tmp_path):
    monkeypatch.setenv("TIAKI_STATE_DIR", str(tmp_path / "state"))

    def run(server: FakeLedger, *args):
        monkeypatch.setattr(flows, "_ledger", lambda: server)
        return CliRunner().invoke(tcli.cli, ["--token", "t", "flows", "--verify", *args])
    return run


def test_the_first_verify_pins_the_key_and_remembers_the_head(verify, tmp_path):
    result = verify(FakeLedger(chain(5)))
    assert result.exit_code == 0, result.output
    assert "note: trust on first use: pinned the ledger's signing key" in result.output
    assert f"ed25519 {tree_heads.public_key(KEY).hex()}" in result.output
    assert "signed head holds: 5 entries" in result.output
    memory = tmp_path / "state" / "ledger-heads.json"
    assert stat.S_IMODE(os.stat(memory).st_mode) == 0o600
    # Later, with more entries: no new pin, the consistency proof holds.
    again = verify(FakeLedger(chain(8)))
    assert again.exit_code == 0, again.output
    assert "trust on first use" not in again.output
    assert "signed head holds: 8 entries" in again.output


def test_tail_truncation_is_reported(verify):
    verify(FakeLedger(chain(5)))
    result = verify(FakeLedger(chain(3)))
    assert result.exit_code == 1
    assert "ledger intact: 3 entries" in result.output  # the chain alone cannot tell
    assert ("signed head broken: the ledger now has 3 entries, fewer than the head of 5 "
            "entries verified on") in result.output
    # Still reported on the next run: the truncated head was not remembered.
    assert verify(FakeLedger(chain(3))).exit_code == 1


def test_an_edit_with_the_rest_rehashed_is_reported(verify):
    verify(FakeLedger(chain(5)))
    result = verify(FakeLedger(chain(6, edited_at=2)))
    assert result.exit_code == 1
    assert "ledger intact: 6 entries" in result.output
    assert "signed head broken: the ledger's first 5 entries are no longer those of the head" \
        in result.output


def test_a_head_signed_with_another_key_is_reported(verify):
    verify(FakeLedger(chain(5)))
    other = tree_heads.new_signing_key()
    forged = verify(FakeLedger(chain(6), sign_key=other))
    assert forged.exit_code == 1
    assert "signed head broken: the signed head (size 6) is forged" in forged.output
    swapped = verify(FakeLedger(chain(6), sign_key=other, public=tree_heads.public_key(other)))
    assert swapped.exit_code == 1
    assert "signing key is now" in swapped.output and "not trusted" in swapped.output


def test_a_root_the_listed_entries_do_not_rebuild_is_reported(verify):
    result = verify(FakeLedger(chain(5, edited_at=4), signed=chain(5)))
    assert result.exit_code == 1
    assert "signed head broken: the listed entries do not rebuild the signed root" \
        in result.output


def test_a_kept_head_still_works(verify):
    entries = chain(5)
    ok = verify(FakeLedger(entries), "--kept-head", f"5:{entries[4]['entry_hash']}")
    assert ok.exit_code == 0, ok.output
    cut = verify(FakeLedger(chain(4)), "--kept-head", f"5:{entries[4]['entry_hash']}")
    assert cut.exit_code == 1 and "before the head you kept" in cut.output
