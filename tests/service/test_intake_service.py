"""intake as a service: accepting a batch (duplicates, rejections,
pseudonyms), handing it to purpose_router through the outbox, and surviving a
broker outage. First as a bare worker with its dependencies mocked, then
started on the real broker and store and called over gRPC."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from types import SimpleNamespace
from unittest import mock

import mongoengine
import pytest
from grpc import StatusCode
from kombu import Connection, Queue
from nameko import config
from nameko.standalone.events import get_event_exchange
from nameko.testing.services import worker_factory
from nameko_grpc.client import Client
from nameko_grpc.errors import GrpcError

from services.intake import domain
from services.intake.service import IntakeService, OpenSubmissions
from services.intake.storage import IntakeStorage
from tests.readable import database_text
from tests.service.factories import valid_fields
from tiaki.core import messages
from tiaki.core.errors import Refused
from tiaki.core.plan import Plan
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1.intake_pb2_grpc import IntakeServiceStub
from tiaki.plumbing.broker import PackedJson
from tiaki.plumbing.grpc_errors import to_grpc
from tiaki.plumbing.identity import Caller
from tiaki.plumbing.store import connect


def key_for(programme_id: str, purpose_id: str) -> bytes:
    return hashlib.sha256(f"{programme_id}/{purpose_id}".encode()).digest()


def record(ref: str, client: str = "", **fields) -> pb.Record:
    return pb.Record(record_ref=ref, client_ref=client or f"client-{ref}", fields=valid_fields(**fields))


def stream(*batches, submission_id: str = "sub-1"):
    return iter([pb.SubmitRecordsRequest(submission_id=submission_id, records=list(b))
                 for b in batches])


def open_submission(**overrides) -> SimpleNamespace:
    values = dict(submission_id="sub-1", provider_id="ccss", programme_id="best-foot-forward",
                  plan_version=1, period="2026Q3", state="open", opened_at=time.time(),
                  sealed_at=None, agreement_version=0, notice_version=0,
                  replaces_submission_id="", superseded_by="")
    values.update(overrides)
    return SimpleNamespace(**values)


# The example plan was not agreed through co-design: intake needs no agreement for it.
NO_AGREEMENT_NEEDED = {"agreement_required": False, "agreement_version": 0, "withheld": {}}


@pytest.fixture
def intake(plan):
    """An IntakeService worker: purpose_router knows the example plan, the
    provider `ccss` is calling, and its submission `sub-1` is open and empty."""
    open_submissions = OpenSubmissions()  # the real locks and seen-refs cache
    open_submissions.setup()
    service = worker_factory(IntakeService, open_submissions=open_submissions)
    service.purpose_router.get_plan.return_value = plan.to_dict()
    service.purpose_router.collection_terms.return_value = NO_AGREEMENT_NEEDED
    service.identities.require.return_value = Caller("provider", "ccss")
    service.storage.submission.return_value = open_submission()
    service.storage.refs_after.return_value = (0, {}, False)
    service.storage.current_sealed.return_value = None  # nothing of the period sealed yet
    service.storage.pseudonym_key.side_effect = key_for
    service.storage.store_batch.side_effect = stored_batch
    return service


def refused(call) -> GrpcError:
    """What a caller over gRPC gets for a refusal of a bare worker: the one
    table of tiaki/plumbing/grpc_errors.py maps it, as in a running service."""
    with pytest.raises(Refused) as caught:
        call()
    return to_grpc(caught.value)


def stored_batch(submission_id, slot, refs, rejected, payload, rejections=None, digests=None):
    """Like the real storage: the payload gets its batch id and is encoded and compressed once."""
    payload["batch_id"] = "batch-1"
    return "batch-1", PackedJson.pack(json.dumps(payload).encode())


def dispatched(service) -> list[dict]:
    """The records_accepted events sent, decoded (intake sends them compressed JSON)."""
    return [json.loads(c.args[1].unpack()) if isinstance(c.args[1], PackedJson) else c.args[1]
            for c in service.dispatch.call_args_list if c.args[0] == messages.RECORDS_ACCEPTED]


# -- worker_factory: no broker, no store ----------------------------------------------

class TestSubmitRecordsWorker:
    def test_duplicate_refs_in_one_batch_are_accepted_once(self, intake):
        reply = intake.SubmitRecords(
            stream([record("r1"), record("r1"), record("r2")]), mock.Mock())

        assert (reply.accepted_count, reply.duplicate_count, reply.rejected_count) == (2, 1, 0)
        (payload,) = dispatched(intake)
        assert len(payload["records"]) == 2
        _, _, refs, rejected, *_ = intake.storage.store_batch.call_args.args
        assert (refs, rejected) == (["r1", "r2"], 0)

    def test_a_ref_twice_in_one_batch_with_other_values_is_rejected_saying_so(self, intake):
        reply = intake.SubmitRecords(
            stream([record("r1"), record("r1", client="someone-else"), record("r2")]), mock.Mock())

        assert (reply.accepted_count, reply.duplicate_count, reply.rejected_count) == (2, 0, 1)
        (rejection,) = reply.rejections
        assert (rejection.record_ref, rejection.field) == ("r1", "record_ref")
        assert "twice in this submission with different values" in rejection.reason

    def test_refs_already_in_the_submission_are_duplicates(self, intake):
        intake.storage.refs_after.return_value = (0, {"r1": ""}, False)
        first = intake.SubmitRecords(stream([record("r1"), record("r2")]), mock.Mock())
        again = intake.SubmitRecords(stream([record("r2"), record("r3")]), mock.Mock())

        assert (first.accepted_count, first.duplicate_count) == (1, 1)
        assert (again.accepted_count, again.duplicate_count) == (1, 1)
        # Read once; then each batch taking the next slot proves none came between.
        intake.storage.refs_after.assert_called_once_with("sub-1", None)
        assert [c.args[1] for c in intake.storage.store_batch.call_args_list] == [1, 2]

    def test_rejected_record_is_not_in_the_dispatched_payload(self, intake, plan):
        good = record("r1", client="whanau-42")
        bad = record("r2", age_band="forty", nickname="Moana")
        reply = intake.SubmitRecords(stream([good, bad]), mock.Mock())

        assert (reply.accepted_count, reply.rejected_count) == (1, 1)
        assert {(r.record_ref, r.field) for r in reply.rejections} == {
            ("r2", "age_band"), ("r2", "nickname")}
        (payload,) = dispatched(intake)
        assert payload["batch_id"] == "batch-1" and payload["plan_version"] == 1
        (row,) = payload["records"]
        assert row["pseudonyms"] == {
            p.purpose_id: domain.pseudonym(key_for(plan.programme_id, p.purpose_id), "ccss",
                                           "whanau-42")
            for p in plan.purposes}
        assert row["fields"]["sessions_attended"] == 7  # typed, not text
        assert "whanau-42" not in str(payload) and "Moana" not in str(payload)
        _, _, refs, rejected, *_ = intake.storage.store_batch.call_args.args
        assert (refs, rejected) == (["r1"], 1)

    def test_a_batch_that_accepted_nothing_stores_its_rejections_and_sends_nothing(self, intake):
        bad = record("r1", region="Mars")
        bad.row = 7
        reply = intake.SubmitRecords(stream([bad]), mock.Mock())

        assert (reply.accepted_count, reply.rejected_count) == (0, 1)
        assert dispatched(intake) == []
        _, _, refs, rejected, _, rejections, _ = intake.storage.store_batch.call_args.args
        assert (refs, rejected) == ([], 1)
        assert [r[:4] for r in rejections] == [[7, "r1", "region", "not_allowed_value"]]
        (listed,) = reply.rejections
        assert (listed.row, listed.code) == (7, pb.REJECTION_CODE_NOT_ALLOWED_VALUE)
        intake.storage.mark_published.assert_not_called()

    def test_published_batch_is_marked_published(self, intake):
        intake.SubmitRecords(stream([record("r1")]), mock.Mock())
        intake.storage.mark_published.assert_called_once_with("batch-1")

    def test_broker_down_leaves_the_batch_in_the_outbox_and_the_call_succeeds(self, intake):
        intake.dispatch.side_effect = ConnectionRefusedError("broker down")

        reply = intake.SubmitRecords(stream([record("r1"), record("r2")]), mock.Mock())

        assert reply.accepted_count == 2
        intake.storage.store_batch.assert_called_once()
        intake.storage.mark_published.assert_not_called()

    def test_sealed_submission_takes_no_records(self, intake):
        intake.storage.submission.return_value = open_submission(state="sealed")
        error = refused(lambda: intake.SubmitRecords(stream([record("r1")]), mock.Mock()))
        assert error.code == StatusCode.FAILED_PRECONDITION
        intake.storage.store_batch.assert_not_called()

    def test_another_providers_submission_does_not_exist(self, intake):
        intake.storage.submission.return_value = open_submission(provider_id="other-ngo")
        error = refused(lambda: intake.SubmitRecords(stream([record("r1")]), mock.Mock()))
        assert error.code == StatusCode.NOT_FOUND

    def test_oversized_batch_is_refused_before_anything_is_stored(self, intake):
        with config.patch({"MAX_BATCH_RECORDS": 2}):
            error = refused(lambda: intake.SubmitRecords(
                stream([record("r1"), record("r2"), record("r3")]), mock.Mock()))
        assert error.code == StatusCode.INVALID_ARGUMENT
        intake.storage.store_batch.assert_not_called()

    def test_submission_is_bound_to_a_concrete_plan_version(self, intake, plan):
        intake.storage.open_submission.return_value = open_submission()
        intake.storage.counts.return_value = (0, 0)
        request = pb.OpenSubmissionRequest(programme_id=plan.programme_id, period="2026Q3")
        try:
            intake.OpenSubmission(request, mock.Mock())
        except Refused as exc:  # refusing version 0 would be as good as resolving it
            assert to_grpc(exc).code == StatusCode.INVALID_ARGUMENT
            return
        assert intake.storage.open_submission.call_args.args[2] == plan.version


# -- the outbox, with intake's real storage ------------------------------------------------

@pytest.fixture
def intake_storage(store_uri, kek):
    connect(store_uri)
    storage = IntakeStorage(kek)
    storage.ensure_indexes()
    yield storage
    mongoengine.disconnect()


@pytest.fixture
def stored_intake(intake, intake_storage, plan):
    """The worker above, on intake's real storage with a real open submission."""
    sub = intake_storage.open_submission("ccss", plan.programme_id, 1, "2026Q3")
    intake.storage = intake_storage
    return intake, sub


def after_outbox_delay(service):
    """Runs the outbox timer as it would run a minute from now."""
    later = time.time() + 60
    with mock.patch("services.intake.service.time") as fake_time:
        fake_time.time.return_value = later
        service.publish_outbox()


class TestOutbox:
    def test_batch_stored_while_the_broker_was_down_is_published_later(self, stored_intake):
        service, sub = stored_intake
        service.dispatch.side_effect = ConnectionRefusedError("broker down")
        service.SubmitRecords(stream([record("r1")], submission_id=sub.submission_id),
                              mock.Mock())
        assert service.storage.has_unpublished(sub.submission_id)

        service.dispatch.side_effect = None
        service.dispatch.reset_mock()
        after_outbox_delay(service)

        assert len(dispatched(service)) == 1
        assert not service.storage.has_unpublished(sub.submission_id)

    def test_outbox_publishes_the_same_event_as_the_inline_path(self, stored_intake):
        service, sub = stored_intake
        service.dispatch.side_effect = ConnectionRefusedError("broker down")
        service.SubmitRecords(stream([record("r1")], submission_id=sub.submission_id),
                              mock.Mock())
        (inline,) = dispatched(service)  # the attempt that failed

        service.dispatch.side_effect = None
        service.dispatch.reset_mock()
        after_outbox_delay(service)

        (republished,) = dispatched(service)
        assert republished.get("batch_id") == inline["batch_id"]
        assert republished == inline


class TestSameRefAcrossBatches:
    """A record reference accepted in one batch, sent again in another batch or
    stream of the submission, or through another intake instance."""

    def test_other_values_are_a_rejection_that_says_so_the_same_values_a_duplicate(
            self, stored_intake):
        service, sub = stored_intake
        first = service.SubmitRecords(stream([record("r1"), record("r2")],
                                             [record("r3")], submission_id=sub.submission_id),
                                      mock.Mock())
        again_row = record("r2")
        again_row.row = 40  # the same record from another row of a file is the same record
        changed = record("r1", sessions_attended="9")
        changed.row = 41
        again = service.SubmitRecords(stream([changed, again_row],
                                             [record("r3", client="someone-else")],
                                             submission_id=sub.submission_id), mock.Mock())

        assert (first.accepted_count, first.duplicate_count, first.rejected_count) == (3, 0, 0)
        assert (again.accepted_count, again.duplicate_count, again.rejected_count) == (0, 1, 2)
        assert [(r.row, r.record_ref, r.field, r.code) for r in again.rejections] == [
            (41, "r1", "record_ref", pb.REJECTION_CODE_CONFLICTING_DUPLICATE),
            (0, "r3", "record_ref", pb.REJECTION_CODE_CONFLICTING_DUPLICATE)]
        assert all("with different values (the first is kept)" in r.reason
                   for r in again.rejections)
        # Only the first values were ever sent on.
        sent = [row for event in dispatched(service) for row in event["records"]]
        assert len(sent) == 3 and {r["fields"]["sessions_attended"] for r in sent} == {7}

    def test_another_instance_compares_by_what_the_first_stored(self, stored_intake):
        service, sub = stored_intake
        service.SubmitRecords(stream([record("r1")], submission_id=sub.submission_id),
                              mock.Mock())
        other = OpenSubmissions()  # a second intake process: nothing of it cached
        other.setup()
        service.open_submissions = other
        reply = service.SubmitRecords(stream([record("r1", sessions_attended="9"), record("r1")],
                                             submission_id=sub.submission_id), mock.Mock())
        assert (reply.accepted_count, reply.duplicate_count, reply.rejected_count) == (0, 1, 1)


class TestListRejections:
    """Every rejection of a submission, page by page, on intake's real storage."""

    @staticmethod
    def bad(n: int) -> pb.Record:
        found = record(f"bad-{n}", region="Mars")
        found.row = n + 2  # as a CSV's row: the header is row 1
        return found

    def list_all(self, service, sid: str, page_size: int = 0) -> tuple[list, int]:
        """(every rejection, pages read)."""
        got, token, pages = [], "", 0
        while True:
            page = service.ListRejections(pb.ListRejectionsRequest(
                submission_id=sid, page_size=page_size, page_token=token), mock.Mock())
            got.extend(page.rejections)
            pages += 1
            token = page.next_page_token
            if not token:
                return got, pages

    def test_more_rejections_than_a_response_lists_are_all_listed_in_order(self, stored_intake):
        service, sub = stored_intake
        # 2,500 rejected records: in batches with accepted records, in a batch
        # with none, and in a second stream.
        first = [[*(self.bad(n) for n in range(start, start + 600)), record(f"ok-{start}")]
                 for start in range(0, 1800, 600)]
        alone = [self.bad(n) for n in range(1800, 2200)]
        reply = service.SubmitRecords(stream(*first, alone, submission_id=sub.submission_id),
                                      mock.Mock())
        again = service.SubmitRecords(stream([self.bad(n) for n in range(2200, 2500)],
                                             submission_id=sub.submission_id), mock.Mock())

        assert (reply.accepted_count, reply.rejected_count, len(reply.rejections)) == (
            3, 2200, 1000)
        assert again.rejected_count == 300
        got, pages = self.list_all(service, sub.submission_id, page_size=700)
        assert [(r.row, r.record_ref) for r in got] == [
            (n + 2, f"bad-{n}") for n in range(2500)]
        assert {(r.field, r.code) for r in got} == {("region",
                                                     pb.REJECTION_CODE_NOT_ALLOWED_VALUE)}
        assert all("Mars" in r.reason for r in got)
        assert pages == 4  # 700 + 700 + 700 + 400: the last page says it is the last
        counted = service.GetSubmission(pb.GetSubmissionRequest(
            submission_id=sub.submission_id), mock.Mock()).submission
        assert (counted.accepted_count, counted.rejected_count) == (3, 2500)
        # A record with two problems is listed twice; the first page holds the cap.
        assert len(self.list_all(service, sub.submission_id)[0]) == 2500

    def test_a_page_holds_at_most_the_cap_and_tokens_are_ours(self, stored_intake):
        service, sub = stored_intake
        service.SubmitRecords(stream([self.bad(n) for n in range(5)],
                                     submission_id=sub.submission_id), mock.Mock())
        with config.patch({"MAX_REJECTIONS_PAGE": 2}):
            too_big = refused(lambda: service.ListRejections(pb.ListRejectionsRequest(
                submission_id=sub.submission_id, page_size=3), mock.Mock()))
            got, pages = self.list_all(service, sub.submission_id)
        assert too_big.code == StatusCode.INVALID_ARGUMENT and "page_size" in too_big.message
        assert (len(got), pages) == (5, 3)
        forged = refused(lambda: service.ListRejections(pb.ListRejectionsRequest(
            submission_id=sub.submission_id, page_token="x"), mock.Mock()))
        assert forged.code == StatusCode.INVALID_ARGUMENT

    def test_none_listed_for_a_clean_submission_or_another_providers(self, stored_intake):
        service, sub = stored_intake
        service.SubmitRecords(stream([record("r1")], submission_id=sub.submission_id),
                              mock.Mock())
        assert self.list_all(service, sub.submission_id) == ([], 1)
        service.identities.require.return_value = Caller("provider", "other-ngo")
        error = refused(lambda: service.ListRejections(pb.ListRejectionsRequest(
            submission_id=sub.submission_id), mock.Mock()))
        assert error.code == StatusCode.NOT_FOUND


# -- container_factory: the real broker and store, over gRPC ------------------------------

class FakeRouter:
    """purpose_router's RPC as intake uses it: the example plan, version 1 only."""

    def __init__(self, plan):
        self.plan = plan

    def get_plan(self, programme_id, version):
        if programme_id == self.plan.programme_id and version == self.plan.version:
            return self.plan.to_dict()
        return None

    def collection_terms(self, provider_id, programme_id, version, period):
        return NO_AGREEMENT_NEEDED  # the example plan is not a co-designed one


@pytest.fixture
def events_queue(service_config):
    """A queue bound to intake's records_accepted events in the test's vhost."""
    queue = Queue("test-records-accepted", exchange=get_event_exchange(messages.INTAKE),
                  routing_key=messages.RECORDS_ACCEPTED)
    with Connection(config["AMQP_URI"]) as conn:
        queue(conn.default_channel).declare()
    return queue


def take_all(queue: Queue) -> list[dict]:
    bodies = []
    with Connection(config["AMQP_URI"]) as conn:
        bound = queue(conn.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            bodies.append(message.payload)
    return bodies


class TestIntakeContainer:
    def test_open_submit_and_get_over_grpc(self, start_container, plan, identities,
                                           events_queue, store_db):
        start_container(IntakeService, purpose_router=FakeRouter(plan))
        _, tokens = identities
        auth = [("authorization", f"Bearer {tokens[('provider', 'ccss')]}")]
        other = [("authorization", f"Bearer {tokens[('provider', 'other-ngo')]}")]
        target = f"//127.0.0.1:{config['GRPC_BIND_PORT']}"

        with Client(target, IntakeServiceStub) as client:
            opened = client.OpenSubmission(pb.OpenSubmissionRequest(
                programme_id=plan.programme_id, plan_version=1, period="2026Q3"), metadata=auth)
            sid = opened.submission.submission_id
            reply = client.SubmitRecords(
                stream([record("r1"), record("r1"), record("r2", age_band="old")],
                       [record("r3")], submission_id=sid), metadata=auth)
            got = client.GetSubmission(pb.GetSubmissionRequest(submission_id=sid), metadata=auth)
            with pytest.raises(GrpcError) as hidden:
                client.GetSubmission(pb.GetSubmissionRequest(submission_id=sid), metadata=other)
            with pytest.raises(GrpcError) as anonymous:
                client.GetSubmission(pb.GetSubmissionRequest(submission_id=sid))

        assert opened.submission.state == pb.SUBMISSION_STATE_OPEN
        assert (reply.accepted_count, reply.duplicate_count, reply.rejected_count) == (2, 1, 1)
        assert (got.submission.accepted_count, got.submission.rejected_count) == (2, 1)
        assert hidden.value.code == StatusCode.NOT_FOUND
        assert anonymous.value.code == StatusCode.UNAUTHENTICATED

        events = take_all(events_queue)
        assert [len(e["records"]) for e in events] == [1, 1]
        assert all(e["submission_id"] == sid and e["plan_version"] == 1 for e in events)
        batches = {b["_id"]: b for b in store_db.batches.find({"submission_id": sid})}
        assert {e["batch_id"] for e in events} == set(batches)
        assert store_db.outbox.count_documents({"submission_id": sid}) == 0  # all confirmed


# -- minimisation at the door: identity details only when a purpose in force asks ----------

# Made-up details, distinctive enough to find anywhere they might have gone.
PERSON = pb.ClientIdentity(family_name="Kereama-Tūhoe", given_name="Wairimu",
                           date_of_birth="1987-06-05", sex="female")
DETAILS = ["identity.family_name", "identity.given_name", "identity.date_of_birth",
           "identity.sex"]


def with_identity(ref: str, identity=PERSON) -> pb.Record:
    message = record(ref)
    message.identity.CopyFrom(identity)
    return message


def slk_plan(plan_dict) -> Plan:
    """The example plan with a linkage key asked for by its unit-level purpose."""
    data = dict(plan_dict, purposes=[dict(p) for p in plan_dict["purposes"]])
    data["purposes"][0]["include_slk581"] = True
    return Plan.from_dict(data, version=1)


class TestIdentityAtTheDoorWorker:
    def test_identity_details_without_an_slk_purpose_reject_the_record(self, intake):
        reply = intake.SubmitRecords(stream([with_identity("r1"), record("r2")]), mock.Mock())

        assert (reply.accepted_count, reply.rejected_count) == (1, 1)
        assert [(r.record_ref, r.field, r.reason) for r in reply.rejections] == [
            ("r1", name, domain.IDENTITY_NOT_ASKED) for name in DETAILS]
        (payload,) = dispatched(intake)
        assert len(payload["records"]) == 1 and "slk581" not in payload["records"][0]
        assert "Wairimu" not in str(reply) + json.dumps(payload, ensure_ascii=False)

    def test_an_agreement_that_leaves_no_slk_purpose_in_force_refuses_them(self, intake,
                                                                         plan_dict):
        plan = slk_plan(plan_dict)
        evaluation_items = [i.name for i in plan.items if "evaluation" in i.purposes()]
        intake.purpose_router.get_plan.return_value = plan.to_dict()
        intake.storage.submission.return_value = open_submission(agreement_version=2)
        intake.purpose_router.collection_terms.return_value = {
            "agreement_required": True, "agreement_version": 2,
            "withheld": dict.fromkeys(evaluation_items, "declined")}
        kept = {k: v for k, v in valid_fields().items() if k not in evaluation_items}
        message = pb.Record(record_ref="r1", client_ref="c-1", fields=kept, identity=PERSON)

        reply = intake.SubmitRecords(stream([message]), mock.Mock())

        assert reply.rejected_count == 1
        assert {r.field for r in reply.rejections} == set(DETAILS)
        assert dispatched(intake) == []

    def test_a_purpose_in_force_that_asks_gets_only_the_linkage_key(self, intake, plan_dict):
        intake.purpose_router.get_plan.return_value = slk_plan(plan_dict).to_dict()
        reply = intake.SubmitRecords(stream([with_identity("r1")]), mock.Mock())

        assert (reply.accepted_count, reply.rejected_count) == (1, 0)
        (payload,) = dispatched(intake)
        (row,) = payload["records"]
        assert row["slk581"] == domain.slk581("Kereama-Tūhoe", "Wairimu", "1987-06-05", "female")
        text = json.dumps(payload, ensure_ascii=False)
        assert not any(v in text for v in ("Kereama", "Wairimu", "1987-06-05", "female"))


class TestIdentityAtTheDoorContainer:
    def test_refused_details_reach_no_store_and_no_event(self, start_container, plan,
                                                         identities, events_queue, store_db):
        start_container(IntakeService, purpose_router=FakeRouter(plan))
        _, tokens = identities
        auth = [("authorization", f"Bearer {tokens[('provider', 'ccss')]}")]
        target = f"//127.0.0.1:{config['GRPC_BIND_PORT']}"

        with Client(target, IntakeServiceStub) as client:
            sid = client.OpenSubmission(pb.OpenSubmissionRequest(
                programme_id=plan.programme_id, plan_version=1, period="2026Q3"),
                metadata=auth).submission.submission_id
            reply = client.SubmitRecords(stream([with_identity("r1"), record("r2")],
                                                submission_id=sid), metadata=auth)
            client.SealSubmission(pb.SealSubmissionRequest(submission_id=sid), metadata=auth)

        assert (reply.accepted_count, reply.rejected_count) == (1, 1)
        assert {(r.record_ref, r.field) for r in reply.rejections} == {("r1", f) for f in DETAILS}
        events = take_all(events_queue)
        assert [len(e["records"]) for e in events] == [1]
        stored = database_text(store_db)
        # The search sees inside the stored batch: the accepted record's values are found.
        assert any("Waikato" in text for text in stored)
        for detail in ("Kereama-Tūhoe", "Wairimu", "1987-06-05"):
            assert not any(detail in text for text in stored), detail
            assert detail not in json.dumps(events, ensure_ascii=False)


class TestBoundsContainer:
    def test_batches_that_accepted_nothing_store_their_rejections_quoted_short(
            self, start_container, plan, identities, store_db):
        start_container(IntakeService, purpose_router=FakeRouter(plan))
        _, tokens = identities
        auth = [("authorization", f"Bearer {tokens[('provider', 'ccss')]}")]
        target = f"//127.0.0.1:{config['GRPC_BIND_PORT']}"
        long_ref = "R" * 100_000

        with Client(target, IntakeServiceStub) as client:
            sid = client.OpenSubmission(pb.OpenSubmissionRequest(
                programme_id=plan.programme_id, plan_version=1, period="2026Q3"),
                metadata=auth).submission.submission_id
            replies = [client.SubmitRecords(stream([record(f"bad-{i}", region="Mars")],
                                                   submission_id=sid), metadata=auth)
                       for i in range(20)]
            long = client.SubmitRecords(stream([record(long_ref)], submission_id=sid),
                                        metadata=auth)
            got = client.GetSubmission(pb.GetSubmissionRequest(submission_id=sid), metadata=auth)

        assert [r.rejected_count for r in replies] == [1] * 20
        assert store_db.batches.count_documents({"submission_id": sid,
                                                 "accepted_count": {"$gt": 0}}) == 0
        assert store_db.outbox.count_documents({}) == 0
        assert not any("R" * 1000 in text for text in database_text(store_db))
        assert (got.submission.accepted_count, got.submission.rejected_count) == (0, 21)
        # An over-long reference is quoted back as a short prefix, never whole.
        assert long.rejections and all(len(r.record_ref) <= 201 for r in long.rejections)
        assert long.rejections[0].record_ref.startswith("RRRR")


# -- the submission lifecycle: listing, abandoning, no empty sealed submissions -----------

def seals_sent(service) -> list[dict]:
    return [c.args[1] for c in service.dispatch.call_args_list
            if c.args[0] == messages.SUBMISSION_SEALED]


class TestLifecycleWorker:
    def test_a_seal_with_nothing_accepted_abandons_the_submission(self, stored_intake):
        service, sub = stored_intake
        service.SubmitRecords(stream([record("r1", age_band="old")],
                                     submission_id=sub.submission_id), mock.Mock())

        reply = service.SealSubmission(pb.SealSubmissionRequest(
            submission_id=sub.submission_id), mock.Mock())

        assert reply.submission.state == pb.SUBMISSION_STATE_ABANDONED
        assert reply.submission.rejected_count == 1
        assert seals_sent(service) == []
        after_outbox_delay(service)
        assert seals_sent(service) == []

    def test_a_seal_with_records_accepted_is_sealed_and_sent(self, stored_intake):
        service, sub = stored_intake
        service.SubmitRecords(stream([record("r1")], submission_id=sub.submission_id),
                              mock.Mock())
        reply = service.SealSubmission(pb.SealSubmissionRequest(
            submission_id=sub.submission_id), mock.Mock())
        assert reply.submission.state == pb.SUBMISSION_STATE_SEALED
        assert [s["submission_id"] for s in seals_sent(service)] == [sub.submission_id]

    def test_an_abandoned_submission_takes_nothing_and_sends_nothing_more(self, stored_intake):
        service, sub = stored_intake
        service.dispatch.side_effect = ConnectionRefusedError("broker down")
        service.SubmitRecords(stream([record("r1")], submission_id=sub.submission_id),
                              mock.Mock())  # stored, waiting in the outbox

        reply = service.AbandonSubmission(pb.AbandonSubmissionRequest(
            submission_id=sub.submission_id), mock.Mock())
        service.dispatch.side_effect = None
        service.dispatch.reset_mock()
        after_outbox_delay(service)

        assert reply.submission.state == pb.SUBMISSION_STATE_ABANDONED
        assert service.dispatch.call_args_list == []  # neither the waiting batch nor a seal
        more = refused(lambda: service.SubmitRecords(
            stream([record("r2")], submission_id=sub.submission_id), mock.Mock()))
        assert more.code == StatusCode.FAILED_PRECONDITION and "abandoned" in more.message
        seal = refused(lambda: service.SealSubmission(pb.SealSubmissionRequest(
            submission_id=sub.submission_id), mock.Mock()))
        assert seal.code == StatusCode.FAILED_PRECONDITION

    def test_a_sealed_submission_cannot_be_abandoned(self, stored_intake):
        service, sub = stored_intake
        service.SubmitRecords(stream([record("r1")], submission_id=sub.submission_id),
                              mock.Mock())
        service.SealSubmission(pb.SealSubmissionRequest(submission_id=sub.submission_id),
                               mock.Mock())
        error = refused(lambda: service.AbandonSubmission(pb.AbandonSubmissionRequest(
            submission_id=sub.submission_id), mock.Mock()))
        assert error.code == StatusCode.FAILED_PRECONDITION and "sealed" in error.message
        got = service.GetSubmission(pb.GetSubmissionRequest(submission_id=sub.submission_id),
                                    mock.Mock())
        assert got.submission.state == pb.SUBMISSION_STATE_SEALED

    def test_list_filters_by_programme_and_period_and_pages(self, stored_intake):
        service, first = stored_intake
        storage = service.storage
        q3 = [first.submission_id] + [
            storage.open_submission("ccss", first.programme_id, 1, "2026Q3").submission_id
            for _ in range(4)]
        storage.open_submission("ccss", first.programme_id, 1, "2026Q4")
        storage.open_submission("ccss", "another-programme", 1, "2026Q3")
        storage.open_submission("other-ngo", first.programme_id, 1, "2026Q3")

        pages, token = [], ""
        while True:
            page = service.ListSubmissions(pb.ListSubmissionsRequest(
                programme_id=first.programme_id, period="2026Q3", page_size=2,
                page_token=token), mock.Mock())
            pages.append([s.submission_id for s in page.submissions])
            token = page.next_page_token
            if not token:
                break
        everything = service.ListSubmissions(pb.ListSubmissionsRequest(), mock.Mock())

        assert pages == [q3[:2], q3[2:4], q3[4:]]
        assert len(everything.submissions) == 7  # every one of ccss's, none of other-ngo's
        assert {s.provider_id for s in everything.submissions} == {"ccss"}
        bad = refused(lambda: service.ListSubmissions(pb.ListSubmissionsRequest(
            page_token="not-ours"), mock.Mock()))
        assert bad.code == StatusCode.INVALID_ARGUMENT


# -- replacing a sealed period ---------------------------------------------------------------

def sealed_with(service, sub, *records) -> pb.Submission:
    service.SubmitRecords(stream(list(records), submission_id=sub.submission_id), mock.Mock())
    return service.SealSubmission(pb.SealSubmissionRequest(submission_id=sub.submission_id),
                                  mock.Mock()).submission


def open_q3(service, replaces: str = "") -> pb.Submission:
    return service.OpenSubmission(pb.OpenSubmissionRequest(
        programme_id="best-foot-forward", plan_version=1, period="2026Q3",
        replaces_submission_id=replaces), mock.Mock()).submission


IN_THE_WINDOW = mock.patch("services.intake.service.nz_today",
                           return_value=datetime.date(2026, 10, 30))  # 2026Q3 + 30 days


class TestReplacementWorker:
    @pytest.fixture
    def sealed(self, stored_intake):
        service, sub = stored_intake
        service.storage.open_submission = IntakeStorage.open_submission.__get__(service.storage)
        return service, sealed_with(service, sub, record("r1"))

    def test_a_second_unmarked_submission_of_a_sealed_period_is_refused(self, sealed):
        service, first = sealed
        with IN_THE_WINDOW:
            error = refused(lambda: open_q3(service))
        assert error.code == StatusCode.FAILED_PRECONDITION
        assert first.submission_id in error.message and "--replace" in error.message

    def test_a_sealed_replacement_supersedes_the_earlier_one(self, sealed):
        service, first = sealed
        with IN_THE_WINDOW:
            replacement = open_q3(service, replaces=first.submission_id)
            done = sealed_with(service, replacement, record("r1", sessions_attended="9"))
            again = refused(lambda: open_q3(service, replaces=first.submission_id))

        earlier = service.GetSubmission(pb.GetSubmissionRequest(
            submission_id=first.submission_id), mock.Mock()).submission
        assert done.replaces_submission_id == first.submission_id
        assert earlier.superseded_by == replacement.submission_id
        assert seals_sent(service)[-1]["replaces_submission_id"] == first.submission_id
        # The period now stands as the replacement: only it can be replaced.
        assert again.code == StatusCode.FAILED_PRECONDITION
        assert replacement.submission_id in again.message

    def test_an_empty_replacement_supersedes_nothing(self, sealed):
        service, first = sealed
        with IN_THE_WINDOW:
            replacement = open_q3(service, replaces=first.submission_id)
            done = sealed_with(service, replacement, record("r9", age_band="old"))
        assert done.state == pb.SUBMISSION_STATE_ABANDONED
        assert service.storage.submission(first.submission_id).superseded_by == ""

    def test_a_replacement_after_the_correction_window_is_refused(self, sealed):
        service, first = sealed
        with mock.patch("services.intake.service.nz_today",
                        return_value=datetime.date(2026, 10, 31)):
            error = refused(lambda: open_q3(service, replaces=first.submission_id))
        assert error.code == StatusCode.FAILED_PRECONDITION
        assert "closed on 2026-10-30" in error.message

    def test_of_two_opened_together_only_the_first_sealed_stands(self, stored_intake):
        service, first = stored_intake
        service.storage.open_submission = IntakeStorage.open_submission.__get__(service.storage)
        second = open_q3(service)  # nothing of the period sealed yet: both may open
        sealed_with(service, first, record("r1"))
        error = refused(lambda: sealed_with(service, second, record("r1")))
        assert error.code == StatusCode.FAILED_PRECONDITION
        assert first.submission_id in error.message
        assert service.storage.submission(second.submission_id).state == "open"

    def test_replacing_what_is_not_the_sealed_submission_is_refused(self, stored_intake):
        service, _ = stored_intake
        error = refused(lambda: open_q3(service, replaces="made-up"))
        assert error.code == StatusCode.FAILED_PRECONDITION and "none to replace" in error.message
