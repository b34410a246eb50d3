"""What a unit checks before it keeps or answers a message, and the reference
unit's rule for deciding a correction."""

from __future__ import annotations

from tiaki.core.messages import is_text
from tiaki.core.records import PSEUDONYM

DELIVERY_TEXT = ("delivery_id", "provider_id", "programme_id", "submission_id", "period",
                 "purpose_id", "unit_id", "content_hash")
SUPERSESSION_TEXT = ("delivery_id", "unit_id", "submission_id", "supersedes_submission_id")
CORRECTION_TEXT = ("field", "current_value", "corrected_value", "reason")


def person(purpose: dict) -> list[str]:
    """A query's pseudonyms for the person under one purpose: one per key generation."""
    return list(purpose["pseudonyms"])


def _is_query_purpose(p: object) -> bool:
    return (isinstance(p, dict) and is_text(p.get("purpose_id"))
            and isinstance(p.get("pseudonyms"), list) and bool(p["pseudonyms"])
            and all(is_text(x) for x in p["pseudonyms"])
            and isinstance(p.get("delivery_ids"), list)
            and all(is_text(d) for d in p["delivery_ids"]))


def _needs_text(body: dict, names: tuple[str, ...], what: str) -> str | None:
    missing = [name for name in names if not is_text(body.get(name))]
    return f"{what} needs text in {', '.join(missing)}" if missing else None


def _texts(value) -> bool:
    return isinstance(value, list) and all(is_text(v) for v in value)


def message_problem(body) -> str | None:
    """Why `body` is not a delivery or a query this SDK can keep or answer
    (None when it is one); checked before anything is stored, so a malformed
    message leaves nothing half-written."""
    if not isinstance(body, dict):
        return f"a message is a JSON object, not {type(body).__name__}"
    kind = body.get("kind")
    if kind == "query":
        if not is_text(body.get("request_id")) or not is_text(body.get("unit_id")):
            return "a query needs request_id and unit_id"
        if body.get("request_kind") not in ("access", "correction"):
            return f"unknown request_kind {str(body.get('request_kind'))[:40]!r}"
        purposes = body.get("purposes")
        if not isinstance(purposes, list) or not all(_is_query_purpose(p) for p in purposes):
            return "purposes must be [{purpose_id, pseudonyms: [text], delivery_ids: [text]}]"
        correction = body.get("correction")
        if body["request_kind"] == "correction" and not (
                isinstance(correction, dict)
                and all(is_text(correction.get(k), k == "current_value") for k in CORRECTION_TEXT)):
            return f"a correction query needs correction {{{', '.join(CORRECTION_TEXT)}}}"
        return None
    if kind == "supersession":
        if problem := _needs_text(body, SUPERSESSION_TEXT, "a supersession"):
            return problem
        if not _texts(body.get("delivery_ids")):
            return "a supersession's delivery_ids are a list of delivery ids"
        return None
    if kind not in ("records", "aggregate"):
        return f"unknown kind {str(kind)[:40]!r}"
    if problem := _needs_text(body, DELIVERY_TEXT, "a delivery"):
        return problem
    if not _texts(body.get("fields")):
        return "fields must be a list of field names"
    count = body.get("record_count")
    if type(count) is not int or not 0 <= count < 2 ** 63:
        return "record_count must be a whole number"
    if kind == "records":
        records = body.get("records")
        if not isinstance(records, list) or not all(
                isinstance(r, dict) and is_text(r.get(PSEUDONYM)) for r in records):
            return "records must be a list of records, each with a pseudonym"
    elif not isinstance(body.get("cells"), list):
        return "cells must be a list"
    return None


def correct_when_current_value_matches(record: dict, correction: dict) -> tuple[bool, str]:
    """The reference unit's rule: correct what the family says is wrong when
    the record says what they say it says; otherwise refuse, saying why. A
    real unit puts a person's decision here."""
    held = record.get(correction["field"])
    if correction["current_value"] and str(held) != correction["current_value"]:
        return False, (f"our record says {held!r}, not {correction['current_value']!r}; "
                       "please check with the provider")
    return True, ""
