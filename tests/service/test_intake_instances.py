"""Two intake instances taking batches of one submission, on intake's real
storage: each instance is a worker with its own cache of the submission's
record refs, and the store's numbered batch slots decide which of two
racing batches goes first. No record is accepted twice, and no batch is
stored after the seal has listed the submission's batches."""

from __future__ import annotations

import time
from unittest import mock

import mongoengine
import pytest
from grpc import StatusCode
from nameko.testing.services import worker_factory

from services.intake.service import IntakeService, OpenSubmissions
from services.intake.storage import Batch, IntakeStorage
from tests.service.test_intake_service import (
    NO_AGREEMENT_NEEDED,
    key_for,
    record,
    refused,
    stream,
)
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.plumbing.identity import Caller
from tiaki.plumbing.store import Collection, connect


class Storage(IntakeStorage):
    """intake's real storage, with a hook run once just before the state of
    the submission is read: where another instance can get in between."""

    def __init__(self, before_state=None):
        super().__init__(kek=b"k" * 32)
        self.before_state = before_state

    def submission(self, submission_id):
        hook, self.before_state = self.before_state, None
        if hook:
            hook()
        return super().submission(submission_id)

    def pseudonym_key(self, programme_id, purpose_id):
        return key_for(programme_id, purpose_id)


def instance(plan, storage: IntakeStorage):
    open_submissions = OpenSubmissions()
    open_submissions.setup()
    service = worker_factory(IntakeService, open_submissions=open_submissions, storage=storage)
    service.purpose_router.get_plan.return_value = plan.to_dict()
    service.purpose_router.collection_terms.return_value = NO_AGREEMENT_NEEDED
    service.identities.require.return_value = Caller("provider", "ccss")
    return service


@pytest.fixture
def two_instances(store_uri, plan):
    connect(store_uri)
    a, b = Storage(), Storage()
    a.ensure_indexes()
    sub = a.open_submission("ccss", plan.programme_id, 1, "2026Q3")
    yield instance(plan, a), instance(plan, b), sub.submission_id
    mongoengine.disconnect()


def submit(service, sid, *refs):
    return service.SubmitRecords(stream([record(r) for r in refs], submission_id=sid),
                                 mock.Mock())


def stored_refs(sid) -> list[str]:
    return [r for d in Collection(Batch).find({"submission_id": sid})
            for r in d.get("record_refs") or ()]


def test_the_second_instance_sees_what_the_first_accepted(two_instances):
    a, b, sid = two_instances
    first = submit(a, sid, "r1", "r2")
    second = submit(b, sid, "r2", "r3")
    third = submit(a, sid, "r3", "r4")  # a's cache is brought up to date from the store

    assert (first.accepted_count, second.accepted_count, third.accepted_count) == (2, 1, 1)
    assert (second.duplicate_count, third.duplicate_count) == (1, 1)
    refs = stored_refs(sid)
    assert sorted(refs) == ["r1", "r2", "r3", "r4"]


def test_a_batch_losing_its_slot_is_checked_again_against_the_winner(two_instances):
    a, b, sid = two_instances
    submit(a, sid, "r0")
    # b stores "r1" in the very slot a is about to take, after a read the slots.
    a.storage.before_state = lambda: submit(b, sid, "r1", "r2")

    reply = submit(a, sid, "r1", "r3")

    assert (reply.accepted_count, reply.duplicate_count) == (1, 1)
    refs = stored_refs(sid)
    assert sorted(refs) == ["r0", "r1", "r2", "r3"]  # r1 once


def test_no_batch_is_stored_after_another_instance_sealed(two_instances):
    a, b, sid = two_instances
    submit(a, sid, "r1")
    # b seals after a read the submission's slots, before a read its state.
    a.storage.before_state = lambda: b.SealSubmission(
        pb.SealSubmissionRequest(submission_id=sid), mock.Mock())

    error = refused(lambda: submit(a, sid, "r2"))

    assert error.code == StatusCode.FAILED_PRECONDITION
    assert stored_refs(sid) == ["r1"]
    (seal,) = [c.args[1] for c in b.dispatch.call_args_list if c.args[0] == "submission_sealed"]
    assert seal["accepted_count"] == 1 and len(seal["batch_ids"]) == 1


def test_a_batch_winning_the_slot_before_the_seal_is_listed_by_it(two_instances):
    a, b, sid = two_instances
    submit(a, sid, "r1")
    b.storage.seal(sid)  # b marks it sealed a moment after a read it open...
    batch_id, _ = a.storage.store_batch(sid, 2, ["r2"], 0, {"submission_id": sid,
                                                            "records": [{}]})
    a.storage.mark_published(batch_id)
    b.storage.close_batches(sid)  # ...so b's closing slot comes after a's batch
    b._publish_seal(b.storage.submission(sid))

    (seal,) = [c.args[1] for c in b.dispatch.call_args_list if c.args[0] == "submission_sealed"]
    assert len(seal["batch_ids"]) == 2 and seal["accepted_count"] == 2


def test_two_relays_publish_each_unpublished_batch_once(two_instances):
    a, b, sid = two_instances
    a.dispatch.side_effect = ConnectionRefusedError("broker down")
    submit(a, sid, "r1")
    submit(a, sid, "r2")
    a.dispatch.side_effect = None
    a.dispatch.reset_mock()

    later = time.time() + 60
    with mock.patch("services.intake.service.time") as fake_time, \
            mock.patch("services.intake.storage.time") as store_time:
        fake_time.time.return_value = store_time.time.return_value = later
        # b's relay dies after claiming (its broker call fails): a finds nothing to take.
        b.dispatch.side_effect = ConnectionRefusedError("broker down")
        with pytest.raises(ConnectionRefusedError):
            b.publish_outbox()
        a.publish_outbox()
        assert a.dispatch.call_count == 0
        # Its claim runs out: a publishes what b held.
        fake_time.time.return_value = store_time.time.return_value = later + 31
        a.publish_outbox()
    sent = [c.args[1] for c in a.dispatch.call_args_list if c.args[0] == "records_accepted"]
    assert len(sent) == 2
    assert not a.storage.has_unpublished(sid)
