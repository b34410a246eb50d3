"""Tender stories over gRPC, mixed into the intake service.

A provider submits a story; it is de-identified at once and only the redacted
text is stored. A person approves it; the family's consent is recorded per use
and can be withdrawn. An export holds only stories approved and consented for
its use. A withdrawal after an export is owed to the Agency as a broker event,
kept on the story until the broker confirms it (the timer retries)."""

from __future__ import annotations

import logging
import time

from grpc import StatusCode
from nameko import config
from nameko.timer import timer
from nameko_grpc.entrypoint import Grpc
from nameko_grpc.errors import GrpcError
from prometheus_client import Counter

from services.intake import stories_domain as rules
from services.intake.stories_storage import StoredStory, StoryStorage, consent_entries, status
from tiaki.core import messages
from tiaki.core.deidentify import redact
from tiaki.intake.v1 import stories_pb2 as pb
from tiaki.intake.v1.stories_pb2_grpc import StoriesServiceStub
from tiaki.plumbing.store import Storage

log = logging.getLogger(__name__)
stories_grpc = Grpc.implementing(StoriesServiceStub)

# The uses are the domain's; each must have its value in the contract (StoryUse).
USE_VALUES = {use: pb.StoryUse.Value(f"STORY_USE_{use.upper()}") for use in rules.USES}
USE_NAMES = {value: use for use, value in USE_VALUES.items()}
STATES = {"awaiting_review": pb.STORY_STATE_AWAITING_REVIEW, "approved": pb.STORY_STATE_APPROVED}

STORIES_SUBMITTED = Counter("tiaki_intake_stories_submitted_total", "Stories submitted")
IDENTIFIERS_REPLACED = Counter("tiaki_intake_story_identifiers_replaced_total",
                               "Direct identifiers replaced in submitted stories", ["kind"])
STORIES_EXPORTED = Counter("tiaki_intake_stories_exported_total", "Stories exported", ["use"])
WITHDRAWALS = Counter("tiaki_intake_story_withdrawals_total", "Consents withdrawn",
                      ["use", "after_export"])


def _invalid(exc: rules.Refused) -> GrpcError:
    return GrpcError(StatusCode.INVALID_ARGUMENT, f"{exc.field}: {exc.reason}")


def _use(value: int) -> str:
    if value not in USE_NAMES:
        raise GrpcError(StatusCode.INVALID_ARGUMENT,
                        f"use: must be one of {', '.join(rules.USES)} (got {value})")
    return USE_NAMES[value]


class StoriesMixin:
    """Needs the service's `identities` and `dispatch` dependencies."""

    stories = Storage(StoryStorage)

    @stories_grpc
    def SubmitStory(self, request, context):
        provider = self.identities.require(context, "provider")
        max_chars = int(config.get("MAX_STORY_CHARS", rules.MAX_STORY_CHARS))
        try:
            text = rules.check_story(request.text, max_chars)
            who = rules.check_person(request.submitted_by, "submitted_by")
            if len(request.title) > rules.MAX_TITLE_CHARS:
                raise rules.Refused("title", f"at most {rules.MAX_TITLE_CHARS} characters")
        except rules.Refused as exc:
            raise _invalid(exc) from None
        redaction = redact(text)
        title = redact(request.title).text if request.title.strip() else ""
        doc = self.stories.create(provider.id, title, redaction, who)
        STORIES_SUBMITTED.inc()
        for kind, n in redaction.counts().items():
            IDENTIFIERS_REPLACED.labels(kind).inc(n)
        return pb.SubmitStoryResponse(story=self._story_message(doc))

    @stories_grpc
    def GetStory(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.GetStoryResponse(story=self._story_message(self._own(provider, request.story_id)))

    @stories_grpc
    def ListStories(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.ListStoriesResponse(stories=[self._story_message(d)
                                               for d in self.stories.for_provider(provider.id)])

    @stories_grpc
    def ApproveStory(self, request, context):
        provider = self.identities.require(context, "provider")
        doc = self._own(provider, request.story_id)
        max_chars = int(config.get("MAX_STORY_CHARS", rules.MAX_STORY_CHARS))
        try:
            who = rules.check_person(request.approved_by, "approved_by")
            text = (rules.check_approved_text(request.approved_text, max_chars)
                    if request.approved_text.strip() else doc.redacted_text)
        except rules.Refused as exc:
            raise _invalid(exc) from None
        # An edit moves what the flags pointed at: they are those of the text approved.
        flags = (list(doc.flags or []) if text == doc.redacted_text else
                 [{"kind": f.kind, "start": f.start, "end": f.end, "text": f.text,
                   "reason": f.reason} for f in redact(text).flags])
        approved = (self.stories.approve(doc, who, text, flags)
                    if doc.state == "awaiting_review" else None)
        if approved is None:
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"story {doc.story_id} is already approved")
        return pb.ApproveStoryResponse(story=self._story_message(approved))

    def _consent_change(self, context, request, how_field: str, allowed):
        """The checked parts of a consent given or withdrawn: (story, use, who
        recorded it, how, note); bad input is INVALID_ARGUMENT, a change the
        story's state does not allow FAILED_PRECONDITION."""
        provider = self.identities.require(context, "provider")
        doc = self._own(provider, request.story_id)
        use = _use(request.use)
        try:
            who = rules.check_person(request.recorded_by, "recorded_by")
            how = rules.check_how(getattr(request, how_field), how_field)
            note = rules.check_note(request.note, "note")
        except rules.Refused as exc:
            raise _invalid(exc) from None
        try:
            allowed(status(doc), use)
        except rules.Refused as exc:
            raise GrpcError(StatusCode.FAILED_PRECONDITION, exc.reason) from None
        return doc, use, who, how, note

    @stories_grpc
    def RecordConsent(self, request, context):
        doc, use, who, how, note = self._consent_change(
            context, request, "how_given", rules.can_record_consent)
        recorded = self.stories.record_consent(doc, use, who, how, note)
        if recorded is None:
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"consent for {use} is already recorded for story {doc.story_id}")
        return pb.RecordConsentResponse(story=self._story_message(recorded))

    @stories_grpc
    def WithdrawConsent(self, request, context):
        doc, use, who, how, note = self._consent_change(
            context, request, "how_withdrawn", rules.can_withdraw)
        withdrawn_at = time.time()
        exports = self._exports_for(doc, use)
        withdrawn = self.stories.withdraw(doc, use, who, how, note,
                                          self._notice(doc, use, exports, withdrawn_at))
        if withdrawn is None:
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            f"consent for {use} was already withdrawn for story {doc.story_id}")
        # The withdrawal is written first, the exports read after: an export that
        # raced it either sees the withdrawal (and is undone) or is seen here.
        later = self._exports_for(doc, use)
        if {e.export_id for e in later} - {e.export_id for e in exports}:
            exports = later
            self.stories.owe_notice(doc.story_id, use,
                                    self._notice(doc, use, exports, withdrawn_at))
        WITHDRAWALS.labels(use, str(bool(exports)).lower()).inc()
        told = bool(exports) and self._tell_agency(self.stories.get(doc.story_id), use)
        return pb.WithdrawConsentResponse(story=self._story_message(self.stories.get(doc.story_id)),
                                          agency_told=told, agency_notice_owed=bool(exports))

    @stories_grpc
    def ExportStories(self, request, context):
        provider = self.identities.require(context, "provider")
        use = _use(request.use)
        try:
            who = rules.check_person(request.exported_by, "exported_by")
            reference = rules.check_reference(request.reference)
        except rules.Refused as exc:
            raise _invalid(exc) from None
        if request.story_ids:
            wanted = []
            problems = []
            for story_id in dict.fromkeys(request.story_ids):
                doc = self._own(provider, story_id)
                why = rules.why_not_usable(status(doc), use)
                if why:
                    problems.append(f"story {story_id}: {why}")
                wanted.append(doc)
            if problems:
                raise GrpcError(StatusCode.FAILED_PRECONDITION,
                                "nothing exported; " + "; ".join(problems))
        else:
            wanted = [d for d in self.stories.for_provider(provider.id)
                      if rules.why_not_usable(status(d), use) is None]
            if not wanted:
                raise GrpcError(StatusCode.FAILED_PRECONDITION,
                                f"no story is approved and consented for {use}; nothing exported")
        export = self.stories.record_export(provider.id, use, reference, who,
                                            [d.story_id for d in wanted])
        # Recorded first, checked again after: a withdrawal written meanwhile either
        # sees this export (and tells the Agency) or is seen here, and nothing leaves.
        problems = [f"story {d.story_id}: {why}" for d in wanted
                    if (why := rules.why_not_usable(status(self.stories.get(d.story_id)), use))]
        if problems:
            self.stories.cancel_export(export)
            raise GrpcError(StatusCode.FAILED_PRECONDITION,
                            "nothing exported; " + "; ".join(problems))
        STORIES_EXPORTED.labels(use).inc(len(wanted))
        reply = pb.ExportStoriesResponse(
            export_id=export.export_id, use=USE_VALUES[use], reference=export.reference,
            stories=[pb.ExportedStory(story_id=d.story_id, title=d.title, text=d.redacted_text)
                     for d in wanted])
        reply.exported_at.FromNanoseconds(int(export.exported_at * 1e9))
        return reply

    # -- withdrawal notices (an outbox on the story) -----------------------------------------

    @timer(interval=5)
    def tell_agency_of_withdrawals(self):
        """Sends the notices the broker did not take (it was down, or we crashed)."""
        for doc in self.stories.pending_notices():
            for use in list(doc.notices_pending):
                self._tell_agency(doc, use)

    def _tell_agency(self, doc: StoredStory, use: str) -> bool:
        """Whether the broker took the notice owed for `use`."""
        notice = (doc.notices or {}).get(use)
        if not notice:
            return False
        try:
            self.dispatch(messages.STORY_WITHDRAWN, dict(notice))
        except Exception:  # the broker is down: the timer sends it later
            log.warning("withdrawal of story %s stored; telling the Agency later", doc.story_id,
                        exc_info=True)
            return False
        self.stories.mark_notified(doc.story_id, use, notice["withdrawn_at"])
        return True

    def _exports_for(self, doc: StoredStory, use: str) -> list:
        return [e for e in self.stories.exports_of(doc.story_id) if e.use == use]

    @staticmethod
    def _notice(doc: StoredStory, use: str, exports: list, withdrawn_at: float) -> dict | None:
        if not exports:
            return None
        return {"story_id": doc.story_id, "provider_id": doc.provider_id, "use": use,
                "export_ids": [e.export_id for e in exports],
                "references": [e.reference for e in exports], "withdrawn_at": withdrawn_at}

    # -- helpers ------------------------------------------------------------------------------

    def _own(self, provider, story_id: str) -> StoredStory:
        if not story_id.strip():
            raise GrpcError(StatusCode.INVALID_ARGUMENT, "story_id: required")
        try:
            doc = self.stories.get(story_id)
        except self.stories.NotFound:
            raise GrpcError(StatusCode.NOT_FOUND, f"no story {story_id!r}") from None
        if doc.provider_id != provider.id:
            # Another provider's stories do not exist for you.
            raise GrpcError(StatusCode.NOT_FOUND, f"no story {story_id!r}")
        return doc

    def _story_message(self, doc: StoredStory) -> pb.Story:
        msg = pb.Story(
            story_id=doc.story_id, provider_id=doc.provider_id, title=doc.title or "",
            state=STATES[doc.state], redacted_text=doc.redacted_text,
            replaced={k: int(v) for k, v in (doc.replaced or {}).items()},
            flags=[pb.StoryFlag(**f) for f in doc.flags or []],
            submitted_by=doc.submitted_by, approved_by=doc.approved_by or "",
            export_ids=[e.export_id for e in self.stories.exports_of(doc.story_id)],
            agency_notice_pending=bool(doc.notices_pending))
        msg.submitted_at.FromNanoseconds(int(doc.submitted_at * 1e9))
        if doc.approved_at:
            msg.approved_at.FromNanoseconds(int(doc.approved_at * 1e9))
        if doc.agency_notified_at:
            msg.agency_notified_at.FromNanoseconds(int(doc.agency_notified_at * 1e9))
        # One Consent per consent given, with the withdrawal that followed it.
        current: dict[str, pb.Consent] = {}
        for entry in consent_entries(doc):
            if entry.given:
                consent = msg.consents.add(use=USE_VALUES[entry.use], recorded_by=entry.recorded_by,
                                           how_given=entry.how, note_given=entry.note)
                consent.recorded_at.FromNanoseconds(int(entry.at * 1e9))
                current[entry.use] = consent
            elif entry.use in current:
                consent = current.pop(entry.use)
                consent.withdrawn_recorded_by = entry.recorded_by
                consent.how_withdrawn = entry.how
                consent.note_withdrawn = entry.note
                consent.withdrawn_at.FromNanoseconds(int(entry.at * 1e9))
        return msg
