"""Co-design and agreements through purpose_router's gRPC, on the real broker
and store: drafting, proposing, endorsing and objecting, the Agency's
decisions, publishing refused until the plan is complete, diffs, lessons,
item-by-item agreements, the families' letter, bad input changing nothing,
and each provider seeing only its own agreement."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from grpc import StatusCode
from nameko import config
from nameko.testing.services import entrypoint_hook
from nameko_grpc.client import Client
from nameko_grpc.errors import GrpcError

from services.purpose_router.codesign import entrypoints as codesign_entrypoints
from services.purpose_router.codesign.family_document import visible_text
from services.purpose_router.service import PurposeRouterService
from tests.service.factories import WHO, accepted_batch
from tiaki.core.plan import Plan
from tiaki.core.working_days import add_working_days
from tiaki.plumbing import plan_proto
from tiaki.plumbing.tokens import ensure_tokens
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import plan_pb2
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub
from tiaki.router.v1.plan_pb2_grpc import PlanServiceStub

PROGRAMME = "best-foot-forward"
PEOPLE = WHO + [("representative", "whanau-voice")]


@pytest.fixture
def identities(tmp_path):
    """The usual callers plus a service-user representative."""
    path = ensure_tokens(str(tmp_path), PEOPLE)
    tokens = {(k, i): (tmp_path / "tokens" / f"{k}-{i}").read_text().strip() for k, i in PEOPLE}
    return path, tokens


class Callers:
    """gRPC stubs on the started router, called as one identity or another."""

    def __init__(self, tokens, clients):
        self.tokens = tokens
        self.codesign, self.agreements, self.plans = clients

    def auth(self, kind, ident):
        return [("authorization", f"Bearer {self.tokens[(kind, ident)]}")]

    def refused(self, call, request, who) -> GrpcError:
        with pytest.raises(GrpcError) as caught:
            call(request, metadata=self.auth(*who))
        return caught.value


AGENCY = ("agency", "agency")
CCSS = ("provider", "ccss")
OTHER = ("provider", "other-ngo")
VOICE = ("representative", "whanau-voice")


@pytest.fixture
def router(start_container, identities):
    container = start_container(PurposeRouterService)
    target = f"//127.0.0.1:{config['GRPC_BIND_PORT']}"
    with Client(target, CodesignServiceStub) as codesign, \
            Client(target, AgreementServiceStub) as agreements, \
            Client(target, PlanServiceStub) as plans:
        yield container, Callers(identities[1], (codesign, agreements, plans))


def item(plan_dict: dict, name: str) -> dict:
    return next(i for i in plan_dict["items"] if i["name"] == name)


HOUSING = {"name": "housing_stable", "type": "boolean",
           "description": "Whether the family has a stable home.",
           "choice": "You can say no. You still get the same help.",
           "uses": [{"purpose_id": "evaluation", "retention": "7 years after the programme ends",
                     "legal_basis": "Funding agreement, evaluation clause",
                     "explanation": "We see if a stable home helps families stay."}]}


def item_pb(data: dict) -> plan_pb2.ScheduleItem:
    return plan_proto.to_proto({"programme_id": "x", "name": "", "version": 0, "units": [],
                                "purposes": [], "items": [data]}).items[0]


def agreed_plan(c: Callers, plan_dict: dict) -> None:
    """The example plan, co-designed and published as version 1."""
    c.codesign.OpenDraft(cpb.OpenDraftRequest(programme_id=PROGRAMME,
                                              plan=plan_proto.to_proto(plan_dict)),
                         metadata=c.auth(*AGENCY))
    c.codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=PROGRAMME, version=1),
                            metadata=c.auth(*AGENCY))


def test_codesign_from_draft_to_published_version(router, plan_dict, monkeypatch):
    _, c = router
    cs = c.codesign
    # Version 1: the Agency's plan, complete, published as agreed.
    first = cs.OpenDraft(cpb.OpenDraftRequest(programme_id=PROGRAMME,
                                              plan=plan_proto.to_proto(plan_dict)),
                         metadata=c.auth(*AGENCY)).draft
    assert (first.version, first.base_version, first.state) == (1, 0, cpb.DRAFT_STATE_DRAFT)
    cs.PublishDraft(cpb.PublishDraftRequest(programme_id=PROGRAMME, version=1),
                    metadata=c.auth(*AGENCY))

    # Version 2, drafted from version 1, with a provider and a representative.
    draft = cs.OpenDraft(cpb.OpenDraftRequest(
        programme_id=PROGRAMME, participants=["provider:ccss", "representative:whanau-voice"]),
        metadata=c.auth(*AGENCY)).draft
    assert (draft.version, draft.base_version, list(draft.differences)) == (2, 1, [])
    assert {(p.participant, p.role) for p in draft.participants} == {
        ("provider:ccss", cpb.ROLE_PROVIDER),
        ("representative:whanau-voice", cpb.ROLE_SERVICE_USER_REPRESENTATIVE)}
    at = {"programme_id": PROGRAMME, "version": 2}

    # The provider proposes a new item without saying who will not see it.
    added = cs.ProposeChange(cpb.ProposeChangeRequest(
        **at, kind=cpb.CHANGE_KIND_ADD, item_name="housing_stable", item=item_pb(HOUSING),
        reason="A stable home is what helps families most."), metadata=c.auth(*CCSS)).proposal
    assert (added.number, added.proposed_by, added.role) == (1, "provider:ccss", cpb.ROLE_PROVIDER)
    # The representative proposes removing an item; the provider objects.
    removal = cs.ProposeChange(cpb.ProposeChangeRequest(
        **at, kind=cpb.CHANGE_KIND_REMOVE, item_name="ethnicity",
        reason="Families told us this question feels intrusive."),
        metadata=c.auth(*VOICE)).proposal
    cs.RespondToProposal(cpb.RespondToProposalRequest(
        **at, proposal_number=1, kind=cpb.RESPONSE_KIND_ENDORSE), metadata=c.auth(*VOICE))
    objected = cs.RespondToProposal(cpb.RespondToProposalRequest(
        **at, proposal_number=removal.number, kind=cpb.RESPONSE_KIND_OBJECT,
        text="Without it we cannot show the programme works for Māori whānau."),
        metadata=c.auth(*CCSS)).proposal
    assert (objected.objection_count, objected.endorsement_count) == (1, 0)

    # Publishing waits for every proposal to be decided.
    err = c.refused(cs.PublishDraft, cpb.PublishDraftRequest(**at), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION and "proposals 1, 2" in err.message

    cs.DecideProposal(cpb.DecideProposalRequest(**at, proposal_number=1, accept=True,
                                                reason="Agreed: it matters to families."),
                      metadata=c.auth(*AGENCY))
    declined = cs.DecideProposal(cpb.DecideProposalRequest(
        **at, proposal_number=2, accept=False, reason="Kept, with a clear choice to not say."),
        metadata=c.auth(*AGENCY))
    assert declined.proposal.state == cpb.PROPOSAL_STATE_DECLINED
    assert declined.draft.plan.items[2].name == "ethnicity"        # a decline changes nothing

    # The accepted item lacks "who will not see it": publishing is refused with the list.
    check = cs.CheckDraft(cpb.CheckDraftRequest(**at), metadata=c.auth(*CCSS))
    assert not check.publishable and list(check.open_proposals) == []
    assert [(p.kind, p.subject, p.field) for p in check.problems] == [
        ("missing", "item housing_stable, use for evaluation", "not_seen_by")]
    err = c.refused(cs.PublishDraft, cpb.PublishDraftRequest(**at), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION
    assert "1 problem(s): item housing_stable, use for evaluation: not_seen_by" in err.message

    completed = copy.deepcopy(HOUSING)
    completed["uses"][0]["not_seen_by"] = ["service-delivery", "Housing providers"]
    fix = cs.ProposeChange(cpb.ProposeChangeRequest(
        **at, kind=cpb.CHANGE_KIND_CHANGE, item_name="housing_stable", item=item_pb(completed),
        reason="Say who will not see it."), metadata=c.auth(*AGENCY)).proposal
    # The Agency's own proposal is open to participants' review before it can accept it.
    accept_fix = cpb.DecideProposalRequest(**at, proposal_number=fix.number, accept=True,
                                           reason="Complete now.")
    err = c.refused(cs.DecideProposal, accept_fix, AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION
    assert f"participants may review it until {fix.review_until}" in err.message
    monkeypatch.setattr(codesign_entrypoints, "nz_today", lambda: dt.date.fromisoformat(
        fix.review_until) + dt.timedelta(days=1))
    cs.DecideProposal(accept_fix, metadata=c.auth(*AGENCY))
    cs.AttachLesson(cpb.AttachLessonRequest(
        **at, from_programme="Strong Families 2019",
        what_went_wrong="We were told to send names with no way to say no.",
        what_would_help="Ask us first, item by item."), metadata=c.auth(*CCSS))

    published = cs.PublishDraft(cpb.PublishDraftRequest(**at), metadata=c.auth(*AGENCY)).draft
    assert published.state == cpb.DRAFT_STATE_PUBLISHED and published.published_by == "agency:agency"
    # The record of the version stays with it: who proposed, endorsed, objected, and why decided.
    record = cs.GetDraft(cpb.GetDraftRequest(**at), metadata=c.auth(*VOICE)).draft
    assert [(p.number, p.state, p.proposed_by) for p in record.proposals] == [
        (1, cpb.PROPOSAL_STATE_ACCEPTED, "provider:ccss"),
        (2, cpb.PROPOSAL_STATE_DECLINED, "representative:whanau-voice"),
        (3, cpb.PROPOSAL_STATE_ACCEPTED, "agency:agency")]
    assert [(r.kind, r.by) for r in record.proposals[0].responses] == [
        (cpb.RESPONSE_KIND_ENDORSE, "representative:whanau-voice")]
    assert record.proposals[1].responses[0].text.startswith("Without it")
    assert record.proposals[1].decision.reason == "Kept, with a clear choice to not say."
    assert [le.from_programme for le in record.lessons] == ["Strong Families 2019"]
    assert [d.text for d in record.differences] == [
        "item housing_stable: added (boolean, for evaluation)"]
    # The published version is a plan like any other, and its diff is the same.
    stored = c.plans.GetPlan(plan_pb2.GetPlanRequest(programme_id=PROGRAMME, version=2),
                             metadata=c.auth(*CCSS)).plan
    assert stored.items[-1].uses[0].not_seen_by == ["service-delivery", "Housing providers"]
    diff = cs.DiffPlan(cpb.DiffPlanRequest(programme_id=PROGRAMME, version=2),
                       metadata=c.auth(*CCSS))
    assert (diff.previous_version, [d.text for d in diff.differences]) == (
        1, [d.text for d in record.differences])

    # A published version cannot change: nothing is stored.
    err = c.refused(cs.ProposeChange, cpb.ProposeChangeRequest(
        **at, kind=cpb.CHANGE_KIND_REMOVE, item_name="age_band", reason="Too late?"), CCSS)
    assert err.code == StatusCode.FAILED_PRECONDITION and "was published" in err.message
    after = cs.GetDraft(cpb.GetDraftRequest(**at), metadata=c.auth(*CCSS)).draft
    assert len(after.proposals) == 3


def test_bad_input_gets_a_precise_error_and_changes_nothing(router, plan_dict):
    _, c = router
    cs = c.codesign
    cs.OpenDraft(cpb.OpenDraftRequest(programme_id=PROGRAMME, plan=plan_proto.to_proto(plan_dict),
                                      participants=["provider:ccss"]), metadata=c.auth(*AGENCY))
    at = {"programme_id": PROGRAMME, "version": 1}
    cases = [
        (cs.ProposeChange, cpb.ProposeChangeRequest(**at, kind=cpb.CHANGE_KIND_REMOVE,
                                                    item_name="shoe_size", reason="r"),
         CCSS, StatusCode.NOT_FOUND, "no item 'shoe_size'"),
        (cs.ProposeChange, cpb.ProposeChangeRequest(**at, kind=cpb.CHANGE_KIND_REMOVE,
                                                    item_name="age_band", reason=" "),
         CCSS, StatusCode.INVALID_ARGUMENT, "reason: is required"),
        (cs.ProposeChange, cpb.ProposeChangeRequest(**at, item_name="age_band", reason="r"),
         CCSS, StatusCode.INVALID_ARGUMENT, "kind: must be one of"),
        (cs.ProposeChange, cpb.ProposeChangeRequest(**at, kind=cpb.CHANGE_KIND_ADD,
                                                    item_name="age_band",
                                                    item=item_pb(item(plan_dict, "age_band")),
                                                    reason="r"),
         CCSS, StatusCode.FAILED_PRECONDITION, "already in the plan"),
        (cs.ProposeChange, cpb.ProposeChangeRequest(**{**at, "version": 7},
                                                    kind=cpb.CHANGE_KIND_REMOVE,
                                                    item_name="age_band", reason="r"),
         CCSS, StatusCode.NOT_FOUND, "no co-design draft"),
        (cs.ProposeChange, cpb.ProposeChangeRequest(**at, kind=cpb.CHANGE_KIND_REMOVE,
                                                    item_name="age_band", reason="r"),
         OTHER, StatusCode.PERMISSION_DENIED, "not a participant"),
        (cs.DecideProposal, cpb.DecideProposalRequest(**at, proposal_number=9, accept=True,
                                                      reason="r"),
         AGENCY, StatusCode.NOT_FOUND, "no proposal 9"),
        (cs.DecideProposal, cpb.DecideProposalRequest(**at, proposal_number=1, accept=True,
                                                      reason="r"),
         CCSS, StatusCode.PERMISSION_DENIED, "agency"),
        (cs.OpenDraft, cpb.OpenDraftRequest(programme_id=PROGRAMME,
                                            plan=plan_proto.to_proto(plan_dict)), AGENCY,
         StatusCode.FAILED_PRECONDITION, "already open"),
        (cs.OpenDraft, cpb.OpenDraftRequest(programme_id="nothing-yet"), AGENCY,
         StatusCode.NOT_FOUND, "no plan to draft from"),
        (cs.InviteParticipants, cpb.InviteParticipantsRequest(**at, participants=["ccss"]),
         AGENCY, StatusCode.INVALID_ARGUMENT, "provider:ID or representative:ID"),
        (cs.AttachLesson, cpb.AttachLessonRequest(**at, from_programme="x", what_went_wrong="y"),
         CCSS, StatusCode.INVALID_ARGUMENT, "what_would_help: is required"),
        (cs.GetDraft, cpb.GetDraftRequest(**at), VOICE, StatusCode.PERMISSION_DENIED,
         "not a participant"),
    ]
    for call, request, who, code, words in cases:
        err = c.refused(call, request, who)
        assert (err.code, words in err.message) == (code, True), (request, err.message)
    draft = cs.GetDraft(cpb.GetDraftRequest(**at), metadata=c.auth(*AGENCY)).draft
    assert list(draft.proposals) == [] and list(draft.lessons) == []
    assert [p.participant for p in draft.participants] == ["provider:ccss"]

    # A decided proposal cannot be decided again or endorsed.
    cs.ProposeChange(cpb.ProposeChangeRequest(**at, kind=cpb.CHANGE_KIND_REMOVE,
                                              item_name="goals_met", reason="r"),
                     metadata=c.auth(*CCSS))
    cs.DecideProposal(cpb.DecideProposalRequest(**at, proposal_number=1, accept=False,
                                                reason="Needed."), metadata=c.auth(*AGENCY))
    for call, request in ((cs.DecideProposal, cpb.DecideProposalRequest(
            **at, proposal_number=1, accept=True, reason="Changed our mind")),
            (cs.RespondToProposal, cpb.RespondToProposalRequest(
                **at, proposal_number=1, kind=cpb.RESPONSE_KIND_COMMENT, text="late"))):
        err = c.refused(call, request, AGENCY)
        assert err.code == StatusCode.FAILED_PRECONDITION and "already declined" in err.message
    draft = cs.GetDraft(cpb.GetDraftRequest(**at), metadata=c.auth(*AGENCY)).draft
    assert draft.proposals[0].state == cpb.PROPOSAL_STATE_DECLINED
    assert list(draft.proposals[0].responses) == []
    assert draft.plan.items[-1].name == "goals_met"


def test_agreements_are_item_by_item_and_each_providers_own(router, plan_dict):
    container, c = router
    agreed_plan(c, plan_dict)
    ag = c.agreements
    choices = [apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_ACCEPT)
               for i in plan_dict["items"] if i["name"] not in ("wellbeing_end", "goals_met")]
    choices += [apb.ItemChoice(item_name="wellbeing_end", decision=apb.ITEM_DECISION_DECLINE,
                               note="Families find an end score intrusive."),
                apb.ItemChoice(item_name="goals_met", decision=apb.ITEM_DECISION_QUERY)]
    reply = ag.DecideItems(apb.DecideItemsRequest(programme_id=PROGRAMME, choices=choices,
                                                  decided_by="Mere Tane, CCSS manager"),
                           metadata=c.auth(*CCSS))
    assert reply.changed and reply.agreement.version == 1 and reply.agreement.applies_from == ""
    (statement,) = reply.queried
    assert statement.item_name == "goals_met" and statement.uses[0].who_will_see == \
        "Evaluation and Insights team"
    assert statement.uses[0].who_will_not_see[0] == "Contracts and Service Delivery team"
    declined = next(d for d in reply.agreement.items if d.item_name == "wellbeing_end")
    assert (declined.decided_by, declined.caller, declined.note) == (
        "Mere Tane, CCSS manager", "provider:ccss", "Families find an end score intrusive.")
    assert declined.decided_at.seconds > 0

    # A query on its own gets the full purpose statement too, for anyone taking part.
    asked = ag.GetPurposeStatement(apb.GetPurposeStatementRequest(
        programme_id=PROGRAMME, item_name="wellbeing_end"), metadata=c.auth(*VOICE)).statement
    assert asked.choice == "You choose your own score. You can choose not to give one."

    # Bad choices change nothing.
    for bad, code in (([apb.ItemChoice(item_name="shoe_size", decision=apb.ITEM_DECISION_ACCEPT)],
                       StatusCode.NOT_FOUND),
                      ([apb.ItemChoice(item_name="age_band")], StatusCode.INVALID_ARGUMENT)):
        err = c.refused(ag.DecideItems, apb.DecideItemsRequest(
            programme_id=PROGRAMME, choices=bad, decided_by="Mere"), CCSS)
        assert err.code == code
    # Tenant isolation: the other provider sees no agreement and gets no letter.
    mine = ag.GetAgreement(apb.GetAgreementRequest(programme_id=PROGRAMME), metadata=c.auth(*CCSS))
    theirs = ag.GetAgreement(apb.GetAgreementRequest(programme_id=PROGRAMME),
                             metadata=c.auth(*OTHER))
    assert [v.version for v in mine.versions] == [1] and mine.in_force.version == 1
    assert list(theirs.versions) == [] and not theirs.HasField("in_force")
    err = c.refused(ag.GetFamilyDocument, apb.GetFamilyDocumentRequest(programme_id=PROGRAMME),
                    OTHER)
    assert err.code == StatusCode.FAILED_PRECONDITION and "other-ngo has no agreement" in err.message
    err = c.refused(ag.DecideItems, apb.DecideItemsRequest(programme_id=PROGRAMME, choices=choices,
                                                           decided_by="x"), VOICE)
    assert err.code == StatusCode.PERMISSION_DENIED

    letter = ag.GetFamilyDocument(apb.GetFamilyDocumentRequest(
        programme_id=PROGRAMME, provider_name="City Centre Social Services"),
        metadata=c.auth(*CCSS))
    assert letter.agreement_version == 1 and letter.reading_grade <= 8
    assert "City Centre Social Services sends seven things." in letter.html

    # What intake will be told, provider by provider.
    with entrypoint_hook(container, "collection_terms") as terms:
        ccss = terms("ccss", PROGRAMME, 1, "2026Q3")
        other = terms("other-ngo", PROGRAMME, 1, "2026Q3")
        # An open submission asks under the agreement version it opened with.
        pinned = terms("ccss", PROGRAMME, 1, "2026Q3", agreement_version=1)
        future = terms("ccss", PROGRAMME, 1, "2099Q1")
    # The opening also gets (and records) the families' notice version for the period.
    assert ccss == dict(pinned, notice_version=1) == {
        "agreement_required": True, "agreement_version": 1, "problem": "", "notice_version": 1,
        "withheld": {"wellbeing_end": "declined", "goals_met": "queried"}}
    assert other["agreement_version"] == 0 and "other-ngo has no agreement" in other["problem"]
    # A period not yet started has no settled terms: a change made now would apply to it.
    assert future["agreement_version"] == 0 and "2099Q1 has not started" in future["problem"]

    # Once co-designed, a programme's plan changes only by co-design: a version
    # made outside it would carry no agreement, so declined items would be collected.
    err = c.refused(c.plans.CreatePlan, plan_pb2.CreatePlanRequest(
        plan=plan_proto.to_proto(plan_dict)), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION and "use co-design" in err.message
    err = c.refused(c.plans.GetPlan, plan_pb2.GetPlanRequest(programme_id=PROGRAMME, version=2),
                    AGENCY)
    assert err.code == StatusCode.NOT_FOUND


def test_a_programme_made_outside_codesign_is_refused_once_codesigned(router, plan_dict):
    """Version 1 made by CreatePlan, version 2 co-designed: nothing is collected
    on version 1 any more, and no version 3 can be made outside co-design."""
    container, c = router
    c.plans.CreatePlan(plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(plan_dict)),
                       metadata=c.auth(*AGENCY))
    with entrypoint_hook(container, "collection_terms") as terms:
        assert terms("ccss", PROGRAMME, 1, "2026Q3")["agreement_required"] is False
    c.codesign.OpenDraft(cpb.OpenDraftRequest(programme_id=PROGRAMME), metadata=c.auth(*AGENCY))
    c.codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=PROGRAMME, version=2),
                            metadata=c.auth(*AGENCY))
    with entrypoint_hook(container, "collection_terms") as terms:
        old = terms("ccss", PROGRAMME, 1, "2026Q3")
    assert old["agreement_required"] is True and old["agreement_version"] == 0
    assert "version 1 was not agreed through co-design" in old["problem"]
    err = c.refused(c.plans.CreatePlan, plan_pb2.CreatePlanRequest(
        plan=plan_proto.to_proto(plan_dict)), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION and "use co-design" in err.message


def test_an_agreement_never_reaches_back_into_a_collected_period(router, plan_dict):
    """The issue's example: version 1 (no co-design) collects 2026Q3; the
    provider then agrees to co-designed version 2. Its agreement governs from
    2026Q4; dating it into 2026Q3 is refused, naming what 2026Q3 was collected
    under, and changes nothing."""
    container, c = router
    c.plans.CreatePlan(plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(plan_dict)),
                       metadata=c.auth(*AGENCY))
    with entrypoint_hook(container, "collection_terms") as terms:
        opened = terms("ccss", PROGRAMME, 1, "2026Q3")
    assert opened["notice_version"] == 1 and opened["problem"] == ""
    c.codesign.OpenDraft(cpb.OpenDraftRequest(programme_id=PROGRAMME), metadata=c.auth(*AGENCY))
    c.codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=PROGRAMME, version=2),
                            metadata=c.auth(*AGENCY))
    choices = [apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_DECLINE
                              if i["name"] == "ethnicity" else apb.ITEM_DECISION_ACCEPT)
               for i in plan_dict["items"]]

    err = c.refused(c.agreements.DecideItems, apb.DecideItemsRequest(
        programme_id=PROGRAMME, choices=choices, decided_by="Mere", applies_from="2026Q3"), CCSS)
    assert err.code == StatusCode.FAILED_PRECONDITION
    assert err.message == ("applies_from: 2026Q3 was already collected (under plan version 1, "
                           "with no agreement); an agreement made now applies from 2026Q4 at "
                           "the earliest")
    assert not c.agreements.GetAgreement(apb.GetAgreementRequest(programme_id=PROGRAMME),
                                         metadata=c.auth(*CCSS)).versions

    made = c.agreements.DecideItems(apb.DecideItemsRequest(
        programme_id=PROGRAMME, choices=choices, decided_by="Mere"), metadata=c.auth(*CCSS))
    assert made.agreement.applies_from == "2026Q4"
    with entrypoint_hook(container, "collection_terms") as terms:
        q3 = terms("ccss", PROGRAMME, 2, "2026Q3")
        q4 = terms("ccss", PROGRAMME, 2, "2026Q4")
    assert "ccss has no agreement to best-foot-forward version 2 for 2026Q3" in q3["problem"]
    # 2026Q4 says something new (no ethnicity), so it has a new notice version.
    assert (q4["problem"], q4["agreement_version"], q4["notice_version"]) == ("", 1, 2)

    # Each period's letter says what that period was collected under.
    letters = {period: c.agreements.GetFamilyDocument(apb.GetFamilyDocumentRequest(
        programme_id=PROGRAMME, period=period), metadata=c.auth(*CCSS))
        for period in ("2026Q3", "2026Q4")}
    q3_text, q4_text = (visible_text(letters[p].html) for p in ("2026Q3", "2026Q4"))
    assert (letters["2026Q3"].plan_versions, letters["2026Q3"].agreement_version,
            letters["2026Q3"].notice_version, letters["2026Q3"].codesigned) == ([1], 0, 1, False)
    assert "Self-identified ethnic group (level 1). We check" in q3_text
    assert "This plan was not co-designed." in q3_text
    assert (letters["2026Q4"].plan_versions, letters["2026Q4"].agreement_version,
            letters["2026Q4"].notice_version, letters["2026Q4"].codesigned) == ([2], 1, 2, True)
    assert "not sent at all: Self-identified ethnic group (level 1)." in q4_text
    assert "not co-designed" not in q4_text


def test_the_agency_reads_any_providers_agreement_and_letter(router, plan_dict):
    _, c = router
    agreed_plan(c, plan_dict)
    ag = c.agreements
    ag.DecideItems(apb.DecideItemsRequest(programme_id=PROGRAMME, decided_by="Mere Tane", choices=[
        apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_DECLINE
                       if i["name"] == "goals_met" else apb.ITEM_DECISION_ACCEPT)
        for i in plan_dict["items"]]), metadata=c.auth(*CCSS))

    read = ag.GetAgreement(apb.GetAgreementRequest(programme_id=PROGRAMME, provider_id="ccss"),
                           metadata=c.auth(*AGENCY))
    assert read.in_force.provider_id == "ccss" and read.in_force.version == 1
    letter = ag.GetFamilyDocument(apb.GetFamilyDocumentRequest(
        programme_id=PROGRAMME, provider_id="ccss"), metadata=c.auth(*AGENCY))
    # Without a directory entry the provider is "your provider", never its id.
    assert letter.agreement_version == 1 and "ccss" not in letter.html
    assert "Ask your provider." in letter.html

    # The Agency must say whose; a provider cannot read another's.
    err = c.refused(ag.GetAgreement, apb.GetAgreementRequest(programme_id=PROGRAMME), AGENCY)
    assert err.code == StatusCode.INVALID_ARGUMENT and "provider_id" in err.message
    for call, request in ((ag.GetAgreement, apb.GetAgreementRequest(
            programme_id=PROGRAMME, provider_id="ccss")), (ag.GetFamilyDocument,
            apb.GetFamilyDocumentRequest(programme_id=PROGRAMME, provider_id="ccss"))):
        err = c.refused(call, request, OTHER)
        assert err.code == StatusCode.PERMISSION_DENIED
    err = c.refused(ag.GetAgreement, apb.GetAgreementRequest(programme_id=PROGRAMME), VOICE)
    assert err.code == StatusCode.PERMISSION_DENIED


def test_records_no_notice_covered_are_owed_the_agencys_own_notice(router, plan_dict):
    """A batch from before notices were versioned (no notice version): its
    unit-level records are owed the Agency's own notice, recorded once and
    visible to the provider to hand on; the aggregate is not."""
    container, c = router
    c.plans.CreatePlan(plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(plan_dict)),
                       metadata=c.auth(*AGENCY))
    plan = Plan.from_dict(plan_dict, version=1)
    with entrypoint_hook(container, "route_batch") as route:
        route(accepted_batch(plan, n=2))
        route(accepted_batch(plan, n=2, batch_id="batch-2"))

    listed = c.agreements.ListAgencyNotices(apb.ListAgencyNoticesRequest(
        programme_id=PROGRAMME), metadata=c.auth(*CCSS)).notices
    others = c.agreements.ListAgencyNotices(apb.ListAgencyNoticesRequest(
        programme_id=PROGRAMME), metadata=c.auth(*OTHER)).notices

    assert [(n.period, n.unit_name, n.purpose_name) for n in listed] == [
        ("2026Q3", "Evaluation and Insights team", "Programme evaluation")]
    assert listed[0].given_at.seconds > 0 and listed[0].reading_grade <= 8
    assert "Only Evaluation and Insights team gets it." in visible_text(listed[0].html)
    assert list(others) == []


def test_a_period_is_not_collected_for_a_unit_its_notice_does_not_name(router, plan_dict):
    """2026Q3 was collected under version 1, whose notice names two teams.
    Version 2 adds a research team: submitting 2026Q3 again under it is refused
    before anything is collected, naming the team; 2026Q4 gets a new notice."""
    container, c = router
    c.plans.CreatePlan(plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(plan_dict)),
                       metadata=c.auth(*AGENCY))
    wider = copy.deepcopy(plan_dict)
    wider["units"].append({"unit_id": "research", "name": "Research team"})
    wider["purposes"].append({"purpose_id": "research", "name": "Family research",
                              "unit_id": "research", "form": "unit_level"})
    item(wider, "age_band")["uses"].append({"purpose_id": "research", "retention": "2 years",
                                            "explanation": "We study age groups."})
    c.plans.CreatePlan(plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(wider)),
                       metadata=c.auth(*AGENCY))
    with entrypoint_hook(container, "collection_terms") as terms:
        first = terms("ccss", PROGRAMME, 1, "2026Q3")
        again = terms("ccss", PROGRAMME, 2, "2026Q3")
        later = terms("ccss", PROGRAMME, 2, "2026Q4")
    assert (first["problem"], first["notice_version"]) == ("", 1)
    assert again["problem"].startswith(
        "the families' notice in force for 2026Q3 (version 1) does not name Research team "
        "(unit research)")
    assert (later["problem"], later["notice_version"]) == ("", 2)


def test_a_draft_closes_to_participants_on_its_closing_date(router, plan_dict, monkeypatch):
    _, c = router
    cs = c.codesign
    today = codesign_entrypoints.nz_today()
    err = c.refused(cs.OpenDraft, cpb.OpenDraftRequest(
        programme_id=PROGRAMME, plan=plan_proto.to_proto(plan_dict),
        closes_on=today.isoformat()), AGENCY)
    assert err.code == StatusCode.INVALID_ARGUMENT and "closes_on" in err.message
    closes = today + dt.timedelta(days=3)
    draft = cs.OpenDraft(cpb.OpenDraftRequest(
        programme_id=PROGRAMME, plan=plan_proto.to_proto(plan_dict),
        participants=["provider:ccss", "representative:whanau-voice"],
        closes_on=closes.isoformat()), metadata=c.auth(*AGENCY)).draft
    assert draft.closes_on == closes.isoformat()
    at = {"programme_id": PROGRAMME, "version": 1}
    removal = cpb.ProposeChangeRequest(**at, kind=cpb.CHANGE_KIND_REMOVE, item_name="ethnicity",
                                       reason="Families find it intrusive.")
    first = cs.ProposeChange(removal, metadata=c.auth(*VOICE)).proposal
    assert first.review_until == ""  # a participant's proposal: the Agency may decide at once
    # A representative shares a lesson, as a provider can.
    lesson = cs.AttachLesson(cpb.AttachLessonRequest(
        **at, from_programme="Whānau Ora 2018", what_went_wrong="Nobody asked us.",
        what_would_help="Ask early."), metadata=c.auth(*VOICE)).lesson
    assert (lesson.shared_by, lesson.role, lesson.provider_id) == (
        "representative:whanau-voice", cpb.ROLE_SERVICE_USER_REPRESENTATIVE, "")
    agency_own = cs.ProposeChange(cpb.ProposeChangeRequest(
        **at, kind=cpb.CHANGE_KIND_REMOVE, item_name="age_band", reason="Not needed."),
        metadata=c.auth(*AGENCY)).proposal
    assert agency_own.review_until == add_working_days(today, 5).isoformat()  # the default

    # The day after the closing date: participants are refused, the Agency still decides.
    monkeypatch.setattr(codesign_entrypoints, "nz_today", lambda: closes + dt.timedelta(days=1))
    endorse = cpb.RespondToProposalRequest(**at, proposal_number=first.number,
                                           kind=cpb.RESPONSE_KIND_ENDORSE)
    for call, request, who, words in (
            (cs.ProposeChange, removal, CCSS, "proposals are taken no longer"),
            (cs.RespondToProposal, endorse, CCSS, "responses are taken no longer"),
            (cs.AttachLesson, cpb.AttachLessonRequest(
                **at, from_programme="x", what_went_wrong="y", what_would_help="z"), VOICE,
             "lessons are taken no longer")):
        err = c.refused(call, request, who)
        assert err.code == StatusCode.FAILED_PRECONDITION
        assert f"closed to participants on {closes.isoformat()}" in err.message and words in err.message
    # The Agency's own proposal stays open to their review for its whole period.
    reviewed = cs.RespondToProposal(cpb.RespondToProposalRequest(
        **at, proposal_number=agency_own.number, kind=cpb.RESPONSE_KIND_OBJECT,
        text="We use it to check reach."), metadata=c.auth(*CCSS)).proposal
    assert reviewed.objection_count == 1
    record = cs.GetDraft(cpb.GetDraftRequest(**at), metadata=c.auth(*AGENCY)).draft
    assert len(record.proposals) == 2 and len(record.lessons) == 1
    assert not record.proposals[0].responses
    decided = cs.DecideProposal(cpb.DecideProposalRequest(
        **at, proposal_number=first.number, accept=False, reason="Kept, optional."),
        metadata=c.auth(*AGENCY)).proposal
    assert decided.state == cpb.PROPOSAL_STATE_DECLINED


def test_a_query_on_an_item_reaches_the_agency_and_its_answer_is_in_the_record(router, plan_dict):
    _, c = router
    agreed_plan(c, plan_dict)
    ag = c.agreements
    ag.DecideItems(apb.DecideItemsRequest(programme_id=PROGRAMME, decided_by="Mere Tane", choices=[
        apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_QUERY,
                       note="Who reads the end score?") if i["name"] == "wellbeing_end"
        else apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_ACCEPT)
        for i in plan_dict["items"]]), metadata=c.auth(*CCSS))

    waiting = ag.ListItemQueries(apb.ListItemQueriesRequest(), metadata=c.auth(*AGENCY)).queries
    assert [(q.provider_id, q.item_name, q.note, q.answer) for q in waiting] == [
        ("ccss", "wellbeing_end", "Who reads the end score?", "")]
    # Another provider sees none of it, and may not answer.
    assert list(ag.ListItemQueries(apb.ListItemQueriesRequest(),
                                   metadata=c.auth(*OTHER)).queries) == []
    answer = apb.AnswerItemQueryRequest(provider_id="ccss", programme_id=PROGRAMME,
                                        item_name="wellbeing_end",
                                        answer="Only the evaluation team, as counts.")
    assert c.refused(ag.AnswerItemQuery, answer, CCSS).code == StatusCode.PERMISSION_DENIED
    err = c.refused(ag.AnswerItemQuery, apb.AnswerItemQueryRequest(
        provider_id="ccss", programme_id=PROGRAMME, item_name="goals_met", answer="x"), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION and "no query to answer" in err.message

    answered = ag.AnswerItemQuery(answer, metadata=c.auth(*AGENCY) + [
        ("tiaki-person", "hana.kaimahi")]).query
    assert (answered.answered_by, answered.answered_by_person) == ("agency:agency", "hana.kaimahi")
    err = c.refused(ag.AnswerItemQuery, answer, AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION and "already answered" in err.message
    # Answered: no longer waiting; in the provider's own record, beside its query.
    assert list(ag.ListItemQueries(apb.ListItemQueriesRequest(),
                                   metadata=c.auth(*AGENCY)).queries) == []
    mine = ag.ListItemQueries(apb.ListItemQueriesRequest(include_answered=True),
                              metadata=c.auth(*CCSS)).queries
    assert [(q.item_name, q.answer) for q in mine] == [
        ("wellbeing_end", "Only the evaluation team, as counts.")]
    record = ag.GetAgreement(apb.GetAgreementRequest(programme_id=PROGRAMME),
                             metadata=c.auth(*CCSS)).in_force
    queried = next(d for d in record.items if d.item_name == "wellbeing_end")
    assert (queried.decision, queried.answer, queried.answered_by_person) == (
        apb.ITEM_DECISION_QUERY, "Only the evaluation team, as counts.", "hana.kaimahi")
