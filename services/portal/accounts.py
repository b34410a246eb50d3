"""Who may sign in, and how: organisations' kinds, roles, passwords hashed with
argon2id, a second factor (TOTP) for every role that sees or decides about
families' information, and lockout after repeated failures. No I/O here."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tiaki.core.errors import Invalid

STAFF_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # the `tiaki-person` value (i4-person)
ORG_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")


@dataclass(frozen=True)
class Role:
    name: str
    kind: str            # the organisation kind it belongs to (identity.KINDS)
    second_factor: bool  # sees or decides about families' information
    what: str


ROLES = {r.name: r for r in (
    Role("privacy-officer", "provider", True,
         "access and correction requests, the agreement, where the data went"),
    Role("reporting-admin", "provider", True, "uploads each quarter's records and their rejections"),
    Role("board-member", "provider", False, "the Board influence report (counts only)"),
    Role("analyst", "agency", True, "plans, outcomes, evaluation measures"),
    Role("contract-manager", "agency", True, "providers' agreements and their queries"),
    Role("unit-reviewer", "unit", True, "queries about a person waiting for the unit"),
    Role("representative", "representative", True, "drafts, proposals, lessons, measures"),
)}

FAILURES_BEFORE_LOCK = 5
LOCK_FOR = dt.timedelta(minutes=15)
SESSION_IDLE = dt.timedelta(minutes=30)
SESSION_MOST = dt.timedelta(hours=12)
SECOND_FACTOR_WITHIN = dt.timedelta(minutes=5)  # from the password to the code
MIN_PASSWORD = 12

_hasher = PasswordHasher()  # argon2id, the library's current parameters


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    org_kind: str
    org: str
    roles: tuple[str, ...]
    password_hash: str
    totp_secret: str
    disabled: bool = False
    failures: int = 0
    locked_until: str = ""   # ISO instant, UTC; "" when not locked
    last_code_step: int = 0  # the last TOTP time step used (a code works once)
    email: str = ""          # where notifications go ("" none)

    @property
    def needs_second_factor(self) -> bool:
        return any(ROLES[r].second_factor for r in self.roles)

    def locked(self, now: dt.datetime) -> bool:
        return bool(self.locked_until) and dt.datetime.fromisoformat(self.locked_until) > now

    def public(self) -> dict:
        return {"id": self.id, "name": self.name, "org_kind": self.org_kind, "org": self.org,
                "roles": list(self.roles), "disabled": self.disabled,
                "locked_until": self.locked_until, "email": self.email}


def new_staff(staff_id: str, name: str, org_kind: str, org: str, roles: list[str],
              password: str, email: str = "") -> Staff:
    """A new account (Invalid naming the field when a value is not allowed)."""
    if not STAFF_ID.fullmatch(staff_id or ""):
        raise Invalid("id", "a staff id is 1-64 of a-z 0-9 . _ - starting with a letter or digit")
    if not ORG_ID.fullmatch(org or ""):
        raise Invalid("org", "an organisation id is 1-64 of a-z 0-9 - starting with a letter or digit")
    if not roles:
        raise Invalid("roles", "give at least one role")
    for role in roles:
        if role not in ROLES:
            raise Invalid("roles", f"unknown role {role!r}: one of {', '.join(ROLES)}")
        if ROLES[role].kind != org_kind:
            raise Invalid("roles", f"{role} is a role of the {ROLES[role].kind} kind of organisation, "
                                   f"not of {org_kind!r}")
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", f"a password has at least {MIN_PASSWORD} characters")
    email = email.strip()
    if email and not EMAIL.fullmatch(email):
        raise Invalid("email", "an email address looks like name@example.org")
    return Staff(staff_id, name.strip() or staff_id, org_kind, org, tuple(roles),
                 hash_password(password), pyotp.random_base32(), email=email)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_ok(staff: Staff, password: str) -> bool:
    try:
        return _hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Hashing a password nobody has: a sign-in as an unknown id takes as long as a real one.
_NOBODY = hash_password(secrets.token_urlsafe(16))


def waste_time(password: str) -> None:
    try:
        _hasher.verify(_NOBODY, password)
    except (VerificationError, InvalidHashError):
        pass


def code_step(staff: Staff, code: str, now: dt.datetime) -> int | None:
    """The time step of a valid TOTP `code` (one step of clock drift either
    way), None when it is wrong or was already used."""
    totp = pyotp.TOTP(staff.totp_secret)
    code = (code or "").strip().replace(" ", "")
    for drift in (0, -1, 1):
        at = now + dt.timedelta(seconds=30 * drift)
        if totp.verify(code, for_time=at, valid_window=0):
            step = totp.timecode(at)
            return step if step > staff.last_code_step else None
    return None


def provisioning_uri(staff: Staff) -> str:
    return pyotp.TOTP(staff.totp_secret).provisioning_uri(name=staff.id, issuer_name="tiaki")


def new_password() -> str:
    return secrets.token_urlsafe(15)
