"""purpose_router's store for co-design and agreements: drafts of plan
versions, proposals and the responses to them, providers' lessons, and
providers' agreement versions.

A draft is one document changed only by compare-and-swap on its revision, so
an accepted proposal and the change it makes to the plan land together or
not at all. Proposals, responses, lessons and agreement versions are written
once and never changed. Times are ISO strings (the embedded store keeps a
`$set` datetime as text). Publishing writes the plan version itself, marked
`created_by: codesign:<agency>`: that mark, written in the same insert as the
plan, is what makes a plan version an agreed one.
"""

from __future__ import annotations

import datetime as dt
import uuid

import mongoengine as me
from nameko import config
from nameko.extensions import DependencyProvider
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from services.purpose_router.storage import StoredPlan
from tiaki.core.plan import Plan
from tiaki.plumbing.store import connect

AGREED_MARK = "codesign:"


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def draft_key(programme_id: str, version: int) -> str:
    return f"{programme_id}@{version}"


def agreement_key(provider_id: str, programme_id: str, plan_version: int, number: int) -> str:
    return f"{provider_id}|{programme_id}@{plan_version}#{number}"


class DraftDoc(me.Document):
    meta = {"collection": "codesign_drafts", "indexes": [("programme_id", "-version")]}
    key = me.StringField(primary_key=True)
    programme_id = me.StringField(required=True)
    version = me.IntField(required=True)


class ProposalDoc(me.Document):
    meta = {"collection": "codesign_proposals", "indexes": [("draft", "number")]}
    key = me.StringField(primary_key=True)  # "<draft>#<number>"
    draft = me.StringField(required=True)
    number = me.IntField(required=True)


class ResponseDoc(me.Document):
    meta = {"collection": "codesign_responses", "indexes": ["draft"]}
    key = me.StringField(primary_key=True)
    draft = me.StringField(required=True)


class LessonDoc(me.Document):
    meta = {"collection": "codesign_lessons", "indexes": ["draft"]}
    key = me.StringField(primary_key=True)
    draft = me.StringField(required=True)


class AgreementDoc(me.Document):
    meta = {"collection": "agreements",
            "indexes": [("provider_id", "programme_id", "plan_version", "number")]}
    key = me.StringField(primary_key=True)  # "<provider>|<programme>@<plan version>#<number>"
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)
    plan_version = me.IntField(required=True)
    number = me.IntField(required=True)


class Conflict(Exception):
    """Someone else wrote first: the caller reads again and decides."""


class CodesignStorage:
    def __init__(self):
        # Whether a plan version was agreed never changes once the version exists.
        self._agreed: dict[tuple[str, int], bool] = {}
        # Once a programme is co-designed it stays so: its plans change only by co-design.
        self._codesigned: set[str] = set()

    def ensure_indexes(self):
        for doc in (DraftDoc, ProposalDoc, ResponseDoc, LessonDoc, AgreementDoc):
            doc.ensure_indexes()

    # -- plan versions (read; written only by publish) ----------------------------------

    def plan_doc(self, programme_id: str, version: int) -> dict | None:
        coll = StoredPlan._get_collection()
        if version:
            return coll.find_one({"_id": draft_key(programme_id, version)})
        return coll.find_one({"programme_id": programme_id}, sort=[("version", DESCENDING)])

    def plan(self, programme_id: str, version: int) -> Plan | None:
        doc = self.plan_doc(programme_id, version)
        return Plan.from_dict(doc["plan"]) if doc else None

    def is_agreed(self, programme_id: str, version: int) -> bool:
        key = (programme_id, version)
        if key not in self._agreed:
            doc = self.plan_doc(programme_id, version)
            if doc is None:
                return False  # not cached: the version may yet be created
            self._agreed[key] = str(doc.get("created_by", "")).startswith(AGREED_MARK)
        return self._agreed[key]

    def codesigned(self, programme_id: str) -> bool:
        """Whether the programme has a co-designed version, or a draft being
        published (its plan version may be a moment from being written)."""
        if programme_id in self._codesigned:
            return True
        plans = StoredPlan._get_collection().find({"programme_id": programme_id},
                                                  {"created_by": 1})
        if any(str(d.get("created_by", "")).startswith(AGREED_MARK) for d in plans) or \
                DraftDoc._get_collection().find_one(
                    {"programme_id": programme_id, "state": "published"}, {"_id": 1}):
            self._codesigned.add(programme_id)
            return True
        return False

    def publish_plan(self, plan: Plan, agency_id: str) -> bool:
        """Writes the draft's plan as exactly its version. False when that
        version already exists as something else (made outside co-design)."""
        doc = {"_id": draft_key(plan.programme_id, plan.version), "programme_id": plan.programme_id,
               "version": plan.version, "plan": plan.to_dict(),
               "created_at": dt.datetime.now(dt.timezone.utc),
               "created_by": f"{AGREED_MARK}{agency_id}"}
        try:
            StoredPlan._get_collection().insert_one(doc)
            return True
        except DuplicateKeyError:
            existing = self.plan_doc(plan.programme_id, plan.version)
            # A retry after a crash between the two writes of a publish.
            return (str(existing.get("created_by", "")).startswith(AGREED_MARK)
                    and existing["plan"] == plan.to_dict())

    # -- drafts -----------------------------------------------------------------------

    def create_draft(self, draft: dict) -> bool:
        try:
            DraftDoc._get_collection().insert_one(dict(draft, _id=draft_key(
                draft["programme_id"], draft["version"]), revision=1))
            return True
        except DuplicateKeyError:
            return False

    def draft(self, programme_id: str, version: int) -> dict | None:
        coll = DraftDoc._get_collection()
        if version:
            return coll.find_one({"_id": draft_key(programme_id, version)})
        return coll.find_one({"programme_id": programme_id}, sort=[("version", DESCENDING)])

    def replace_draft(self, draft: dict):
        """Writes a changed draft if nobody changed it since it was read."""
        revision = draft["revision"]
        new = dict(draft, revision=revision + 1)
        result = DraftDoc._get_collection().replace_one(
            {"_id": draft["_id"], "revision": revision}, new)
        if result.matched_count != 1:
            raise Conflict(draft["_id"])
        return new

    # -- proposals, responses, lessons ------------------------------------------------

    def insert_proposal(self, key: str, number: int, proposal: dict) -> dict | None:
        """Stores a proposal under the number the draft's count gave it; None
        when a concurrent proposal took that number first."""
        doc = dict(proposal, _id=f"{key}#{number}", draft=key, number=number)
        try:
            ProposalDoc._get_collection().insert_one(doc)
            return doc
        except DuplicateKeyError:
            return None

    def remove_proposal(self, key: str, number: int):
        """Takes back a proposal whose draft was published before it was counted."""
        ProposalDoc._get_collection().delete_one({"_id": f"{key}#{number}"})

    def last_proposal_number(self, key: str) -> int:
        last = ProposalDoc._get_collection().find_one({"draft": key}, sort=[("number", DESCENDING)])
        return last["number"] if last else 0

    def proposals(self, key: str) -> list[dict]:
        return list(ProposalDoc._get_collection().find({"draft": key}).sort("number", 1))

    def proposal(self, key: str, number: int) -> dict | None:
        return ProposalDoc._get_collection().find_one({"_id": f"{key}#{number}"})

    def add_response(self, key: str, response: dict) -> dict:
        doc = dict(response, _id=uuid.uuid4().hex, draft=key)
        ResponseDoc._get_collection().insert_one(doc)
        return doc

    def responses(self, key: str) -> list[dict]:
        return sorted(ResponseDoc._get_collection().find({"draft": key}), key=lambda r: r["at"])

    def add_lesson(self, key: str, lesson: dict) -> dict:
        doc = dict(lesson, _id=uuid.uuid4().hex, draft=key)
        LessonDoc._get_collection().insert_one(doc)
        return doc

    def lessons(self, key: str) -> list[dict]:
        return sorted(LessonDoc._get_collection().find({"draft": key}), key=lambda r: r["at"])

    # -- agreements -------------------------------------------------------------------

    def agreements(self, provider_id: str, programme_id: str, plan_version: int) -> list[dict]:
        return list(AgreementDoc._get_collection().find(
            {"provider_id": provider_id, "programme_id": programme_id,
             "plan_version": plan_version}).sort("number", 1))

    def agreement(self, provider_id: str, programme_id: str, plan_version: int,
                  number: int) -> dict | None:
        """One agreement version (written once, never changed)."""
        return AgreementDoc._get_collection().find_one(
            {"_id": agreement_key(provider_id, programme_id, plan_version, number)})

    def add_agreement(self, provider_id: str, version: dict):
        """Stores an agreement version once; Conflict when its number is taken."""
        key = agreement_key(provider_id, version["programme_id"], version["plan_version"],
                            version["number"])
        try:
            AgreementDoc._get_collection().insert_one(dict(version, _id=key, provider_id=provider_id))
        except DuplicateKeyError:
            raise Conflict(key) from None


class CodesignStore(DependencyProvider):
    """Gives workers the CodesignStorage, in the service's own database. It
    connects like tiaki.plumbing.store.Storage (the same settings reuse the one
    connection) and leaves disconnecting to that Storage."""

    def setup(self):
        connect(config["MONGO_URI"])
        self.storage = CodesignStorage()
        self.storage.ensure_indexes()

    def get_dependency(self, worker_ctx):
        return self.storage
