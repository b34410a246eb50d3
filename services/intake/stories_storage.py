"""Intake's stories: the redacted text, the review, the family's consents, the
exports and the withdrawal notices still owed to the Agency.

The original text is never stored: the provider keeps it in its own system.
Times are epoch seconds (the embedded store turns a date written by $set into
text)."""

from __future__ import annotations

import json
import time
import uuid

import mongoengine as me

from services.intake.stories_domain import USES, ConsentEntry, StoryStatus
from tiaki.core.deidentify import Redaction


class StoredStory(me.Document):
    meta = {"collection": "stories", "indexes": ["provider_id", "notices_pending"]}
    story_id = me.StringField(primary_key=True)
    provider_id = me.StringField(required=True)
    title = me.StringField(default="")
    state = me.StringField(required=True, choices=("awaiting_review", "approved"))
    redacted_text = me.StringField(required=True)
    replaced = me.DictField()  # {placeholder: count}
    flags = me.ListField(me.DictField())  # [{kind, start, end, text, reason}]
    submitted_by = me.StringField(required=True)
    submitted_at = me.FloatField(required=True)
    approved_by = me.StringField(default="")
    approved_at = me.FloatField()
    # Every consent given or withdrawn, oldest first (JSON text per entry:
    # {use, given, recorded_by, how, note, at}); never rewritten.
    consent_log = me.ListField(me.StringField())
    # {use: "given" | "withdrawn"}: what holds now, so a change is one compare-and-set.
    consent_state = me.DictField()
    # Withdrawals after an export, per use: the event payload the Agency is owed
    # through the broker, kept until the broker takes it.
    notices = me.DictField()
    notices_pending = me.ListField(me.StringField())  # the uses with a notice in `notices`
    notice_claimed_until = me.FloatField()  # one relay (of several instances) sends them
    agency_notified_at = me.FloatField()
    history = me.ListField(me.StringField())  # who did what, when (plain lines)


class StoryExport(me.Document):
    """One export: which stories left, for which use, when and by whom."""
    meta = {"collection": "story_exports", "indexes": ["provider_id", "story_ids"]}
    export_id = me.StringField(primary_key=True)
    provider_id = me.StringField(required=True)
    use = me.StringField(required=True)
    reference = me.StringField(default="")
    exported_by = me.StringField(required=True)
    exported_at = me.FloatField(required=True)
    story_ids = me.ListField(me.StringField())


class NotFound(LookupError):
    pass


def _line(who: str, what: str) -> str:
    return f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {who}: {what}"


def consent_entries(doc: StoredStory) -> list[ConsentEntry]:
    return [ConsentEntry(**json.loads(line)) for line in doc.consent_log or []]


def status(doc: StoredStory) -> StoryStatus:
    consents: dict[str, list[ConsentEntry]] = {}
    for entry in consent_entries(doc):
        consents.setdefault(entry.use, []).append(entry)
    return StoryStatus(doc.story_id, doc.state == "approved", consents)


def _entry(use: str, given: bool, recorded_by: str, how: str, note: str) -> str:
    return json.dumps({"use": use, "given": given, "recorded_by": recorded_by, "how": how,
                       "note": note, "at": time.time()})


class StoryStorage:
    NotFound = NotFound

    def ensure_indexes(self):
        StoredStory.ensure_indexes()
        StoryExport.ensure_indexes()

    def create(self, provider_id: str, title: str, redaction: Redaction,
               submitted_by: str) -> StoredStory:
        doc = StoredStory(
            story_id=str(uuid.uuid4()), provider_id=provider_id, title=title,
            state="awaiting_review", redacted_text=redaction.text, replaced=redaction.counts(),
            flags=[{"kind": f.kind, "start": f.start, "end": f.end, "text": f.text,
                    "reason": f.reason} for f in redaction.flags],
            submitted_by=submitted_by, submitted_at=time.time(),
            history=[_line(submitted_by, "submitted the story (de-identified on arrival)")])
        doc.save(force_insert=True)
        return doc

    def get(self, story_id: str) -> StoredStory:
        doc = StoredStory.objects(story_id=story_id).first()
        if doc is None:
            raise NotFound(story_id)
        return doc

    def for_provider(self, provider_id: str) -> list[StoredStory]:
        return list(StoredStory.objects(provider_id=provider_id).order_by("submitted_at"))

    def approve(self, doc: StoredStory, approved_by: str, text: str,
                flags: list[dict]) -> StoredStory | None:
        """None when someone approved it first. `flags` are those of `text` (an
        edit moves what the first ones pointed at)."""
        changed = StoredStory.objects(story_id=doc.story_id, state="awaiting_review").update_one(
            set__state="approved", set__approved_by=approved_by, set__approved_at=time.time(),
            set__redacted_text=text, set__flags=flags,
            push__history=_line(approved_by, "approved the redacted text"
                                + ("" if text == doc.redacted_text else " (edited)")))
        return self.get(doc.story_id) if changed else None

    def record_consent(self, doc: StoredStory, use: str, recorded_by: str, how: str,
                       note: str) -> StoredStory | None:
        """None when consent for `use` holds already (recorded meanwhile)."""
        changed = StoredStory.objects(  # $in with None: the use may have no state yet
            story_id=doc.story_id, **{f"consent_state__{use}__in": [None, "withdrawn"]}
        ).update_one(**{
            f"set__consent_state__{use}": "given",
            "push__consent_log": _entry(use, True, recorded_by, how, note),
            "push__history": _line(recorded_by, f"recorded the family's consent for {use} "
                                                f"({how})")})
        return self.get(doc.story_id) if changed else None

    def withdraw(self, doc: StoredStory, use: str, recorded_by: str, how: str, note: str,
                 notice: dict | None) -> StoredStory | None:
        """Records the withdrawal and, in the same write, the notice the Agency is
        owed (so a crash cannot lose it). None when it was withdrawn meanwhile."""
        updates = {f"set__consent_state__{use}": "withdrawn",
                   "push__consent_log": _entry(use, False, recorded_by, how, note),
                   "push__history": _line(recorded_by, f"recorded the family's withdrawal of "
                                                       f"consent for {use} ({how})")}
        if notice:
            updates.update({f"set__notices__{use}": notice, "add_to_set__notices_pending": use})
        changed = StoredStory.objects(story_id=doc.story_id,
                                      **{f"consent_state__{use}": "given"}).update_one(**updates)
        return self.get(doc.story_id) if changed else None

    def owe_notice(self, story_id: str, use: str, notice: dict):
        """A notice found owed after the withdrawal was written (an export raced it)."""
        StoredStory.objects(story_id=story_id).update_one(**{
            f"set__notices__{use}": notice, "add_to_set__notices_pending": use})

    def mark_notified(self, story_id: str, use: str, withdrawn_at: float):
        """Clears the notice for `use` only if it is still the one sent: a newer
        withdrawal's notice, written meanwhile, stays owed."""
        StoredStory.objects(story_id=story_id, **{f"notices__{use}__withdrawn_at": withdrawn_at}
                            ).update_one(**{
                                f"unset__notices__{use}": True, "pull__notices_pending": use,
                                "set__agency_notified_at": time.time(),
                                "push__history": _line("tiaki", "told the Agency of the "
                                                                f"withdrawal for {use}")})

    def pending_notices(self, limit: int = 100, claim_for: float = 30) -> list[StoredStory]:
        """Stories with notices owed, each claimed for this caller for
        `claim_for` seconds: every intake instance runs the relay, one sends each."""
        now = time.time()
        claimed = []
        # $in, not equality: the embedded store cannot match an array element by equality.
        for doc in StoredStory.objects(notices_pending__in=list(USES)).limit(limit):
            if (doc.notice_claimed_until or 0) >= now:
                continue
            # Conditional on the value read (None matches a field never written).
            if StoredStory.objects(story_id=doc.story_id,
                                   notice_claimed_until=doc.notice_claimed_until).update_one(
                    set__notice_claimed_until=now + claim_for):
                claimed.append(doc)
        return claimed

    # -- exports -----------------------------------------------------------------------------

    def exports_of(self, story_id: str) -> list[StoryExport]:
        # $in, not equality: the embedded store cannot match an array element by equality.
        return list(StoryExport.objects(story_ids__in=[story_id]).order_by("exported_at"))

    def record_export(self, provider_id: str, use: str, reference: str, exported_by: str,
                      story_ids: list[str]) -> StoryExport:
        export = StoryExport(export_id=str(uuid.uuid4()), provider_id=provider_id, use=use,
                             reference=reference, exported_by=exported_by,
                             exported_at=time.time(), story_ids=story_ids)
        export.save(force_insert=True)
        return export

    def cancel_export(self, export: StoryExport):
        """Undoes an export refused after it was recorded (a withdrawal raced it)."""
        StoryExport.objects(export_id=export.export_id).delete()
