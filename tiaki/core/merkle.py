"""The Merkle tree over a provider's ledger, as Certificate Transparency
defines it (RFC 9162 section 2.1): leaves are the entries' entry_hash bytes in
sequence order, hashed with a 0x00 prefix; inner nodes with 0x01. A tree of n
entries has one root hash; an inclusion proof shows an entry is in it, and a
consistency proof shows a tree of m entries is the first m entries of a tree
of n (nothing removed, nothing rewritten). docs/ledger.md describes it.

Hashes here are raw bytes (32 of them); the ledger's hex entry hashes go in
through `leaf_hash`."""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry_hash_hex: str) -> bytes:
    """The tree's leaf for one ledger entry: SHA-256(0x00 || entry_hash bytes)."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; SHA-256 of nothing for no leaves."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf `index` (from 0) in the tree of `leaves`."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return inclusion_proof(index, leaves[:k]) + [root(leaves[k:])]
    return inclusion_proof(index - k, leaves[k:]) + [root(leaves[:k])]


def consistency_proof(first_size: int, leaves: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): that the tree of the first `first_size` leaves is a
    prefix of the tree of `leaves`. Empty when first_size is 0 or n."""
    if not 0 <= first_size <= len(leaves):
        raise ValueError(f"no tree of {first_size} within a tree of {len(leaves)}")
    if first_size in (0, len(leaves)):
        return []
    return _subproof(first_size, leaves, True)


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [root(leaves)]
    k = _split(n)
    if m <= k:
        return _subproof(m, leaves[:k], whole) + [root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [root(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, tree_size: int, proof: list[bytes],
                     root_hash: bytes) -> bool:
    """RFC 9162 2.1.3.2: whether `leaf` is leaf `index` of the tree of
    `tree_size` leaves whose root is `root_hash`."""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(first_size: int, first_root: bytes, second_size: int,
                       second_root: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether the tree of `first_size` leaves with
    `first_root` is the start of the tree of `second_size` with `second_root`.
    The empty tree is the start of every tree; equal sizes need equal roots."""
    if not 0 <= first_size <= second_size:
        return False
    if first_size == 0:
        return not proof and (second_size > 0 or second_root == first_root == EMPTY_ROOT)
    if first_size == second_size:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # an exact power of two: its root is a node
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root
