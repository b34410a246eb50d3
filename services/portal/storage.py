"""The portal's own database: staff accounts, sessions, and the counts that limit
signing in (failures per account, sign-in posts per address), so every instance of
the portal, and one started again, counts the same attempts.

Through tiaki/plumbing/store.py `Collection` (its rules: times as ISO text,
booleans written as 0/1, documents as dicts). A session is stored under the
SHA-256 of its cookie's value, so the store never holds a usable cookie."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, replace

import mongoengine as me

from services.portal.accounts import (
    FAILURES_BEFORE_LOCK,
    LOCK_FOR,
    SECOND_FACTOR_WITHIN,
    SESSION_IDLE,
    SESSION_MOST,
    Staff,
)
from tiaki.core.clock import now_iso
from tiaki.core.errors import Conflict, NotFound
from tiaki.plumbing.store import Collection


class StoredStaff(me.Document):
    meta = {"collection": "staff", "indexes": ["org"]}
    staff_id = me.StringField(primary_key=True)
    org = me.StringField()


class StoredUpload(me.Document):
    meta = {"collection": "uploads", "indexes": ["org"]}
    submission_id = me.StringField(primary_key=True)
    org = me.StringField()


class StoredNotification(me.Document):
    meta = {"collection": "notifications", "indexes": ["org"]}
    key = me.StringField(primary_key=True)
    org = me.StringField()


class StoredCounter(me.Document):
    meta = {"collection": "counters", "indexes": ["expires"]}
    key = me.StringField(primary_key=True)
    expires = me.StringField()


class StoredSession(me.Document):
    meta = {"collection": "sessions", "indexes": ["staff", "expires"]}
    key = me.StringField(primary_key=True)
    staff = me.StringField()
    expires = me.StringField()


@dataclass(frozen=True)
class Session:
    key: str         # the SHA-256 of the cookie's value
    staff: str       # "" before the password
    stage: str       # "anonymous", "password" (waiting for the code), "signed-in"
    csrf: str
    created: str
    expires: str

    @property
    def signed_in(self) -> bool:
        return self.stage == "signed-in"


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _staff_from(doc: dict) -> Staff:
    return Staff(id=doc["_id"], name=doc["name"], org_kind=doc["org_kind"], org=doc["org"],
                 roles=tuple(doc["roles"]), password_hash=doc["password_hash"],
                 totp_secret=doc["totp_secret"], disabled=bool(doc.get("disabled")),
                 failures=int(doc.get("failures") or 0), locked_until=doc.get("locked_until") or "",
                 last_code_step=int(doc.get("last_code_step") or 0), email=doc.get("email") or "")


def _session_from(doc: dict) -> Session:
    return Session(doc["_id"], doc.get("staff") or "", doc["stage"], doc["csrf"], doc["created"],
                   doc["expires"])


class PortalStore:
    def __init__(self):
        self.staff = Collection(StoredStaff)
        self.sessions = Collection(StoredSession)
        self.uploads = Collection(StoredUpload)
        self.notifications = Collection(StoredNotification)
        self.counters = Collection(StoredCounter)

    def ensure_indexes(self) -> None:
        StoredCounter.ensure_indexes()
        StoredStaff.ensure_indexes()
        StoredSession.ensure_indexes()
        StoredUpload.ensure_indexes()
        StoredNotification.ensure_indexes()

    # -- staff -----------------------------------------------------------------------

    def add_staff(self, staff: Staff) -> None:
        doc = {"_id": staff.id, "name": staff.name, "org_kind": staff.org_kind, "org": staff.org,
               "roles": list(staff.roles), "password_hash": staff.password_hash,
               "totp_secret": staff.totp_secret, "disabled": 0, "failures": 0,
               "locked_until": "", "last_code_step": 0, "email": staff.email, "created": now_iso()}
        if not self.staff.insert(doc):
            raise Conflict("id", f"staff id {staff.id!r} is taken")

    def get_staff(self, staff_id: str) -> Staff | None:
        doc = self.staff.get(staff_id)
        return _staff_from(doc) if doc else None

    def list_staff(self, org: str = "") -> list[Staff]:
        return [_staff_from(d) for d in self.staff.find({"org": org} if org else {}, sort="_id")]

    def set_disabled(self, staff_id: str, disabled: bool) -> None:
        if not self.staff.update({"_id": staff_id}, set={"disabled": disabled}):
            raise NotFound("id", f"no staff {staff_id!r}")
        if disabled:
            self.sessions.delete_many({"staff": staff_id})

    def failed(self, staff: Staff, now: dt.datetime) -> Staff:
        """Counts a failed password or code (an atomic add in the store: failures sent
        to two instances of the portal at once are both counted); the last one allowed
        locks the account."""
        counted = self.staff.add(staff.id, "failures")
        failures = int(counted["failures"]) if counted else staff.failures + 1
        if failures >= FAILURES_BEFORE_LOCK:
            until = now_iso(now + LOCK_FOR)
            self.staff.update({"_id": staff.id}, set={"failures": 0, "locked_until": until})
            self.sessions.delete_many({"staff": staff.id})
            return replace(staff, failures=0, locked_until=until)
        return replace(staff, failures=failures)  # stored by the add: a write here could undo another's

    def succeeded(self, staff: Staff, code_step: int = 0) -> None:
        change = {"failures": 0, "locked_until": ""}
        if code_step:
            change["last_code_step"] = code_step
        self.staff.update({"_id": staff.id}, set=change)

    def counted(self, what: str, key: str, window: dt.timedelta, now: dt.datetime) -> int:
        """One more `what` by `key` (say sign-in posts by an address) in the current
        `window` (fixed windows from the epoch: a minute is hh:mm:00 to hh:mm:59), and
        how many so far in it. The first count of a window deletes expired counters."""
        seconds = window.total_seconds()
        start = now.timestamp() // seconds * seconds
        ends = dt.datetime.fromtimestamp(start + seconds, dt.timezone.utc)
        count = self.counters.tally(f"{what}:{key}:{int(start)}", now_iso(ends))
        if count == 1:
            self.counters.delete_many({"expires": {"$lte": now_iso(now)}})
        return count

    # -- sessions --------------------------------------------------------------------

    def start_session(self, now: dt.datetime, staff: str = "", stage: str = "anonymous") -> str:
        """A new session; its cookie's value (held only by the browser). Sessions
        that expired unused (a browser closed, never signed out) go as one starts."""
        self.forget_expired(now)
        token = secrets.token_urlsafe(32)
        within = {"anonymous": SESSION_IDLE, "password": SECOND_FACTOR_WITHIN}.get(stage, SESSION_IDLE)
        self.sessions.insert({"_id": _key(token), "staff": staff, "stage": stage,
                              "csrf": secrets.token_urlsafe(32), "created": now_iso(now),
                              "expires": now_iso(now + within)})
        return token

    def session(self, token: str, now: dt.datetime) -> Session | None:
        """The live session of a cookie (its idle time starts again), None when
        there is none or it expired."""
        if not token:
            return None
        doc = self.sessions.get(_key(token))
        if doc is None:
            return None
        found = _session_from(doc)
        if found.expires <= now_iso(now):
            self.sessions.delete(found.key)
            return None
        if found.stage != "password":
            most = dt.datetime.fromisoformat(found.created) + SESSION_MOST
            expires = now_iso(min(now + SESSION_IDLE, most))
            self.sessions.update({"_id": found.key}, set={"expires": expires})
            found = replace(found, expires=expires)
        return found

    def end_session(self, token: str) -> None:
        if token:
            self.sessions.delete(_key(token))

    def forget_expired(self, now: dt.datetime) -> int:
        return self.sessions.delete_many({"expires": {"$lt": now_iso(now)}})

    # -- uploads: a CSV's result and every rejection, for its organisation to download ----------

    def add_upload(self, submission_id: str, staff: Staff, result: dict) -> None:
        self.uploads.put(submission_id, dict(result, org=staff.org, staff=staff.id, at=now_iso()))

    def upload(self, submission_id: str, org: str) -> dict | None:
        found = self.uploads.get(submission_id)
        return found if found and found["org"] == org else None

    # -- notifications: each one once --------------------------------------------------------

    def notify_once(self, key: str, org_kind: str, org: str, what: str, link: str,
                    staff: str = "") -> bool:
        """Records a notification (for one person, `staff`, or "" the whole
        organisation); False when one with `key` was recorded before."""
        return self.notifications.insert({"_id": key, "org_kind": org_kind, "org": org,
                                          "what": what, "link": link, "at": now_iso(),
                                          "staff": staff})

    def notifications_of(self, org_kind: str, org: str, staff: str = "") -> list[dict]:
        """The organisation's own (staff "", or none recorded) and the person's, newest first."""
        found = [n for query in ({"org": org, "staff": staff}, {"org": org, "staff": ""},
                                 {"org": org, "staff": None})
                 for n in self.notifications.find(query, sort=[("at", -1)], limit=100)]
        return sorted((n for n in found if n["org_kind"] == org_kind),
                      key=lambda n: n["at"], reverse=True)[:100]
