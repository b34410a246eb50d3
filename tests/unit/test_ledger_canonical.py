"""The ledger's canonical JSON is RFC 8785 (JCS) for every value the ledger
hashes, checked against an independent JCS implementation (rfc8785), and the
published test vectors (docs/ledger-test-vectors.json) are what the code makes
and verify by the rules docs/ledger.md states."""

from __future__ import annotations

import hashlib
import json

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_intake_domain import make_record
from tests.unit.test_value_formats import _rules as value_format_rules
from tiaki.core import ledger, tree_heads
from tiaki.core.records import RESERVED_FIELDS
from tools.ledger_test_vectors import VECTORS, render

SAFE = 2 ** 53 - 1  # I-JSON's integers: JCS serialises numbers as IEEE 754 doubles

# Keys drawn from the whole Basic Multilingual Plane (no surrogates): there
# code-point order (Python's sort) and UTF-16 code-unit order (JCS's) agree.
bmp_keys = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=8)
scalars = (st.none() | st.booleans() | st.integers(-SAFE, SAFE)
           | st.text(st.characters(exclude_categories=("Cs",))))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(bmp_keys, inner, max_size=4), max_leaves=20)


@given(values)
def test_canonical_json_is_jcs_for_strings_integers_booleans_null_lists_and_objects(value):
    assert ledger.canonical_json(value) == rfc8785.dumps(value)


@given(st.fixed_dictionaries({k: (st.integers(0, SAFE) if k in (
    "sequence", "record_count", "plan_version", "agreement_version", "notice_version")
    else st.lists(st.text()) if k == "fields" else st.text()) for k in ledger.HASHED_FIELDS}))
def test_an_entry_hash_is_sha256_of_its_jcs_bytes(entry):
    assert ledger.entry_hash(entry) == hashlib.sha256(rfc8785.dumps(entry)).hexdigest()


def test_keys_the_ledger_hashes_are_ascii_so_key_order_is_jcs_order():
    # Content keys are item names (a plan naming an item outside [a-z][a-z0-9_]*
    # is refused: test_plan.py, test_an_item_name_that_is_not_a_plain_field_name_is_reported)
    # and the fields tiaki adds itself.
    head = tree_heads.SignedHead("ccss", 1, "00" * 32, "2026-10-03T09:00:01.000000+00:00")
    keys = [*ledger.HASHED_FIELDS, *json.loads(head.payload()), *RESERVED_FIELDS]
    assert [k for k in keys if not k.isascii()] == []


def test_the_published_vectors_are_what_the_code_makes():
    assert VECTORS.read_text() == render(), "run: python -m tools.ledger_test_vectors"


def test_the_published_vectors_verify_by_the_documented_rules():
    v = json.loads(VECTORS.read_text())
    for case in v["canonical"]:
        assert bytes.fromhex(case["canonical_hex"]) == rfc8785.dumps(case["value"])
        assert hashlib.sha256(bytes.fromhex(case["canonical_hex"])).hexdigest() == case["sha256"]
    assert rfc8785.dumps(v["content"]["records"]).hex() == v["content"]["canonical_hex"]
    assert hashlib.sha256(rfc8785.dumps(v["content"]["records"])).hexdigest() \
        == v["content"]["content_hash"] == v["chain"][0]["entry"]["content_hash"]
    previous = v["genesis"]
    for link in v["chain"]:
        entry = link["entry"]
        hashed = rfc8785.dumps({**{k: entry[k] for k in v["hashed_fields"]},
                                **{k: entry[k] for k in v["optional_hashed_fields"]
                                   if entry.get(k)}})
        assert hashed.hex() == link["canonical_hex"]
        assert entry["previous_hash"] == previous
        assert hashlib.sha256(hashed).hexdigest() == entry["entry_hash"]
        previous = entry["entry_hash"]
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(e["entry"]["entry_hash"])).digest()
              for e in v["chain"]]
    assert [x.hex() for x in leaves] == v["merkle"]["leaf_hashes"]
    node = hashlib.sha256  # three leaves: split at 2, RFC 9162 2.1.1
    left = node(b"\x01" + leaves[0] + leaves[1]).digest()
    assert node(b"\x01" + left + leaves[2]).hexdigest() == v["merkle"]["root_hash"]
    signed = v["signed_head"]
    assert signed["head"]["root_hash"] == v["merkle"]["root_hash"]
    assert rfc8785.dumps(signed["head"]).hex() == signed["payload_hex"]
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(signed["public_key"])).verify(
        bytes.fromhex(signed["signature"]), bytes.fromhex(signed["payload_hex"]))


floats = st.floats(allow_nan=False, allow_infinity=False)


@given(st.recursive(floats, lambda inner: st.lists(inner, min_size=1, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, min_size=1, max_size=3),
                    max_leaves=6), values)
def test_no_float_is_ever_hashed_wherever_it_hides(with_float, other):
    for value in (with_float, [other, with_float], {"fields": {"x": with_float}}):
        with pytest.raises(ledger.NotCanonical, match="decimal value is hashed as its text"):
            ledger.canonical_json(value)


def test_a_decimal_item_reaches_the_hash_as_its_text():
    rules = value_format_rules()
    typed, problems = rules.check("r", "c", make_record(hours="07.50"))
    assert problems == [] and typed["hours"] == "7.5"
    assert ledger.content_hash([typed]) == hashlib.sha256(rfc8785.dumps([typed])).hexdigest()


def test_the_published_floats_show_why_none_is_hashed():
    v = json.loads(VECTORS.read_text())
    for case in v["floats_never_hashed"]:
        number = float(case["python_json"])
        assert case["jcs"] == rfc8785.dumps(number).decode()
        with pytest.raises(ledger.NotCanonical):
            ledger.canonical_json(number)
    assert any(c["python_json"] != c["jcs"] for c in v["floats_never_hashed"])
