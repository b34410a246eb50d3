"""Tender stories: the rules of their lifecycle (pure: no I/O).

A story is de-identified on arrival and only its redacted text is kept. It can
be used once a person has approved that text, and only for the uses (tender,
reporting, publication) the family consented to and has not withdrawn.

Consent is kept per use as an append-only list of what the family said
(given, withdrawn, given again, ...): the last entry is what holds now, and a
withdrawal is never lost by consenting again."""

from __future__ import annotations

from dataclasses import dataclass, field

from tiaki.core.deidentify import redact
from tiaki.core.stories import HOW, USES

MAX_STORY_CHARS = 20_000
MAX_TITLE_CHARS = 200
MAX_PERSON_CHARS = 200
MAX_NOTE_CHARS = 200
MAX_REFERENCE_CHARS = 200


class Refused(ValueError):
    """Bad input: which field, and why."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def check_story(text: str, max_chars: int = MAX_STORY_CHARS) -> str:
    """The story's text, or Refused when it is empty or too long."""
    if not text.strip():
        raise Refused("text", "the story is empty")
    if len(text) > max_chars:
        raise Refused("text", f"the story has {len(text):,} characters; at most "
                              f"{max_chars:,} are taken (split it, or shorten it)")
    return text


def check_person(value: str, field_name: str) -> str:
    """Who did something: required, one line, not too long."""
    value = value.strip()
    if not value:
        raise Refused(field_name, "say who (a person's name or role at the provider)")
    if len(value) > MAX_PERSON_CHARS or "\n" in value:
        raise Refused(field_name, f"one line of at most {MAX_PERSON_CHARS} characters")
    return value


def check_how(value: str, field_name: str) -> str:
    """How consent was given or withdrawn: one of HOW."""
    value = value.strip().lower()
    if value not in HOW:
        raise Refused(field_name, f"must be one of {', '.join(HOW)}")
    return value


def check_note(value: str, field_name: str) -> str:
    """An optional note about the consent: one line, short, and no direct
    identifier (the family's name, a phone number...), which is refused rather
    than stored."""
    value = value.strip()
    if len(value) > MAX_NOTE_CHARS or "\n" in value:
        raise Refused(field_name, f"one line of at most {MAX_NOTE_CHARS} characters")
    found = redact(value).identifiers if value else ()
    if found:
        kinds = ", ".join(sorted({i.kind for i in found}))
        raise Refused(field_name, f"it holds what looks like a direct identifier ({kinds}); "
                                  "describe how without naming or contacting anyone")
    return value


def check_reference(value: str) -> str:
    """An export's reference (a tender's number): optional, one line, short. It
    goes to the Agency with any withdrawal notice."""
    value = value.strip()
    if len(value) > MAX_REFERENCE_CHARS or "\n" in value:
        raise Refused("reference", f"one line of at most {MAX_REFERENCE_CHARS} characters")
    return value


def check_use(use: str) -> str:
    if use not in USES:
        raise Refused("use", f"must be one of {', '.join(USES)}")
    return use


def check_approved_text(text: str, max_chars: int = MAX_STORY_CHARS) -> str:
    """A reviewer's edit of the redacted text: it may remove more, never put a
    direct identifier back (placeholders themselves are fine)."""
    check_story(text, max_chars)
    again = redact(text)
    if again.identifiers:
        kinds = sorted({i.kind for i in again.identifiers})
        raise Refused("approved_text", "it still holds what looks like a direct identifier "
                                       f"({', '.join(kinds)}); replace it with its placeholder")
    return text


@dataclass(frozen=True)
class ConsentEntry:
    """One thing the family said about one use: consent given, or withdrawn."""
    use: str
    given: bool
    recorded_by: str
    how: str
    at: float
    note: str = ""


@dataclass
class StoryStatus:
    """What the rules need to know about a stored story."""
    story_id: str
    approved: bool
    consents: dict[str, list[ConsentEntry]] = field(default_factory=dict)

    def consent(self, use: str) -> ConsentEntry | None:
        """What holds now for `use`: the last entry, or None if none was recorded."""
        entries = self.consents.get(use)
        return entries[-1] if entries else None


def why_not_usable(story: StoryStatus, use: str) -> str | None:
    """None when the story may be used for `use`, else the reason it may not."""
    consent = story.consent(use)
    if not story.approved:
        return "its redacted text has not been approved by a reviewer"
    if consent is None:
        return f"the family has not consented to its use for {use}"
    if not consent.given:
        return f"the family withdrew consent to its use for {use}"
    return None


def can_record_consent(story: StoryStatus, use: str) -> None:
    consent = story.consent(use)
    if consent is not None and consent.given:
        raise Refused("use", f"consent for {use} is already recorded for story {story.story_id}")


def can_withdraw(story: StoryStatus, use: str) -> ConsentEntry:
    consent = story.consent(use)
    if consent is None:
        raise Refused("use", f"no consent for {use} was recorded for story {story.story_id}")
    if not consent.given:
        raise Refused("use", f"consent for {use} was already withdrawn for story {story.story_id}")
    return consent
