"""Tender stories over gRPC, mixed into the intake service.

A provider submits a story; it is de-identified at once and only the redacted
text is stored. A person approves it; the family's consent is recorded per use
and can be withdrawn. An export holds only stories approved and consented for
its use. A withdrawal after an export is owed to the Agency as a broker event,
kept on the story until the broker confirms it (the timer retries)."""

from __future__ import annotations

import logging
import time

from nameko import config
from nameko.timer import timer
from nameko_grpc.entrypoint import Grpc
from prometheus_client import Counter

from services.intake import stories_domain as rules
from services.intake.stories_domain import Story
from services.intake.stories_storage import StoryStorage
from tiaki.core import messages
from tiaki.core.deidentify import redact
from tiaki.core.errors import Invalid, NotFound, NotNow
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


def _use(value: int) -> str:
    if value not in USE_NAMES:
        raise Invalid("use", f"must be one of {', '.join(rules.USES)} (got {value})")
    return USE_NAMES[value]


def _decision(d: pb.FlagDecision) -> rules.Decision:
    if d.action not in (pb.FLAG_ACTION_REDACT, pb.FLAG_ACTION_KEEP):
        raise Invalid("decisions", f"flag {d.flag}: the action must be redact or keep")
    return rules.Decision(d.flag, d.action == pb.FLAG_ACTION_REDACT, d.reason)


ACTIONS = {"": pb.FLAG_ACTION_UNSPECIFIED, "redacted": pb.FLAG_ACTION_REDACT,
           "kept": pb.FLAG_ACTION_KEEP}


def _flag_message(f: dict) -> pb.StoryFlag:
    return pb.StoryFlag(kind=f["kind"], start=f["start"], end=f["end"], text=f["text"],
                        reason=f["reason"], number=f.get("number", 0),
                        action=ACTIONS[f.get("action", "")], kept_because=f.get("kept_because", ""))


def _max_chars() -> int:
    return int(config.get("MAX_STORY_CHARS", rules.MAX_STORY_CHARS))


class StoriesMixin:
    """The stories' gRPC entrypoints. Uses the host service's declared
    dependencies `identities` and `dispatch`, and declares its own `stories`."""

    stories = Storage(StoryStorage)

    @stories_grpc
    def SubmitStory(self, request, context):
        provider = self.identities.require(context, "provider")
        text = rules.check_story(request.text, _max_chars())
        who = rules.check_person(request.submitted_by, "submitted_by")
        rules.check_title(request.title)
        redaction = redact(text)
        title = redact(request.title).text if request.title.strip() else ""
        story = self.stories.create(provider.id, title, redaction, rules.flags_of(redaction), who)
        STORIES_SUBMITTED.inc()
        for kind, n in redaction.counts().items():
            IDENTIFIERS_REPLACED.labels(kind).inc(n)
        return pb.SubmitStoryResponse(story=self._story_message(story))

    @stories_grpc
    def GetStory(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.GetStoryResponse(story=self._story_message(self._own(provider, request.story_id)))

    @stories_grpc
    def ListStories(self, request, context):
        provider = self.identities.require(context, "provider")
        return pb.ListStoriesResponse(stories=[self._story_message(s)
                                               for s in self.stories.for_provider(provider.id)])

    @stories_grpc
    def ApproveStory(self, request, context):
        provider = self.identities.require(context, "provider")
        story = self._own(provider, request.story_id)
        who = rules.check_person(request.approved_by, "approved_by")
        if story.state != "awaiting_review":
            raise NotNow("", f"story {story.story_id} is already approved")
        edited = bool(request.approved_text.strip())
        text = (rules.check_approved_text(request.approved_text, _max_chars())
                if edited else story.redacted_text)
        text, flags = rules.decide(text, rules.approved_flags(story, text),
                                   [_decision(d) for d in request.decisions])
        approved = self.stories.approve(story, who, text, flags, edited)
        if approved is None:
            raise NotNow("", f"story {story.story_id} is already approved")
        return pb.ApproveStoryResponse(story=self._story_message(approved))

    def _consent_change(self, context, request, how_field: str, allowed):
        """The checked parts of a consent given or withdrawn: (story, use, who
        recorded it, how, note); bad input is Invalid, a change the story's
        state does not allow NotNow."""
        provider = self.identities.require(context, "provider")
        story = self._own(provider, request.story_id)
        use = _use(request.use)
        who = rules.check_person(request.recorded_by, "recorded_by")
        how = rules.check_how(getattr(request, how_field), how_field)
        note = rules.check_note(request.note, "note")
        allowed(story.status, use)
        return story, use, who, how, note

    @stories_grpc
    def RecordConsent(self, request, context):
        story, use, who, how, note = self._consent_change(
            context, request, "how_given", rules.can_record_consent)
        recorded = self.stories.record_consent(story, use, who, how, note)
        if recorded is None:
            raise NotNow("", f"consent for {use} is already recorded for story {story.story_id}")
        return pb.RecordConsentResponse(story=self._story_message(recorded))

    @stories_grpc
    def WithdrawConsent(self, request, context):
        story, use, who, how, note = self._consent_change(
            context, request, "how_withdrawn", rules.can_withdraw)
        withdrawn_at = time.time()
        exports = self._exports_for(story, use)
        withdrawn = self.stories.withdraw(
            story, use, who, how, note, rules.withdrawal_notice(story, use, exports, withdrawn_at))
        if withdrawn is None:
            raise NotNow("", f"consent for {use} was already withdrawn for story {story.story_id}")
        # The withdrawal is written first, the exports read after: an export that
        # raced it either sees the withdrawal (and is undone) or is seen here.
        later = self._exports_for(story, use)
        if {e.export_id for e in later} - {e.export_id for e in exports}:
            exports = later
            self.stories.owe_notice(story.story_id, use,
                                    rules.withdrawal_notice(story, use, exports, withdrawn_at))
        WITHDRAWALS.labels(use, str(bool(exports)).lower()).inc()
        told = bool(exports) and self._tell_agency(self.stories.get(story.story_id), use)
        return pb.WithdrawConsentResponse(
            story=self._story_message(self.stories.get(story.story_id)),
            agency_told=told, agency_notice_owed=bool(exports))

    @stories_grpc
    def ExportStories(self, request, context):
        provider = self.identities.require(context, "provider")
        use = _use(request.use)
        who = rules.check_person(request.exported_by, "exported_by")
        reference = rules.check_reference(request.reference)
        if request.story_ids:
            wanted = [self._own(provider, story_id)
                      for story_id in dict.fromkeys(request.story_ids)]
            rules.check_exportable([s.status for s in wanted], use)
        else:
            wanted = rules.usable(self.stories.for_provider(provider.id), use)
        export = self.stories.record_export(provider.id, use, reference, who,
                                            [s.story_id for s in wanted])
        # Recorded first, checked again after: a withdrawal written meanwhile either
        # sees this export (and tells the Agency) or is seen here, and nothing leaves.
        try:
            rules.check_exportable([self.stories.get(s.story_id).status for s in wanted], use)
        except NotNow:
            self.stories.cancel_export(export)
            raise
        STORIES_EXPORTED.labels(use).inc(len(wanted))
        reply = pb.ExportStoriesResponse(
            export_id=export.export_id, use=USE_VALUES[use], reference=export.reference,
            stories=[pb.ExportedStory(story_id=s.story_id, title=s.title, text=s.redacted_text)
                     for s in wanted])
        reply.exported_at.FromNanoseconds(int(export.exported_at * 1e9))
        return reply

    # -- withdrawal notices (an outbox on the story) -----------------------------------------

    @timer(interval=5)
    def tell_agency_of_withdrawals(self):
        """Sends the notices the broker did not take (it was down, or we crashed)."""
        for story in self.stories.pending_notices():
            for use in list(story.notices_pending):
                self._tell_agency(story, use)

    def _tell_agency(self, story: Story, use: str) -> bool:
        """Whether the broker took the notice owed for `use`."""
        notice = story.notices.get(use)
        if not notice:
            return False
        try:
            self.dispatch(messages.STORY_WITHDRAWN, dict(notice))
        except Exception:  # the broker is down: the timer sends it later
            log.warning("withdrawal of story %s stored; telling the Agency later", story.story_id,
                        exc_info=True)
            return False
        self.stories.mark_notified(story.story_id, use, notice["withdrawn_at"])
        return True

    def _exports_for(self, story: Story, use: str) -> list:
        return [e for e in self.stories.exports_of(story.story_id) if e.use == use]

    # -- helpers ------------------------------------------------------------------------------

    def _own(self, provider, story_id: str) -> Story:
        if not story_id.strip():
            raise Invalid("story_id", "required")
        story = self.stories.get(story_id)
        if story.provider_id != provider.id:
            # Another provider's stories do not exist for you.
            raise NotFound("", f"no story {story_id!r}")
        return story

    def _story_message(self, story: Story) -> pb.Story:
        msg = pb.Story(
            story_id=story.story_id, provider_id=story.provider_id, title=story.title,
            state=STATES[story.state], redacted_text=story.redacted_text,
            replaced=story.replaced, flags=[_flag_message(f) for f in story.flags],
            submitted_by=story.submitted_by, approved_by=story.approved_by,
            export_ids=[e.export_id for e in self.stories.exports_of(story.story_id)],
            agency_notice_pending=bool(story.notices_pending))
        msg.submitted_at.FromNanoseconds(int(story.submitted_at * 1e9))
        if story.approved_at:
            msg.approved_at.FromNanoseconds(int(story.approved_at * 1e9))
        if story.agency_notified_at:
            msg.agency_notified_at.FromNanoseconds(int(story.agency_notified_at * 1e9))
        # One Consent per consent given, with the withdrawal that followed it.
        current: dict[str, pb.Consent] = {}
        for entry in story.consents:
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
