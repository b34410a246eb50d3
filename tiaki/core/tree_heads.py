"""Signed tree heads: purpose_router's signed statement of a provider's
ledger at one moment, {provider_id, tree_size, root_hash, timestamp} as
canonical JSON (core.ledger.canonical_json) signed with Ed25519; and the check
a provider's client makes of each new head against the last one it verified
(which it remembers itself), so that entries removed from the end or rewritten
and rehashed show without a head passed by hand. docs/ledger.md describes it.

Pure: the callers fetch keys, heads and proofs and keep what is remembered."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from tiaki.core import merkle
from tiaki.core.ledger import canonical_json


@dataclass(frozen=True)
class SignedHead:
    provider_id: str
    tree_size: int
    root_hash: str   # hex
    timestamp: str   # ISO 8601, UTC
    signature: str = ""  # hex Ed25519 signature over payload()

    def payload(self) -> bytes:
        """The signed bytes: canonical JSON of the head without its signature."""
        return canonical_json({"provider_id": self.provider_id, "tree_size": self.tree_size,
                               "root_hash": self.root_hash, "timestamp": self.timestamp})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SignedHead:
        return cls(str(d["provider_id"]), int(d["tree_size"]), str(d["root_hash"]),
                   str(d["timestamp"]), str(d.get("signature", "")))


def new_signing_key() -> bytes:
    """A fresh Ed25519 private key, as its 32 raw bytes."""
    return Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                      NoEncryption())


def public_key(private_key: bytes) -> bytes:
    """The raw 32-byte public key of a raw private key."""
    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def fingerprint(public: bytes) -> str:
    """How a person compares keys: SHA-256 of the raw public key, 32 hex digits."""
    return hashlib.sha256(public).hexdigest()[:32]


def sign(private_key: bytes, provider_id: str, tree_size: int, root_hash: str,
         timestamp: str) -> SignedHead:
    head = SignedHead(provider_id, tree_size, root_hash, timestamp)
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(head.payload())
    return SignedHead(provider_id, tree_size, root_hash, timestamp, signature.hex())


def signature_holds(public: bytes, head: SignedHead) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(head.signature),
                                                          head.payload())
    except (InvalidSignature, ValueError):
        return False
    return True


def root_of(entry_hashes: list[str]) -> str:
    """The tree's root (hex) over entry hashes in sequence order."""
    return merkle.root([merkle.leaf_hash(h) for h in entry_hashes]).hex()


# -- a client's check of a new head ------------------------------------------------

@dataclass(frozen=True)
class HeadCheck:
    problem: str = ""           # what is wrong, in a sentence; "" when the head holds
    notes: tuple[str, ...] = ()  # what the client should say anyway (a key pinned)
    remember: dict | None = None  # what to remember for the provider when it holds


def check(remembered: dict | None, served_key: bytes, head: SignedHead,
          prove: Callable[[int, int], list[bytes]], entry_hashes: list[str] | None,
          now: str) -> HeadCheck:
    """Checks a head served for a provider against what the client remembered
    for it ({"public_key", "pinned_at", "head", "verified_at"}, or None the first
    time): the key is the pinned one (pinned now on first use, and said so);
    the head's signature holds under it; `entry_hashes` (the listed entries, in
    order, when the client listed them all) rebuild its root; and the tree it
    describes starts with the remembered head's (`prove(first, second)` fetches
    the consistency proof). Returns what to remember when all of that holds."""
    notes: list[str] = []
    pinned = bytes.fromhex(remembered["public_key"]) if remembered else served_key
    pinned_at = remembered["pinned_at"] if remembered else now
    if remembered is None:
        notes.append(f"trust on first use: pinned the ledger's signing key "
                     f"{fingerprint(served_key)} for {head.provider_id}; later heads must be "
                     f"signed with it")
    elif served_key != pinned:
        return HeadCheck(f"the ledger's signing key is now {fingerprint(served_key)}, not "
                         f"{fingerprint(pinned)} pinned on {pinned_at}: heads signed with "
                         "another key are not trusted")
    if not signature_holds(pinned, head):
        return HeadCheck(f"the signed head (size {head.tree_size}) is forged: its signature "
                         f"does not verify under the pinned key {fingerprint(pinned)}")
    if entry_hashes is not None:
        if len(entry_hashes) < head.tree_size:
            return HeadCheck(f"the signed head covers {head.tree_size} entries but only "
                             f"{len(entry_hashes)} were listed: entries are missing")
        if root_of(entry_hashes[:head.tree_size]) != head.root_hash:
            return HeadCheck(f"the listed entries do not rebuild the signed root of "
                             f"{head.tree_size} entries: the entries or the head were altered")
    if remembered is not None:
        if problem := _consistency_problem(SignedHead.from_dict(remembered["head"]), head,
                                           prove, remembered.get("verified_at", "")):
            return HeadCheck(problem)
    return HeadCheck("", tuple(notes), {"public_key": pinned.hex(), "pinned_at": pinned_at,
                                        "head": head.to_dict(), "verified_at": now})


def _consistency_problem(old: SignedHead, new: SignedHead,
                         prove: Callable[[int, int], list[bytes]], when: str) -> str:
    kept = f"the head of {old.tree_size} entries verified on {when}"
    if new.provider_id != old.provider_id:
        return f"the signed head is {new.provider_id}'s, not {old.provider_id}'s"
    if new.tree_size < old.tree_size:
        return (f"the ledger now has {new.tree_size} entries, fewer than {kept}: "
                "entries were removed from the end")
    # From the empty tree, or to a tree of the same size, the proof is empty.
    proof = prove(old.tree_size, new.tree_size) if 0 < old.tree_size < new.tree_size else []
    if not merkle.verify_consistency(old.tree_size, bytes.fromhex(old.root_hash), new.tree_size,
                                     bytes.fromhex(new.root_hash), proof):
        return (f"the ledger's first {old.tree_size} entries are no longer those of {kept}: "
                "it was rewritten")
    return ""
