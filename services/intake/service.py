"""Intake: the providers' gRPC ingress for submissions of client-level records.

Records are validated against the plan version the submission is bound to,
stripped to the declared fields, given per-purpose pseudonyms, stored batch by
batch, and handed to purpose_router as events through an outbox."""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict

from eventlet.semaphore import Semaphore
from grpc import StatusCode
from nameko import config
from nameko.extensions import DependencyProvider
from nameko.rpc import ServiceRpc
from nameko.timer import timer
from nameko_grpc.entrypoint import Grpc
from nameko_grpc.errors import GrpcError
from prometheus_client import Counter

from services.intake import domain
from services.intake.keys_service import KeysMixin
from services.intake.storage import IntakeStorage
from services.intake.stories_service import StoriesMixin
from tiaki.core import messages
from tiaki.core.periods import PERIOD
from tiaki.core.plan import Plan
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1.intake_pb2_grpc import IntakeServiceStub
from tiaki.plumbing import broker
from tiaki.plumbing.dead_letter import rpc
from tiaki.plumbing.health import HealthMixin
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.metrics import Metrics
from tiaki.plumbing.store import Storage

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

NOT_AGREED = {"declined": "you declined it", "queried": "you queried it and have not accepted it",
              "not decided": "you have not accepted it"}
STATES = {"open": pb.SUBMISSION_STATE_OPEN, "sealed": pb.SUBMISSION_STATE_SEALED}


def reason_kind(reason: str) -> str:
    """A short label for metrics: never the value, never the person."""
    if reason.startswith("not declared"):
        return "undeclared_field"
    if reason.startswith("not agreed"):
        return "not_agreed"
    if reason.startswith("required"):
        return "missing"
    if "outside" in reason:
        return "out_of_range"
    if "is not one of" in reason:
        return "not_allowed_value"
    return "bad_format"


class SubmissionView:
    """What this process knows of one submission's accepted record refs, and
    the highest batch slot it has seen."""

    def __init__(self, submission_id: str):
        self.submission_id = submission_id
        self.lock = Semaphore()
        self.slot: int | None = None  # None: nothing read yet
        self.refs: set[str] = set()
        self.closed = False  # the seal's slot is among those read

    def refresh(self, storage: IntakeStorage):
        """Adds the batches other instances (or streams) stored since."""
        self.slot, new, closed = storage.refs_after(self.submission_id, self.slot)
        self.refs |= new
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


class IntakeService(KeysMixin, StoriesMixin, HealthMixin):
    name = "intake"

    storage = Storage(IntakeStorage)
    identities = Identities()
    metrics = Metrics()
    dispatch = broker.JsonEventDispatcher()
    purpose_router = ServiceRpc("purpose_router")
    open_submissions = OpenSubmissions()

    _rules: dict = {}  # plan versions never change once created, so cache forever

    # -- gRPC ------------------------------------------------------------------

    @grpc
    def OpenSubmission(self, request, context):
        provider = self.identities.require(context, "provider")
        if not PERIOD.fullmatch(request.period):
            raise GrpcError(StatusCode.INVALID_ARGUMENT,
                            f"period must look like 2026Q3, got {request.period[:20]!r}")
        # Version 0 means the latest; the submission is bound to the concrete version.
        plan = self._plan_rules(request.programme_id, request.plan_version).plan
        terms = self._terms(provider.id, plan.programme_id, plan.version, request.period)
        # The submission keeps the agreement version it opened under: its batches
        # and its seal are checked and routed under those terms, whatever changes later.
        sub = self.storage.open_submission(provider.id, request.programme_id,
                                           plan.version, request.period,
                                           agreement_version=terms["agreement_version"])
        return pb.OpenSubmissionResponse(submission=submission_message(self.storage, sub))

    @grpc
    def SubmitRecords(self, request_stream, context):
        provider = self.identities.require(context, "provider")
        max_batch = int(config.get("MAX_BATCH_RECORDS", 5000))
        max_rejections = int(config.get("MAX_REJECTIONS_RETURNED", 1000))
        summary = pb.SubmitRecordsResponse()
        sub = None
        for batch in request_stream:
            if sub is None or batch.submission_id != sub.submission_id:
                sub = self._own_submission(provider, batch.submission_id)
                withheld = self._terms(provider.id, sub.programme_id, sub.plan_version,
                                       sub.period, sub.agreement_version)["withheld"]
            if len(batch.records) > max_batch:
                raise GrpcError(StatusCode.INVALID_ARGUMENT,
                                f"a batch may hold at most {max_batch} records, this one has "
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
        with self.open_submissions.lock(sub.submission_id):
            if not self.storage.seal(sub.submission_id):
                raise GrpcError(StatusCode.FAILED_PRECONDITION,
                                f"submission {sub.submission_id} is already sealed")
            self.storage.close_batches(sub.submission_id)
        self.open_submissions.forget(sub.submission_id)
        self._publish_seal(self.storage.submission(sub.submission_id))
        return pb.SealSubmissionResponse(
            submission=submission_message(self.storage, self.storage.submission(sub.submission_id)))

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
        for entry_id, batch_id, text in self.storage.claim_unpublished_batches(older_than):
            self.dispatch(messages.RECORDS_ACCEPTED, text)
            self.storage.drop_outbox_entry(entry_id)
            self.storage.mark_published(batch_id)
            BATCHES_PUBLISHED.labels(json.loads(text)["programme_id"], "outbox").inc()
        for sub in self.storage.claim_unpublished_seals(older_than):
            self._publish_seal(sub)

    # -- the work ----------------------------------------------------------------

    def _accept_batch(self, sub, records, withheld: dict | None = None):
        rules = self._plan_rules(sub.programme_id, sub.plan_version, withheld)
        plan: Plan = rules.plan
        keys = {p.purpose_id: self.storage.pseudonym_key(plan.programme_id, p.purpose_id)
                for p in plan.purposes}
        checked: dict[int, tuple[dict | None, list]] = {}  # kept if the slot must be taken again
        view = self.open_submissions.view(sub.submission_id)
        with view.lock:
            for attempt in range(SLOT_ATTEMPTS):
                # Read again only when a slot was lost: slots are taken in order,
                # so taking the next one proves no other batch came since (and
                # the seal's slot, taken after it marks the submission sealed,
                # is not before ours: the seal lists this batch).
                if view.slot is None or attempt:
                    view.refresh(self.storage)
                if view.closed or self.storage.submission(sub.submission_id).state != "open":
                    raise GrpcError(StatusCode.FAILED_PRECONDITION,
                                    f"submission {sub.submission_id} is sealed; open a new one")
                rejections, reasons, accepted, refs = [], [], [], []
                duplicates = 0
                in_batch = set()
                for i, record in enumerate(records):
                    ref = record.record_ref
                    if ref in view.refs or ref in in_batch:
                        duplicates += 1
                        continue
                    if i not in checked:
                        checked[i] = self._check_record(rules, keys, sub, record)
                    row, problems = checked[i]
                    if problems:
                        rejections.extend(pb.RecordRejection(record_ref=ref, field=f, reason=r)
                                          for f, r in problems)
                        reasons.append(reason_kind(problems[0][1]))
                        continue
                    in_batch.add(ref)
                    accepted.append(row)
                    refs.append(ref)
                if not accepted and not reasons:
                    return 0, duplicates, 0, []
                payload = {
                    "submission_id": sub.submission_id, "provider_id": sub.provider_id,
                    "programme_id": sub.programme_id, "plan_version": sub.plan_version,
                    "period": sub.period, "agreement_version": sub.agreement_version,
                    "records": accepted,
                }
                slot = view.slot + 1
                try:
                    batch_id, text = self.storage.store_batch(sub.submission_id, slot, refs,
                                                              len(reasons), payload)
                except self.storage.SlotTaken:
                    log.info("slot %s of %s taken by another instance; checking again",
                             slot, sub.submission_id)
                    continue
                view.slot = slot
                view.refs.update(refs)
                break
            else:
                raise GrpcError(StatusCode.ABORTED,
                                f"submission {sub.submission_id} is taking batches too fast to "
                                "store this one; send it again (its duplicates are counted)")
        for reason in reasons:
            RECORDS_REJECTED.labels(plan.programme_id, reason).inc()
        RECORDS_ACCEPTED.labels(plan.programme_id).inc(len(accepted))
        RECORDS_DUPLICATE.labels(plan.programme_id).inc(duplicates)
        if accepted:
            self._publish_batch(batch_id, plan.programme_id, text)
        return len(accepted), duplicates, len(reasons), rejections

    def _check_record(self, rules, keys, sub, record) -> tuple[dict | None, list]:
        """(the row to send, []) or (None, [(field, reason)])."""
        fields, problems = rules.check(record.record_ref, record.client_ref, dict(record.fields))
        slk = None
        if not problems and rules.needs_slk581 and record.HasField("identity"):
            ident = record.identity
            try:
                slk = domain.slk581(ident.family_name, ident.given_name,
                                    ident.date_of_birth, ident.sex)
            except domain.Rejected as exc:
                problems.append(("identity", str(exc)))
        if problems:
            return None, problems
        row = {"pseudonyms": {pid: domain.pseudonym(key, sub.provider_id, record.client_ref)
                              for pid, key in keys.items()},
               "fields": fields}
        if slk:
            row["slk581"] = slk
        return row, []

    def _publish_batch(self, batch_id, programme_id, text):
        try:
            self.dispatch(messages.RECORDS_ACCEPTED, text)
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
            self.dispatch(messages.SUBMISSION_SEALED, {
                "submission_id": sub.submission_id, "provider_id": sub.provider_id,
                "programme_id": sub.programme_id, "plan_version": sub.plan_version,
                "period": sub.period, "agreement_version": sub.agreement_version,
                "accepted_count": accepted,
                "batch_ids": self.storage.published_batch_ids(sub.submission_id),
            })
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
        if terms.get("problem") or (terms["agreement_required"]
                                    and not terms["agreement_version"]):
            raise GrpcError(StatusCode.FAILED_PRECONDITION, terms.get("problem") or (
                f"{provider_id} has no agreement to {programme_id} version {version} "
                f"for {period}: accept or decline its items first"))
        return terms

    def _plan_rules(self, programme_id: str, version: int,
                    withheld: dict | None = None) -> domain.RecordRules:
        if withheld:
            key = (programme_id, version, tuple(sorted(withheld.items())))
            if key not in self._rules:
                plan = self._plan_rules(programme_id, version).plan
                self._rules[key] = domain.RecordRules(plan, frozenset(withheld), {
                    name: f"not agreed: {NOT_AGREED.get(why, why)} in your agreement "
                          "(never stored or forwarded)" for name, why in withheld.items()})
            return self._rules[key]
        if (programme_id, version) in self._rules:
            return self._rules[(programme_id, version)]
        found = self.purpose_router.get_plan(programme_id, version)
        if found is None:
            raise GrpcError(StatusCode.NOT_FOUND,
                            f"programme {programme_id!r} has no plan version {version}")
        rules = domain.RecordRules(Plan.from_dict(found))
        self._rules[(programme_id, rules.plan.version)] = rules  # never under 0 ("latest")
        return rules

    def _own_submission(self, provider, submission_id, for_writing=True):
        try:
            sub = self.storage.submission(submission_id)
        except self.storage.NotFound:
            raise GrpcError(StatusCode.NOT_FOUND, f"no submission {submission_id!r}") from None
        if sub.provider_id != provider.id:
            # Same answer as a missing one: another provider's submissions do not exist for you.
            raise GrpcError(StatusCode.NOT_FOUND, f"no submission {submission_id!r}")
        if for_writing and sub.state != "open":
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"submission {submission_id} is sealed; open a new one")
        return sub


def submission_message(storage: IntakeStorage, sub) -> pb.Submission:
    accepted, rejected = storage.counts(sub.submission_id)
    msg = pb.Submission(
        submission_id=sub.submission_id, provider_id=sub.provider_id,
        programme_id=sub.programme_id, plan_version=sub.plan_version, period=sub.period,
        state=STATES[sub.state], accepted_count=accepted, rejected_count=rejected)
    msg.opened_at.FromNanoseconds(int(sub.opened_at * 1e9))
    if sub.sealed_at:
        msg.sealed_at.FromNanoseconds(int(sub.sealed_at * 1e9))
    return msg
