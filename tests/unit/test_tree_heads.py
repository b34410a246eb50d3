"""Signed tree heads and a client's check of each new head against the one it
remembered: truncation, an edit with the rest rehashed, a head signed with
another key and a root the entries do not rebuild are each told apart, with
no head passed by hand; an honest growing ledger passes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiaki.core import merkle, tree_heads
from tiaki.core.tree_heads import SignedHead

KEY = tree_heads.new_signing_key()
PUBLIC = tree_heads.public_key(KEY)


def hashes(n: int, edited_at: int = -1) -> list[str]:
    return [hashlib.sha256(f"{i}{'x' if i == edited_at else ''}".encode()).hexdigest()
            for i in range(n)]


def head(entry_hashes, key=KEY, provider="ccss", when="2026-12-01T00:00:00+00:00"):
    return tree_heads.sign(key, provider, len(entry_hashes), tree_heads.root_of(entry_hashes),
                           when)


def prover(entry_hashes):
    leaves = [merkle.leaf_hash(h) for h in entry_hashes]
    return lambda first, second: merkle.consistency_proof(first, leaves[:second])


def run(remembered, served, listed, served_key=PUBLIC):
    return tree_heads.check(remembered, served_key, head(served) if isinstance(served, list)
                            else served, prover(served if isinstance(served, list) else listed),
                            listed, "2026-12-02T00:00:00+00:00")


def remembered_after(entry_hashes):
    first = run(None, entry_hashes, entry_hashes)
    assert first.problem == "" and first.remember
    return first.remember


def test_the_signature_covers_every_field_of_the_head():
    signed = head(hashes(3))
    assert tree_heads.signature_holds(PUBLIC, signed)
    for change in ({"tree_size": 2}, {"root_hash": "00" * 32}, {"provider_id": "other"},
                   {"timestamp": "2027-01-01T00:00:00+00:00"}):
        assert not tree_heads.signature_holds(PUBLIC, SignedHead(**{**signed.to_dict(), **change}))
    assert not tree_heads.signature_holds(tree_heads.public_key(tree_heads.new_signing_key()),
                                          signed)


def test_the_first_head_pins_the_key_and_says_so():
    result = run(None, hashes(4), hashes(4))
    assert result.problem == ""
    assert "trust on first use" in result.notes[0]
    assert tree_heads.fingerprint(PUBLIC) in result.notes[0]
    assert result.remember["public_key"] == PUBLIC.hex()
    assert result.remember["head"]["tree_size"] == 4


def no_proof_needed(first, second):
    raise AssertionError(f"no proof is needed from {first} to {second}")


@given(st.integers(0, 40), st.integers(0, 40))
def test_an_honest_growing_ledger_passes(n, more):
    remembered = remembered_after(hashes(n))
    served = head(hashes(n + more))
    prove = prover(hashes(n + more)) if 0 < n < n + more else no_proof_needed
    later = tree_heads.check(remembered, PUBLIC, served, prove, hashes(n + more),
                             "2026-12-02T00:00:00+00:00")
    assert later.problem == "" and later.notes == ()
    assert later.remember["head"]["tree_size"] == n + more
    assert later.remember["pinned_at"] == remembered["pinned_at"]


@given(st.integers(2, 40), st.data())
def test_tail_truncation_is_detected(n, data):
    remembered = remembered_after(hashes(n))
    cut = data.draw(st.integers(0, n - 1))
    result = run(remembered, hashes(cut), hashes(cut))
    assert result.problem.startswith(f"the ledger now has {cut} entries, fewer than the head "
                                     f"of {n} entries")
    assert result.remember is None


@given(st.integers(1, 40), st.integers(0, 10), st.data())
def test_an_edit_with_the_rest_rehashed_is_detected(n, more, data):
    """The store writer edits entry k and rehashes everything after it (a chain
    that verifies); the router signs what it finds; the remembered head shows it."""
    remembered = remembered_after(hashes(n))
    at = data.draw(st.integers(0, n - 1))
    rewritten = hashes(n + more, edited_at=at)
    result = run(remembered, rewritten, rewritten)
    assert result.problem == (f"the ledger's first {n} entries are no longer those of the head "
                              f"of {n} entries verified on 2026-12-02T00:00:00+00:00: it was "
                              "rewritten")


def test_a_head_signed_with_another_key_is_refused():
    remembered = remembered_after(hashes(3))
    other = tree_heads.new_signing_key()
    # Served with the other key: the pin catches it.
    swapped = run(remembered, head(hashes(4), key=other), hashes(4),
                  served_key=tree_heads.public_key(other))
    assert "signing key is now" in swapped.problem and "not trusted" in swapped.problem
    # Served with the pinned key but signed with the other: the signature fails.
    forged = run(remembered, head(hashes(4), key=other), hashes(4))
    assert forged.problem.startswith("the signed head (size 4) is forged")


def test_a_root_the_entries_do_not_rebuild_is_refused():
    # A validly signed head, but the entries listed are not the ones it covers.
    result = run(None, head(hashes(5)), hashes(5, edited_at=2))
    assert result.problem.startswith("the listed entries do not rebuild the signed root")
    short = run(None, head(hashes(5)), hashes(4))
    assert short.problem.startswith("the signed head covers 5 entries but only 4 were listed")


def test_a_head_that_kept_its_size_but_not_its_root_is_refused():
    remembered = remembered_after(hashes(5))
    result = run(remembered, hashes(5, edited_at=4), None)
    assert "no longer those of the head of 5 entries" in result.problem


@pytest.mark.parametrize("listed", [None, hashes(7)])
def test_entries_are_optional_for_a_filtered_listing(listed):
    remembered = remembered_after(hashes(3))
    assert run(remembered, hashes(7), listed).problem == ""
