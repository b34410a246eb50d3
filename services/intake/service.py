"""Intake: the providers' gRPC ingress for submissions of client-level records.

Records are validated against the plan version the submission is bound to,
stripped to the declared fields, given per-purpose pseudonyms, stored batch by
batch, and handed to purpose_router as events through an outbox."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from nameko_grpc.entrypoint import Grpc
from prometheus_client import Counter

from services.intake import domain
from services.intake.domain import Submission
from services.intake.keys_service import KeysMixin
from services.intake.limits_service import (
    LimitsMixin,
    max_batch_records,
    max_rejections_page,
    max_rejections_returned,
)
from services.intake.storage import IntakeStorage
from services.intake.stories_service import StoriesMixin
from tiaki.core import fastjson, messages
from tiaki.core.clock import nz_today
from tiaki.core.errors import Conflict, Invalid, NotFound, NotNow
from tiaki.core.periods import check_period
from tiaki.core.plan import Plan
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1.intake_pb2_grpc import IntakeServiceStub
from tiaki.plumbing import broker, pacing
from tiaki.plumbing.broker import ServiceRpc
from tiaki.plumbing.dead_letter import rpc
from tiaki.plumbing.health import HealthMixin
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.metrics import Metrics
from tiaki.plumbing.store import Storage, retrying

log = logging.getLogger(__name__)
grpc = Grpc.implementing(IntakeServiceStub)

RECORDS_ACCEPTED = Counter("tiaki_intake_records_accepted_total", "Records accepted",
                           ["programme"])
RECORDS_REJECTED = Counter("tiaki_intake_records_rejected_total",
                           "Records rejected, by the first reason's kind", ["programme", "reason"])
RECORDS_DUPLICATE = Counter("tiaki_intake_records_duplicate_total",
                            "Records already in their submission", ["programme"])
BATCHES_PUBLISHED = Counter("tiaki_intake_batches_published_total",
                            "Batches confirmed by the broker", ["programme", "path"])

SLOT_ATTEMPTS = 20  # of taking a batch slot other instances keep taking first

STATES = {"open": pb.SUBMISSION_STATE_OPEN, "sealed": pb.SUBMISSION_STATE_SEALED,
          "abandoned": pb.SUBMISSION_STATE_ABANDONED}
MAX_PAGE = 1000


class SubmissionView:
    """What this process knows of one submission's accepted record refs (each
    with its content's digest), and the highest batch slot it has seen."""

    def __init__(self, submission_id: str):
        self.submission_id = submission_id
        self.lock = Semaphore()
        self.slot: int | None = None  # None: nothing read yet
        self.refs: dict[str, str] = {}
        self.closed = False  # the seal's slot is among those read

    def refresh(self, storage: IntakeStorage):
        """Adds the batches other instances (or streams) stored since."""
        self.slot, new, closed = storage.refs_after(self.submission_id, self.slot)
        self.refs.update(new)
        self.closed |= closed


class OpenSubmissions(DependencyProvider):
    """A cache, per process, of the record refs each open submission has
    accepted. The store decides: each batch takes the submission's next
    numbered slot, and of two instances taking the same slot one loses, reads
    the batches it missed and checks its records again (see
    IntakeStorage.store_batch), so any number of intake instances can take
    batches of one submission. The lock only keeps two streams of this process
    from racing for a slot. Views are dropped least recently used first: a
    submission sealed by another instance is never `forget`-ed here."""

    KEPT = 16

    def setup(self):
        self.views: OrderedDict[str, SubmissionView] = OrderedDict()

    def get_dependency(self, worker_ctx):
        return self

    def view(self, submission_id: str) -> SubmissionView:
        view = self.views.pop(submission_id, None)
        if view is None:
            view = SubmissionView(submission_id)
        self.views[submission_id] = view
        while len(self.views) > self.KEPT:
            self.views.popitem(last=False)
        return view

    def lock(self, submission_id: str) -> Semaphore:
        return self.view(submission_id).lock

    def forget(self, submission_id: str):
        self.views.pop(submission_id, None)


class IntakeService(KeysMixin, StoriesMixin, LimitsMixin, HealthMixin):
    name = "intake"

    storage = Storage(IntakeStorage, sealed=True)
    identities = Identities()
    metrics = Metrics()
    dispatch = broker.JsonEventDispatcher()
    purpose_router = ServiceRpc("purpose_router")
    open_submissions = OpenSubmissions()
    calls_first = pacing.CallsFirst()  # pseudonyms for access requests before batches

    _rules: dict = {}  # plan versions never change once created, so cache forever

    # -- gRPC ------------------------------------------------------------------

    @grpc
    def OpenSubmission(self, request, context):
        provider = self.identities.require(context, "provider")
        check_period(request.period)
        # Version 0 means the latest; the submission is bound to the concrete version.
        plan = self._plan_rules(request.programme_id, request.plan_version).plan
        terms = self._terms(provider.id, plan.programme_id, plan.version, request.period)
        self._check_replacement(provider.id, plan, request.period, request.replaces_submission_id)
        # The submission keeps the agreement and notice versions it opened under: its
        # batches and its seal are checked and routed under those terms, whatever changes later.
        sub = self.storage.open_submission(provider.id, request.programme_id,
                                           plan.version, request.period,
                                           agreement_version=terms["agreement_version"],
                                           notice_version=terms.get("notice_version") or 0,
                                           replaces_submission_id=request.replaces_submission_id)
        return pb.OpenSubmissionResponse(submission=submission_message(self.storage, sub))

    @grpc
    def SubmitRecords(self, request_stream, context):
        provider = self.identities.require(context, "provider")
        max_batch = max_batch_records()
        max_rejections = max_rejections_returned()
        summary = pb.SubmitRecordsResponse()
        sub = None
        for batch in request_stream:
            if sub is None or batch.submission_id != sub.submission_id:
                sub = self._own_submission(provider, batch.submission_id)
                withheld = self._terms(provider.id, sub.programme_id, sub.plan_version,
                                       sub.period, sub.agreement_version)["withheld"]
            if len(batch.records) > max_batch:
                raise Invalid("", f"a batch may hold at most {max_batch} records, this one has "
                                  f"{len(batch.records)}; earlier batches of this stream are stored")
            accepted, duplicates, rejected, rejections = self._accept_batch(sub, batch.records,
                                                                             withheld)
            summary.accepted_count += accepted
            summary.duplicate_count += duplicates
            summary.rejected_count += rejected
            room = max_rejections - len(summary.rejections)
            if room > 0:
                summary.rejections.extend(rejections[:room])
        return summary

    @grpc
    def SealSubmission(self, request, context):
        provider = self.identities.require(context, "provider")
        sub = self._own_submission(provider, request.submission_id)
        # Checked again: another submission of the period may have been sealed
        # since this one opened, and a replacement's window may have closed.
        self._check_replacement(provider.id, self._plan_rules(
            sub.programme_id, sub.plan_version).plan, sub.period, sub.replaces_submission_id)
        with self.open_submissions.lock(sub.submission_id):
            if not self.storage.seal(sub.submission_id):
                raise NotNow("", f"submission {sub.submission_id} is already sealed")
            self.storage.close_batches(sub.submission_id)
            # Nothing accepted (a failed attempt): no empty sealed submission is
            # left to stand for the period. The seal is published only below.
            empty = self.storage.counts(sub.submission_id)[0] == 0
            if empty:
                self.storage.abandon(sub.submission_id, state="sealed")
            elif sub.replaces_submission_id and not self.storage.supersede(
                    sub.replaces_submission_id, sub.submission_id):
                log.warning("%s was replaced by another submission while %s was sealed",
                            sub.replaces_submission_id, sub.submission_id)
        self.open_submissions.forget(sub.submission_id)
        if not empty:
            self._publish_seal(self.storage.submission(sub.submission_id))
        return pb.SealSubmissionResponse(
            submission=submission_message(self.storage, self.storage.submission(sub.submission_id)))

    @grpc
    def ListSubmissions(self, request, context):
        provider = self.identities.require(context, "provider")
        if not 0 <= request.page_size <= MAX_PAGE:
            raise Invalid("page_size", f"page_size must be 0 (100) to {MAX_PAGE}, "
                                       f"got {request.page_size}")
        if request.period:
            check_period(request.period)
        size = request.page_size or 100
        try:
            skip = int(request.page_token or 0)
            if skip < 0:
                raise ValueError(skip)
        except ValueError:
            raise Invalid("page_token", "page_token is not one we gave out") from None
        found = self.storage.list_submissions(provider.id, request.programme_id, request.period,
                                              skip, size + 1)
        response = pb.ListSubmissionsResponse(
            submissions=[submission_message(self.storage, s) for s in found[:size]])
        if len(found) > size:
            response.next_page_token = str(skip + size)
        return response

    @grpc
    def AbandonSubmission(self, request, context):
        provider = self.identities.require(context, "provider")
        sub = self._own_submission(provider, request.submission_id)
        with self.open_submissions.lock(sub.submission_id):
            if not self.storage.abandon(sub.submission_id):
                raise NotNow("", f"submission {sub.submission_id} is "
                                 f"{self.storage.submission(sub.submission_id).state}; "
                                 "only an open one can be abandoned")
            # As a seal does: no batch is stored after it; none waiting is sent.
            self.storage.close_batches(sub.submission_id)
            self.storage.drop_outbox(sub.submission_id)
        self.open_submissions.forget(sub.submission_id)
        return pb.AbandonSubmissionResponse(
            submission=submission_message(self.storage, self.storage.submission(sub.submission_id)))

    @grpc
    def ListRejections(self, request, context):
        provider = self.identities.require(context, "provider")
        cap = max_rejections_page()
        if not 0 <= request.page_size <= cap:
            raise Invalid("page_size", f"page_size must be 0 ({cap}) to {cap}, "
                                       f"got {request.page_size}")
        start = domain.read_page_token(request.page_token)
        sub = self._own_submission(provider, request.submission_id, for_writing=False)
        found, after = self.storage.rejections(sub.submission_id, start,
                                               request.page_size or cap)
        return pb.ListRejectionsResponse(
            rejections=[rejection_message(*entry) for entry in found],
            next_page_token=domain.page_token(*after) if after else "")

    @grpc
    def GetSubmission(self, request, context):
        provider = self.identities.require(context, "provider")
        sub = self._own_submission(provider, request.submission_id, for_writing=False)
        return pb.GetSubmissionResponse(submission=submission_message(self.storage, sub))

    @rpc
    def pseudonyms(self, provider_id: str, programme_id: str, client_ref: str) -> dict:
        """A client's pseudonyms for every purpose the programme has ever had a
        key for: {purpose_id: [one per key generation, oldest first]}. The keys
        never leave intake: only the pseudonyms do."""
        return {purpose_id: [domain.pseudonym(key, provider_id, client_ref) for key in keys]
                for purpose_id, keys in self.storage.programme_keys(programme_id).items()}

    # -- the outbox --------------------------------------------------------------

    @timer(interval=2)
    def publish_outbox(self):
        """Publishes what the broker has not confirmed (it was down, or we crashed)."""
        older_than = time.time() - 5
        # Claimed one by one: every instance runs this timer, one publishes each.
        for entry_id, batch_id, packed in self.storage.claim_unpublished_batches(older_than):
            self.dispatch(messages.RECORDS_ACCEPTED, packed)
            self.storage.drop_outbox_entry(entry_id)
            self.storage.mark_published(batch_id)
            BATCHES_PUBLISHED.labels(fastjson.loads(packed.unpack())["programme_id"],
                                     "outbox").inc()
        for sub in self.storage.claim_unpublished_seals(older_than):
            self._publish_seal(sub)

    # -- the work ----------------------------------------------------------------

    def _accept_batch(self, sub: Submission, records, withheld: dict | None = None):
        rules = self._plan_rules(sub.programme_id, sub.plan_version, withheld)
        plan: Plan = rules.plan
        keys = {p.purpose_id: self.storage.pseudonym_key(plan.programme_id, p.purpose_id)
                for p in plan.purposes}
        refs = [r.record_ref for r in records]
        contents = [domain.record_digest(content_as_sent(r)) for r in pacing.paced(records)]
        checked: dict[int, tuple] = {}  # kept if the slot must be taken again

        def check(i: int) -> tuple[dict | None, list[tuple[str, str]]]:
            if i not in checked:
                if i % pacing.EVERY == 0:  # a call waits for a slice of the batch, not all of it
                    pacing.give_way()
                r = records[i]
                identity = (domain.Identity(r.identity.family_name, r.identity.given_name,
                                            r.identity.date_of_birth, r.identity.sex)
                            if r.HasField("identity") else None)
                checked[i] = domain.check_record(rules, keys, sub.provider_id, r.record_ref,
                                                 r.client_ref, dict(r.fields), identity,
                                                 sub.period)
            return checked[i]

        view = self.open_submissions.view(sub.submission_id)
        lost = False  # a slot was lost: what took it must be read

        def take_slot() -> tuple[domain.SortedBatch, str | None, str | None]:
            nonlocal lost
            # Read again only when a slot was lost: slots are taken in order,
            # so taking the next one proves no other batch came since (and
            # the seal's slot, taken after it marks the submission sealed,
            # is not before ours: the seal lists this batch).
            if view.slot is None or lost:
                view.refresh(self.storage)
            state = self.storage.submission(sub.submission_id).state
            if view.closed or state != "open":
                raise NotNow("", f"submission {sub.submission_id} is "
                                 f"{'sealed' if state == 'open' else state}; open a new one")
            batch = domain.sort_batch(refs, view.refs, check, contents)
            if batch.empty:  # only duplicates: nothing to store
                return batch, None, None
            slot = view.slot + 1
            try:
                batch_id, packed = self.storage.store_batch(
                    sub.submission_id, slot, batch.refs, len(batch.reasons),
                    domain.batch_event(sub, batch.rows),
                    [domain.stored_rejection(records[i].row, ref, f, r)
                     for i, ref, f, r in batch.rejections], batch.contents)
            except Conflict:
                log.info("slot %s of %s taken by another instance; checking again",
                         slot, sub.submission_id)
                lost = True
                raise
            view.slot = slot
            view.refs.update(zip(batch.refs, batch.contents))
            return batch, batch_id, packed

        with view.lock:
            batch, batch_id, packed = retrying(
                take_slot, tries=SLOT_ATTEMPTS, field="",
                what=f"submission {sub.submission_id} is taking batches too fast to store "
                     "this one; send it again (its duplicates are counted)")
        if batch.empty:
            return 0, batch.duplicates, 0, []
        for reason in batch.reasons:
            RECORDS_REJECTED.labels(plan.programme_id, reason).inc()
        RECORDS_ACCEPTED.labels(plan.programme_id).inc(len(batch.rows))
        RECORDS_DUPLICATE.labels(plan.programme_id).inc(batch.duplicates)
        if batch.rows:
            self._publish_batch(batch_id, plan.programme_id, packed)
        rejections = [rejection_message(records[i].row, ref, f, domain.reason_kind(r), r)
                      for i, ref, f, r in batch.rejections]
        return len(batch.rows), batch.duplicates, len(batch.reasons), rejections

    def _publish_batch(self, batch_id, programme_id, packed):
        try:
            self.dispatch(messages.RECORDS_ACCEPTED, packed)
        except Exception:  # the broker is down: the outbox timer publishes it later
            log.warning("batch %s stored; publishing later", batch_id, exc_info=True)
            return
        self.storage.mark_published(batch_id)
        BATCHES_PUBLISHED.labels(programme_id, "inline").inc()

    def _publish_seal(self, sub):
        # No batch is stored after the seal (repeated here for a seal whose
        # instance died between marking it sealed and taking the last slot).
        self.storage.close_batches(sub.submission_id)
        # Every batch is published before the seal, so purpose_router never
        # waits on a batch that is still only in our outbox.
        if self.storage.has_unpublished(sub.submission_id):
            return
        accepted, _ = self.storage.counts(sub.submission_id)
        try:
            self.dispatch(messages.SUBMISSION_SEALED, domain.seal_event(
                sub, accepted, self.storage.published_batch_ids(sub.submission_id)))
        except Exception:
            log.warning("seal of %s stored; publishing later", sub.submission_id, exc_info=True)
            return
        self.storage.mark_seal_published(sub.submission_id)

    def _terms(self, provider_id: str, programme_id: str, version: int, period: str,
               agreement_version: int = 0) -> dict:
        """From purpose_router (which owns agreements): the agreement version
        and the items of an agreed plan it does not accept; a submission
        already open asks under its own agreement version."""
        extra = {"agreement_version": agreement_version} if agreement_version else {}
        terms = self.purpose_router.collection_terms(provider_id, programme_id, version, period,
                                                     **extra)
        return domain.check_terms(terms, provider_id, programme_id, version, period)

    def _check_replacement(self, provider_id: str, plan: Plan, period: str,
                           replaces: str) -> None:
        domain.check_replacement(period, self.storage.current_sealed(
            provider_id, plan.programme_id, period), replaces, plan.correction_window_days,
            nz_today())

    def _plan_rules(self, programme_id: str, version: int,
                    withheld: dict | None = None) -> domain.RecordRules:
        if withheld:
            key = (programme_id, version, tuple(sorted(withheld.items())))
            if key not in self._rules:
                self._rules[key] = domain.agreed_rules(self._plan_rules(programme_id, version).plan,
                                                       withheld)
            return self._rules[key]
        if (programme_id, version) in self._rules:
            return self._rules[(programme_id, version)]
        found = self.purpose_router.get_plan(programme_id, version)
        if found is None:
            raise NotFound("", f"programme {programme_id!r} has no plan version {version}")
        rules = domain.RecordRules(Plan.from_dict(found))
        self._rules[(programme_id, rules.plan.version)] = rules  # never under 0 ("latest")
        return rules

    def _own_submission(self, provider, submission_id: str, for_writing: bool = True) -> Submission:
        sub = self.storage.submission(submission_id)
        if sub.provider_id != provider.id:
            # Same answer as a missing one: another provider's submissions do not exist for you.
            raise NotFound("", f"no submission {submission_id!r}")
        if for_writing and sub.state != "open":
            raise NotNow("", f"submission {submission_id} is {sub.state}; open a new one")
        return sub


def submission_message(storage: IntakeStorage, sub: Submission) -> pb.Submission:
    accepted, rejected = storage.counts(sub.submission_id)
    msg = pb.Submission(
        submission_id=sub.submission_id, provider_id=sub.provider_id,
        programme_id=sub.programme_id, plan_version=sub.plan_version, period=sub.period,
        state=STATES[sub.state], accepted_count=accepted, rejected_count=rejected,
        replaces_submission_id=sub.replaces_submission_id, superseded_by=sub.superseded_by)
    msg.opened_at.FromNanoseconds(int(sub.opened_at * 1e9))
    if sub.sealed_at:
        msg.sealed_at.FromNanoseconds(int(sub.sealed_at * 1e9))
    return msg


def rejection_message(row: int, record_ref: str, field: str, code: str,
                      reason: str) -> pb.RecordRejection:
    """One rejection as stored ([row, record_ref, field, code, reason]) as a message."""
    return pb.RecordRejection(row=row, record_ref=record_ref, field=field, reason=reason,
                              code=pb.RejectionCode.Value(f"REJECTION_CODE_{code.upper()}"))


def content_as_sent(record: pb.Record) -> bytes:
    """A record's bytes but for its row (where it was in the client's file):
    the same record sent from another row is the same record."""
    row = record.row
    if not row:
        return record.SerializeToString(deterministic=True)
    record.ClearField("row")  # for a moment (cheaper than a copy); put back at once
    try:
        return record.SerializeToString(deterministic=True)
    finally:
        record.row = row
