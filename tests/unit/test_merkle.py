"""The ledger's Merkle tree (RFC 9162 2.1): every inclusion and consistency
proof the tree gives verifies, for every size; a changed leaf, a truncated tree
or a proof for another size does not."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from tiaki.core import merkle

# RFC 6962/9162 reference vectors (certificate-transparency's test data): the
# roots of the trees of the first 1 and 8 of these leaves.
VECTOR_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
                 bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
VECTOR_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def leaves(n: int, salt: int = 0) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(f"{salt}:{i}".encode()).hexdigest())
            for i in range(n)]


def test_roots_match_the_reference_vectors():
    hashed = [hashlib.sha256(b"\x00" + d).digest() for d in VECTOR_LEAVES]
    for size, expected in VECTOR_ROOTS.items():
        assert merkle.root(hashed[:size]).hex() == expected
    assert merkle.root([]) == hashlib.sha256(b"").digest()


def test_a_leaf_is_its_entry_hash_with_a_zero_prefix():
    h = "ab" * 32
    assert merkle.leaf_hash(h) == hashlib.sha256(b"\x00" + bytes.fromhex(h)).digest()


sizes = st.integers(min_value=1, max_value=70)


@given(sizes, st.data())
def test_every_inclusion_proof_verifies_and_no_other_leaf_or_position_does(n, data):
    tree = leaves(n)
    top = merkle.root(tree)
    index = data.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(index, tree)
    assert merkle.verify_inclusion(tree[index], index, n, proof, top)
    forged = merkle.leaf_hash("00" * 32)
    assert not merkle.verify_inclusion(forged, index, n, proof, top)
    other = data.draw(st.integers(0, n - 1))
    if other != index and tree[other] != tree[index]:
        assert not merkle.verify_inclusion(tree[other], index, n, proof, top)
    assert not merkle.verify_inclusion(tree[index], n, n, proof, top)


@given(sizes, st.data())
def test_every_consistency_proof_verifies(n, data):
    tree = leaves(n)
    m = data.draw(st.integers(0, n))
    proof = merkle.consistency_proof(m, tree)
    assert merkle.verify_consistency(m, merkle.root(tree[:m]), n, merkle.root(tree), proof)


@given(sizes, st.data())
def test_a_rewritten_prefix_fails_consistency(n, data):
    """An edit anywhere in the first m leaves, with everything after rebuilt:
    the old head's root no longer fits the new tree."""
    tree = leaves(n)
    m = data.draw(st.integers(1, n))
    old_root = merkle.root(tree[:m])
    at = data.draw(st.integers(0, m - 1))
    rewritten = tree[:at] + [merkle.leaf_hash("11" * 32)] + tree[at + 1:]
    proof = merkle.consistency_proof(m, rewritten)
    assert not merkle.verify_consistency(m, old_root, n, merkle.root(rewritten), proof)


@given(st.integers(2, 70), st.data())
def test_a_truncated_tree_is_not_consistent_with_the_longer_one(n, data):
    tree = leaves(n)
    cut = data.draw(st.integers(1, n - 1))
    # The longer tree cannot be proven the start of the shorter one, with
    # either tree's proofs, nor its root pass for the shorter tree's.
    for proof in (merkle.consistency_proof(cut, tree), []):
        assert not merkle.verify_consistency(n, merkle.root(tree), cut,
                                             merkle.root(tree[:cut]), proof)
    assert not merkle.verify_consistency(cut, merkle.root(tree[:cut]), n,
                                         merkle.root(tree[:cut]), [])
    assert not merkle.verify_consistency(cut, merkle.root(tree), n, merkle.root(tree),
                                         merkle.consistency_proof(cut, tree))


@given(st.integers(2, 70), st.data())
def test_a_proof_for_other_sizes_fails(n, data):
    tree = leaves(n)
    m = data.draw(st.integers(1, n - 1))
    proof = merkle.consistency_proof(m, tree)
    wrong = data.draw(st.integers(1, n - 1).filter(lambda x: x != m))
    assert not merkle.verify_consistency(wrong, merkle.root(tree[:wrong]), n,
                                         merkle.root(tree), proof)
