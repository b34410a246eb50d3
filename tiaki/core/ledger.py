"""The flow ledger's format, in one place: which fields of an entry are
hashed, the canonical JSON they are hashed as, the hash of an entry and of a
delivery's content, and how a chain (and a head kept from it) is checked.
purpose_router appends with it; the CLI and the Agency units' SDK verify with
it; the tests check it. docs/ledger.md describes it for anyone verifying a
chain in another language."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from tiaki.core import fastjson

GENESIS = "0" * 64
# A supersession marks a delivery (delivery_id) of a sealed submission as replaced
# by the corrected submission of the same period (submission_id): what was
# current is no longer shown to anyone as current.
KINDS = ("delivery", "acknowledgement", "access", "supersession")
# IPP 3A (Privacy Amendment Act 2025) applies to information collected from this day.
IPP3A_IN_FORCE = dt.date(2026, 5, 1)
# Why a unit-level flow needs no further notice to the person, or that one was sent:
IPP3A_BASES = (
    "aware_through_notice",    # the provider's notice (the families' letter) named unit and purpose
    "not_identifiable",        # an aggregate: not used in an identifiable form
    "statistics_unpublished",  # statistics or research, not published in an identifying form
    "agency_notice",           # no other basis: the Agency's own notice was generated and given
    "before_ipp3a",            # collected before IPP 3A was in force
)
# Every entry carries every field; those a kind does not use are empty. A
# delivery's provenance (period, plan, agreement and notice versions, IPP 3A
# basis) is hashed with it, so what families are told can be checked against it.
BLANK_ENTRY = {"kind": "", "delivery_id": "", "provider_id": "", "programme_id": "",
               "submission_id": "", "purpose_id": "", "unit_id": "", "fields": [],
               "record_count": 0, "content_hash": "", "accessor": "", "reason": "",
               "period": "", "plan_version": 0, "agreement_version": 0, "notice_version": 0,
               "basis": ""}
HASHED_FIELDS = ("sequence", "kind", "delivery_id", "provider_id", "programme_id",
                 "submission_id", "purpose_id", "unit_id", "fields", "record_count",
                 "content_hash", "accessor", "reason", "period", "plan_version",
                 "agreement_version", "notice_version", "basis", "recorded_at",
                 "previous_hash")
# Hashed only when set: the staff id of the person whose call made the entry
# (a unit's person acknowledging or accessing). An entry without one hashes
# exactly as entries did before the field existed, so older chains still verify.
OPTIONAL_HASHED_FIELDS = ("person",)
# A head a provider kept: "SEQUENCE:ENTRY_HASH", as `tiaki flows --head` prints it.
KEPT_HEAD = re.compile(r"(\d+):([0-9a-fA-F]{64})")


class NotCanonical(TypeError):
    """A value with no one canonical form: a float (JCS and Python write them
    differently; decimals are hashed as their text)."""


def _refuse_floats(value: object) -> None:
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)  # the common kinds first, by identity (a quarter of the time)
        if kind is str or kind is int:
            continue
        if kind is dict:
            pending.extend(item.values())
            continue
        if isinstance(item, float):
            raise NotCanonical(f"a float ({item!r}) is never hashed: a decimal value is "
                               "hashed as its text (docs/ledger.md)")
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend(item)


def canonical_json(value: object) -> bytes:
    """Keys sorted, no spaces, UTF-8 unescaped: the RFC 8785 bytes every hash
    here is taken over. NotCanonical for a value holding a float."""
    _refuse_floats(value)
    return fastjson.dumps(value, sort_keys=True)


def content_hash(payload: object) -> str:
    """SHA-256 of a delivery's content (its records or cells), as the ledger records it."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def entry_hash(entry: dict) -> str:
    """SHA-256 over the entry's hashed fields, previous_hash included: change,
    drop or reorder any entry and every later link breaks."""
    return hashlib.sha256(canonical_json(hashed_form(entry))).hexdigest()


def hashed_form(entry: dict) -> dict:
    """What of an entry is hashed: every HASHED_FIELDS field, and each
    OPTIONAL_HASHED_FIELDS field that is set."""
    return {**{k: entry[k] for k in HASHED_FIELDS},
            **{k: entry[k] for k in OPTIONAL_HASHED_FIELDS if entry.get(k)}}


def new_entry(kind: str, **fields) -> dict:
    """An entry of `kind` before it is chained (sequence, times and hashes come at append)."""
    if kind not in KINDS:
        raise ValueError(f"no ledger entry kind {kind!r}")
    unknown = set(fields) - set(BLANK_ENTRY) - set(OPTIONAL_HASHED_FIELDS)
    if unknown:
        raise ValueError(f"not ledger entry fields: {', '.join(sorted(unknown))}")
    # An optional field left empty is not stored at all: the entry is as before it existed.
    return {**BLANK_ENTRY, **{k: v for k, v in fields.items()
                              if k not in OPTIONAL_HASHED_FIELDS or v}, "kind": kind}


def chain(entry: dict, sequence: int, previous_hash: str, recorded_at: str) -> dict:
    """The entry as the next link after `previous_hash`, with its own hash."""
    link = dict(entry, sequence=sequence, previous_hash=previous_hash, recorded_at=recorded_at)
    link["entry_hash"] = entry_hash(link)
    return link


@dataclass(frozen=True)
class Verdict:
    intact: bool
    first_broken: int = 0  # the sequence of the first entry that breaks the chain
    problem: str = ""


def parse_kept_head(text: str) -> tuple[int, str] | None:
    """'SEQ:HASH' as (sequence, lower-case hash); None when it is not one."""
    found = KEPT_HEAD.fullmatch((text or "").strip())
    if found is None or int(found.group(1)) < 1:
        return None
    return int(found.group(1)), found.group(2).lower()


def verify_chain(entries: list[dict], kept: tuple[int, str] | None = None) -> Verdict:
    """Checks a provider's chain in sequence order, from entry 1.

    With `kept`, a (sequence, entry_hash) head the provider kept earlier, the
    chain must still reach that entry with that hash: the chain alone cannot
    show that its last entries were removed."""
    previous = GENESIS
    present = {e.get("sequence") for e in entries}
    for expected, entry in enumerate(entries, start=1):
        sequence = entry.get("sequence")
        if sequence != expected:
            if expected in present:
                return Verdict(False, expected, f"entries are out of order: entry {sequence} "
                                                f"stands where entry {expected} should")
            return Verdict(False, expected, f"entry {expected} is missing (found {sequence})")
        if entry.get("previous_hash") != previous:
            return Verdict(False, expected, "does not link to the entry before it")
        missing = [k for k in HASHED_FIELDS if k not in entry]
        if missing:
            return Verdict(False, expected, f"lacks the hashed field {missing[0]!r}")
        if entry_hash(entry) != entry.get("entry_hash"):
            return Verdict(False, expected, "its contents do not match its hash")
        previous = entry["entry_hash"]
    if kept and kept[0] > 0:
        kept_sequence, kept_hash = kept
        if kept_sequence > len(entries):
            return Verdict(False, len(entries) + 1, (
                f"the chain ends at entry {len(entries)}, before the head you kept "
                f"(entry {kept_sequence}): entries were removed"))
        if entries[kept_sequence - 1]["entry_hash"] != kept_hash.lower():
            return Verdict(False, kept_sequence, (f"entry {kept_sequence} is not the head you "
                                                  "kept: the chain was rewritten up to it"))
    return Verdict(True)
