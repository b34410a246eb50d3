"""What waits for an organisation, over gRPC (the portal's notifications):
a provider invited to a draft sees it and the proposals open to its review;
the Agency sees proposals to decide and a provider's query on an agreement
item until it answers it. Derived from the record, nothing stored for it."""

from __future__ import annotations

import copy
import uuid

from tiaki.plumbing import plan_proto
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub


def test_drafts_proposals_and_item_queries_wait_for_whom_they_should(stack, example_plan):
    plan = copy.deepcopy(example_plan)
    plan["programme_id"] = programme = f"notices-{uuid.uuid4().hex[:8]}"
    codesign = CodesignServiceStub(stack.channel("purpose_router"))
    agreements = AgreementServiceStub(stack.channel("purpose_router"))
    agency, ccss = stack.metadata("agency", "agency"), stack.metadata("provider", "ccss")
    other = stack.metadata("provider", "other-ngo")

    def waiting(who) -> list[tuple[str, str]]:
        return [(n.kind, n.subject) for n in codesign.ListNotices(
            cpb.ListNoticesRequest(), metadata=who).notices if programme in n.subject]

    codesign.OpenDraft(cpb.OpenDraftRequest(plan=plan_proto.to_proto(plan)), metadata=agency)
    codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=programme, version=1),
                          metadata=agency)
    codesign.OpenDraft(cpb.OpenDraftRequest(programme_id=programme,
                                            participants=["provider:ccss", "provider:other-ngo"]),
                       metadata=agency)
    assert waiting(ccss) == [("invited_to_draft", f"{programme}@2")]
    codesign.ProposeChange(cpb.ProposeChangeRequest(
        programme_id=programme, version=2, kind=cpb.CHANGE_KIND_REMOVE, item_name="goals_met",
        reason="We do not collect it."), metadata=other)
    assert waiting(ccss) == [("invited_to_draft", f"{programme}@2"),
                             ("proposal_to_review", f"{programme}@2")]
    assert waiting(other) == [("invited_to_draft", f"{programme}@2")]  # its own proposal
    assert waiting(agency) == [("proposal_to_review", f"{programme}@2")]

    agreements.DecideItems(apb.DecideItemsRequest(programme_id=programme, plan_version=1,
                                                  decided_by="Mere", choices=[
        apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_QUERY, note="Why?")
        if i["name"] == "goals_met" else
        apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_ACCEPT)
        for i in plan["items"]]), metadata=ccss)
    query = ("item_query", f"ccss|{programme}@1|goals_met")
    assert query in waiting(agency) and query not in waiting(ccss)
    agreements.AnswerItemQuery(apb.AnswerItemQueryRequest(
        provider_id="ccss", programme_id=programme, plan_version=1, item_name="goals_met",
        answer="To see whether families reached their goals."), metadata=agency)
    assert query not in waiting(agency)
