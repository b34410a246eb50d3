"""purpose_router's co-design and agreement entrypoints, mixed into
PurposeRouterService: thin gRPC methods over the rules in codesign.py and
agreement.py and the store in codesign_storage.py, plus the RPC intake asks
when a submission opens ("what may this provider send?")."""

from __future__ import annotations

import datetime as dt
import functools

from google.protobuf import json_format
from grpc import StatusCode
from nameko_grpc.entrypoint import Grpc
from nameko_grpc.errors import GrpcError
from prometheus_client import Counter

from services.purpose_router import agreement, codesign
from services.purpose_router.codesign_storage import CodesignStore, Conflict, now_iso
from services.purpose_router.family_document import (
    publish_problems,
    reading_grade,
    render_family_document,
)
from tiaki.core.plan import Plan, PlanInvalid
from tiaki.plumbing import plan_proto
from tiaki.plumbing.dead_letter import rpc
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

STATUS = {"invalid_argument": StatusCode.INVALID_ARGUMENT, "not_found": StatusCode.NOT_FOUND,
          "failed_precondition": StatusCode.FAILED_PRECONDITION,
          "permission_denied": StatusCode.PERMISSION_DENIED}
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
CAS_TRIES = 20


def _refusing(method):
    """Maps the rules' refusals to gRPC statuses, once for every entrypoint."""

    @functools.wraps(method)
    def wrapper(self, request, context):
        try:
            return method(self, request, context)
        except codesign.CodesignError as exc:
            raise GrpcError(STATUS[exc.code], str(exc)) from None

    return wrapper


def _from_pb(mapping: dict, value, field: str) -> str:
    for name, number in mapping.items():
        if number == value:
            return name
    raise codesign.Invalid(field, f"must be one of {', '.join(mapping)}")


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
    """Needs the service's `identities` and `unit_queues` dependencies."""

    codesign_store = CodesignStore()

    # (programme, plan version, provider, agreement version) -> (withheld, plan)
    _agreed_plans: dict = {}

    # -- drafts -----------------------------------------------------------------------

    @codesign_grpc
    @_refusing
    def OpenDraft(self, request, context):
        agency = self.identities.require(context, "agency")
        programme_id = request.programme_id.strip() or request.plan.programme_id
        if not programme_id:
            raise codesign.Invalid("programme_id", "is required")
        base = self.codesign_store.plan(programme_id, 0)
        if request.HasField("plan"):
            content = plan_proto.from_proto(request.plan)
            if content["programme_id"] and content["programme_id"] != programme_id:
                raise codesign.Invalid("plan.programme_id", f"{content['programme_id']!r} is not "
                                                            f"programme_id {programme_id!r}")
            content["programme_id"] = programme_id
        elif base is None:
            raise codesign.Unknown("programme_id", f"programme {programme_id!r} has no plan to "
                                                   "draft from: give the draft's plan")
        else:
            content = base.to_dict()
        version = base.version + 1 if base else 1
        try:
            plan = Plan.from_dict(content, version=version)
        except PlanInvalid as exc:
            raise codesign.Invalid("plan", f"the plan cannot be used: {exc}") from None
        participants = sorted({codesign.parse_participant(p) for p in request.participants})
        draft = {"programme_id": programme_id, "version": version,
                 "base_version": base.version if base else 0, "state": "draft",
                 "plan": plan.to_dict(), "participants": participants, "decisions": [],
                 "opened_by": f"agency:{agency.id}", "opened_at": now_iso(),
                 "published_by": "", "published_at": ""}
        if not self.codesign_store.create_draft(draft):
            raise codesign.NotNow("version", f"a draft of {programme_id} version {version} is "
                                             "already open: propose changes to it")
        CODESIGN_STEPS.labels("open").inc()
        return cpb.OpenDraftResponse(draft=self._draft_message(
            self.codesign_store.draft(programme_id, version)))

    @codesign_grpc
    @_refusing
    def InviteParticipants(self, request, context):
        self.identities.require(context, "agency")
        invited = {codesign.parse_participant(p) for p in request.participants}
        if not invited:
            raise codesign.Invalid("participants", "name at least one participant")
        for _ in range(CAS_TRIES):
            draft = self._draft(context, request.programme_id, request.version, writing=True)
            draft["participants"] = sorted(set(draft["participants"]) | invited)
            try:
                draft = self.codesign_store.replace_draft(draft)
                return cpb.InviteParticipantsResponse(draft=self._draft_message(draft))
            except Conflict:
                continue
        raise codesign.NotNow("version", "the draft kept changing; try again")

    @codesign_grpc
    @_refusing
    def GetDraft(self, request, context):
        draft = self._draft(context, request.programme_id, request.version)
        return cpb.GetDraftResponse(draft=self._draft_message(draft))

    @codesign_grpc
    @_refusing
    def ProposeChange(self, request, context):
        draft = self._draft(context, request.programme_id, request.version, writing=True)
        caller = self._caller(context)
        kind = _from_pb(CHANGE_PB, request.kind, "kind")
        reason = codesign.require_text("reason", request.reason)
        item = item_from_proto(request.item) if request.HasField("item") else None
        if kind == "remove" and item is not None:
            raise codesign.Invalid("item", "a removal takes only item_name")
        codesign.apply_change(Plan.from_dict(draft["plan"]), kind, request.item_name, item)
        proposal = {"kind": kind, "item_name": request.item_name.strip(), "item": item,
                    "reason": reason, "proposed_by": caller,
                    "role": codesign.role_of(caller.split(":")[0]), "proposed_at": now_iso()}
        for _ in range(CAS_TRIES):
            number = self._proposal_count(draft) + 1
            stored = self.codesign_store.insert_proposal(draft["_id"], number, proposal)
            if stored is not None:
                break
            draft = self._draft(context, request.programme_id, request.version, writing=True)
        else:
            raise codesign.NotNow("version", "the draft kept changing; try again")
        self._count_proposal(draft, number)
        CODESIGN_STEPS.labels("propose").inc()
        return cpb.ProposeChangeResponse(proposal=self._proposal_message(draft, stored))

    def _proposal_count(self, draft: dict) -> int:
        if "proposal_count" in draft:
            return draft["proposal_count"]
        return self.codesign_store.last_proposal_number(draft["_id"])  # a draft from before counts

    def _count_proposal(self, draft: dict, number: int):
        """Counts a stored proposal on the draft by compare-and-swap. A publish
        checks the draft at one revision and publishes only that revision, so
        either it saw this proposal (and waits for its decision) or it swapped
        first, and the proposal, too late for the version, is taken back."""
        for _ in range(CAS_TRIES):
            if draft["state"] != "draft":
                self.codesign_store.remove_proposal(draft["_id"], number)
                raise codesign.NotNow("version", f"{draft['programme_id']} version "
                                      f"{draft['version']} was published before the proposal "
                                      "was made: open a new draft")
            try:
                self.codesign_store.replace_draft(
                    dict(draft, proposal_count=max(self._proposal_count(draft), number)))
                return
            except Conflict:
                draft = self.codesign_store.draft(draft["programme_id"], draft["version"])
        raise codesign.NotNow("version", "the draft kept changing; try again")

    @codesign_grpc
    @_refusing
    def RespondToProposal(self, request, context):
        draft = self._draft(context, request.programme_id, request.version, writing=True)
        caller = self._caller(context)
        kind = _from_pb(RESPONSE_PB, request.kind, "kind")
        if kind != "comment" and caller.startswith("agency:"):
            raise codesign.Forbidden("kind", "the Agency decides on proposals; it comments but "
                                             "does not endorse or object")
        text = request.text.strip()
        if kind != "endorse":
            text = codesign.require_text("text", text)
        elif len(text) > codesign.MAX_TEXT:
            raise codesign.Invalid("text", f"is longer than {codesign.MAX_TEXT} characters")
        proposal = self._open_proposal(draft, request.proposal_number)
        self.codesign_store.add_response(draft["_id"], {
            "proposal": proposal["number"], "kind": kind, "by": caller,
            "role": codesign.role_of(caller.split(":")[0]), "text": text, "at": now_iso()})
        CODESIGN_STEPS.labels(kind).inc()
        return cpb.RespondToProposalResponse(proposal=self._proposal_message(draft, proposal))

    @codesign_grpc
    @_refusing
    def DecideProposal(self, request, context):
        agency = self.identities.require(context, "agency")
        reason = codesign.require_text("reason", request.reason)
        for _ in range(CAS_TRIES):
            draft = self._draft(context, request.programme_id, request.version, writing=True)
            proposal = self._open_proposal(draft, request.proposal_number)
            if request.accept:
                try:
                    plan = codesign.apply_change(Plan.from_dict(draft["plan"]), proposal["kind"],
                                                 proposal["item_name"], proposal["item"])
                except codesign.CodesignError as exc:
                    raise codesign.NotNow("proposal_number", f"proposal {proposal['number']} no "
                                          f"longer fits the draft: {exc.reason}") from None
                draft["plan"] = plan.to_dict()
            draft["decisions"] = draft["decisions"] + [{
                "proposal": proposal["number"], "accepted": bool(request.accept),
                "by": f"agency:{agency.id}", "reason": reason, "at": now_iso()}]
            try:
                draft = self.codesign_store.replace_draft(draft)
            except Conflict:
                continue
            CODESIGN_STEPS.labels("accept" if request.accept else "decline").inc()
            return cpb.DecideProposalResponse(proposal=self._proposal_message(draft, proposal),
                                              draft=self._draft_message(draft))
        raise codesign.NotNow("version", "the draft kept changing; try again")

    @codesign_grpc
    @_refusing
    def CheckDraft(self, request, context):
        draft = self._draft(context, request.programme_id, request.version)
        problems = publish_problems(Plan.from_dict(draft["plan"]))
        waiting = self._open_numbers(draft)
        return cpb.CheckDraftResponse(
            publishable=draft["state"] == "draft" and not problems and not waiting,
            problems=[cpb.PublishProblem(**p.to_dict()) for p in problems],
            open_proposals=waiting)

    @codesign_grpc
    @_refusing
    def PublishDraft(self, request, context):
        agency = self.identities.require(context, "agency")
        for _ in range(CAS_TRIES):
            draft = self._draft(context, request.programme_id, request.version, writing=True)
            plan = self._publishable(draft)
            try:
                # Published exactly as checked: a proposal or decision that came in
                # since changed the revision, and the swap fails.
                draft = self.codesign_store.replace_draft(dict(
                    draft, state="published", published_by=f"agency:{agency.id}",
                    published_at=now_iso()))
                break
            except Conflict:
                continue
        else:
            raise codesign.NotNow("version", "the draft kept changing; try again")
        if not self.codesign_store.publish_plan(plan, agency.id):
            self._unpublish(draft)
            raise codesign.NotNow("version", f"{draft['programme_id']} version {draft['version']}"
                                  " already exists, made outside co-design: open a new draft")
        for unit in plan.units:
            self.unit_queues.declare(unit.unit_id)
        CODESIGN_STEPS.labels("publish").inc()
        return cpb.PublishDraftResponse(draft=self._draft_message(draft))

    def _publishable(self, draft: dict) -> Plan:
        where = f"{draft['programme_id']} version {draft['version']}"
        waiting = self._open_numbers(draft)
        if waiting:
            raise codesign.NotNow("proposals", f"{where} cannot be published: proposals "
                                  f"{', '.join(map(str, waiting))} still wait for a decision")
        plan = Plan.from_dict(draft["plan"])
        problems = publish_problems(plan)
        if problems:
            raise codesign.NotNow("plan", f"{where} cannot be published: {len(problems)} "
                                  "problem(s): " + "; ".join(p.text for p in problems))
        latest = self.codesign_store.plan_doc(draft["programme_id"], 0)
        if (latest["version"] if latest else 0) != draft["base_version"]:
            raise codesign.NotNow("version", f"{where} was drafted from version "
                                  f"{draft['base_version']}, but version {latest['version']} "
                                  "was made since: open a new draft")
        return plan

    def _unpublish(self, draft: dict):
        """Back to a draft when its version was taken outside co-design."""
        for _ in range(CAS_TRIES):
            try:
                self.codesign_store.replace_draft(dict(draft, state="draft", published_by="",
                                                       published_at=""))
                return
            except Conflict:
                draft = self.codesign_store.draft(draft["programme_id"], draft["version"])

    @codesign_grpc
    @_refusing
    def DiffPlan(self, request, context):
        self.identities.require(context, *PARTICIPANT_KINDS, "unit")
        plan = self.codesign_store.plan(request.programme_id, request.version)
        if plan is None:
            raise codesign.Unknown("version", f"no plan for {request.programme_id!r} version "
                                              f"{request.version}")
        before = self.codesign_store.plan(plan.programme_id, plan.version - 1) \
            if plan.version > 1 else None
        return cpb.DiffPlanResponse(
            version=plan.version, previous_version=before.version if before else 0,
            differences=[cpb.PlanDifference(**d.to_dict()) for d in codesign.diff_plans(
                before.to_dict() if before else None, plan.to_dict())])

    @codesign_grpc
    @_refusing
    def AttachLesson(self, request, context):
        provider = self.identities.require(context, "provider")
        draft = self._draft(context, request.programme_id, request.version)
        lesson = {"provider_id": provider.id,
                  "from_programme": codesign.require_text("from_programme", request.from_programme, 200),
                  "what_went_wrong": codesign.require_text("what_went_wrong", request.what_went_wrong),
                  "what_would_help": codesign.require_text("what_would_help", request.what_would_help),
                  "at": now_iso()}
        self.codesign_store.add_lesson(draft["_id"], lesson)
        CODESIGN_STEPS.labels("lesson").inc()
        return cpb.AttachLessonResponse(lesson=_lesson_message(lesson))

    # -- agreements -------------------------------------------------------------------

    @agreement_grpc
    @_refusing
    def DecideItems(self, request, context):
        provider = self.identities.require(context, "provider")
        plan = self._agreed_plan(request.programme_id, request.plan_version)
        choices = [{"item_name": c.item_name.strip(), "note": c.note,
                    "decision": _from_pb(DECISION_PB, c.decision, "choices.decision")}
                   for c in request.choices]
        for _ in range(CAS_TRIES):
            versions = self.codesign_store.agreements(provider.id, plan.programme_id, plan.version)
            previous = versions[-1] if versions else None
            made = agreement.decide(plan, previous, choices, request.decided_by,
                                    f"provider:{provider.id}", _now())
            if made is None:
                current = previous
                break
            try:
                self.codesign_store.add_agreement(provider.id, made)
            except Conflict:
                continue
            current = dict(made, provider_id=provider.id)
            for d in made["items"]:  # only the choices that changed something
                if d["since_version"] == made["number"]:
                    ITEM_DECISIONS.labels(plan.programme_id, d["decision"]).inc()
            break
        else:
            raise codesign.NotNow("choices", "the agreement kept changing; try again")
        queried = [c["item_name"] for c in choices if c["decision"] == "query"]
        return apb.DecideItemsResponse(
            agreement=_agreement_message(plan, current), changed=made is not None,
            queried=[_statement_message(codesign.purpose_statement(plan, n)) for n in queried])

    @agreement_grpc
    @_refusing
    def GetAgreement(self, request, context):
        provider_id = self._whose(context, request.provider_id)
        plan = self._agreed_plan(request.programme_id, request.plan_version)
        period = self._period(request.period)
        versions = self.codesign_store.agreements(provider_id, plan.programme_id, plan.version)
        found = agreement.in_force(versions, period)
        response = apb.GetAgreementResponse(versions=[_agreement_message(plan, v) for v in versions])
        if found is not None:
            response.in_force.CopyFrom(_agreement_message(plan, found))
        return response

    @agreement_grpc
    @_refusing
    def GetPurposeStatement(self, request, context):
        self.identities.require(context, *PARTICIPANT_KINDS, "unit")
        plan = self.codesign_store.plan(request.programme_id, request.plan_version)
        if plan is None:
            raise codesign.Unknown("plan_version", f"no plan for {request.programme_id!r} "
                                                   f"version {request.plan_version}")
        return apb.GetPurposeStatementResponse(statement=_statement_message(
            codesign.purpose_statement(plan, request.item_name.strip())))

    @agreement_grpc
    @_refusing
    def GetFamilyDocument(self, request, context):
        provider_id = self._whose(context, request.provider_id)
        plan = self._agreed_plan(request.programme_id, request.plan_version)
        period = self._period(request.period)
        found = agreement.in_force(
            self.codesign_store.agreements(provider_id, plan.programme_id, plan.version), period)
        if found is None:
            raise codesign.NotNow("plan_version", f"{provider_id} has no agreement to "
                                  f"{plan.programme_id} version {plan.version} for {period}: "
                                  "decide on its items first")
        html = render_family_document(plan, found, request.provider_name.strip() or provider_id,
                                      request.provider_contact, period)
        return apb.GetFamilyDocumentResponse(html=html, agreement_version=found["number"],
                                             reading_grade=reading_grade(html))

    @rpc
    def collection_terms(self, provider_id: str, programme_id: str, plan_version: int,
                         period: str, agreement_version: int | None = None) -> dict:
        """What intake may collect from a provider for one period: on an agreed
        plan, only the items its agreement accepts. Without agreement_version
        (a submission opening) the agreement in force for the period; with it
        (a submission already open) exactly that version, so intake and routing
        apply the same terms. `problem` says why nothing may be collected."""
        terms = {"agreement_required": False, "agreement_version": 0, "withheld": {},
                 "problem": ""}
        plan = self._plan(programme_id, plan_version)
        if plan is None:
            return dict(terms, problem=f"no plan for {programme_id!r} version {plan_version}")
        where = f"{plan.programme_id} version {plan.version}"
        if not self.codesign_store.is_agreed(plan.programme_id, plan.version):
            if self.codesign_store.codesigned(plan.programme_id):
                return dict(terms, agreement_required=True, problem=(
                    f"{where} was not agreed through co-design, and {plan.programme_id} is "
                    "co-designed: submit on its co-designed version"))
            return terms
        terms["agreement_required"] = True
        if agreement_version is None:
            current = agreement.period_of(agreement.nz_today())
            if agreement.check_period(period) > current:
                # Its terms are not settled yet: a change made now applies from the next period.
                return dict(terms, problem=f"period {period} has not started (it is {current}): "
                                           "open its submission once it has")
            found = agreement.in_force(self.codesign_store.agreements(
                provider_id, plan.programme_id, plan.version), period)
            if found is None:
                return dict(terms, problem=f"{provider_id} has no agreement to {where} for "
                                           f"{period}: accept or decline its items first")
            agreement_version = found["number"]
        held, _ = self._as_agreed(plan, provider_id, agreement_version)
        return dict(terms, agreement_version=agreement_version, withheld=held)

    def as_agreed(self, plan: Plan, provider_id: str, agreement_version: int | None,
                  period: str) -> Plan:
        """The plan as routing applies it to one provider's submission: without
        the items its agreement (the version the submission was opened under)
        does not accept. Raises when that agreement cannot be found, so the
        message is requeued rather than routed to nobody."""
        if not self.codesign_store.is_agreed(plan.programme_id, plan.version):
            return plan
        if agreement_version is None:  # a message from before submissions kept the version
            found = agreement.in_force(self.codesign_store.agreements(
                provider_id, plan.programme_id, plan.version), period)
            if found is None:
                raise LookupError(f"{provider_id} has no agreement to {plan.programme_id} "
                                  f"version {plan.version} for {period}")
            agreement_version = found["number"]
        return self._as_agreed(plan, provider_id, agreement_version)[1]

    def _as_agreed(self, plan: Plan, provider_id: str, number: int) -> tuple[dict, Plan]:
        """(withheld items, reduced plan) under one agreement version, cached
        forever: plan versions and agreement versions never change."""
        key = (plan.programme_id, plan.version, provider_id, number)
        if key not in self._agreed_plans:
            found = self.codesign_store.agreement(provider_id, plan.programme_id, plan.version,
                                                  number) if number else None
            if found is None:
                raise LookupError(f"{provider_id} has no agreement version {number} to "
                                  f"{plan.programme_id} version {plan.version}")
            held = agreement.withheld(plan, found)
            self._agreed_plans[key] = (held, agreement.effective_plan(plan, held))
        return self._agreed_plans[key]

    def _whose(self, context, provider_id: str) -> str:
        """Whose agreement a caller reads: the Agency any provider's it names;
        a provider only its own (naming another is refused, not answered)."""
        caller = self.identities.require(context, "provider", "agency")
        provider_id = provider_id.strip()
        if caller.kind == "agency":
            if not provider_id:
                raise codesign.Invalid("provider_id", "the Agency names the provider whose "
                                                      "agreement it reads")
            return provider_id
        if provider_id and provider_id != caller.id:
            raise codesign.Forbidden("provider_id", "a provider reads only its own agreement")
        return caller.id

    # -- helpers ----------------------------------------------------------------------

    def _caller(self, context) -> str:
        who = self.identities.require(context, *PARTICIPANT_KINDS)
        return codesign.participant(who.kind, who.id)

    def _draft(self, context, programme_id: str, version: int, writing: bool = False) -> dict:
        """A draft the caller takes part in; a published one only for reading."""
        caller = self._caller(context)
        draft = self.codesign_store.draft(programme_id, version)
        if draft is None:
            raise codesign.Unknown("version", f"no co-design draft of {programme_id!r}"
                                              + (f" version {version}" if version else ""))
        if draft["state"] == "published" and not self.codesign_store.is_agreed(
                programme_id, draft["version"]):
            # A publish cut short between its two writes: write its plan now.
            self.codesign_store.publish_plan(Plan.from_dict(draft["plan"]),
                                             draft["published_by"].removeprefix("agency:"))
        if not caller.startswith("agency:") and caller not in draft["participants"]:
            raise codesign.Forbidden("version", f"{caller} is not a participant in the co-design "
                                                f"of {programme_id} version {draft['version']}")
        if writing and draft["state"] != "draft":
            raise codesign.NotNow("version", f"{programme_id} version {draft['version']} was "
                                  f"published on {draft['published_at'][:10]}; it cannot change: "
                                  "open a new draft")
        return draft

    def _open_proposal(self, draft: dict, number: int) -> dict:
        proposal = self.codesign_store.proposal(draft["_id"], number)
        if proposal is None:
            raise codesign.Unknown("proposal_number", f"no proposal {number} on "
                                   f"{draft['programme_id']} version {draft['version']}")
        state = codesign.proposal_state(number, draft["decisions"])
        if state != "open":
            raise codesign.NotNow("proposal_number", f"proposal {number} was already {state}")
        return proposal

    def _open_numbers(self, draft: dict) -> list[int]:
        return [p["number"] for p in self.codesign_store.proposals(draft["_id"])
                if codesign.proposal_state(p["number"], draft["decisions"]) == "open"]

    def _agreed_plan(self, programme_id: str, version: int) -> Plan:
        plan = self.codesign_store.plan(programme_id, version)
        if plan is None:
            raise codesign.Unknown("plan_version", f"no plan for {programme_id!r} version {version}")
        if not self.codesign_store.is_agreed(plan.programme_id, plan.version):
            raise codesign.NotNow("plan_version", f"{programme_id} version {plan.version} was not "
                                  "agreed through co-design: agreements are made on agreed plans")
        return plan

    def _period(self, period: str) -> str:
        return agreement.check_period(period) if period else \
            agreement.period_of(agreement.nz_today())

    def _proposal_message(self, draft: dict, proposal: dict) -> cpb.Proposal:
        return _proposal_message(draft, proposal, [
            r for r in self.codesign_store.responses(draft["_id"])
            if r["proposal"] == proposal["number"]])

    def _draft_message(self, draft: dict) -> cpb.Draft:
        key = draft["_id"]
        responses = self.codesign_store.responses(key)
        base = self.codesign_store.plan(draft["programme_id"], draft["base_version"]) \
            if draft["base_version"] else None
        msg = cpb.Draft(
            programme_id=draft["programme_id"], version=draft["version"],
            base_version=draft["base_version"],
            state=cpb.DRAFT_STATE_PUBLISHED if draft["state"] == "published" else cpb.DRAFT_STATE_DRAFT,
            plan=plan_proto.to_proto(draft["plan"]),
            participants=[cpb.Participant(participant=p, role=ROLE_PB[codesign.role_of(p.split(":")[0])])
                          for p in draft["participants"]],
            proposals=[_proposal_message(draft, p, [r for r in responses
                                                    if r["proposal"] == p["number"]])
                       for p in self.codesign_store.proposals(key)],
            differences=[cpb.PlanDifference(**d.to_dict()) for d in codesign.diff_plans(
                base.to_dict() if base else None, draft["plan"])],
            lessons=[_lesson_message(lesson) for lesson in self.codesign_store.lessons(key)],
            opened_by=draft["opened_by"], published_by=draft["published_by"])
        _timestamp(msg.opened_at, draft["opened_at"])
        _timestamp(msg.published_at, draft["published_at"])
        return msg


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _proposal_message(draft: dict, proposal: dict, responses: list[dict]) -> cpb.Proposal:
    msg = cpb.Proposal(
        number=proposal["number"], kind=CHANGE_PB[proposal["kind"]],
        item_name=proposal["item_name"], reason=proposal["reason"],
        proposed_by=proposal["proposed_by"], role=ROLE_PB[proposal["role"]],
        state=STATE_PB[codesign.proposal_state(proposal["number"], draft["decisions"])])
    if proposal.get("item"):
        msg.item.CopyFrom(item_to_proto(proposal["item"]))
    _timestamp(msg.proposed_at, proposal["proposed_at"])
    latest: dict[str, str] = {}
    for r in responses:
        response = msg.responses.add(kind=RESPONSE_PB[r["kind"]], by=r["by"],
                                     role=ROLE_PB[r["role"]], text=r["text"])
        _timestamp(response.at, r["at"])
        if r["kind"] != "comment":
            latest[r["by"]] = r["kind"]  # a participant may change their mind
    msg.endorsement_count = sum(1 for k in latest.values() if k == "endorse")
    msg.objection_count = sum(1 for k in latest.values() if k == "object")
    for d in draft["decisions"]:
        if d["proposal"] == proposal["number"]:
            msg.decision.accepted, msg.decision.by, msg.decision.reason = \
                d["accepted"], d["by"], d["reason"]
            _timestamp(msg.decision.at, d["at"])
    return msg


def _lesson_message(lesson: dict) -> cpb.Lesson:
    msg = cpb.Lesson(**{k: lesson[k] for k in ("provider_id", "from_programme",
                                               "what_went_wrong", "what_would_help")})
    _timestamp(msg.at, lesson["at"])
    return msg


def _agreement_message(plan: Plan, version: dict) -> apb.Agreement:
    decided = {d["item_name"] for d in version["items"]}
    msg = apb.Agreement(
        provider_id=version.get("provider_id", ""), programme_id=version["programme_id"],
        plan_version=version["plan_version"], version=version["number"],
        applies_from=version["applies_from"], made_by=version["made_by"],
        not_decided=[i.name for i in plan.items if i.name not in decided])
    _timestamp(msg.made_at, version["made_at"])
    for d in version["items"]:
        item = msg.items.add(item_name=d["item_name"], decision=DECISION_PB[d["decision"]],
                             note=d["note"], decided_by=d["decided_by"], caller=d["caller"],
                             since_version=d["since_version"])
        _timestamp(item.decided_at, d["decided_at"])
    return msg


def _statement_message(statement: dict) -> apb.PurposeStatement:
    return json_format.ParseDict(statement, apb.PurposeStatement())
