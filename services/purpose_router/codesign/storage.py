"""Co-design's and agreements' store: drafts of plan versions, proposals and
the responses to them, providers' lessons, providers' agreement versions, the
families' notice versions and the terms each collected period was first
collected under (plan versions themselves are the plan repository's).

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

from services.purpose_router.codesign import agreement, notice
from tiaki.core.clock import now_iso
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


class QueryAnswerDoc(me.Document):
    """The Agency's answer to a provider's query on an item (written once)."""
    meta = {"collection": "item_query_answers", "indexes": ["provider_id"]}
    key = me.StringField(primary_key=True)  # agreement.query_key
    provider_id = me.StringField(required=True)


class NoticeDoc(me.Document):
    meta = {"collection": "notices", "indexes": [("provider_id", "programme_id", "number")]}
    key = me.StringField(primary_key=True)  # "<provider>|<programme>#<number>"
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)
    number = me.IntField(required=True)


class CollectedDoc(me.Document):
    meta = {"collection": "collected_periods", "indexes": [("provider_id", "programme_id")]}
    key = me.StringField(primary_key=True)  # "<provider>|<programme>|<period>"
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)


class AgencyNoticeDoc(me.Document):
    meta = {"collection": "agency_notices", "indexes": [("provider_id", "programme_id")]}
    key = me.StringField(primary_key=True)  # "<provider>|<programme>|<period>|<purpose>"
    provider_id = me.StringField(required=True)
    programme_id = me.StringField(required=True)


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
    opened_by_person: str = ""     # staff ids (tiaki-person) of who opened and published it
    published_by_person: str = ""
    closes_on: str = ""  # YYYY-MM-DD: the last day participants take part ("": none, older)
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
    return Draft(**{**{k: doc[k] for k in DRAFT_FIELDS if k in doc},  # older: no person
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
        self._notices = store.Collection(NoticeDoc)
        self._collected = store.Collection(CollectedDoc)
        self._agency_notices = store.Collection(AgencyNoticeDoc)
        self._answers = store.Collection(QueryAnswerDoc)
        # (programme, plan version, provider, agreement version) -> Terms: both
        # versions never change, so the reduced plan is worked out once.
        self._terms: dict[tuple[str, int, str, int], Terms] = {}
        # Agency notices this process knows are recorded: each is written once
        # and never changed, so every later delivery of its period skips the store.
        self._agency_notices_recorded: set[str] = set()

    def ensure_indexes(self):
        for doc in (DraftDoc, ProposalDoc, ResponseDoc, LessonDoc, AgreementDoc, NoticeDoc,
                    CollectedDoc, AgencyNoticeDoc, QueryAnswerDoc):
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

    def open_drafts(self) -> list[Draft]:
        """Every draft not yet published."""
        return [_draft(d) for d in self._drafts.find({"state": "draft"},
                                                     sort=[("programme_id", 1), ("version", 1)])]

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

    def latest_agreements(self, provider_id: str = "", programme_id: str = "") -> list[dict]:
        """The latest version of every agreement (of one provider, one programme)."""
        query = {k: v for k, v in (("provider_id", provider_id),
                                   ("programme_id", programme_id)) if v}
        latest: dict[tuple, dict] = {}
        for doc in self._agreements.find(query, sort="number"):
            latest[(doc["provider_id"], doc["programme_id"], doc["plan_version"])] = _written(doc)
        return [latest[k] for k in sorted(latest)]

    def add_query_answer(self, answer: dict) -> bool:
        """Stores the Agency's answer once; False when the query was answered already."""
        return self._answers.insert(dict(answer, _id=agreement.query_key(answer)))

    def query_answers(self, provider_id: str) -> dict[str, dict]:
        """A provider's answered queries, by agreement.query_key."""
        return {a["_id"]: _written(a) for a in self._answers.find({"provider_id": provider_id})}

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

    # -- the families' notice and collected periods -------------------------------------

    def notices(self, provider_id: str, programme_id: str) -> list[dict]:
        return [_written(n) for n in self._notices.find(
            {"provider_id": provider_id, "programme_id": programme_id}, sort="number")]

    def notice(self, provider_id: str, programme_id: str, number: int) -> dict | None:
        found = self._notices.get(f"{provider_id}|{programme_id}#{number}") if number else None
        return _written(found) if found else None

    def notice_saying(self, provider_id: str, programme_id: str, said: dict) -> dict:
        """The notice version saying exactly `said`: the latest one if it does,
        else a new version (numbered by insert, so two openings agree)."""
        fingerprint = notice.fingerprint(said)

        def attempt() -> dict:
            versions = self.notices(provider_id, programme_id)
            if versions and versions[-1]["fingerprint"] == fingerprint:
                return versions[-1]
            number = versions[-1]["number"] + 1 if versions else 1
            made = {"provider_id": provider_id, "programme_id": programme_id, "number": number,
                    "fingerprint": fingerprint, "said": said, "made_at": now_iso()}
            if not self._notices.insert(dict(made, _id=f"{provider_id}|{programme_id}#{number}")):
                raise Conflict("", "the notice version was taken")
            return made

        return store.retrying(attempt)

    def collected(self, provider_id: str, programme_id: str, period: str) -> dict | None:
        """The terms a period was first collected under: {period, plan_version,
        agreement_version, notice_version, opened_at}; None before its first submission."""
        found = self._collected.get(f"{provider_id}|{programme_id}|{period}")
        return _written(found) if found else None

    def collected_periods(self, provider_id: str, programme_id: str) -> list[dict]:
        return sorted((_written(c) for c in self._collected.find(
            {"provider_id": provider_id, "programme_id": programme_id})),
            key=lambda c: c["period"])

    def record_collected(self, provider_id: str, programme_id: str, terms: dict) -> dict:
        """Records a period's first terms once; the terms already recorded when
        another submission of the period got there first."""
        key = f"{provider_id}|{programme_id}|{terms['period']}"
        self._collected.insert(dict(terms, _id=key, provider_id=provider_id,
                                    programme_id=programme_id, opened_at=now_iso()))
        return _written(self._collected.get(key))

    def record_agency_notice(self, delivery: dict) -> None:
        """Records once per period and purpose that the Agency's own notice is owed
        for a unit-level delivery no notice of the provider's covered, and when."""
        key = "|".join(delivery[k] for k in ("provider_id", "programme_id", "period",
                                             "purpose_id"))
        if key in self._agency_notices_recorded:
            return
        self._agency_notices.insert({
            "_id": key,
            **{k: delivery[k] for k in ("provider_id", "programme_id", "period", "purpose_id",
                                        "unit_id", "plan_version", "fields")},
            "first_delivery_id": delivery["delivery_id"], "given_at": now_iso()})
        self._agency_notices_recorded.add(key)  # by this insert or an earlier one

    def agency_notices(self, provider_id: str, programme_id: str) -> list[dict]:
        return sorted((_written(n) for n in self._agency_notices.find(
            {"provider_id": provider_id, "programme_id": programme_id})),
            key=lambda n: (n["period"], n["purpose_id"]))
