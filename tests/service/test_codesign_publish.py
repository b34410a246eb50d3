"""Publishing a co-design draft against proposals made at the same moment, and
a publish cut short between its two writes, on the real store."""

from __future__ import annotations

import pytest
from grpc import StatusCode
from nameko.testing.utils import get_extension
from services.purpose_router.codesign_storage import CodesignStore

from tests.service.test_codesign_service import (  # noqa: F401 - fixtures
    AGENCY,
    PROGRAMME,
    identities,
    router,
)
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import plan_pb2


@pytest.fixture
def drafted(router, plan_dict):  # noqa: F811 - the imported fixture
    container, c = router
    c.codesign.OpenDraft(cpb.OpenDraftRequest(programme_id=PROGRAMME,
                                              plan=plan_proto.to_proto(plan_dict),
                                              participants=["provider:ccss"]),
                         metadata=c.auth(*AGENCY))
    return get_extension(container, CodesignStore).storage, c


def test_a_proposal_made_while_publish_checks_stops_the_publish(drafted, monkeypatch):
    store, c = drafted
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
            draft = store.draft(PROGRAMME, 1)
            store.replace_draft(dict(draft, proposal_count=1))
        return found

    monkeypatch.setattr(store, "proposals", proposals_then_a_proposal_arrives)
    err = c.refused(c.codesign.PublishDraft,
                    cpb.PublishDraftRequest(programme_id=PROGRAMME, version=1), AGENCY)
    assert err.code == StatusCode.FAILED_PRECONDITION
    assert "proposals 1 still wait for a decision" in err.message
    draft = c.codesign.GetDraft(cpb.GetDraftRequest(programme_id=PROGRAMME, version=1),
                                metadata=c.auth(*AGENCY)).draft
    assert draft.state == cpb.DRAFT_STATE_DRAFT and len(draft.proposals) == 1
    assert store.plan(PROGRAMME, 1) is None


def test_a_publish_cut_short_is_finished_on_the_next_read(drafted, monkeypatch):
    store, c = drafted

    def crash(plan, agency_id):
        raise RuntimeError("the process died here")

    with monkeypatch.context() as m:
        m.setattr(store, "publish_plan", crash)
        err = c.refused(c.codesign.PublishDraft,
                        cpb.PublishDraftRequest(programme_id=PROGRAMME, version=1), AGENCY)
        assert err.code == StatusCode.UNKNOWN
    draft = c.codesign.GetDraft(cpb.GetDraftRequest(programme_id=PROGRAMME, version=1),
                                metadata=c.auth(*AGENCY)).draft
    assert draft.state == cpb.DRAFT_STATE_PUBLISHED
    assert store.is_agreed(PROGRAMME, 1)
    plan = c.plans.GetPlan(plan_pb2.GetPlanRequest(programme_id=PROGRAMME, version=1),
                           metadata=c.auth(*AGENCY)).plan
    assert plan.version == 1 and plan.items == draft.plan.items
