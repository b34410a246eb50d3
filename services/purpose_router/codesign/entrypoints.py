"""purpose_router's co-design and agreement entrypoints: thin gRPC methods
over the rules in rules.py and agreement.py, the store in storage.py and the
plan repository, plus the RPC intake asks when a submission opens ("what may
this provider send?")."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from google.protobuf import json_format
from nameko import config
from nameko_grpc.entrypoint import Grpc
from prometheus_client import Counter

from services.purpose_router.codesign import agreement, letter, notice
from services.purpose_router.codesign import rules as codesign
from services.purpose_router.codesign.agency_notice import render_agency_notice
from services.purpose_router.codesign.family_document import (
    Party,
    publish_problems,
    reading_grade,
    render_family_document,
)
from services.purpose_router.codesign.storage import CodesignStorage, Draft
from services.purpose_router.directory import DirectoryStorage
from services.purpose_router.plans import PlanRepository
from services.purpose_router.routing.ledger import Ledger
from tiaki.core.clock import now_iso, nz_date_words, nz_today, utc_now
from tiaki.core.errors import Conflict, Forbidden, Invalid, NotFound, NotNow, Refused
from tiaki.core.periods import check_period, period_of
from tiaki.core.plan import Plan, PlanInvalid
from tiaki.plumbing import broker, plan_proto
from tiaki.plumbing.dead_letter import rpc
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.store import Storage, retrying
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import plan_pb2
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub

codesign_grpc = Grpc.implementing(CodesignServiceStub)
agreement_grpc = Grpc.implementing(AgreementServiceStub)

# No programme label: a draft's programme id is free text, and every distinct
# value would be a new time series.
CODESIGN_STEPS = Counter("tiaki_router_codesign_steps_total", "Co-design steps taken", ["step"])
ITEM_DECISIONS = Counter("tiaki_router_item_decisions_total",
                         "Agreement decisions recorded", ["programme", "decision"])

ROLE_PB = {"agency": cpb.ROLE_AGENCY, "provider": cpb.ROLE_PROVIDER,
           "service_user_representative": cpb.ROLE_SERVICE_USER_REPRESENTATIVE}
CHANGE_PB = {"add": cpb.CHANGE_KIND_ADD, "change": cpb.CHANGE_KIND_CHANGE,
             "remove": cpb.CHANGE_KIND_REMOVE}
RESPONSE_PB = {"endorse": cpb.RESPONSE_KIND_ENDORSE, "object": cpb.RESPONSE_KIND_OBJECT,
               "comment": cpb.RESPONSE_KIND_COMMENT}
STATE_PB = {"open": cpb.PROPOSAL_STATE_OPEN, "accepted": cpb.PROPOSAL_STATE_ACCEPTED,
            "declined": cpb.PROPOSAL_STATE_DECLINED}
DECISION_PB = {"accept": apb.ITEM_DECISION_ACCEPT, "decline": apb.ITEM_DECISION_DECLINE,
               "query": apb.ITEM_DECISION_QUERY}
PARTICIPANT_KINDS = ("agency", "provider", "representative")


def _working_days(key: str, default: int) -> int:
    return int(config.get(key) or default)


def _writable(draft: Draft, publishing: bool = False) -> Draft:
    """The draft, if it may still change (or, `publishing`, be published)."""
    if draft.state == "draft" or (publishing and draft.state == "publishing"):
        return draft
    raise NotNow("version", f"{draft.programme_id} version {draft.version} was published on "
                            f"{draft.published_at[:10]}; it cannot change: open a new draft")


def _from_pb(mapping: dict, value, field: str) -> str:
    for name, number in mapping.items():
        if number == value:
            return name
    raise Invalid(field, f"must be one of {', '.join(mapping)}")


def _timestamp(message, iso: str):
    if iso:
        message.FromJsonString(iso.replace("+00:00", "Z"))


def item_from_proto(item: plan_pb2.ScheduleItem) -> dict:
    data = json_format.MessageToDict(item, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)
    data["type"] = plan_proto.enum_text(data["type"], "FIELD_TYPE_")
    data["min"], data["max"] = int(data["min"]), int(data["max"])
    return data


def item_to_proto(item: dict) -> plan_pb2.ScheduleItem:
    return json_format.ParseDict({**item, "type": f"FIELD_TYPE_{item['type'].upper()}"},
                                 plan_pb2.ScheduleItem())


class CodesignEntrypoints:
    """CodesignService and AgreementService, and the terms intake collects under."""

    plans = Storage(PlanRepository)
    codesign_store = Storage(CodesignStorage)
    directory = Storage(DirectoryStorage)
    ledger = Storage(Ledger)
    identities = Identities()
    unit_queues = broker.UnitQueues()

    # -- drafts -----------------------------------------------------------------------

    @codesign_grpc
    def OpenDraft(self, request, context):
        agency = self.identities.require(context, "agency")
        programme_id = request.programme_id.strip() or request.plan.programme_id
        if not programme_id:
            raise Invalid("programme_id", "is required")
        base = self.plans.latest(programme_id)
        if request.HasField("plan"):
            content = plan_proto.from_proto(request.plan)
            if content["programme_id"] and content["programme_id"] != programme_id:
                raise Invalid("plan.programme_id", f"{content['programme_id']!r} is not "
                                                   f"programme_id {programme_id!r}")
            content["programme_id"] = programme_id
        elif base is None:
            raise NotFound("programme_id", f"programme {programme_id!r} has no plan to "
                                           "draft from: give the draft's plan")
        else:
            content = base.to_dict()
        version = base.version + 1 if base else 1
        closes_on = codesign.closing_date(request.closes_on.strip(), nz_today(), _working_days(
            "CODESIGN_DRAFT_WORKING_DAYS", codesign.DRAFT_OPEN_WORKING_DAYS))
        try:
            plan = Plan.from_dict(content, version=version)
        except PlanInvalid as exc:
            raise Invalid("plan", f"the plan cannot be used: {exc}") from None
        draft = Draft(programme_id=programme_id, version=version,
                      base_version=base.version if base else 0, state="draft",
                      plan=plan.to_dict(),
                      participants=tuple(sorted({codesign.parse_participant(p)
                                                 for p in request.participants})),
                      decisions=(), opened_by=f"agency:{agency.id}", opened_at=now_iso(),
                      opened_by_person=agency.person, closes_on=closes_on.isoformat())
        if not self.codesign_store.create_draft(draft):
            raise NotNow("version", f"a draft of {programme_id} version {version} is "
                                    "already open: propose changes to it")
        CODESIGN_STEPS.labels("open").inc()
        return cpb.OpenDraftResponse(draft=self._draft_message(draft))

    @codesign_grpc
    def InviteParticipants(self, request, context):
        self.identities.require(context, "agency")
        invited = {codesign.parse_participant(p) for p in request.participants}
        if not invited:
            raise Invalid("participants", "name at least one participant")
        draft = self._change_draft(context, request.programme_id, request.version,
                                   lambda d: dataclasses.replace(
                                       d, participants=tuple(sorted(set(d.participants) | invited))))
        return cpb.InviteParticipantsResponse(draft=self._draft_message(draft))

    @codesign_grpc
    def GetDraft(self, request, context):
        draft = self._draft(context, request.programme_id, request.version)
        return cpb.GetDraftResponse(draft=self._draft_message(draft))

    @codesign_grpc
    def ProposeChange(self, request, context):
        draft = self._draft(context, request.programme_id, request.version, writing=True)
        caller, person = self._caller(context), self._person(context)
        today = nz_today()
        codesign.still_open(draft.closes_on, today, "proposals are taken")
        kind = _from_pb(CHANGE_PB, request.kind, "kind")
        reason = codesign.require_text("reason", request.reason)
        item = item_from_proto(request.item) if request.HasField("item") else None
        if kind == "remove" and item is not None:
            raise Invalid("item", "a removal takes only item_name")
        codesign.apply_change(Plan.from_dict(draft.plan), kind, request.item_name, item)
        role = codesign.role_of(caller.split(":")[0])
        proposal = {"kind": kind, "item_name": request.item_name.strip(), "item": item,
                    "reason": reason, "proposed_by": caller, "role": role,
                    "proposed_at": now_iso(), "person": person,
                    "review_until": codesign.review_until(role, today, _working_days(
                        "CODESIGN_AGENCY_REVIEW_WORKING_DAYS",
                        codesign.AGENCY_PROPOSAL_REVIEW_WORKING_DAYS))}
        store = self.codesign_store

        def attempt() -> tuple[Draft, int]:
            current = self._draft(context, request.programme_id, request.version, writing=True)
            number = current.proposal_count + 1
            if not store.insert_proposal(current.key, number, proposal):
                raise Conflict("version", "the proposal number was taken")
            return current, number

        draft, number = _until_written(attempt)
        self._count_proposal(draft, number)
        CODESIGN_STEPS.labels("propose").inc()
        stored = store.proposal(draft.key, number)
        return cpb.ProposeChangeResponse(proposal=self._proposal_message(draft, stored))

    def _count_proposal(self, draft: Draft, number: int):
        """Counts a stored proposal on the draft by compare-and-swap. A publish
        checks the draft at one revision and freezes only that revision, so
        either it saw this proposal (and waits for its decision) or it froze
        first, and the proposal, too late for the version, is taken back."""
        def count(current: Draft) -> Draft:
            if current.state != "draft":
                self.codesign_store.remove_proposal(current.key, number)
                raise NotNow("version", f"{current.programme_id} version {current.version} "
                                        "was published before the proposal was made: open a "
                                        "new draft")
            return dataclasses.replace(current,
                                       proposal_count=max(current.proposal_count, number))

        self.codesign_store.change_draft(draft.programme_id, draft.version, count)

    @codesign_grpc
    def RespondToProposal(self, request, context):
        draft = self._draft(context, request.programme_id, request.version, writing=True)
        caller, person = self._caller(context), self._person(context)
        kind = _from_pb(RESPONSE_PB, request.kind, "kind")
        if kind != "comment" and caller.startswith("agency:"):
            raise Forbidden("kind", "the Agency decides on proposals; it comments but "
                                    "does not endorse or object")
        text = request.text.strip()
        if kind != "endorse":
            text = codesign.require_text("text", text)
        elif len(text) > codesign.MAX_TEXT:
            raise Invalid("text", f"is longer than {codesign.MAX_TEXT} characters")
        proposal = self._open_proposal(draft, request.proposal_number)
        in_review = (proposal.get("review_until") or "") >= nz_today().isoformat()
        if not in_review:  # an Agency proposal stays open to review for its whole period
            codesign.still_open(draft.closes_on, nz_today(), "responses are taken")
        self.codesign_store.add_response(draft.key, {
            "proposal": proposal["number"], "kind": kind, "by": caller,
            "role": codesign.role_of(caller.split(":")[0]), "text": text, "at": now_iso(),
            "person": person})
        CODESIGN_STEPS.labels(kind).inc()
        return cpb.RespondToProposalResponse(proposal=self._proposal_message(draft, proposal))

    @codesign_grpc
    def DecideProposal(self, request, context):
        agency = self.identities.require(context, "agency")
        reason = codesign.require_text("reason", request.reason)
        decided = []

        def decide(draft: Draft) -> Draft:
            proposal = self._open_proposal(draft, request.proposal_number)
            plan = draft.plan
            if request.accept:
                codesign.may_accept(proposal, nz_today())
                try:
                    plan = codesign.apply_change(Plan.from_dict(draft.plan), proposal["kind"],
                                                 proposal["item_name"],
                                                 proposal["item"]).to_dict()
                except Refused as exc:
                    raise NotNow("proposal_number", f"proposal {proposal['number']} no "
                                 f"longer fits the draft: {exc.reason}") from None
            decided[:] = [proposal]
            return dataclasses.replace(draft, plan=plan, decisions=draft.decisions + ({
                "proposal": proposal["number"], "accepted": bool(request.accept),
                "by": f"agency:{agency.id}", "reason": reason, "at": now_iso(),
                "person": agency.person},))

        draft = self._change_draft(context, request.programme_id, request.version, decide)
        CODESIGN_STEPS.labels("accept" if request.accept else "decline").inc()
        return cpb.DecideProposalResponse(proposal=self._proposal_message(draft, decided[0]),
                                          draft=self._draft_message(draft))

    @codesign_grpc
    def CheckDraft(self, request, context):
        draft = self._draft(context, request.programme_id, request.version)
        problems = publish_problems(Plan.from_dict(draft.plan))
        waiting = self._open_numbers(draft)
        return cpb.CheckDraftResponse(
            publishable=draft.state == "draft" and not problems and not waiting,
            problems=[cpb.PublishProblem(**p.to_dict()) for p in problems],
            open_proposals=waiting)

    @codesign_grpc
    def PublishDraft(self, request, context):
        """Publishes in three steps, each safe to repeat: the draft is frozen
        exactly as checked ("publishing": a proposal or decision that came in
        since changed it, and the freeze fails), its plan is written as the
        agreed version, and the draft is marked published. A publish cut short
        is finished by asking again; reads never write."""
        agency = self.identities.require(context, "agency")

        def freeze(draft: Draft) -> Draft:
            if _writable(draft, publishing=True).state == "publishing":
                return draft  # a publish cut short: finish it
            self._publishable(draft)
            return dataclasses.replace(draft, state="publishing",
                                       published_by=f"agency:{agency.id}",
                                       published_at=now_iso(),
                                       published_by_person=agency.person)

        found = _writable(self._draft(context, request.programme_id, request.version),
                          publishing=True)
        draft = self.codesign_store.change_draft(found.programme_id, found.version, freeze)
        plan = Plan.from_dict(draft.plan)
        if not self.plans.publish(plan, draft.published_by.removeprefix("agency:")):
            self.codesign_store.change_draft(draft.programme_id, draft.version, lambda d: (
                dataclasses.replace(d, state="draft", published_by="", published_at="",
                                    published_by_person="")))
            raise NotNow("version", f"{draft.programme_id} version {draft.version}"
                                    " already exists, made outside co-design: open a new draft")
        draft = self.codesign_store.change_draft(
            draft.programme_id, draft.version,
            lambda d: dataclasses.replace(d, state="published"))
        for unit in plan.units:
            self.unit_queues.declare(unit.unit_id)
        CODESIGN_STEPS.labels("publish").inc()
        return cpb.PublishDraftResponse(draft=self._draft_message(draft))

    def _publishable(self, draft: Draft):
        where = f"{draft.programme_id} version {draft.version}"
        waiting = self._open_numbers(draft)
        if waiting:
            raise NotNow("proposals", f"{where} cannot be published: proposals "
                                      f"{', '.join(map(str, waiting))} still wait for a decision")
        problems = publish_problems(Plan.from_dict(draft.plan))
        if problems:
            raise NotNow("plan", f"{where} cannot be published: {len(problems)} "
                                 "problem(s): " + "; ".join(p.text for p in problems))
        latest = self.plans.latest(draft.programme_id)
        if (latest.version if latest else 0) != draft.base_version:
            raise NotNow("version", f"{where} was drafted from version "
                                    f"{draft.base_version}, but version {latest.version} "
                                    "was made since: open a new draft")

    @codesign_grpc
    def DiffPlan(self, request, context):
        plan = self._readable_plan(context, request.programme_id, request.version, "version")
        before = self.plans.plan(plan.programme_id, plan.version - 1) \
            if plan.version > 1 else None
        return cpb.DiffPlanResponse(
            version=plan.version, previous_version=before.version if before else 0,
            differences=[cpb.PlanDifference(**d.to_dict()) for d in codesign.diff_plans(
                before.to_dict() if before else None, plan.to_dict())])

    @codesign_grpc
    def AttachLesson(self, request, context):
        sharer = self.identities.require(context, "provider", "representative")
        draft = self._draft(context, request.programme_id, request.version, writing=True)
        codesign.still_open(draft.closes_on, nz_today(), "lessons are taken")
        lesson = {"provider_id": sharer.id if sharer.kind == "provider" else "",
                  "shared_by": codesign.participant(sharer.kind, sharer.id),
                  "from_programme": codesign.require_text("from_programme", request.from_programme, 200),
                  "what_went_wrong": codesign.require_text("what_went_wrong", request.what_went_wrong),
                  "what_would_help": codesign.require_text("what_would_help", request.what_would_help),
                  "at": now_iso(), "person": sharer.person}
        self.codesign_store.add_lesson(draft.key, lesson)
        CODESIGN_STEPS.labels("lesson").inc()
        return cpb.AttachLessonResponse(lesson=_lesson_message(lesson))

    @codesign_grpc
    def ListNotices(self, request, context):
        who = self._caller(context)
        today = nz_today()
        store = self.codesign_store
        found = [n for d in store.open_drafts() for n in codesign.waiting(
            who, d, store.proposals(d.key), store.responses(d.key), today)]
        if who.startswith("agency:"):  # queries on agreement items wait for its answer
            found += [{"kind": "item_query", "subject": f"{q['provider_id']}|"
                       f"{q['programme_id']}@{q['plan_version']}|{q['item_name']}", "due": "",
                       "text": f"{q['provider_id']} queried {q['item_name']!r} of "
                               f"{q['programme_id']} version {q['plan_version']}: "
                               + (q["note"] or "it asks what the item is for")}
                      for q in self._item_queries("", "") if not q.get("answer")]
        return cpb.ListNoticesResponse(notices=[cpb.Notice(**n) for n in sorted(
            found, key=lambda n: (n["due"] or "9999", n["subject"], n["kind"]))])

    # -- agreements -------------------------------------------------------------------

    @agreement_grpc
    def DecideItems(self, request, context):
        provider = self.identities.require(context, "provider")
        plan = self._agreed_plan(request.programme_id, request.plan_version)
        choices = [{"item_name": c.item_name.strip(), "note": c.note,
                    "decision": _from_pb(DECISION_PB, c.decision, "choices.decision")}
                   for c in request.choices]
        store = self.codesign_store
        asked = check_period(request.applies_from, "applies_from") if request.applies_from else ""
        collected = store.collected_periods(provider.id, plan.programme_id)

        def attempt() -> tuple[dict | None, dict | None]:
            versions = store.agreements(provider.id, plan.programme_id, plan.version)
            previous = versions[-1] if versions else None
            made = agreement.decide(plan, previous, choices, request.decided_by,
                                    f"provider:{provider.id}", utc_now(), provider.person)
            if made is not None:
                made["applies_from"] = agreement.first_period(
                    made["applies_from"], collected, asked)
            if made is not None and not store.add_agreement(provider.id, made):
                raise Conflict("choices", "the agreement version was taken")
            return made, previous

        made, previous = _until_written(attempt, field="choices", what="the agreement")
        current = previous
        if made is not None:
            current = dict(made, provider_id=provider.id)
            for d in made["items"]:  # only the choices that changed something
                if d["since_version"] == made["number"]:
                    ITEM_DECISIONS.labels(plan.programme_id, d["decision"]).inc()
        queried = [c["item_name"] for c in choices if c["decision"] == "query"]
        return apb.DecideItemsResponse(
            agreement=_agreement_message(plan, current, store.query_answers(provider.id)),
            changed=made is not None,
            queried=[_statement_message(codesign.purpose_statement(plan, n)) for n in queried])

    @agreement_grpc
    def GetAgreement(self, request, context):
        provider_id = self._whose(context, request.provider_id)
        plan = self._agreed_plan(request.programme_id, request.plan_version)
        period = _period(request.period)
        versions = self.codesign_store.agreements(provider_id, plan.programme_id, plan.version)
        found = agreement.in_force(versions, period)
        answers = self.codesign_store.query_answers(provider_id)
        response = apb.GetAgreementResponse(versions=[_agreement_message(plan, v, answers)
                                                      for v in versions])
        if found is not None:
            response.in_force.CopyFrom(_agreement_message(plan, found, answers))
        return response

    @agreement_grpc
    def ListItemQueries(self, request, context):
        provider_id = self._whose(context, request.provider_id, every=True)
        found = self._item_queries(provider_id, request.programme_id.strip())
        if not request.include_answered:
            found = [q for q in found if not q.get("answer")]
        found.sort(key=lambda q: (bool(q.get("answer")), q["asked_at"]))
        return apb.ListItemQueriesResponse(queries=[_query_message(q) for q in found])

    @agreement_grpc
    def AnswerItemQuery(self, request, context):
        agency = self.identities.require(context, "agency")
        provider_id = request.provider_id.strip()
        if not provider_id:
            raise Invalid("provider_id", "name the provider whose query this answers")
        plan = self._agreed_plan(request.programme_id, request.plan_version)
        versions = self.codesign_store.agreements(provider_id, plan.programme_id, plan.version)
        answered = agreement.answer(versions[-1] if versions else None,
                                    request.item_name.strip(), request.answer,
                                    f"agency:{agency.id}", agency.person, utc_now())
        answered["provider_id"] = provider_id
        if not self.codesign_store.add_query_answer(answered):
            raise NotNow("item_name", f"{provider_id}'s query on {answered['item_name']!r} "
                                      "was already answered")
        return apb.AnswerItemQueryResponse(query=_query_message(answered))

    @agreement_grpc
    def GetPurposeStatement(self, request, context):
        plan = self._readable_plan(context, request.programme_id, request.plan_version,
                                   "plan_version")
        return apb.GetPurposeStatementResponse(statement=_statement_message(
            codesign.purpose_statement(plan, request.item_name.strip())))

    @agreement_grpc
    def GetFamilyDocument(self, request, context):
        provider_id = self._whose(context, request.provider_id)
        period = _period(request.period)
        facts = self._letter_facts(provider_id, request.programme_id, period,
                                   request.plan_version)
        parties = self.directory.by_key()
        provider = _party(parties.get(f"provider:{provider_id}")) or Party(
            request.provider_name.strip() or "your provider", request.provider_contact.strip())
        html = render_family_document(
            facts.sent, facts.held, provider, period, codesigned=facts.codesigned,
            agency=_party(parties.get("agency:agency")),
            units={e.id: _party(e) for e in parties.values() if e.kind == "unit"},
            versions={"plan_version": ", ".join(map(str, facts.plan_versions)),
                      "agreement_version": facts.agreement_version,
                      "notice_version": facts.notice_version},
            labels=facts.labels)
        return apb.GetFamilyDocumentResponse(
            html=html, agreement_version=facts.agreement_version,
            reading_grade=reading_grade(html), notice_version=facts.notice_version,
            plan_versions=facts.plan_versions, codesigned=facts.codesigned)

    @agreement_grpc
    def ListAgencyNotices(self, request, context):
        provider_id = self._whose(context, request.provider_id)
        period = check_period(request.period) if request.period else ""
        parties = self.directory.by_key()
        provider = _party(parties.get(f"provider:{provider_id}")) or Party("your provider")
        agency = _party(parties.get("agency:agency")) or Party("the Agency")
        response = apb.ListAgencyNoticesResponse()
        for given in self.codesign_store.agency_notices(provider_id, request.programme_id):
            if period and given["period"] != period:
                continue
            plan = self.plans.plan(given["programme_id"], given["plan_version"])
            purpose = plan.purpose(given["purpose_id"])
            unit = _party(parties.get(f"unit:{given['unit_id']}")) or Party(next(
                (u.name for u in plan.units if u.unit_id == given["unit_id"]),
                "A team in the Agency"))
            html = render_agency_notice(plan, given["purpose_id"], given["fields"],
                                        given["period"], provider, agency, unit,
                                        nz_date_words(nz_today(
                                            dt.datetime.fromisoformat(given["given_at"]))))
            notice_pb = response.notices.add(
                period=given["period"], unit_name=unit.name, purpose_name=purpose.name,
                html=html, reading_grade=reading_grade(html))
            _timestamp(notice_pb.given_at, given["given_at"])
        return response

    def _letter_facts(self, provider_id: str, programme_id: str, period: str,
                      plan_version: int) -> LetterFacts:
        """What the letter for one provider and period says, from facts: the
        period's deliveries in the ledger; before any, the terms it was first
        collected under; before any submission, the terms it would be now."""
        store = self.codesign_store
        first = store.collected(provider_id, programme_id, period)
        deliveries = self.ledger.deliveries_in(provider_id, programme_id, period)
        pairs = {(d["plan_version"], d["agreement_version"]) for d in deliveries}
        if not pairs and first is not None:
            pairs = {(first["plan_version"], first["agreement_version"])}
        if not pairs:
            plan = self.plans.plan(programme_id, plan_version)
            if plan is None:
                raise NotFound("plan_version", f"no plan for {programme_id!r} version "
                                               f"{plan_version}")
            number = 0
            if self.plans.is_agreed(plan.programme_id, plan.version):
                found = agreement.in_force(
                    store.agreements(provider_id, plan.programme_id, plan.version), period)
                if found is None:
                    raise NotNow("plan_version", f"{provider_id} has no agreement to "
                                                 f"{plan.programme_id} version {plan.version} "
                                                 f"for {period}: decide on its items first")
                number = found["number"]
            pairs = {(plan.version, number)}
        terms = {}
        for version, number in sorted(pairs):
            plan = self.plans.plan(programme_id, version)
            held = store.terms(plan, provider_id, number).withheld if number else {}
            terms[(version, number)] = letter.Terms(plan, held, number)
        sent, held = letter.what_was_sent(
            deliveries or [d for t in terms.values() for d in letter.planned_deliveries(t)],
            terms)
        codesigned = all(self.plans.is_agreed(programme_id, v) for v, _ in terms)
        if first is not None:
            notice_version = first["notice_version"]
        else:  # the letter as it would be given now: the notice saying what it says
            (only,) = terms.values()
            notice_version = store.notice_saying(provider_id, programme_id, notice.facts(
                letter.agreed_plan(only), codesigned))["number"]
        return LetterFacts(sent, held, codesigned, sorted({v for v, _ in terms}),
                           max(n for _, n in terms), notice_version, letter.labels(terms))

    @rpc
    def collection_terms(self, provider_id: str, programme_id: str, plan_version: int,
                         period: str, agreement_version: int | None = None) -> dict:
        """What intake may collect from a provider for one period: on an agreed
        plan, only the items its agreement accepts. Without agreement_version
        (a submission opening) the agreement in force for the period; with it
        (a submission already open) exactly that version, so intake and routing
        apply the same terms. An opening also gets the families' notice version
        in force for the period (see _opening). `problem` says why nothing may
        be collected."""
        terms = {"agreement_required": False, "agreement_version": 0, "withheld": {},
                 "notice_version": 0, "problem": ""}
        opening = agreement_version is None
        plan = self.plans.plan(programme_id, plan_version)
        if plan is None:
            return dict(terms, problem=f"no plan for {programme_id!r} version {plan_version}")
        where = f"{plan.programme_id} version {plan.version}"
        if not self.plans.is_agreed(plan.programme_id, plan.version):
            if self.plans.codesigned(plan.programme_id):
                return dict(terms, agreement_required=True, problem=(
                    f"{where} was not agreed through co-design, and {plan.programme_id} is "
                    "co-designed: submit on its co-designed version"))
            return self._opening(plan, provider_id, check_period(period), terms) \
                if opening else terms
        terms["agreement_required"] = True
        if agreement_version is None:
            current = period_of(nz_today())
            if check_period(period) > current:
                # Its terms are not settled yet: a change made now applies from the next period.
                return dict(terms, problem=f"period {period} has not started (it is {current}): "
                                           "open its submission once it has")
            found = agreement.in_force(self.codesign_store.agreements(
                provider_id, plan.programme_id, plan.version), period)
            if found is None:
                return dict(terms, problem=f"{provider_id} has no agreement to {where} for "
                                           f"{period}: accept or decline its items first")
            agreement_version = found["number"]
        held = self.codesign_store.terms(plan, provider_id, agreement_version).withheld
        terms = dict(terms, agreement_version=agreement_version, withheld=held)
        return self._opening(plan, provider_id, period, terms) if opening else terms

    def _opening(self, plan: Plan, provider_id: str, period: str, terms: dict) -> dict:
        """A submission opening: the period's first terms are recorded (once)
        with the families' notice version saying what they send, and every
        later submission of the period is held to that notice (refused when
        its plan sends to a unit the notice does not name)."""
        store = self.codesign_store
        agreed = (store.terms(plan, provider_id, terms["agreement_version"]).plan
                  if terms["agreement_version"] else plan)
        first = store.collected(provider_id, plan.programme_id, period)
        if first is None:
            said = notice.facts(agreed, self.plans.is_agreed(plan.programme_id, plan.version))
            made = store.notice_saying(provider_id, plan.programme_id, said)
            first = store.record_collected(provider_id, plan.programme_id, {
                "period": period, "plan_version": plan.version,
                "agreement_version": terms["agreement_version"], "notice_version": made["number"]})
        said = store.notice(provider_id, plan.programme_id, first["notice_version"])["said"]
        names = {u.unit_id: u.name for u in plan.units}
        names.update({e.id: e.display_name for e in self.directory.all() if e.kind == "unit"})
        problem = notice.unnamed_receiver(agreed, said, first["notice_version"], period, names)
        return dict(terms, notice_version=first["notice_version"], problem=problem)

    def _whose(self, context, provider_id: str, every: bool = False) -> str:
        """Whose agreement a caller reads: the Agency any provider's it names
        (`every`: "" for every provider's); a provider only its own (naming
        another is refused, not answered)."""
        caller = self.identities.require(context, "provider", "agency")
        provider_id = provider_id.strip()
        if caller.kind == "agency":
            if not provider_id and not every:
                raise Invalid("provider_id", "the Agency names the provider whose "
                                             "agreement it reads")
            return provider_id
        if provider_id and provider_id != caller.id:
            raise Forbidden("provider_id", "a provider reads only its own agreement")
        return caller.id

    # -- helpers ----------------------------------------------------------------------

    def _item_queries(self, provider_id: str, programme_id: str) -> list[dict]:
        """The queries the latest agreements hold (of one provider, one
        programme, or all), each as answered when the Agency has answered it."""
        store = self.codesign_store
        asked = agreement.queries(store.latest_agreements(provider_id, programme_id))
        answers: dict[str, dict] = {}
        for provider in sorted({q["provider_id"] for q in asked}):
            answers.update(store.query_answers(provider))
        return [answers.get(agreement.query_key(q), q) for q in asked]

    def _caller(self, context) -> str:
        who = self.identities.require(context, *PARTICIPANT_KINDS)
        return codesign.participant(who.kind, who.id)

    def _person(self, context) -> str:
        """The staff id of the participant's person acting ("" when none is named)."""
        return self.identities.require(context, *PARTICIPANT_KINDS).person

    def _draft(self, context, programme_id: str, version: int, writing: bool = False) -> Draft:
        """A draft the caller takes part in; a published one only for reading."""
        caller = self._caller(context)
        draft = self.codesign_store.draft(programme_id, version)
        if draft is None:
            raise NotFound("version", f"no co-design draft of {programme_id!r}"
                                      + (f" version {version}" if version else ""))
        if not caller.startswith("agency:") and caller not in draft.participants:
            raise Forbidden("version", f"{caller} is not a participant in the co-design "
                                       f"of {programme_id} version {draft.version}")
        return _writable(draft) if writing else draft

    def _change_draft(self, context, programme_id: str, version: int, change) -> Draft:
        """Changes a draft the caller may write to, by compare-and-swap."""
        draft = self._draft(context, programme_id, version, writing=True)
        return self.codesign_store.change_draft(
            draft.programme_id, draft.version, lambda current: change(_writable(current)))

    def _open_proposal(self, draft: Draft, number: int) -> dict:
        proposal = self.codesign_store.proposal(draft.key, number)
        if proposal is None:
            raise NotFound("proposal_number", f"no proposal {number} on "
                                              f"{draft.programme_id} version {draft.version}")
        state = codesign.proposal_state(number, draft.decisions)
        if state != "open":
            raise NotNow("proposal_number", f"proposal {number} was already {state}")
        return proposal

    def _open_numbers(self, draft: Draft) -> list[int]:
        return [p["number"] for p in self.codesign_store.proposals(draft.key)
                if codesign.proposal_state(p["number"], draft.decisions) == "open"]

    def _readable_plan(self, context, programme_id: str, version: int, field: str) -> Plan:
        """A plan version any participant (or unit) may read; NotFound naming `field`."""
        self.identities.require(context, *PARTICIPANT_KINDS, "unit")
        plan = self.plans.plan(programme_id, version)
        if plan is None:
            raise NotFound(field, f"no plan for {programme_id!r} version {version}")
        return plan

    def _agreed_plan(self, programme_id: str, version: int) -> Plan:
        plan = self.plans.plan(programme_id, version)
        if plan is None:
            raise NotFound("plan_version", f"no plan for {programme_id!r} version {version}")
        if not self.plans.is_agreed(plan.programme_id, plan.version):
            raise NotNow("plan_version", f"{programme_id} version {plan.version} was not "
                                         "agreed through co-design: agreements are made on "
                                         "agreed plans")
        return plan

    def _proposal_message(self, draft: Draft, proposal: dict) -> cpb.Proposal:
        return _proposal_message(draft, proposal, [
            r for r in self.codesign_store.responses(draft.key)
            if r["proposal"] == proposal["number"]])

    def _draft_message(self, draft: Draft) -> cpb.Draft:
        key = draft.key
        responses = self.codesign_store.responses(key)
        base = self.plans.plan(draft.programme_id, draft.base_version) \
            if draft.base_version else None
        msg = cpb.Draft(
            programme_id=draft.programme_id, version=draft.version,
            base_version=draft.base_version,
            # A draft still being published is not published yet.
            state=cpb.DRAFT_STATE_PUBLISHED if draft.state == "published" else cpb.DRAFT_STATE_DRAFT,
            plan=plan_proto.to_proto(draft.plan),
            participants=[cpb.Participant(participant=p, role=ROLE_PB[codesign.role_of(p.split(":")[0])])
                          for p in draft.participants],
            proposals=[_proposal_message(draft, p, [r for r in responses
                                                    if r["proposal"] == p["number"]])
                       for p in self.codesign_store.proposals(key)],
            differences=[cpb.PlanDifference(**d.to_dict()) for d in codesign.diff_plans(
                base.to_dict() if base else None, draft.plan)],
            lessons=[_lesson_message(lesson) for lesson in self.codesign_store.lessons(key)],
            opened_by=draft.opened_by, published_by=draft.published_by,
            opened_by_person=draft.opened_by_person,
            published_by_person=draft.published_by_person, closes_on=draft.closes_on)
        _timestamp(msg.opened_at, draft.opened_at)
        _timestamp(msg.published_at, draft.published_at)
        return msg


@dataclass(frozen=True)
class LetterFacts:
    """What the families' letter for one provider and period says, and under which versions."""
    sent: Plan
    held: dict
    codesigned: bool
    plan_versions: list
    agreement_version: int
    notice_version: int
    labels: dict


def _party(entry) -> Party | None:
    return Party(entry.display_name, entry.postal_address, entry.phone,
                 entry.privacy_email) if entry else None


def _until_written(attempt, field: str = "version", what: str = "the draft"):
    """store.retrying, refusing as a failed precondition (what callers always got)
    when others kept writing first."""
    try:
        return retrying(attempt, field=field, what=f"{what} kept changing; try again")
    except Conflict as exc:
        raise NotNow(exc.field, exc.reason) from None


def _period(period: str) -> str:
    """The period asked about, else the current one (New Zealand's quarter)."""
    return check_period(period) if period else period_of(nz_today())


def _proposal_message(draft: Draft, proposal: dict, responses: list[dict]) -> cpb.Proposal:
    msg = cpb.Proposal(
        number=proposal["number"], kind=CHANGE_PB[proposal["kind"]],
        item_name=proposal["item_name"], reason=proposal["reason"],
        proposed_by=proposal["proposed_by"], role=ROLE_PB[proposal["role"]],
        person=proposal.get("person", ""), review_until=proposal.get("review_until", ""),
        state=STATE_PB[codesign.proposal_state(proposal["number"], draft.decisions)])
    if proposal.get("item"):
        msg.item.CopyFrom(item_to_proto(proposal["item"]))
    _timestamp(msg.proposed_at, proposal["proposed_at"])
    latest: dict[str, str] = {}
    for r in responses:
        response = msg.responses.add(kind=RESPONSE_PB[r["kind"]], by=r["by"],
                                     role=ROLE_PB[r["role"]], text=r["text"],
                                     person=r.get("person", ""))
        _timestamp(response.at, r["at"])
        if r["kind"] != "comment":
            latest[r["by"]] = r["kind"]  # a participant may change their mind
    msg.endorsement_count = sum(1 for k in latest.values() if k == "endorse")
    msg.objection_count = sum(1 for k in latest.values() if k == "object")
    for d in draft.decisions:
        if d["proposal"] == proposal["number"]:
            msg.decision.accepted, msg.decision.by, msg.decision.reason = \
                d["accepted"], d["by"], d["reason"]
            msg.decision.person = d.get("person", "")
            _timestamp(msg.decision.at, d["at"])
    return msg


def _lesson_message(lesson: dict) -> cpb.Lesson:
    shared_by = lesson.get("shared_by") or f"provider:{lesson['provider_id']}"
    msg = cpb.Lesson(**{k: lesson[k] for k in ("provider_id", "from_programme",
                                               "what_went_wrong", "what_would_help")},
                     person=lesson.get("person", ""), shared_by=shared_by,
                     role=ROLE_PB[codesign.role_of(shared_by.split(":")[0])])
    _timestamp(msg.at, lesson["at"])
    return msg


def _agreement_message(plan: Plan, version: dict,
                       answers: dict[str, dict] | None = None) -> apb.Agreement:
    """An agreement version; its queried items with the Agency's answers, if any."""
    decided = {d["item_name"] for d in version["items"]}
    msg = apb.Agreement(
        provider_id=version.get("provider_id", ""), programme_id=version["programme_id"],
        plan_version=version["plan_version"], version=version["number"],
        applies_from=version["applies_from"], made_by=version["made_by"],
        person=version.get("person", ""),
        not_decided=[i.name for i in plan.items if i.name not in decided])
    _timestamp(msg.made_at, version["made_at"])
    for d in version["items"]:
        item = msg.items.add(item_name=d["item_name"], decision=DECISION_PB[d["decision"]],
                             note=d["note"], decided_by=d["decided_by"], caller=d["caller"],
                             since_version=d["since_version"], person=d.get("person", ""))
        _timestamp(item.decided_at, d["decided_at"])
        if d["decision"] == "query" and answers:
            answered = answers.get(agreement.query_key(dict(
                version, agreement_version=d["since_version"], item_name=d["item_name"])))
            if answered:
                item.answer, item.answered_by_person = (answered["answer"],
                                                        answered["answered_by_person"])
                _timestamp(item.answered_at, answered["answered_at"])
    return msg


def _query_message(query: dict) -> apb.ItemQuery:
    msg = apb.ItemQuery(**{k: query.get(k, "") for k in (
        "provider_id", "programme_id", "item_name", "note", "asked_by", "person", "answer",
        "answered_by", "answered_by_person")}, plan_version=query["plan_version"],
        agreement_version=query["agreement_version"])
    _timestamp(msg.asked_at, query["asked_at"])
    _timestamp(msg.answered_at, query.get("answered_at", ""))
    return msg


def _statement_message(statement: dict) -> apb.PurposeStatement:
    return json_format.ParseDict(statement, apb.PurposeStatement())
