"""Tenant isolation, RPC by RPC: every provider-facing and unit-facing gRPC
method, called with another tenant's identity, is refused or answers only
from the caller's own data.

The methods are enumerated from the generated descriptors, so a new RPC
without an entry in MATRIX fails `test_every_rpc_has_a_matrix_entry`. Each
entry says how the method keeps tenants apart:

- Owned: it addresses one tenant's thing (a submission, story, request,
  delivery, or a client's records) by id. Another tenant is refused with
  NOT_FOUND or PERMISSION_DENIED, and the refusal reads exactly as for an id
  that does not exist, so it does not reveal that the thing exists.
- OwnView: it answers from the caller's own data (or the published plan,
  which every participant may read); the answer holds nothing of the other
  tenant's.
- AgencyOnly: providers and units are refused (PERMISSION_DENIED).
- Participants: a co-design draft is for its invited participants; anyone
  else is refused (PERMISSION_DENIED).

Every entry is also called with the wrong kind of identity (a unit calling a
provider's method, a provider calling a unit's), which is refused."""

from __future__ import annotations

import copy
import importlib
import uuid
from dataclasses import dataclass
from typing import Callable

import grpc
import pytest
from google.protobuf import json_format, message_factory

from tests.e2e.journey import quarter, submit
from tests.stack import ROOT
from tiaki.plumbing import plan_proto
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import ledger_pb2

PROGRAMME = "best-foot-forward"
A = ("provider", "ccss")  # the owner of everything the scene makes
B = ("provider", "other-ngo")  # the other tenant
UNIT_A = ("unit", "evaluation")
UNIT_B = ("unit", "service-delivery")
AGENCY = ("agency", "agency")
SERVERS = {"intake": "intake", "router": "purpose_router", "requests": "requests",
           "insights": "insights"}
REFUSED = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED)


def rpc_methods():
    """Every method of every tiaki service, from the generated descriptors."""
    found = {}
    for path in sorted((ROOT / "tiaki").glob("*/v1/*_pb2.py")):
        if path.parts[-3] == "unit":  # a unit's own review service: one tenant, its staff's
            continue                  # token (tests/e2e/test_unit_review_service.py)
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found[f"{service.full_name}/{method.name}"] = method
    return found


def invoke(stack, method, fields: dict, who: tuple[str, str]):
    """Calls one method as `who`, with a request built from `fields`, whatever
    its arity; returns the (first) response message."""
    area = method.containing_service.full_name.split(".")[1]
    channel = stack.channel(SERVERS[area])
    path = f"/{method.containing_service.full_name}/{method.name}"
    request = json_format.ParseDict(fields, message_factory.GetMessageClass(method.input_type)())
    reply = message_factory.GetMessageClass(method.output_type).FromString
    kwargs = dict(request_serializer=lambda m: m.SerializeToString(),
                  response_deserializer=reply)
    meta = stack.metadata(*who)
    if method.client_streaming:
        return channel.stream_unary(path, **kwargs)(iter([request]), metadata=meta, timeout=20)
    if method.server_streaming:  # a feed with nothing for the caller sends nothing: 5 s
        stream = channel.unary_stream(path, **kwargs)(request, metadata=meta, timeout=5)
        try:
            return next(iter(stream))
        finally:
            stream.cancel()
    return channel.unary_unary(path, **kwargs)(request, metadata=meta, timeout=20)


def refusal(stack, method, fields, who) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        invoke(stack, method, fields, who)
    return caught.value


# -- the matrix -----------------------------------------------------------------------


@dataclass
class Owned:
    thing: str  # key of the scene's id for the owner's thing
    fields: Callable[[str, dict], dict]  # (id, scene) -> request fields
    intruder: tuple[str, str] = B
    wrong_kind: tuple[str, str] = UNIT_A


@dataclass
class OwnView:
    fields: Callable[[dict], dict]
    intruder: tuple[str, str] = B
    wrong_kind: tuple[str, str] | None = UNIT_A  # None: units may call it too


@dataclass
class AgencyOnly:
    fields: Callable[[dict], dict]


@dataclass
class Participants:
    fields: Callable[[dict], dict]


@dataclass
class SharedByDesign:
    """Every party of a programme sees and answers its evaluation measures:
    defining success together is the point (issue 5). Only the wrong kind of
    caller is refused."""
    fields: Callable[[dict], dict]
    wrong_kind: tuple[str, str] | None = UNIT_A


@dataclass
class Public:
    """The directory (who a provider, the Agency or a unit is, with the address
    families write to) and intake's limits are public by design: every
    authenticated caller reads them."""
    fields: Callable[[dict], dict]


def _records(sid, _):
    return {"submission_id": sid, "records": [{"record_ref": "r-1", "client_ref": "c-1"}]}


def _access(client, scene):
    return {"programme_id": PROGRAMME, "client_ref": client, "requester": "the client",
            "authorisation": "signed form", "received": "2026-03-02"}


def _draft(scene):
    return {"programme_id": scene["draft_programme"], "version": 2}


MATRIX = {
    # intake
    "tiaki.intake.v1.IntakeService/OpenSubmission": OwnView(
        lambda s: {"programme_id": PROGRAMME, "plan_version": s["version"], "period": "2026Q3"}),
    "tiaki.intake.v1.IntakeService/SubmitRecords": Owned("open_submission", _records),
    "tiaki.intake.v1.IntakeService/SealSubmission": Owned(
        "open_submission", lambda i, s: {"submission_id": i}),
    "tiaki.intake.v1.IntakeService/GetSubmission": Owned(
        "submission", lambda i, s: {"submission_id": i}),
    "tiaki.intake.v1.IntakeService/ListSubmissions": OwnView(
        lambda s: {"programme_id": PROGRAMME, "period": "2026Q3"}),
    "tiaki.intake.v1.IntakeService/AbandonSubmission": Owned(
        "open_submission", lambda i, s: {"submission_id": i}),
    "tiaki.intake.v1.IntakeService/ListRejections": Owned(
        "submission", lambda i, s: {"submission_id": i}),
    "tiaki.intake.v1.LimitsService/GetLimits": Public(lambda s: {}),
    "tiaki.intake.v1.KeysService/RotatePseudonymKeys": AgencyOnly(
        lambda s: {"programme_id": PROGRAMME}),
    "tiaki.intake.v1.StoriesService/SubmitStory": OwnView(
        lambda s: {"text": "A whānau found their feet.", "submitted_by": "Sam"}),
    "tiaki.intake.v1.StoriesService/GetStory": Owned("story", lambda i, s: {"story_id": i}),
    "tiaki.intake.v1.StoriesService/ListStories": OwnView(lambda s: {}),
    "tiaki.intake.v1.StoriesService/ApproveStory": Owned(
        "story", lambda i, s: {"story_id": i, "approved_by": "Sam"}),
    "tiaki.intake.v1.StoriesService/RecordConsent": Owned(
        "story", lambda i, s: {"story_id": i, "use": "STORY_USE_TENDER", "recorded_by": "Sam",
                               "how_given": "signed form"}),
    "tiaki.intake.v1.StoriesService/WithdrawConsent": Owned(
        "story", lambda i, s: {"story_id": i, "use": "STORY_USE_TENDER", "recorded_by": "Sam",
                               "how_withdrawn": "phone call"}),
    "tiaki.intake.v1.StoriesService/ExportStories": Owned(
        "story", lambda i, s: {"story_ids": [i], "use": "STORY_USE_TENDER",
                               "exported_by": "Sam", "reference": "Tender 1"}),
    # requests
    # Another provider's client of the same reference is another person, with no
    # records: answered "nothing held", never with the owner's.
    "tiaki.requests.v1.RequestsService/OpenAccessRequest": OwnView(
        lambda s: _access(s["client"], s)),
    "tiaki.requests.v1.RequestsService/OpenCorrectionRequest": Owned(
        "client", lambda c, s: dict(_access(c, s), correction={
            "field": "goals_met", "current_value": "1", "corrected_value": "2",
            "reason": "it was two"})),
    "tiaki.requests.v1.RequestsService/TransferRequest": Owned(
        "request", lambda i, s: {"request_id": i, "agency": "Oranga Tamariki"}),
    "tiaki.requests.v1.RequestsService/ExtendRequest": Owned(
        "request", lambda i, s: {"request_id": i, "new_due": "2026-04-30",
                                 "reasons": "a large quantity of information"}),
    "tiaki.requests.v1.RequestsService/WatchRequest": Owned(
        "request", lambda i, s: {"request_id": i}),
    "tiaki.requests.v1.RequestsService/GetRequest": Owned(
        "request", lambda i, s: {"request_id": i}),
    "tiaki.requests.v1.RequestsService/ListRequests": OwnView(lambda s: {}),
    "tiaki.requests.v1.RequestsService/GetAnswer": Owned(
        "request", lambda i, s: {"request_id": i}),
    "tiaki.requests.v1.UnitRequestsService/AnswerQuery": Owned(
        "request", lambda i, s: {"request_id": i, "outcome": "answered"},
        intruder=UNIT_B, wrong_kind=A),
    "tiaki.requests.v1.UnitRequestsService/GetQueriedRequest": Owned(
        "request", lambda i, s: {"request_id": i}, intruder=UNIT_B, wrong_kind=A),
    # purpose_router: plans, ledger, units
    "tiaki.router.v1.PlanService/CreatePlan": AgencyOnly(
        lambda s: {"plan": json_format.MessageToDict(plan_proto.to_proto(s["plan"]))}),
    "tiaki.router.v1.PlanService/GetPlan": OwnView(
        lambda s: {"programme_id": PROGRAMME, "version": s["version"]}, wrong_kind=None),
    "tiaki.router.v1.LedgerService/ListFlows": OwnView(
        lambda s: {"submission_id": s["submission"]}),
    "tiaki.router.v1.LedgerService/VerifyLedger": OwnView(lambda s: {}),
    "tiaki.router.v1.LedgerService/GetChainHead": OwnView(lambda s: {}),
    # Signed heads and proofs: a provider's own tree; a unit names a provider that delivered to it.
    "tiaki.router.v1.LedgerService/GetSignedTreeHead": OwnView(lambda s: {}, wrong_kind=None),
    "tiaki.router.v1.LedgerService/GetInclusionProof": OwnView(
        lambda s: {"sequence": 1, "tree_size": 1}, wrong_kind=None),
    "tiaki.router.v1.LedgerService/GetConsistencyProof": OwnView(
        lambda s: {"first_size": 1, "second_size": 1}, wrong_kind=None),
    "tiaki.router.v1.LedgerService/GetLedgerKey": SharedByDesign(lambda s: {}, wrong_kind=None),
    "tiaki.router.v1.UnitService/AcknowledgeDeliveries": Owned(
        "delivery", lambda i, s: {"delivery_ids": [i]}, intruder=UNIT_B, wrong_kind=A),
    "tiaki.router.v1.UnitService/RecordAccess": Owned(
        "delivery", lambda i, s: {"delivery_id": i, "accessor": "analyst", "fields": ["goals_met"],
                                  "reason": "curiosity"}, intruder=UNIT_B, wrong_kind=A),
    # co-design and agreements
    "tiaki.router.v1.CodesignService/OpenDraft": AgencyOnly(
        lambda s: {"programme_id": s["draft_programme"]}),
    "tiaki.router.v1.CodesignService/InviteParticipants": AgencyOnly(
        lambda s: dict(_draft(s), participants=["provider:other-ngo"])),
    "tiaki.router.v1.CodesignService/GetDraft": Participants(_draft),
    "tiaki.router.v1.CodesignService/ProposeChange": Participants(
        lambda s: dict(_draft(s), kind="CHANGE_KIND_REMOVE", item_name="goals_met",
                       reason="we do not collect it")),
    "tiaki.router.v1.CodesignService/RespondToProposal": Participants(
        lambda s: dict(_draft(s), proposal_number=1, kind="RESPONSE_KIND_OBJECT", text="no")),
    "tiaki.router.v1.CodesignService/DecideProposal": AgencyOnly(
        lambda s: dict(_draft(s), proposal_number=1, accept=True, reason="yes")),
    "tiaki.router.v1.CodesignService/CheckDraft": Participants(_draft),
    "tiaki.router.v1.CodesignService/PublishDraft": AgencyOnly(_draft),
    "tiaki.router.v1.CodesignService/DiffPlan": OwnView(
        lambda s: {"programme_id": s["draft_programme"], "version": 1}, wrong_kind=None),
    "tiaki.router.v1.CodesignService/ListNotices": OwnView(lambda s: {}),
    "tiaki.router.v1.CodesignService/AttachLesson": Participants(
        lambda s: dict(_draft(s), from_programme="x", what_went_wrong="a",
                       what_would_help="b")),
    "tiaki.router.v1.AgreementService/DecideItems": OwnView(
        lambda s: {"programme_id": s["draft_programme"], "plan_version": 1, "decided_by": "Sam",
                   "choices": [{"item_name": i["name"], "decision": "ITEM_DECISION_ACCEPT"}
                               for i in s["plan"]["items"]]}),
    "tiaki.router.v1.AgreementService/GetAgreement": OwnView(
        lambda s: {"programme_id": s["draft_programme"], "plan_version": 1}),
    "tiaki.router.v1.AgreementService/GetPurposeStatement": OwnView(
        lambda s: {"programme_id": s["draft_programme"], "plan_version": 1,
                   "item_name": "goals_met"}, wrong_kind=None),
    "tiaki.router.v1.AgreementService/GetFamilyDocument": OwnView(
        lambda s: {"programme_id": s["draft_programme"], "plan_version": 1}),
    "tiaki.router.v1.AgreementService/ListAgencyNotices": OwnView(
        lambda s: {"programme_id": PROGRAMME}),
    "tiaki.router.v1.AgreementService/ListItemQueries": OwnView(
        lambda s: {"include_answered": True}),
    "tiaki.router.v1.AgreementService/AnswerItemQuery": AgencyOnly(
        lambda s: {"provider_id": "ccss", "programme_id": s["draft_programme"],
                   "plan_version": 1, "item_name": "goals_met", "answer": "because"}),
    # the directory: names and addresses families read
    "tiaki.router.v1.DirectoryService/SetEntry": AgencyOnly(
        lambda s: {"entry": {"kind": "PARTY_KIND_PROVIDER", "id": "other-ngo",
                             "display_name": "Other", "postal_address": "1 Road, Town",
                             "phone": "04 555 0199", "privacy_email": "p@other.example"}}),
    "tiaki.router.v1.DirectoryService/GetEntry": Public(
        lambda s: {"kind": "PARTY_KIND_AGENCY"}),
    "tiaki.router.v1.DirectoryService/ListEntries": Public(lambda s: {}),
    # insights: outcomes of use, and evaluation measures
    "tiaki.insights.v1.UnitOutcomesService/RecordOutcome": Owned(
        "delivery", lambda i, s: _outcome([i]), intruder=UNIT_B, wrong_kind=A),
    "tiaki.insights.v1.UnitOutcomesService/PublishFinding": Owned(
        "outcome", lambda i, s: {"outcome_id": i}, intruder=UNIT_B, wrong_kind=A),
    "tiaki.insights.v1.UnitOutcomesService/RespondToCorrection": Owned(
        "outcome", lambda i, s: {"outcome_id": i, "provider_id": "ccss", "response_number": 1,
                                 "reason": "no"}, intruder=UNIT_B, wrong_kind=A),
    "tiaki.insights.v1.OutcomesService/ListOutcomes": OwnView(lambda s: {}),
    "tiaki.insights.v1.OutcomesService/ListNotices": OwnView(lambda s: {}),
    "tiaki.insights.v1.UnitOutcomesService/ListUnitNotices": OwnView(
        lambda s: {}, intruder=UNIT_B, wrong_kind=A),
    "tiaki.requests.v1.RequestsService/ListNotices": OwnView(lambda s: {}, wrong_kind=None),
    "tiaki.insights.v1.OutcomesService/WatchOutcomes": OwnView(
        lambda s: {"since": "2020-01-01T00:00:00Z"}),
    "tiaki.insights.v1.OutcomesService/RespondToFinding": Owned(
        "outcome", lambda i, s: {"outcome_id": i, "kind": "RESPONSE_KIND_AGREE"}),
    "tiaki.insights.v1.OutcomesService/GetInfluenceReport": OwnView(
        lambda s: {"date_from": "2026-01-01", "date_to": "2026-12-31"}),
    "tiaki.insights.v1.AgencyOutcomesService/ListAgencyOutcomes": AgencyOnly(lambda s: {}),
    "tiaki.insights.v1.AgencyOutcomesService/GetAgencyOutcome": AgencyOnly(
        lambda s: {"outcome_id": s["outcome"]}),
    "tiaki.insights.v1.MeasuresService/ProposeMeasure": SharedByDesign(
        lambda s: {"programme_id": PROGRAMME, "name": "Goals met", "reason": "what families want",
                   "definition": "Share of families meeting their own goals."}),
    "tiaki.insights.v1.MeasuresService/RespondToMeasure": SharedByDesign(
        lambda s: {"measure_id": s["measure"], "stance": "STANCE_ENDORSE"}),
    "tiaki.insights.v1.MeasuresService/ListMeasures": SharedByDesign(
        lambda s: {"programme_id": PROGRAMME}, wrong_kind=None),
}


def _outcome(delivery_ids: list[str]) -> dict:
    return {"kind": "OUTCOME_KIND_DECISION", "title": "Funding kept for the parenting strand",
            "summary": "The evaluation showed families meeting their goals.",
            "date": "2026-11-01", "audience": "Agency leadership", "delivery_ids": delivery_ids}


def test_every_rpc_has_a_matrix_entry():
    methods = set(rpc_methods())
    assert methods, "no generated descriptors found: run `make proto`"
    assert sorted(methods - set(MATRIX)) == [], "RPCs without a tenant-isolation entry"
    assert sorted(set(MATRIX) - methods) == [], "entries for RPCs that no longer exist"


# -- the scene: provider A's things, and unit A's ---------------------------------------


@pytest.fixture(scope="module")
def scene(stack, example_plan) -> dict:
    version = stack.create_plan(example_plan)
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}") for r in quarter(12, seed=31)]
    sealed, _ = submit(stack, PROGRAMME, version, rows)
    still_open, _ = submit(stack, PROGRAMME, version, rows[:2], seal=False)
    ccss = stack.metadata(*A)
    delivery = stack.wait_for(lambda: next((e.delivery_id for e in stack.ledger().ListFlows(
        ledger_pb2.ListFlowsRequest(submission_id=sealed), metadata=ccss).entries
        if e.unit_id == "evaluation"), None), what="a delivery to the evaluation unit")
    request = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        **_access(rows[0]["client_ref"], {})), metadata=ccss).request.request_id
    outcome = call(stack, "tiaki.insights.v1.UnitOutcomesService/RecordOutcome",
                   _outcome([delivery]), UNIT_A).outcome.outcome_id
    measure = call(stack, "tiaki.insights.v1.MeasuresService/ProposeMeasure",
                   MATRIX["tiaki.insights.v1.MeasuresService/ProposeMeasure"].fields({}),
                   A).measure.measure_id
    story = call(stack, "tiaki.intake.v1.StoriesService/SubmitStory",
                 {"text": "Mere came every week.", "submitted_by": "Aroha"}, A).story.story_id

    # An agreed programme ccss has decided on, and its next draft with ccss invited.
    plan = copy.deepcopy(example_plan)
    plan["programme_id"] = f"matrix-{tag}"
    codesign = "tiaki.router.v1.CodesignService/"
    call(stack, codesign + "OpenDraft",
         {"plan": json_format.MessageToDict(plan_proto.to_proto(plan))}, AGENCY)
    call(stack, codesign + "PublishDraft", {"programme_id": plan["programme_id"], "version": 1},
         AGENCY)
    call(stack, "tiaki.router.v1.AgreementService/DecideItems", {
        "programme_id": plan["programme_id"], "plan_version": 1, "decided_by": "Aroha",
        "choices": [{"item_name": i["name"], "decision": "ITEM_DECISION_ACCEPT"}
                    for i in plan["items"]]}, A)
    call(stack, codesign + "OpenDraft", {"programme_id": plan["programme_id"],
                                         "participants": ["provider:ccss"]}, AGENCY)
    return {"version": version, "submission": sealed, "open_submission": still_open,
            "delivery": delivery, "request": request, "story": story, "outcome": outcome,
            "measure": measure,
            "head": call(stack, "tiaki.router.v1.LedgerService/GetChainHead", {}, A).entry_hash,
            "client": rows[0]["client_ref"], "plan": plan,
            "draft_programme": plan["programme_id"]}


def call(stack, name: str, fields: dict, who):
    return invoke(stack, rpc_methods()[name], fields, who)


def made_up(thing: str, real: str) -> str:
    """An id of the same shape as `real` that names nothing."""
    fresh = str(uuid.uuid4())
    if thing == "delivery":
        return f"{fresh}:{real.rsplit(':', 1)[1]}"
    if thing == "client":
        return f"nobody-{fresh[:8]}"
    return fresh


def owners_traces(scene) -> list[str]:
    """Strings that would show another tenant's data in an answer."""
    return ["ccss", scene["submission"], scene["open_submission"], scene["request"],
            scene["story"], scene["delivery"], scene["client"], scene["head"], scene["outcome"]]


METHODS = rpc_methods()


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_another_tenant_is_refused(stack, scene, name):
    entry, method = MATRIX[name], METHODS[name]
    if isinstance(entry, Owned):
        real = scene[entry.thing]
        fake = made_up(entry.thing, real)
        theirs = refusal(stack, method, entry.fields(real, scene), entry.intruder)
        missing = refusal(stack, method, entry.fields(fake, scene), entry.intruder)
        assert theirs.code() in REFUSED, (theirs.code(), theirs.details())
        # Refused exactly as if it did not exist: the same code and words.
        assert (theirs.code(), theirs.details().replace(real, "<id>")) == \
            (missing.code(), missing.details().replace(fake, "<id>"))
        wrong = refusal(stack, method, entry.fields(real, scene), entry.wrong_kind)
        assert wrong.code() == grpc.StatusCode.PERMISSION_DENIED, wrong.details()
    elif isinstance(entry, OwnView):
        fields = entry.fields(scene)
        try:
            answer = str(invoke(stack, method, fields, entry.intruder))
        except grpc.RpcError as exc:  # e.g. "other-ngo has no agreement": its own state
            answer = exc.details()
        for trace in owners_traces(scene):
            assert trace not in answer, f"{name} shows {trace!r} to {entry.intruder}"
        if entry.wrong_kind:
            wrong = refusal(stack, method, fields, entry.wrong_kind)
            assert wrong.code() == grpc.StatusCode.PERMISSION_DENIED, wrong.details()
    elif isinstance(entry, AgencyOnly):
        for who in (A, B, UNIT_A):
            refused = refusal(stack, method, entry.fields(scene), who)
            assert refused.code() == grpc.StatusCode.PERMISSION_DENIED, (who, refused.details())
    elif isinstance(entry, SharedByDesign):
        if entry.wrong_kind:
            wrong = refusal(stack, method, entry.fields(scene), entry.wrong_kind)
            assert wrong.code() == grpc.StatusCode.PERMISSION_DENIED, wrong.details()
    elif isinstance(entry, Public):
        for who in (B, UNIT_A):
            try:
                invoke(stack, method, entry.fields(scene), who)
            except grpc.RpcError as exc:  # an entry not set yet is NOT_FOUND for everyone
                assert exc.code() == grpc.StatusCode.NOT_FOUND, exc.details()
    elif isinstance(entry, Participants):
        for who in (B, UNIT_A):
            refused = refusal(stack, method, entry.fields(scene), who)
            assert refused.code() == grpc.StatusCode.PERMISSION_DENIED, (who, refused.details())
    else:
        raise AssertionError(f"unknown matrix entry {entry!r}")


def test_the_owner_is_served(stack, scene):
    """The matrix's refusals are about who calls, not broken requests: the
    owner reading the same things is served."""
    assert invoke(stack, METHODS["tiaki.intake.v1.IntakeService/GetSubmission"],
                  {"submission_id": scene["submission"]}, A).submission.provider_id == "ccss"
    assert invoke(stack, METHODS["tiaki.intake.v1.StoriesService/GetStory"],
                  {"story_id": scene["story"]}, A).story.story_id == scene["story"]
    assert invoke(stack, METHODS["tiaki.requests.v1.RequestsService/GetRequest"],
                  {"request_id": scene["request"]}, A).request.request_id == scene["request"]
    assert invoke(stack, METHODS["tiaki.router.v1.CodesignService/GetDraft"],
                  _draft(scene), A).draft.version == 2
    entry = invoke(stack, METHODS["tiaki.router.v1.UnitService/RecordAccess"],
                   {"delivery_id": scene["delivery"], "accessor": "analyst",
                    "fields": ["goals_met"], "reason": "Q3 report"}, UNIT_A).entry
    assert entry.provider_id == "ccss"
