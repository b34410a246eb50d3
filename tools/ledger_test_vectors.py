"""Writes docs/ledger-test-vectors.json: the ledger's canonical bytes, entry
hashes, a small chain, its Merkle root and a signed head, made with
tiaki/core/ledger.py, merkle.py and tree_heads.py, for a client in another
language to check its own implementation against (docs/ledger.md).
`--check` exits 1 when the file in docs/ is not what this makes."""

from __future__ import annotations

import hashlib
import json
import sys

import rfc8785

from tiaki.core import ledger, merkle, tree_heads
from tools.examples import ROOT, write_or_check

VECTORS = ROOT / "docs" / "ledger-test-vectors.json"
# A published test key, never a real one: the Ed25519 private key is these 32 bytes.
TEST_PRIVATE_KEY = bytes(range(32))
PROVIDER = "ccss"

# Values that show each rule of the canonical form: key order, no spaces,
# UTF-8 unescaped (non-ASCII, U+2028, DEL), the escapes JSON requires, integers.
CANONICAL = [
    {"z": 1, "a": [], "m": {"b": True, "a": None}},
    {"name": "Māori whānau \u2028 \x7f", "quote": "\"\\/", "controls": "\b\t\n\f\r\x00\x1f"},
    {"largest": 9007199254740991, "smallest": -9007199254740991, "zero": 0},
    # A decimal item's values as the ledger hashes them: their plain text, never numbers.
    {"hours_of_support": "7.5", "rate": "-0.25", "whole": "12", "nothing": "0"},
]

# Floats are never hashed (canonical_json refuses them): JCS writes a number as
# ECMAScript does, Python's json another way. What each writes for these:
FLOATS = [1.0, 1e16, 1e-7, 0.1 + 0.2, -0.0]

CONTENT = [  # what a unit received: records, its pseudonym and the fields it is allowed
    # (an integer item as a number, a decimal item as its text)
    {"pseudonym": "p-5f1c0e", "region": "Te Tai Tokerau", "nights_housed": 12,
     "hours_of_support": "7.5"},
    {"pseudonym": "p-9a02d4", "region": "Wellington", "nights_housed": 0,
     "hours_of_support": "0"},
]


def _entries() -> list[dict]:
    delivery = ledger.new_entry(
        "delivery", delivery_id="b-1:service-planning", provider_id=PROVIDER,
        programme_id="best-foot-forward", submission_id="s-1", purpose_id="service-planning",
        unit_id="service-delivery", fields=["region", "nights_housed"],
        record_count=len(CONTENT), content_hash=ledger.content_hash(CONTENT), period="2026Q3",
        plan_version=1, agreement_version=1, notice_version=1, basis="aware_through_notice")
    acknowledged = ledger.new_entry("acknowledgement", **{
        k: delivery[k] for k in ("delivery_id", "provider_id", "programme_id", "submission_id",
                                 "purpose_id", "unit_id", "record_count", "content_hash")})
    accessed = ledger.new_entry("access", **{
        k: delivery[k] for k in ("delivery_id", "provider_id", "programme_id", "submission_id",
                                 "purpose_id", "unit_id")},
        fields=["region"], accessor="analyst@service-delivery",
        reason="Where to place caseworkers next year", person="rangi.walker")
    out, previous = [], ledger.GENESIS
    for sequence, entry in enumerate((delivery, acknowledged, accessed), start=1):
        link = ledger.chain(entry, sequence, previous,
                            f"2026-10-0{sequence}T09:00:00.000000+00:00")
        out.append(link)
        previous = link["entry_hash"]
    return out


def vectors() -> dict:
    entries = _entries()
    hashes = [e["entry_hash"] for e in entries]
    public = tree_heads.public_key(TEST_PRIVATE_KEY)
    head = tree_heads.sign(TEST_PRIVATE_KEY, PROVIDER, len(entries),
                           tree_heads.root_of(hashes), "2026-10-03T09:00:01.000000+00:00")
    return {
        "about": "tiaki ledger test vectors: see docs/ledger.md. Canonical form: RFC 8785 "
                 "(JCS); hashes SHA-256, hex; Merkle tree RFC 9162 2.1; heads Ed25519. "
                 "No float is ever hashed: decimal values are text (floats_never_hashed "
                 "shows why: JCS and Python's json write them differently).",
        "canonical": [{"value": v, "canonical_hex": ledger.canonical_json(v).hex(),
                       "sha256": hashlib.sha256(ledger.canonical_json(v)).hexdigest()}
                      for v in CANONICAL],
        "floats_never_hashed": [{"python_json": json.dumps(f), "jcs": rfc8785.dumps(f).decode()}
                                for f in FLOATS],
        "content": {"records": CONTENT, "canonical_hex": ledger.canonical_json(CONTENT).hex(),
                    "content_hash": ledger.content_hash(CONTENT)},
        "hashed_fields": list(ledger.HASHED_FIELDS),
        "optional_hashed_fields": list(ledger.OPTIONAL_HASHED_FIELDS),
        "genesis": ledger.GENESIS,
        "chain": [{"entry": e, "canonical_hex": ledger.canonical_json(
                       ledger.hashed_form(e)).hex()} for e in entries],
        "merkle": {"leaf_hashes": [merkle.leaf_hash(h).hex() for h in hashes],
                   "tree_size": len(hashes), "root_hash": tree_heads.root_of(hashes)},
        "signed_head": {"head": {"provider_id": head.provider_id, "tree_size": head.tree_size,
                                 "root_hash": head.root_hash, "timestamp": head.timestamp},
                        "payload_hex": head.payload().hex(), "signature": head.signature,
                        "public_key": public.hex(),
                        "fingerprint": tree_heads.fingerprint(public),
                        "private_key_for_tests_only": TEST_PRIVATE_KEY.hex()},
    }


def render() -> str:
    return json.dumps(vectors(), indent=2) + "\n"


if __name__ == "__main__":
    sys.exit(write_or_check(sys.argv[1:], VECTORS, render, "tools.ledger_test_vectors"))
