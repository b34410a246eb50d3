"""Intake's stories: the redacted text, the review, the family's consents, the
exports and the withdrawal notices still owed to the Agency.

The original text is never stored: the provider keeps it in its own system.
Times are epoch seconds (the embedded store turns a date written by $set into
text). A story changes by compare-and-swap of the whole document (its
`revision`), so each change is checked against the story as it is now."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import mongoengine as me

from services.intake.stories_domain import USES, ConsentEntry, Export, Story
from tiaki.core.deidentify import Redaction
from tiaki.core.errors import Conflict, NotFound
from tiaki.plumbing.store import Collection, contains, retrying


class StoredStory(me.Document):
    meta = {"collection": "stories", "indexes": ["provider_id", "notices_pending"]}
    story_id = me.StringField(primary_key=True)
    revision = me.IntField(required=True)  # counted on by every change (compare-and-swap)
    provider_id = me.StringField(required=True)
    title = me.StringField(default="")
    state = me.StringField(required=True, choices=("awaiting_review", "approved"))
    redacted_text = me.StringField(required=True)
    replaced = me.DictField()  # {placeholder: count}
    # [{kind, start, end, text, reason, number}], and once approved the decision
    # on each: action ("redacted", "kept", or "" for information) and kept_because.
    flags = me.ListField(me.DictField())
    submitted_by = me.StringField(required=True)
    submitted_at = me.FloatField(required=True)
    approved_by = me.StringField(default="")
    approved_at = me.FloatField()
    # Every consent given or withdrawn, oldest first ({use, given, recorded_by,
    # how, note, at}); never rewritten.
    consent_log = me.ListField(me.DictField())
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


def _line(who: str, what: str) -> str:
    return f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {who}: {what}"


def _entry(use: str, given: bool, recorded_by: str, how: str, note: str) -> dict:
    return {"use": use, "given": given, "recorded_by": recorded_by, "how": how, "note": note,
            "at": time.time()}


def _story(doc: dict) -> Story:
    return Story(
        story_id=doc["_id"], provider_id=doc["provider_id"], title=doc.get("title") or "",
        state=doc["state"], redacted_text=doc["redacted_text"],
        replaced={k: int(v) for k, v in (doc.get("replaced") or {}).items()},
        flags=list(doc.get("flags") or []), submitted_by=doc["submitted_by"],
        submitted_at=doc["submitted_at"], approved_by=doc.get("approved_by") or "",
        approved_at=doc.get("approved_at"),
        consents=[ConsentEntry(**dict(e, given=bool(e["given"])))
                  for e in doc.get("consent_log") or []],
        notices=dict(doc.get("notices") or {}),
        notices_pending=list(doc.get("notices_pending") or []),
        agency_notified_at=doc.get("agency_notified_at"), history=list(doc.get("history") or []))


def _export(doc: dict) -> Export:
    return Export(export_id=doc["_id"], provider_id=doc["provider_id"], use=doc["use"],
                  reference=doc.get("reference") or "", exported_by=doc["exported_by"],
                  exported_at=doc["exported_at"], story_ids=list(doc.get("story_ids") or []))


class StoryStorage:
    def __init__(self):
        self.stories = Collection(StoredStory)
        self.exports = Collection(StoryExport)

    def ensure_indexes(self):
        StoredStory.ensure_indexes()
        StoryExport.ensure_indexes()

    def create(self, provider_id: str, title: str, redaction: Redaction, flags: list[dict],
               submitted_by: str) -> Story:
        doc = {"_id": str(uuid.uuid4()), "revision": 0, "provider_id": provider_id,
               "title": title, "state": "awaiting_review", "redacted_text": redaction.text,
               "replaced": redaction.counts(), "flags": flags, "submitted_by": submitted_by,
               "submitted_at": time.time(), "consent_log": [], "notices": {},
               "notices_pending": [],
               "history": [_line(submitted_by, "submitted the story (de-identified on arrival)")]}
        self.stories.insert(doc)
        return _story(doc)

    def get(self, story_id: str) -> Story:
        """The story; NotFound when there is none by that id."""
        return _story(self._doc(story_id))

    def for_provider(self, provider_id: str) -> list[Story]:
        return [_story(d) for d in self.stories.find({"provider_id": provider_id},
                                                     sort="submitted_at")]

    def _doc(self, story_id: str) -> dict:
        doc = self.stories.get(story_id)
        if doc is None:
            raise NotFound("", f"no story {story_id!r}")
        return doc

    def _change(self, story_id: str, change: Callable[[dict], bool]) -> Story | None:
        """Applies `change` to the story as it is now and writes it if it says
        so (True); None when it does not. Retried when the story changed meanwhile."""
        def attempt() -> Story | None:
            doc = self._doc(story_id)
            if not change(doc):
                return None
            return _story(self.stories.swap(doc))
        return retrying(attempt, field="story_id", what="the story kept changing; try again")

    def approve(self, story: Story, approved_by: str, text: str, flags: list[dict],
                edited: bool) -> Story | None:
        """None when someone approved it first. `flags` are those of `text` (an
        edit moves what the first ones pointed at), with the reviewer's decisions."""
        def change(doc: dict) -> bool:
            if doc["state"] != "awaiting_review":
                return False
            doc.update(state="approved", approved_by=approved_by, approved_at=time.time(),
                       redacted_text=text, flags=flags)
            decided = [f.get("action") for f in flags]
            doc["history"].append(_line(approved_by, "approved the redacted text" + (
                " (edited)" if edited else "") + (
                f"; flags redacted {decided.count('redacted')}, kept {decided.count('kept')}"
                if any(decided) else "")))
            return True
        return self._change(story.story_id, change)

    def record_consent(self, story: Story, use: str, recorded_by: str, how: str,
                       note: str) -> Story | None:
        """None when consent for `use` holds already (recorded meanwhile)."""
        def change(doc: dict) -> bool:
            if _holds(doc, use):
                return False
            doc["consent_log"].append(_entry(use, True, recorded_by, how, note))
            doc["history"].append(_line(recorded_by, f"recorded the family's consent for {use} "
                                                     f"({how})"))
            return True
        return self._change(story.story_id, change)

    def withdraw(self, story: Story, use: str, recorded_by: str, how: str, note: str,
                 notice: dict | None) -> Story | None:
        """Records the withdrawal and, in the same write, the notice the Agency is
        owed (so a crash cannot lose it). None when it was withdrawn meanwhile."""
        def change(doc: dict) -> bool:
            if not _holds(doc, use):
                return False
            doc["consent_log"].append(_entry(use, False, recorded_by, how, note))
            doc["history"].append(_line(recorded_by, f"recorded the family's withdrawal of "
                                                     f"consent for {use} ({how})"))
            if notice:
                _owe(doc, use, notice)
            return True
        return self._change(story.story_id, change)

    def owe_notice(self, story_id: str, use: str, notice: dict) -> None:
        """A notice found owed after the withdrawal was written (an export raced it)."""
        self._change(story_id, lambda doc: _owe(doc, use, notice))

    def mark_notified(self, story_id: str, use: str, withdrawn_at: float) -> None:
        """Clears the notice for `use` only if it is still the one sent: a newer
        withdrawal's notice, written meanwhile, stays owed."""
        def change(doc: dict) -> bool:
            if (doc.get("notices") or {}).get(use, {}).get("withdrawn_at") != withdrawn_at:
                return False
            del doc["notices"][use]
            doc["notices_pending"] = [u for u in doc["notices_pending"] if u != use]
            doc["agency_notified_at"] = time.time()
            doc["history"].append(_line("tiaki", f"told the Agency of the withdrawal for {use}"))
            return True
        self._change(story_id, change)

    def pending_notices(self, limit: int = 100, claim_for: float = 30) -> list[Story]:
        """Stories with notices owed, each claimed for this caller for
        `claim_for` seconds: every intake instance runs the relay, one sends each."""
        now = time.time()
        claimed = []
        for doc in self.stories.find_any([{"notices_pending": contains(u)} for u in USES])[:limit]:
            if (doc.get("notice_claimed_until") or 0) >= now:
                continue
            try:  # of two relays claiming it, the one that swaps first sends it
                claimed.append(_story(self.stories.swap(dict(doc,
                                                             notice_claimed_until=now + claim_for))))
            except Conflict:
                continue
        return claimed

    # -- exports -----------------------------------------------------------------------------

    def exports_of(self, story_id: str) -> list[Export]:
        return [_export(d) for d in self.exports.find({"story_ids": contains(story_id)},
                                                      sort="exported_at")]

    def record_export(self, provider_id: str, use: str, reference: str, exported_by: str,
                      story_ids: list[str]) -> Export:
        doc = {"_id": str(uuid.uuid4()), "provider_id": provider_id, "use": use,
               "reference": reference, "exported_by": exported_by, "exported_at": time.time(),
               "story_ids": story_ids}
        self.exports.insert(doc)
        return _export(doc)

    def cancel_export(self, export: Export) -> None:
        """Undoes an export refused after it was recorded (a withdrawal raced it)."""
        self.exports.delete(export.export_id)


def _holds(doc: dict, use: str) -> bool:
    """Whether the family's consent for `use` holds now (its last word was yes)."""
    said = [e for e in doc.get("consent_log") or [] if e["use"] == use]
    return bool(said) and said[-1]["given"]


def _owe(doc: dict, use: str, notice: dict) -> bool:
    doc.setdefault("notices", {})[use] = notice
    if use not in doc["notices_pending"]:
        doc["notices_pending"].append(use)
    return True

