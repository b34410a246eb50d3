"""Who acts: the `tiaki-person` staff id a call carries, and how the ledger
hashes it (only when set, so entries without one hash as they always did)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiaki.core import ledger
from tiaki.core.errors import Invalid
from tiaki.plumbing.identity import person_of


def test_the_person_named_is_read_and_none_named_is_empty():
    assert person_of((("authorization", "Bearer x"), ("tiaki-person", "aroha.ngata"))) \
        == "aroha.ngata"
    assert person_of((("Tiaki-Person", b"rangi_w-2"),)) == "rangi_w-2"
    assert person_of((("authorization", "Bearer x"),)) == ""
    assert person_of(None) == ""


@pytest.mark.parametrize("bad", ["Aroha", "aroha ngata", ".aroha", "a" * 65, "aroha@agency",
                                 "āroha"])
def test_a_malformed_person_is_refused_not_recorded(bad):
    with pytest.raises(Invalid, match="tiaki-person"):
        person_of((("tiaki-person", bad),))


def _access(**extra) -> dict:
    return ledger.new_entry("access", delivery_id="d1", provider_id="ccss", unit_id="u",
                            fields=["region"], accessor="analyst", reason="planning", **extra)


@given(person=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,63}", fullmatch=True))
def test_a_person_is_hashed_and_none_hashes_as_before(person):
    before = ledger.chain(_access(), 1, ledger.GENESIS, "2026-10-01T00:00:00.000000+00:00")
    blank = ledger.chain(_access(person=""), 1, ledger.GENESIS, before["recorded_at"])
    named = ledger.chain(_access(person=person), 1, ledger.GENESIS, before["recorded_at"])
    assert "person" not in blank and blank["entry_hash"] == before["entry_hash"]
    assert named["person"] == person and named["entry_hash"] != before["entry_hash"]
    assert ledger.verify_chain([named]).intact and ledger.verify_chain([before]).intact
    # Taken off, or put on an entry that had none: the entry no longer matches its hash.
    stripped = {k: v for k, v in named.items() if k != "person"}
    assert not ledger.verify_chain([stripped]).intact
    assert not ledger.verify_chain([dict(before, person=person)]).intact
