"""Intake's rules, as plain functions: validating records against the plan,
sorting a batch into accepted, duplicate and rejected records, the events a
submission sends, per-purpose pseudonyms and the SLK-581 linkage key. No I/O here."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tiaki.core.errors import Invalid, NotNow, shown
from tiaki.core.periods import correction_closes
from tiaki.core.plan import (  # noqa: F401 (intake's rules live in core, shared with the CLI)
    MAX_REF_LENGTH,
    MAX_VALUE_LENGTH,
    NOT_AGREED,
    UNDECLARED,
    Plan,
    RecordRules,
    Rejected,
    ScheduleItem,
    agreed_rules,
    slk581,
)
from tiaki.core.records import SLK581

IDENTITY_NOT_ASKED = ("not asked for: no purpose in force for you in this period asks for the "
                      "SLK-581 linkage key, so send no name, date of birth or sex "
                      "(never stored or forwarded)")


def pseudonym(key: bytes, provider_id: str, client_ref: str) -> str:
    """The keyed pseudonym of a client for one purpose: HMAC-SHA256, 128 bits in hex.

    One key per programme and purpose, so two purposes' streams cannot be
    joined, and the same client gets the same pseudonym every quarter. The
    provider is part of it: a client reference is only unique within the
    provider that made it, and two providers' "C-1" are different people."""
    inner, outer = _prepared(key)
    inner = inner.copy()
    inner.update(f"{provider_id}\x1f{client_ref.strip()}".encode("utf-8"))
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.digest()[:16].hex()


@functools.lru_cache(maxsize=1024)
def _prepared(key: bytes) -> tuple:
    """The key's HMAC-SHA256 (RFC 2104) prepared once: its inner and outer hashes
    with the padded key already hashed, so each pseudonym costs two copies and
    the hashes of its own message (half what copying an `hmac.HMAC` costs)."""
    block = 64  # SHA-256's block size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in key)),
            hashlib.sha256(bytes(b ^ 0x5C for b in key)))


# -- submissions and their batches -------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One provider's submission of a period's records under one plan version."""
    submission_id: str
    provider_id: str
    programme_id: str
    plan_version: int
    period: str
    state: str  # "open" | "sealed" | "abandoned"
    opened_at: float
    sealed_at: float | None = None
    # The provider's agreement version it was opened under (0: no agreement needed):
    # its batches and its seal are checked and routed under those terms.
    agreement_version: int = 0
    # The families' notice version in force for its period (purpose_router's):
    # routing delivers only to the units it names.
    notice_version: int = 0
    # The sealed submission of the period this one corrects ("" for none), and
    # the one that replaced this one once that was sealed.
    replaces_submission_id: str = ""
    superseded_by: str = ""


def check_replacement(period: str, sealed: Submission | None, replaces: str,
                      window_days: int, today: dt.date) -> None:
    """Whether a submission of `period` may be opened: NotNow when the
    provider's current `sealed` one exists and is not the one it `replaces`,
    when it replaces something else, or when the correction window is over."""
    if sealed is None:
        if replaces:
            raise NotNow("replaces_submission_id",
                         f"{replaces} is not your sealed submission of {period}: there is none "
                         "to replace, so open the period without replacing")
        return
    if replaces != sealed.submission_id:
        raise NotNow("replaces_submission_id" if replaces else "", (
            f"{period} is already sealed as submission {sealed.submission_id}"
            f"{'' if not replaces else f', not {replaces}'}: to correct it, open a "
            f"replacement of it (tiaki submit --replace {sealed.submission_id})"))
    closes = correction_closes(period, window_days)
    if today > closes:
        raise NotNow("replaces_submission_id", (
            f"the correction window for {period} closed on {closes.isoformat()} "
            f"({window_days} days after the period ended): submission "
            f"{sealed.submission_id} stands"))


def check_terms(terms: dict, provider_id: str, programme_id: str, version: int,
                period: str) -> dict:
    """The collection terms purpose_router gave, or NotNow when they do not let
    the provider submit (no agreement where one is needed)."""
    if terms.get("problem") or (terms["agreement_required"] and not terms["agreement_version"]):
        raise NotNow("", terms.get("problem") or (
            f"{provider_id} has no agreement to {programme_id} version {version} "
            f"for {period}: accept or decline its items first"))
    return terms


CONFLICTING_DUPLICATE = "sent twice in this submission with different values (the first is kept)"


def reason_kind(reason: str) -> str:
    """A short label for metrics and a rejection's code (RejectionCode, in
    lower case without its prefix): never the value, never the person."""
    if reason == CONFLICTING_DUPLICATE:
        return "conflicting_duplicate"
    if reason.startswith("not declared"):
        return "undeclared_field"
    if reason.startswith("not agreed"):
        return "not_agreed"
    if reason == IDENTITY_NOT_ASKED:
        return "identity_not_asked"
    if reason.startswith("required"):
        return "missing"
    if "outside" in reason:
        return "out_of_range"
    if "is not one of" in reason:
        return "not_allowed_value"
    return "bad_format"


@dataclass(frozen=True)
class Identity:
    """What a provider sends for the SLK-581 linkage key, when the plan asks for it."""
    family_name: str
    given_name: str
    date_of_birth: str
    sex: str

    def sent(self) -> list[str]:
        """The details given (not empty), by name."""
        return [name for name, value in vars(self).items() if value]


def check_record(rules: RecordRules, keys: dict[str, bytes], provider_id: str,
                 record_ref: str, client_ref: str, fields: dict[str, str],
                 identity: Identity | None,
                 period: str = "") -> tuple[dict | None, list[tuple[str, str]]]:
    """(the row to send, []) or (None, [(field, reason)]). The row holds the
    client's pseudonym per purpose (`keys`: purpose -> key), never its reference.
    Identity details no purpose in force asks for reject the record, each by name."""
    typed, problems = rules.check(record_ref, client_ref, fields, period)
    if identity is not None and not rules.needs_slk581:
        problems.extend((f"identity.{name}", IDENTITY_NOT_ASKED) for name in identity.sent())
    slk = None
    if not problems and rules.needs_slk581 and identity is not None:
        try:
            slk = slk581(identity.family_name, identity.given_name, identity.date_of_birth,
                         identity.sex)
        except Rejected as exc:
            problems.append(("identity", str(exc)))
    if problems:
        return None, problems
    row = {"pseudonyms": {pid: pseudonym(key, provider_id, client_ref)
                          for pid, key in keys.items()},
           "fields": typed}
    if slk:
        row[SLK581] = slk
    return row, []


@dataclass
class SortedBatch:
    """A batch sorted against the refs its submission already holds."""
    rows: list[dict] = field(default_factory=list)  # to send, in the order received
    refs: list[str] = field(default_factory=list)  # their record refs
    contents: list[bytes] = field(default_factory=list)  # their contents' digests
    # (the record's position in the batch, its ref, field, reason)
    rejections: list[tuple[int, str, str, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # per rejected record, its first reason's kind
    duplicates: int = 0

    @property
    def empty(self) -> bool:
        """Nothing to store: every record was a duplicate."""
        return not self.rows and not self.reasons


def sort_batch(refs: list[str], seen: Mapping[str, str],
               check: Callable[[int], tuple[dict | None, list[tuple[str, str]]]],
               contents: list[bytes] | None = None) -> SortedBatch:
    """Sorts records (by their refs, in order) into duplicates, rejections and
    rows; `check(i)` checks the i-th. `seen` holds the refs the submission
    already accepted, each with its content's digest (`contents`: one per
    record, record_digest). A ref accepted before, in an earlier batch or
    earlier in this one, is a duplicate when its content is the same, and a
    rejection that says so when it is not (b"" or no `contents`: not known,
    a duplicate)."""
    out = SortedBatch()
    in_batch: dict[str, bytes] = {}
    for i, ref in enumerate(refs):
        content = contents[i] if contents is not None else b""
        if ref in in_batch or ref in seen:
            earlier = in_batch[ref] if ref in in_batch else seen[ref]
            if content and earlier and content != earlier:
                out.rejections.append((i, shown(ref, MAX_REF_LENGTH), "record_ref",
                                       CONFLICTING_DUPLICATE))
                out.reasons.append(reason_kind(CONFLICTING_DUPLICATE))
            else:
                out.duplicates += 1
            continue
        row, problems = check(i)
        if problems:
            out.rejections.extend((i, shown(ref, MAX_REF_LENGTH), f, r) for f, r in problems)
            out.reasons.append(reason_kind(problems[0][1]))
            continue
        in_batch[ref] = content
        out.rows.append(row)
        out.refs.append(ref)
        out.contents.append(content)
    return out


DIGEST_SIZE = 12


def record_digest(content: bytes) -> bytes:
    """A short digest of a record's content as sent (everything but its row),
    kept with its ref: the same ref sent again is compared by it."""
    return hashlib.blake2b(content, digest_size=DIGEST_SIZE).digest()


def stored_rejection(row: int, ref: str, field_name: str, reason: str) -> list:
    """A rejection as ListRejections keeps it: [row, record_ref, field, code,
    reason]. Identity details are never stored, so neither is a value of
    them a reason quotes ("..., got '1987-13-01'")."""
    if field_name.startswith("identity"):
        reason = reason.split(", got ", 1)[0]
    return [row, ref, field_name, reason_kind(reason), reason]


def page_token(slot: int, offset: int) -> str:
    """Where a page of a submission's rejections starts: a batch slot and how
    many of that batch's rejections come before it."""
    return f"{slot}.{offset}"


def read_page_token(token: str) -> tuple[int, int]:
    """(slot, offset) of a page_token; (1, 0) for none; Invalid for one we did not give."""
    if not token:
        return 1, 0
    try:
        slot, offset = (int(part) for part in token.split("."))
        if slot < 1 or offset < 0:
            raise ValueError(token)
    except ValueError:
        raise Invalid("page_token", "page_token is not one we gave out") from None
    return slot, offset


def batch_event(sub: Submission, rows: list[dict]) -> dict:
    """The records_accepted payload of a batch (its batch_id is added when stored)."""
    return {"submission_id": sub.submission_id, "provider_id": sub.provider_id,
            "programme_id": sub.programme_id, "plan_version": sub.plan_version,
            "period": sub.period, "agreement_version": sub.agreement_version,
            "notice_version": sub.notice_version, "records": rows}


def seal_event(sub: Submission, accepted: int, batch_ids: list[str]) -> dict:
    """The submission_sealed payload: every batch purpose_router must have seen."""
    return {"submission_id": sub.submission_id, "provider_id": sub.provider_id,
            "programme_id": sub.programme_id, "plan_version": sub.plan_version,
            "period": sub.period, "agreement_version": sub.agreement_version,
            "notice_version": sub.notice_version, "accepted_count": accepted,
            "batch_ids": batch_ids, "replaces_submission_id": sub.replaces_submission_id}
