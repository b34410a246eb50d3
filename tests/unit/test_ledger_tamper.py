"""The ledger's chain against tampering: an edited, deleted or reordered entry
is found where it happened, on the server's check and the CLI's alike, and a
kept head shows entries removed from the end (which the chain alone cannot)."""

from __future__ import annotations

import click
import pytest

from tiaki.cli import flows
from tiaki.core import ledger
from tiaki.core.ledger import BLANK_ENTRY, GENESIS, entry_hash


def verify_chain(entries, kept=None):
    """The ledger's verdict as (intact, first broken sequence, problem)."""
    verdict = ledger.verify_chain(entries, kept)
    return verdict.intact, verdict.first_broken, verdict.problem



def chain(n: int) -> list[dict]:
    out, previous = [], GENESIS
    for seq in range(1, n + 1):
        entry = {**BLANK_ENTRY, "sequence": seq, "kind": "delivery", "delivery_id": f"b{seq}:evaluation",
                 "provider_id": "ccss", "programme_id": "bff", "submission_id": "s1",
                 "purpose_id": "evaluation", "unit_id": "evaluation",
                 "fields": ["pseudonym", "goals_met"], "record_count": seq, "content_hash": "ab",
                 "accessor": "", "reason": "", "recorded_at": f"2026-03-{seq:02d}T09:00:00+00:00",
                 "previous_hash": previous}
        entry["entry_hash"] = previous = entry_hash(entry)
        out.append(entry)
    return out


def both(entries, kept=None):
    """(server verdict, CLI verdict) on the same entries."""
    server = verify_chain(entries, kept)
    problem = flows.chain_problem(entries, kept or (0, ""))
    return server, (not problem, problem)


def test_an_edited_entry_is_found_at_that_entry():
    entries = chain(5)
    entries[2]["fields"] = ["pseudonym", "goals_met", "ethnicity"]
    (intact, broken, problem), (ok, local) = both(entries)
    assert (intact, broken, problem) == (False, 3, "its contents do not match its hash")
    assert not ok and "entry 3" in local


def test_an_edited_entry_with_its_hash_recomputed_breaks_the_next_link():
    entries = chain(5)
    entries[2]["record_count"] = 999
    entries[2]["entry_hash"] = entry_hash(entries[2])
    (intact, broken, problem), (ok, local) = both(entries)
    assert (intact, broken) == (False, 4) and "link" in problem
    assert not ok and "entry 4" in local


def test_a_deleted_entry_is_found_where_it_was():
    entries = chain(5)
    del entries[1]
    (intact, broken, problem), (ok, local) = both(entries)
    assert (intact, broken, problem) == (False, 2, "entry 2 is missing (found 3)")
    assert not ok and "entry 2 is missing" in local


def test_reordered_entries_are_found_where_the_order_breaks():
    entries = chain(5)
    entries[1], entries[3] = entries[3], entries[1]
    (intact, broken, problem), (ok, _) = both(entries)
    assert (intact, broken) == (False, 2)
    assert problem == "entries are out of order: entry 4 stands where entry 2 should"
    assert not ok


def test_reordered_and_renumbered_entries_break_their_hashes():
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    for seq, entry in enumerate(entries, start=1):
        entry["sequence"] = seq
    assert verify_chain(entries) == (False, 2, "does not link to the entry before it")


def test_entries_removed_from_the_end_show_only_against_a_kept_head():
    entries = chain(6)
    kept = (6, entries[-1]["entry_hash"])
    truncated = entries[:4]
    assert verify_chain(truncated) == (True, 0, "")  # the chain alone looks whole
    (intact, broken, problem), (ok, local) = both(truncated, kept)
    assert (intact, broken) == (False, 5)
    assert problem == local == ("the chain ends at entry 4, before the head you kept (entry 6): "
                                "entries were removed")


def test_a_chain_rewritten_up_to_the_kept_head_is_found():
    entries = chain(4)
    kept = (3, entries[2]["entry_hash"])
    rewritten = chain(4)
    for entry in rewritten:  # rebuilt from scratch, every link consistent
        entry["reason"] = "rewritten"
    previous = GENESIS
    for entry in rewritten:
        entry["previous_hash"] = previous
        entry["entry_hash"] = previous = entry_hash(entry)
    assert verify_chain(rewritten) == (True, 0, "")
    assert verify_chain(rewritten, kept) == (
        False, 3, "entry 3 is not the head you kept: the chain was rewritten up to it")


def test_a_chain_that_grew_past_the_kept_head_is_intact():
    entries = chain(6)
    assert verify_chain(entries, (4, entries[3]["entry_hash"])) == (True, 0, "")
    assert verify_chain(entries, (0, "")) == (True, 0, "")


@pytest.mark.parametrize("text", ["7", "0:" + "a" * 64, "3:" + "a" * 63, "x:" + "a" * 64])
def test_a_badly_written_kept_head_is_refused(text):
    with pytest.raises(click.BadParameter):
        flows.parse_kept_head(text)


def test_a_kept_head_is_read_as_printed():
    assert flows.parse_kept_head(" 12:" + "AB" * 32) == (12, "ab" * 32)
    assert flows.parse_kept_head(None) == (0, "")
