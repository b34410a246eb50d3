"""Co-design's and agreements' store: drafts of plan versions, proposals and
the responses to them, providers' lessons, and providers' agreement versions
(plan versions themselves are the plan repository's).

A draft is one document changed only by compare-and-swap on its revision, so
an accepted proposal and the change it makes to the plan land together or
not at all; the revision stays in here. Proposals, responses, lessons and
agreement versions are written once and never changed. Times are ISO text."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import mongoengine as me

from services.purpose_router.codesign import agreement
from tiaki.core.errors import Conflict, NotNow
from tiaki.core.plan import Plan
from tiaki.plumbing import store


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


@dataclass(frozen=True)
class Draft:
    programme_id: str
    version: int
    base_version: int
    state: str  # "draft", "publishing" (its plan version being written), "published"
    plan: dict
    participants: tuple[str, ...]
    decisions: tuple[dict, ...]
    opened_by: str
    opened_at: str
    published_by: str = ""
    published_at: str = ""
    proposal_count: int = 0  # proposals stored, counted by compare-and-swap

    @property
    def key(self) -> str:
        return draft_key(self.programme_id, self.version)


@dataclass(frozen=True)
class Terms:
    """What one agreement version withholds from a plan, and the plan without it."""
    withheld: dict[str, str]
    plan: Plan


DRAFT_FIELDS = [f.name for f in dataclasses.fields(Draft)]


def _draft(doc: dict | None) -> Draft | None:
    if doc is None:
        return None
    return Draft(**{**{k: doc[k] for k in DRAFT_FIELDS},
                    "participants": tuple(doc["participants"]),
                    "decisions": tuple(doc["decisions"])})


def _draft_doc(draft: Draft) -> dict:
    return {**dataclasses.asdict(draft), "participants": list(draft.participants),
            "decisions": list(draft.decisions)}


def _written(doc: dict) -> dict:
    """A written-once record as the rules see it, without its storage keys."""
    return {k: v for k, v in doc.items() if k not in ("_id", "draft")}


class CodesignStorage:
    def __init__(self):
        self._drafts = store.Collection(DraftDoc)
        self._proposals = store.Collection(ProposalDoc)
        self._responses = store.Collection(ResponseDoc)
        self._lessons = store.Collection(LessonDoc)
        self._agreements = store.Collection(AgreementDoc)
        # (programme, plan version, provider, agreement version) -> Terms: both
        # versions never change, so the reduced plan is worked out once.
        self._terms: dict[tuple[str, int, str, int], Terms] = {}

    def ensure_indexes(self):
        for doc in (DraftDoc, ProposalDoc, ResponseDoc, LessonDoc, AgreementDoc):
            doc.ensure_indexes()

    # -- drafts -----------------------------------------------------------------------

    def create_draft(self, draft: Draft) -> bool:
        """False when a draft of that version exists."""
        return self._drafts.insert(dict(_draft_doc(draft), _id=draft.key, revision=1))

    def draft(self, programme_id: str, version: int) -> Draft | None:
        """A draft (the latest with version 0)."""
        if version:
            return _draft(self._drafts.get(draft_key(programme_id, version)))
        return _draft(self._drafts.latest({"programme_id": programme_id}, by="version"))

    def change_draft(self, programme_id: str, version: int,
                     change: Callable[[Draft], Draft]) -> Draft:
        """Reads the draft, applies `change` (which checks it and may raise) and
        writes the result if nobody changed the draft meanwhile, else reads and
        tries again; NotNow when it kept changing."""
        def attempt() -> Draft:
            doc = self._drafts.get(draft_key(programme_id, version))
            new = change(_draft(doc))
            self._drafts.swap(dict(_draft_doc(new), _id=doc["_id"], revision=doc["revision"]))
            return new

        try:
            return store.retrying(attempt)
        except Conflict:
            raise NotNow("version", "the draft kept changing; try again") from None

    # -- proposals, responses, lessons ------------------------------------------------

    def insert_proposal(self, key: str, number: int, proposal: dict) -> bool:
        """Stores a proposal under the number the draft's count gave it; False
        when a concurrent proposal took that number first."""
        return self._proposals.insert(dict(proposal, _id=f"{key}#{number}", draft=key,
                                           number=number))

    def remove_proposal(self, key: str, number: int):
        """Takes back a proposal whose draft was published before it was counted."""
        self._proposals.delete(f"{key}#{number}")

    def proposals(self, key: str) -> list[dict]:
        return [_written(p) for p in self._proposals.find({"draft": key}, sort="number")]

    def proposal(self, key: str, number: int) -> dict | None:
        found = self._proposals.get(f"{key}#{number}")
        return _written(found) if found else None

    def add_response(self, key: str, response: dict):
        self._responses.insert(dict(response, _id=uuid.uuid4().hex, draft=key))

    def responses(self, key: str) -> list[dict]:
        return sorted((_written(r) for r in self._responses.find({"draft": key})),
                      key=lambda r: r["at"])

    def add_lesson(self, key: str, lesson: dict):
        self._lessons.insert(dict(lesson, _id=uuid.uuid4().hex, draft=key))

    def lessons(self, key: str) -> list[dict]:
        return sorted((_written(r) for r in self._lessons.find({"draft": key})),
                      key=lambda r: r["at"])

    # -- agreements -------------------------------------------------------------------

    def agreements(self, provider_id: str, programme_id: str, plan_version: int) -> list[dict]:
        return [_written(a) for a in self._agreements.find(
            {"provider_id": provider_id, "programme_id": programme_id,
             "plan_version": plan_version}, sort="number")]

    def agreement(self, provider_id: str, programme_id: str, plan_version: int,
                  number: int) -> dict | None:
        """One agreement version (written once, never changed)."""
        found = self._agreements.get(agreement_key(provider_id, programme_id, plan_version,
                                                   number))
        return _written(found) if found else None

    def add_agreement(self, provider_id: str, version: dict) -> bool:
        """Stores an agreement version once; False when its number is taken."""
        return self._agreements.insert(dict(
            version, provider_id=provider_id, _id=agreement_key(
                provider_id, version["programme_id"], version["plan_version"], version["number"])))

    def terms(self, plan: Plan, provider_id: str, number: int) -> Terms:
        """What agreement version `number` of a provider withholds from an agreed
        plan, and the plan without it (cached). LookupError when there is no such version."""
        key = (plan.programme_id, plan.version, provider_id, number)
        if key not in self._terms:
            found = self.agreement(provider_id, plan.programme_id, plan.version,
                                   number) if number else None
            if found is None:
                raise LookupError(f"{provider_id} has no agreement version {number} to "
                                  f"{plan.programme_id} version {plan.version}")
            held = agreement.withheld(plan, found)
            self._terms[key] = Terms(held, agreement.effective_plan(plan, held))
        return self._terms[key]
