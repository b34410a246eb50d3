"""purpose_router routing a co-designed plan's batches and seals under the
provider's agreement: as a bare worker, the store mocked. The agreement
version a submission was opened under travels in its events, so a batch and
its seal are routed under the same terms, whatever the provider changes later."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from nameko.testing.services import worker_factory

from services.purpose_router.codesign import CodesignStorage
from services.purpose_router.plans import PlanRepository, PlanVersion
from services.purpose_router.service import PurposeRouterService
from tests.service.factories import accepted_batch

REPORTING = "service_delivery_reporting"


def agreement_version(plan, number: int, declined=(), applies_from="") -> dict:
    return {"programme_id": plan.programme_id, "plan_version": plan.version, "number": number,
            "applies_from": applies_from, "provider_id": "ccss",
            "items": [{"item_name": i.name,
                       "decision": "decline" if i.name in declined else "accept"}
                      for i in plan.items]}


@pytest.fixture
def router(plan):
    """A worker for an agreed plan: ccss's agreement version 1 declines `region`;
    its version 2, made later and in force for the same period, accepts it."""
    plans = PlanRepository()
    plans.stored = mock.Mock(side_effect=lambda programme_id, version: (
        PlanVersion(plan, agreed=True) if version in (0, plan.version) else None))
    versions = {1: agreement_version(plan, 1, declined={"region"}),
                2: agreement_version(plan, 2, applies_from="2026Q3")}
    store = CodesignStorage()
    store.agreement = mock.Mock(side_effect=lambda provider, programme, plan_version, number: (
        versions.get(number) if provider == "ccss" else None))
    store.agreements = mock.Mock(return_value=list(versions.values()))
    store.notice = mock.Mock(return_value=None)  # events from before notices were versioned
    store.record_agency_notice = mock.Mock()
    service = worker_factory(PurposeRouterService, plans=plans, codesign_store=store)
    service.storage.seal.return_value = None
    service.storage.secret.return_value = b"k" * 32
    service.ledger.append.side_effect = lambda key, entry: dict(entry, entry_key=key)
    return service


def opened_under(event: dict, number: int) -> dict:
    return dict(event, agreement_version=number)


def seal_of(plan, batches, number: int) -> dict:
    return {"submission_id": "sub-1", "provider_id": "ccss", "programme_id": plan.programme_id,
            "plan_version": plan.version, "period": "2026Q3", "agreement_version": number,
            "batch_ids": [b["batch_id"] for b in batches],
            "accepted_count": sum(len(b["records"]) for b in batches)}


def partials_saved(service) -> dict:
    return {c.args[0]: c.args[3] for c in service.storage.save_partial.call_args_list}


def test_declined_grouping_leaves_the_totals_and_the_seal_completes(router, plan):
    batches = [opened_under(accepted_batch(plan, n=6, batch_id=b), 1) for b in ("b1", "b2")]
    for batch in batches:
        router.route_batch(batch)
    router.storage.partials.return_value = partials_saved(router)
    router.storage.seal.return_value = seal_of(plan, batches, 1)

    router.seal_submission(seal_of(plan, batches, 1))

    sent = [c.args[1] for c in router.unit_queues.deliver.call_args_list]
    (totals,) = [b for b in sent if b["kind"] == "aggregate"]
    assert totals["purpose_id"] == REPORTING and totals["record_count"] == 12
    assert totals["fields"] == ["programme_strand", "sessions_attended"]
    assert totals["cells"] == [{"dimensions": {"programme_strand": "joint"}, "suppressed": False,
                                "count": 12, "sums": {"sessions_attended": 2 * 21}}]
    assert all("region" not in json.dumps(b) for b in sent)


def test_a_later_agreement_does_not_change_an_open_submission(router, plan):
    """Version 2 (accepting region) is in force for 2026Q3 by now, but the
    submission opened under version 1: its batch and its seal both go without
    region, so the totals are whole and no value is paired with another's name."""
    batch = opened_under(accepted_batch(plan, n=6, batch_id="b1"), 1)
    router.route_batch(batch)
    router.storage.partials.return_value = partials_saved(router)
    (cells,) = partials_saved(router).values()
    assert set(cells) == {json.dumps(["joint"])}
    router.storage.seal.return_value = seal_of(plan, [batch], 1)

    router.seal_submission(seal_of(plan, [batch], 1))

    (totals,) = [c.args[1] for c in router.unit_queues.deliver.call_args_list
                 if c.args[1]["kind"] == "aggregate"]
    assert totals["cells"][0]["dimensions"] == {"programme_strand": "joint"}

    # A submission opened under version 2 keeps region.
    router.unit_queues.deliver.reset_mock()
    router.storage.seal.return_value = None
    router.route_batch(opened_under(accepted_batch(plan, n=3, batch_id="b9",
                                                   submission_id="sub-2"), 2))
    (unit_level,) = [c.args[1] for c in router.unit_queues.deliver.call_args_list]
    assert "region" in unit_level["fields"]


def test_the_reduced_plan_is_worked_out_once_per_agreement_version(router, plan):
    for n in range(3):
        router.route_batch(opened_under(accepted_batch(plan, n=2, batch_id=f"b{n}"), 1))
    router.codesign_store.agreement.assert_called_once()
    router.codesign_store.agreements.assert_not_called()


def test_no_agreement_raises_so_the_batch_is_requeued_not_dropped(router, plan):
    batch = dict(opened_under(accepted_batch(plan, n=2), 1), provider_id="other-ngo")
    with pytest.raises(LookupError):
        router.route_batch(batch)
    router.unit_queues.deliver.assert_not_called()
    router.storage.save_partial.assert_not_called()
