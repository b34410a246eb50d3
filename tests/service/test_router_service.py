"""purpose_router as a service: routing an accepted batch to the units its
purposes name (only the declared fields), partial aggregates, the flow ledger,
and idempotent redelivery. First as a bare worker with its dependencies
mocked, then started on the real broker and store."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from kombu import Connection
from nameko import config
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook, entrypoint_waiter, worker_factory
from nameko.testing.utils import get_extension

from services.purpose_router.codesign import notice
from services.purpose_router.plans import PlanRepository, PlanVersion
from services.purpose_router.routing import domain
from services.purpose_router.service import PurposeRouterService
from tests.service.factories import accepted_batch
from tiaki.connect import queues
from tiaki.core import ledger, messages
from tiaki.core.records import bucket
from tiaki.plumbing.broker import UnitQueues
from tiaki.plumbing.store import Storage

EVALUATION = "evaluation"
REPORTING = "service_delivery_reporting"


@pytest.fixture
def router(plan):
    """A PurposeRouterService worker whose storage knows the example plan and
    has an empty ledger, no seals and no partials."""
    plans = PlanRepository()
    plans.stored = mock.Mock(side_effect=(  # not a co-designed plan
        lambda programme_id, version: PlanVersion(plan, agreed=False)
        if programme_id == plan.programme_id and version in (0, plan.version) else None))
    service = worker_factory(PurposeRouterService, plans=plans)
    service.storage.seal.return_value = None
    service.storage.partials.return_value = {}
    service.storage.secret.return_value = b"k" * 32
    service.ledger.append.side_effect = lambda key, entry: dict(entry, entry_key=key)
    return service


def deliveries_to(service, unit_id: str) -> list[dict]:
    return [c.args[1] for c in service.unit_queues.deliver.call_args_list if c.args[0] == unit_id]


# -- worker_factory: no broker, no store ----------------------------------------------

class TestRouteBatchWorker:
    def test_unit_level_purpose_gets_only_declared_fields_and_its_pseudonym(self, router, plan):
        batch = accepted_batch(plan, n=3, client_name="Aroha Smith", record_ref="r-17")

        router.route_batch(batch)

        (body,) = deliveries_to(router, "evaluation")
        allowed = set(plan.fields_for_purpose(EVALUATION)) | {"pseudonym"}
        assert body["delivery_id"] == f"batch-1:{EVALUATION}"
        assert body["kind"] == "records"
        assert body["fields"] == list(domain.delivered_fields(plan, plan.purpose(EVALUATION)))
        assert body["record_count"] == 3 and len(body["records"]) == 3
        for i, row in enumerate(body["records"]):
            assert set(row) <= allowed
            assert "client_name" not in row and "record_ref" not in row
            # its own purpose's pseudonym, never another purpose's
            assert row["pseudonym"] == f"{EVALUATION}-client-{i}"
        assert body["content_hash"] == ledger.content_hash(body["records"])

    def test_aggregate_purpose_gets_a_partial_not_a_delivery(self, router, plan):
        router.route_batch(accepted_batch(plan, n=3))

        router.storage.save_partial.assert_called_once()
        batch_id, submission_id, purpose_id, cells = router.storage.save_partial.call_args.args
        assert (batch_id, submission_id, purpose_id) == ("batch-1", "sub-1", REPORTING)
        assert sum(count for count, _ in cells.values()) == 3
        assert cells[json.dumps(["Waikato", "joint"])] == [2, [1 + 3]]
        # no seal yet: nothing goes to the aggregate purpose's unit
        assert deliveries_to(router, "service-delivery") == []

    def test_each_delivery_is_appended_to_the_ledger(self, router, plan):
        router.route_batch(accepted_batch(plan, n=2))

        (body,) = deliveries_to(router, "evaluation")
        router.ledger.append.assert_called_once()
        key, entry = router.ledger.append.call_args.args
        assert key == f"delivery:{body['delivery_id']}"
        assert entry["kind"] == "delivery"
        assert {k: entry[k] for k in ("delivery_id", "provider_id", "programme_id", "submission_id",
                                      "purpose_id", "unit_id", "fields", "record_count",
                                      "content_hash")} == {
            k: body[k] for k in ("delivery_id", "provider_id", "programme_id", "submission_id",
                                 "purpose_id", "unit_id", "fields", "record_count", "content_hash")}

    def test_each_delivery_and_its_entry_carry_the_terms_it_was_collected_under(self, router,
                                                                                 plan):
        said = notice.facts(plan, codesigned=False)
        router.codesign_store.notice.side_effect = (
            lambda provider, programme, number: {"said": said} if number == 2 else None)

        router.route_batch(dict(accepted_batch(plan, n=2), agreement_version=0,
                                notice_version=2))
        router.route_batch(dict(accepted_batch(plan, n=2, batch_id="batch-2"),
                                period="2026Q1"))

        named, before = deliveries_to(router, "evaluation")
        provenance = ("period", "plan_version", "agreement_version", "notice_version", "basis")
        assert [named[k] for k in provenance] == ["2026Q3", 1, 0, 2, "aware_through_notice"]
        assert [before[k] for k in provenance] == ["2026Q1", 1, 0, 0, "before_ipp3a"]
        entries = [c.args[1] for c in router.ledger.append.call_args_list]
        assert [[e[k] for k in provenance] for e in entries] == [
            [named[k] for k in provenance], [before[k] for k in provenance]]
        router.codesign_store.record_agency_notice.assert_not_called()

    def test_a_unit_level_delivery_no_notice_names_is_owed_the_agencys_own(self, router, plan):
        router.codesign_store.notice.return_value = None  # an event from before notices

        router.route_batch(accepted_batch(plan, n=2))

        (body,) = deliveries_to(router, "evaluation")
        assert body["basis"] == "agency_notice"
        router.codesign_store.record_agency_notice.assert_called_once_with(body)

    def test_redelivered_batch_is_delivered_again_under_the_same_ledger_key(self, router, plan):
        """The ledger appends once per key (Ledger.append finds a key's entry;
        tests/service/test_ledger_instances.py), so a redelivered batch is
        recorded once."""
        batch = accepted_batch(plan, n=2)
        router.route_batch(batch)
        router.route_batch(batch)

        bodies = deliveries_to(router, "evaluation")
        assert len(bodies) == 2 and bodies[0] == bodies[1]
        first, again = router.ledger.append.call_args_list
        assert first.args[0] == again.args[0] == f"delivery:{bodies[0]['delivery_id']}"

    def test_sealed_submission_with_every_partial_in_gets_its_aggregate(self, router, plan):
        purpose = plan.purpose(REPORTING)
        b1 = accepted_batch(plan, n=3, batch_id="b1")
        b2 = accepted_batch(plan, n=3, batch_id="b2")
        partials = {b["batch_id"]: domain.partial_aggregate(purpose, b["records"]) for b in (b1, b2)}
        router.storage.seal.return_value = {
            "submission_id": "sub-1", "provider_id": "ccss", "programme_id": plan.programme_id,
            "plan_version": 1, "period": "2026Q3", "batch_ids": ["b1", "b2"], "accepted_count": 6}
        router.storage.partials.return_value = partials

        router.route_batch(b2)

        (body,) = deliveries_to(router, "service-delivery")
        assert body["kind"] == "aggregate" and body["record_count"] == 6
        assert body["delivery_id"] == f"sub-1:{REPORTING}"
        assert body["fields"] == ["region", "programme_strand", "sessions_attended"]
        assert "records" not in body
        # Waikato/joint has 4 records (< suppress_below 6): suppressed; Otago/joint has 2
        assert body["cells"] == [
            {"dimensions": {"region": "Otago", "programme_strand": "joint"}, "suppressed": True},
            {"dimensions": {"region": "Waikato", "programme_strand": "joint"}, "suppressed": True},
        ]
        keys = [c.args[0] for c in router.ledger.append.call_args_list]
        assert keys == [f"delivery:b2:{EVALUATION}", f"delivery:sub-1:{REPORTING}"]
        # Totals are not used in an identifiable form: no notice is owed for them.
        assert body["basis"] == "not_identifiable"

    def test_no_aggregate_while_a_sealed_batch_is_still_on_its_way(self, router, plan):
        purpose = plan.purpose(REPORTING)
        b1 = accepted_batch(plan, n=3, batch_id="b1")
        router.storage.seal.return_value = {
            "submission_id": "sub-1", "provider_id": "ccss", "programme_id": plan.programme_id,
            "plan_version": 1, "period": "2026Q3", "batch_ids": ["b1", "b2"], "accepted_count": 6}
        router.storage.partials.return_value = {"b1": domain.partial_aggregate(purpose, b1["records"])}

        router.route_batch(b1)

        assert deliveries_to(router, "service-delivery") == []


class TestGetPlanWorker:
    def test_known_version_is_returned_as_a_dict(self, router, plan):
        assert router.get_plan(plan.programme_id, 1) == plan.to_dict()

    def test_unknown_programme_or_version_is_none(self, router, plan):
        assert router.get_plan("no-such-programme", 1) is None
        assert router.get_plan(plan.programme_id, 99) is None

    def test_a_version_is_read_from_storage_once(self, router, plan):
        router.get_plan(plan.programme_id, 1)
        router.get_plan(plan.programme_id, 1)
        assert router.plans.stored.call_count == 1


# -- container_factory: the real broker and store ------------------------------------

def take_all(amqp_uri: str, unit_id: str) -> list[dict]:
    """Every message waiting on the unit's queue in the test's vhost (acked)."""
    bodies = []
    with Connection(amqp_uri) as conn:
        queue = queues.unit_queue(unit_id)(conn.default_channel)
        queue.declare()  # a unit that was never delivered to has no queue yet
        while (message := queue.get(no_ack=True)) is not None:
            bodies.append(message.payload)
    return bodies


@pytest.fixture
def router_container(start_container, plan_dict):
    """purpose_router started, with the example plan stored as version 1."""
    container = start_container(PurposeRouterService)
    plans = get_extension(container, Storage, storage_class=PlanRepository).storage
    assert plans.create(plan_dict, "agency").version == 1
    return container


def route(container, batch: dict):
    dispatch = event_dispatcher()
    with entrypoint_waiter(container, "route_batch", timeout=15) as result:
        dispatch(messages.INTAKE, messages.RECORDS_ACCEPTED, batch)
    result.get()  # re-raises what the handler raised


class TestRouterContainer:
    def test_get_plan_rpc(self, router_container, plan_dict):
        with entrypoint_hook(router_container, "get_plan") as get_plan:
            stored = get_plan("best-foot-forward", 1)
            latest = get_plan("best-foot-forward", 0)
            unknown = get_plan("no-such-programme", 1)
            missing_version = get_plan("best-foot-forward", 2)
        assert stored["version"] == 1 and stored["programme_id"] == "best-foot-forward"
        assert [p["purpose_id"] for p in stored["purposes"]] == [EVALUATION, REPORTING]
        assert latest == stored
        assert unknown is None and missing_version is None

    def test_batch_goes_to_the_unit_queue_and_the_ledger(self, router_container, plan, store_db):
        route(router_container, accepted_batch(plan, n=3, client_name="never forwarded"))

        (body,) = take_all(config["AMQP_URI"], "evaluation")
        assert body["delivery_id"] == f"batch-1:{EVALUATION}" and body["record_count"] == 3
        allowed = set(plan.fields_for_purpose(EVALUATION)) | {"pseudonym"}
        assert all(set(row) <= allowed for row in body["records"])
        assert take_all(config["AMQP_URI"], "service-delivery") == []

        entries = list(store_db.ledger.find({"provider_id": "ccss"}, {"_id": 0}).sort("sequence"))
        assert [(e["kind"], e["delivery_id"], e["unit_id"]) for e in entries] == [
            ("delivery", body["delivery_id"], "evaluation")]
        assert entries[0]["content_hash"] == body["content_hash"]
        assert ledger.verify_chain(entries) == ledger.Verdict(True, 0, "")
        assert store_db.partials.count_documents({"submission_id": "sub-1"}) == 1

    def test_redelivered_batch_one_ledger_entry_two_messages(self, router_container, plan, store_db):
        batch = accepted_batch(plan, n=2)
        route(router_container, batch)
        route(router_container, batch)

        bodies = take_all(config["AMQP_URI"], "evaluation")
        assert len(bodies) == 2
        assert {b["delivery_id"] for b in bodies} == {f"batch-1:{EVALUATION}"}
        assert bodies[0]["content_hash"] == bodies[1]["content_hash"]
        assert store_db.ledger.count_documents({"kind": "delivery"}) == 1
        assert store_db.ledger.count_documents(
            {"entry_key": f"delivery:batch-1:{EVALUATION}"}) == 1

    def test_seal_after_every_batch_sends_the_protected_aggregate(self, router_container, plan,
                                                                   store_db):
        route(router_container, accepted_batch(plan, n=4, batch_id="b1"))
        route(router_container, accepted_batch(plan, n=4, batch_id="b2"))
        seal = {"submission_id": "sub-1", "provider_id": "ccss", "programme_id": plan.programme_id,
                "plan_version": 1, "period": "2026Q3", "batch_ids": ["b1", "b2"],
                "accepted_count": 8}
        with entrypoint_waiter(router_container, "seal_submission", timeout=15) as result:
            event_dispatcher()(messages.INTAKE, messages.SUBMISSION_SEALED, seal)
        result.get()

        (body,) = take_all(config["AMQP_URI"], "service-delivery")
        assert body["kind"] == "aggregate" and body["record_count"] == 8
        cells = {(c["dimensions"]["region"], c["dimensions"]["programme_strand"]): c
                 for c in body["cells"]}
        # per batch, records 0, 2, 3 are Waikato (sessions 1 + 3 + 4) and record 1 is Otago
        assert cells[("Waikato", "joint")] == {
            "dimensions": {"region": "Waikato", "programme_strand": "joint"}, "suppressed": False,
            "count": 6, "sums": {"sessions_attended": 16}}
        assert cells[("Otago", "joint")] == {
            "dimensions": {"region": "Otago", "programme_strand": "joint"}, "suppressed": True}
        kinds = [(e["purpose_id"], e["delivery_id"]) for e in
                 store_db.ledger.find({"provider_id": "ccss"}).sort("sequence")]
        assert kinds == [(EVALUATION, f"b1:{EVALUATION}"), (EVALUATION, f"b2:{EVALUATION}"),
                         (REPORTING, f"sub-1:{REPORTING}")]
        assert ledger.verify_chain(
            list(store_db.ledger.find({"provider_id": "ccss"}, {"_id": 0}).sort("sequence"))
        ) == ledger.Verdict(True, 0, "")

    def test_record_batches_leave_workers_for_calls(self, router_container):
        """Batches are taken a few at a time, not one per worker: the RPCs of a
        family's access request find a worker while a submission streams."""
        handlers = {e.method_name: e for e in router_container.entrypoints
                    if hasattr(e, "consumer") and hasattr(e.consumer, "prefetch_count")}
        assert handlers["route_batch"].consumer.prefetch_count == 2
        assert router_container.max_workers > 2
        assert handlers["seal_submission"].consumer.prefetch_count > 2

    def test_unit_queue_is_durable_and_declared_once(self, router_container, plan):
        route(router_container, accepted_batch(plan, n=1, batch_id="b1"))
        route(router_container, accepted_batch(plan, n=1, batch_id="b2"))
        unit_queues = get_extension(router_container, UnitQueues)
        assert unit_queues.declared == {"evaluation"}
        with Connection(config["AMQP_URI"]) as conn:
            declared = queues.unit_queue("evaluation")(conn.default_channel)
            _, count, _ = declared.queue_declare(passive=True)
        assert count == 2

    def test_holders_name_exactly_the_deliveries_that_carried_the_person(
            self, router_container, plan):
        route(router_container, accepted_batch(plan, n=3, batch_id="b1"))
        route(router_container, accepted_batch(plan, n=1, batch_id="b2"))
        route(router_container, accepted_batch(plan, n=3, batch_id="b1"))  # redelivered
        with entrypoint_hook(router_container, "holders") as holders:
            third = holders("ccss", plan.programme_id, {EVALUATION: [f"{EVALUATION}-client-2"]})
            first = holders("ccss", plan.programme_id, {EVALUATION: [f"{EVALUATION}-client-0"]})
            stranger = holders("ccss", plan.programme_id, {EVALUATION: [f"{EVALUATION}-client-9"]})
            other_provider = holders("other-ngo", plan.programme_id,
                                     {EVALUATION: [f"{EVALUATION}-client-0"]})
            # One person under two key generations: both generations' batches.
            rotated = holders("ccss", plan.programme_id, {EVALUATION: [
                f"{EVALUATION}-client-9", f"{EVALUATION}-client-2"]})
        assert third == [{"unit_id": "evaluation", "purpose_id": EVALUATION,
                          "delivery_ids": [f"b1:{EVALUATION}"]}]
        assert first == [{"unit_id": "evaluation", "purpose_id": EVALUATION,
                          "delivery_ids": [f"b1:{EVALUATION}", f"b2:{EVALUATION}"]}]
        assert stranger == [] and other_provider == []
        assert rotated == third

    def test_holdings_stored_in_the_older_64_buckets_are_still_found(
            self, router_container, plan, store_db):
        """Batches routed before holdings moved to 16 buckets were held in 64,
        named by the bucket alone: a family's request still finds them."""
        person = f"{EVALUATION}-client-0"
        store_db.batch_holdings.insert_one({
            "_id": f"b0:{bucket(person)}", "pseudonyms": [person],
            "bucket_key": f"ccss:{plan.programme_id}:{EVALUATION}:{bucket(person)}",
            "deliveries": [[f"b0:{EVALUATION}", "evaluation", EVALUATION]]})
        route(router_container, accepted_batch(plan, n=1, batch_id="b1"))
        new = store_db.batch_holdings.find_one({"_id": f"b1:{domain.holding_bucket(person)}"})
        assert new["bucket_key"].endswith(f"/{domain.HOLDING_BUCKETS}")
        with entrypoint_hook(router_container, "holders") as holders:
            found = holders("ccss", plan.programme_id, {EVALUATION: [person]})
        assert found == [{"unit_id": "evaluation", "purpose_id": EVALUATION,
                          "delivery_ids": [f"b0:{EVALUATION}", f"b1:{EVALUATION}"]}]

    def test_a_sealed_replacement_supersedes_every_delivery_of_the_earlier_one(
            self, router_container, plan, store_db):
        def seal(submission_id, batch_ids, **extra):
            event = {"submission_id": submission_id, "provider_id": "ccss",
                     "programme_id": plan.programme_id, "plan_version": 1, "period": "2026Q3",
                     "batch_ids": batch_ids, "accepted_count": 3, **extra}
            with entrypoint_waiter(router_container, "seal_submission", timeout=15) as result:
                event_dispatcher()(messages.INTAKE, messages.SUBMISSION_SEALED, event)
            result.get()

        route(router_container, accepted_batch(plan, n=3, batch_id="b1", submission_id="sub-1"))
        seal("sub-1", ["b1"])
        route(router_container, accepted_batch(plan, n=3, batch_id="b2", submission_id="sub-2"))
        seal("sub-2", ["b2"], replaces_submission_id="sub-1")
        with entrypoint_hook(router_container, "holders") as holders:
            found = holders("ccss", plan.programme_id, {EVALUATION: [f"{EVALUATION}-client-0"]})

        entries = list(store_db.ledger.find({"provider_id": "ccss"}, {"_id": 0}).sort("sequence"))
        superseded = [(e["delivery_id"], e["unit_id"], e["submission_id"]) for e in entries
                      if e["kind"] == "supersession"]
        assert superseded == [(f"b1:{EVALUATION}", "evaluation", "sub-2"),
                              (f"sub-1:{REPORTING}", "service-delivery", "sub-2")]
        assert ledger.verify_chain(entries) == ledger.Verdict(True, 0, "")
        told = [b for b in take_all(config["AMQP_URI"], "evaluation")
                if b["kind"] == "supersession"]
        assert [(b["supersedes_submission_id"], b["delivery_ids"]) for b in told] == [
            ("sub-1", [f"b1:{EVALUATION}"])]
        # The person's answer is asked only of what is current.
        assert found == [{"unit_id": "evaluation", "purpose_id": EVALUATION,
                          "delivery_ids": [f"b2:{EVALUATION}"]}]
