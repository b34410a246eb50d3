"""Publishing a co-design draft against proposals made at the same moment, and
a publish cut short between its writes, on the real store."""

from __future__ import annotations

import dataclasses

import pytest
from grpc import StatusCode
from nameko.testing.utils import get_extension

from services.purpose_router.codesign import CodesignStorage
from services.purpose_router.plans import PlanRepository
from tests.service.test_codesign_service import (  # noqa: F401 - fixtures
    AGENCY,
    PROGRAMME,
    identities,
    router,
)
from tiaki.plumbing import plan_proto
from tiaki.plumbing.store import Storage
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import plan_pb2


@pytest.fixture
def drafted(router, plan_dict):  # noqa: F811 - the imported fixture
    container, c = router
    c.codesign.OpenDraft(cpb.OpenDraftRequest(programme_id=PROGRAMME,
                                              plan=plan_proto.to_proto(plan_dict),
                                              participants=["provider:ccss"]),
                         metadata=c.auth(*AGENCY))
    return (get_extension(container, Storage, storage_class=CodesignStorage).storage,
            get_extension(container, Storage, storage_class=PlanRepository).storage, c)


def test_a_proposal_made_while_publish_checks_stops_the_publish(drafted, monkeypatch):
    store, plans, c = drafted
    real = store.proposals
    raced = []

    def proposals_then_a_proposal_arrives(key):
        found = real(key)
        if not raced:  # ProposeChange's two writes, between publish's check and its write
            raced.append(key)
            store.insert_proposal(key, 1, {
                "kind": "remove", "item_name": "goals_met", "item": None, "reason": "Intrusive.",
                "proposed_by": "provider:ccss", "role": "provider",
                "proposed_at": "2026-11-01T00:00:00+00:00"})
            store.change_draft(PROGRAMME, 1,
                               lambda draft: dataclasses.replace(draft, proposal_count=1))
        return found

    monkeypatch.setattr(store, "proposals", proposals_then_a_proposal_arrives)
    err = c.refused(c.codesign.PublishDraft,
                    cpb.PublishDraftRequest(programme_id=PROGRAMME, version=1), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION
    assert "proposals 1 still wait for a decision" in err.message
    draft = c.codesign.GetDraft(cpb.GetDraftRequest(programme_id=PROGRAMME, version=1),
                                metadata=c.auth(*AGENCY)).draft
    assert draft.state == cpb.DRAFT_STATE_DRAFT and len(draft.proposals) == 1
    assert plans.plan(PROGRAMME, 1) is None


@pytest.mark.parametrize("dies_in", ["publish", "change_draft"])
def test_a_publish_cut_short_is_finished_by_publishing_again(drafted, monkeypatch, dies_in):
    """The process dies before the plan version is written, or after it but
    before the draft is marked published: reading changes nothing, and asking
    to publish again finishes the publish."""
    store, plans, c = drafted
    owner = plans if dies_in == "publish" else store
    real, calls = getattr(owner, dies_in), []

    def crash(*args):
        calls.append(args)
        # change_draft: the first call freezes the draft; the process dies on the next
        if dies_in == "publish" or len(calls) > 1:
            raise RuntimeError("the process died here")
        return real(*args)

    with monkeypatch.context() as m:
        m.setattr(owner, dies_in, crash)
        err = c.refused(c.codesign.PublishDraft,
                        cpb.PublishDraftRequest(programme_id=PROGRAMME, version=1), AGENCY)
        assert err.code == StatusCode.UNKNOWN
    read = c.codesign.GetDraft(cpb.GetDraftRequest(programme_id=PROGRAMME, version=1),
                               metadata=c.auth(*AGENCY)).draft
    assert read.state == cpb.DRAFT_STATE_DRAFT  # a read never finishes a publish
    assert plans.is_agreed(PROGRAMME, 1) == (dies_in == "change_draft")
    # A proposal cannot slip into a version half published.
    err = c.refused(c.codesign.ProposeChange, cpb.ProposeChangeRequest(
        programme_id=PROGRAMME, version=1, kind=cpb.CHANGE_KIND_REMOVE,
        item_name="goals_met", reason="Intrusive."), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION

    draft = c.codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=PROGRAMME, version=1),
                                    metadata=c.auth(*AGENCY)).draft
    assert draft.state == cpb.DRAFT_STATE_PUBLISHED
    assert plans.is_agreed(PROGRAMME, 1)
    plan = c.plans.GetPlan(plan_pb2.GetPlanRequest(programme_id=PROGRAMME, version=1),
                           metadata=c.auth(*AGENCY)).plan
    assert plan.version == 1 and plan.items == draft.plan.items
