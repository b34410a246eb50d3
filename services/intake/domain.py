"""Intake's rules, as plain functions: validating records against the plan,
sorting a batch into accepted, duplicate and rejected records, the events a
submission sends, per-purpose pseudonyms and the SLK-581 linkage key. No I/O here."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from tiaki.core.errors import NotNow, shown
from tiaki.core.plan import Plan, ScheduleItem
from tiaki.core.records import SLK581

# A validator turns the text a provider sent into the stored value, or raises
# Rejected with a reason a person can act on.
Validator = Callable[[str], object]
MAX_VALUE_LENGTH = 1000
MAX_REF_LENGTH = 200


UNDECLARED = "not declared in the plan (never stored or forwarded)"
IDENTITY_NOT_ASKED = ("not asked for: no purpose in force for you in this period asks for the "
                      "SLK-581 linkage key, so send no name, date of birth or sex "
                      "(never stored or forwarded)")


class Rejected(ValueError):
    pass


def _validator(item: ScheduleItem) -> Validator:
    if item.type == "integer":
        def check(text: str) -> int:
            try:
                value = int(text.strip())
            except ValueError:
                raise Rejected(f"expected a whole number, got {text[:40]!r}") from None
            if item.has_range and not item.min <= value <= item.max:
                raise Rejected(f"{value} is outside {item.min}..{item.max}")
            return value
    elif item.type == "date":
        def check(text: str) -> str:
            try:
                return dt.date.fromisoformat(text.strip()).isoformat()
            except ValueError:
                raise Rejected(f"expected a date as YYYY-MM-DD, got {text[:40]!r}") from None
    elif item.type == "enum":
        allowed = frozenset(item.allowed_values)
        def check(text: str) -> str:
            if text not in allowed:
                raise Rejected(f"{text[:40]!r} is not one of: {', '.join(item.allowed_values)}")
            return text
    elif item.type == "boolean":
        def check(text: str) -> bool:
            lowered = text.strip().lower()
            if lowered in ("true", "yes", "1"):
                return True
            if lowered in ("false", "no", "0"):
                return False
            raise Rejected(f"expected true or false, got {text[:40]!r}")
    else:
        pattern = re.compile(item.pattern) if item.pattern else None
        def check(text: str) -> str:
            if pattern is not None and not pattern.fullmatch(text):
                raise Rejected(f"{text[:40]!r} does not match the pattern {item.pattern}")
            return text
    return check


class RecordRules:
    """A plan's schedule items compiled once into validators for fast checking."""

    def __init__(self, plan: Plan, declined: frozenset[str] = frozenset(),
                 reasons: dict[str, str] | None = None):
        self.plan = plan
        # Why a declined item is refused (the provider's agreement), by item.
        self.reasons = reasons or {}
        self.validators = {i.name: _validator(i) for i in plan.items if i.name not in declined}
        self.required = tuple(i.name for i in plan.items if i.required and i.name not in declined)
        # Only a purpose the agreement leaves in force may ask for identity details.
        self.needs_slk581 = plan.needs_slk581(declined)

    def check(self, record_ref: str, client_ref: str, fields: dict[str, str]):
        """Returns (typed fields, problems); problems are (field, reason) pairs.

        Every problem of the record is reported, undeclared fields first, so a
        provider can fix a record in one go. A record with any problem is
        rejected whole: nothing of it is stored.
        """
        problems = []
        if not record_ref.strip() or len(record_ref) > MAX_REF_LENGTH:
            problems.append(("record_ref", f"required, at most {MAX_REF_LENGTH} characters"))
        if not client_ref.strip() or len(client_ref) > MAX_REF_LENGTH:
            problems.append(("client_ref", f"required, at most {MAX_REF_LENGTH} characters"))
        typed = {}
        validators = self.validators
        problems.extend((name, self.reasons.get(name, UNDECLARED))
                        for name in fields if name not in validators)
        for name, text in fields.items():
            check = validators.get(name)
            if check is None:
                continue
            if text == "":
                continue  # an empty CSV cell means "not recorded"
            if len(text) > MAX_VALUE_LENGTH:
                problems.append((name, f"longer than {MAX_VALUE_LENGTH} characters"))
                continue
            try:
                typed[name] = check(text)
            except Rejected as exc:
                problems.append((name, str(exc)))
        for name in self.required:
            if name not in typed and not any(p[0] == name for p in problems):
                problems.append((name, "required by the plan"))
        return typed, problems


def pseudonym(key: bytes, provider_id: str, client_ref: str) -> str:
    """The keyed pseudonym of a client for one purpose: HMAC-SHA256, 128 bits in hex.

    One key per programme and purpose, so two purposes' streams cannot be
    joined, and the same client gets the same pseudonym every quarter. The
    provider is part of it: a client reference is only unique within the
    provider that made it, and two providers' "C-1" are different people."""
    message = f"{provider_id}\x1f{client_ref.strip()}".encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


_SEX_CODES = {"male": "1", "m": "1", "1": "1", "female": "2", "f": "2", "2": "2",
              "other": "3", "x": "3", "3": "3", "not_stated": "9", "": "9", "9": "9"}


def slk581(family_name: str, given_name: str, date_of_birth: str, sex: str) -> str:
    """SLK-581 (DSS Data Exchange): family name letters 2, 3, 5; given name
    letters 2, 3; date of birth DDMMYYYY; sex code. Raises Rejected when the
    date of birth or sex cannot be read."""

    def letters(name: str, positions: tuple[int, ...], missing: str) -> str:
        # Macrons are the same letter (Tūhoe and Tuhoe are one person's name).
        plain = unicodedata.normalize("NFKD", name.upper())
        only = "".join(ch for ch in plain if "A" <= ch <= "Z")
        if not only:
            return missing
        return "".join(only[p - 1] if p <= len(only) else "2" for p in positions)

    try:
        born = dt.date.fromisoformat(date_of_birth.strip())
    except ValueError:
        raise Rejected(f"date of birth must be YYYY-MM-DD, got {date_of_birth[:40]!r}") from None
    code = _SEX_CODES.get(sex.strip().lower())
    if code is None:
        raise Rejected(f"sex must be male, female, other or not_stated, got {sex[:20]!r}")
    return (letters(family_name, (2, 3, 5), "999") + letters(given_name, (2, 3), "99")
            + born.strftime("%d%m%Y") + code)


# -- submissions and their batches -------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One provider's submission of a period's records under one plan version."""
    submission_id: str
    provider_id: str
    programme_id: str
    plan_version: int
    period: str
    state: str  # "open" | "sealed"
    opened_at: float
    sealed_at: float | None = None
    # The provider's agreement version it was opened under (0: no agreement needed):
    # its batches and its seal are checked and routed under those terms.
    agreement_version: int = 0
    # The families' notice version in force for its period (purpose_router's):
    # routing delivers only to the units it names.
    notice_version: int = 0


NOT_AGREED = {"declined": "you declined it", "queried": "you queried it and have not accepted it",
              "not decided": "you have not accepted it"}


def check_terms(terms: dict, provider_id: str, programme_id: str, version: int,
                period: str) -> dict:
    """The collection terms purpose_router gave, or NotNow when they do not let
    the provider submit (no agreement where one is needed)."""
    if terms.get("problem") or (terms["agreement_required"] and not terms["agreement_version"]):
        raise NotNow("", terms.get("problem") or (
            f"{provider_id} has no agreement to {programme_id} version {version} "
            f"for {period}: accept or decline its items first"))
    return terms


def agreed_rules(plan: Plan, withheld: dict[str, str]) -> RecordRules:
    """The plan's rules without the items the provider's agreement does not accept."""
    return RecordRules(plan, frozenset(withheld), {
        name: f"not agreed: {NOT_AGREED.get(why, why)} in your agreement "
              "(never stored or forwarded)" for name, why in withheld.items()})


def reason_kind(reason: str) -> str:
    """A short label for metrics: never the value, never the person."""
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
                 identity: Identity | None) -> tuple[dict | None, list[tuple[str, str]]]:
    """(the row to send, []) or (None, [(field, reason)]). The row holds the
    client's pseudonym per purpose (`keys`: purpose -> key), never its reference.
    Identity details no purpose in force asks for reject the record, each by name."""
    typed, problems = rules.check(record_ref, client_ref, fields)
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
    rejections: list[tuple[str, str, str]] = field(default_factory=list)  # (ref, field, reason)
    reasons: list[str] = field(default_factory=list)  # per rejected record, its first reason's kind
    duplicates: int = 0

    @property
    def empty(self) -> bool:
        """Nothing to store: every record was a duplicate."""
        return not self.rows and not self.reasons


def sort_batch(refs: list[str], seen: set[str],
               check: Callable[[int], tuple[dict | None, list[tuple[str, str]]]]) -> SortedBatch:
    """Sorts records (by their refs, in order) into duplicates (a ref in `seen`
    or earlier in the batch), rejections and rows; `check(i)` checks the i-th."""
    out = SortedBatch()
    in_batch: set[str] = set()
    for i, ref in enumerate(refs):
        if ref in seen or ref in in_batch:
            out.duplicates += 1
            continue
        row, problems = check(i)
        if problems:
            out.rejections.extend((shown(ref, MAX_REF_LENGTH), f, r) for f, r in problems)
            out.reasons.append(reason_kind(problems[0][1]))
            continue
        in_batch.add(ref)
        out.rows.append(row)
        out.refs.append(ref)
    return out


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
            "batch_ids": batch_ids}
