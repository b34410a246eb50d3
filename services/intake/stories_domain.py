"""Tender stories: the rules of their lifecycle (pure: no I/O).

A story is de-identified on arrival and only its redacted text is kept. It can
be used once a person has approved that text, and only for the uses (tender,
reporting, publication) the family consented to and has not withdrawn.

Consent is kept per use as an append-only list of what the family said
(given, withdrawn, given again, ...): the last entry is what holds now, and a
withdrawal is never lost by consenting again."""

from __future__ import annotations

from dataclasses import dataclass, field

from tiaki.core.deidentify import Flag, Redaction, redact, redact_flags
from tiaki.core.errors import Invalid, NotNow
from tiaki.core.stories import HOW, USES  # noqa: F401 (USES: the service and the CLI test read it here)

MAX_STORY_CHARS = 20_000
MAX_TITLE_CHARS = 200
MAX_PERSON_CHARS = 200
MAX_NOTE_CHARS = 200
MAX_REFERENCE_CHARS = 200


def check_story(text: str, max_chars: int = MAX_STORY_CHARS) -> str:
    """The story's text, or Invalid when it is empty or too long."""
    if not text.strip():
        raise Invalid("text", "the story is empty")
    if len(text) > max_chars:
        raise Invalid("text", f"the story has {len(text):,} characters; at most "
                              f"{max_chars:,} are taken (split it, or shorten it)")
    return text


def check_person(value: str, field_name: str) -> str:
    """Who did something: required, one line, not too long."""
    value = value.strip()
    if not value:
        raise Invalid(field_name, "say who (a person's name or role at the provider)")
    if len(value) > MAX_PERSON_CHARS or "\n" in value:
        raise Invalid(field_name, f"one line of at most {MAX_PERSON_CHARS} characters")
    return value


def check_how(value: str, field_name: str) -> str:
    """How consent was given or withdrawn: one of HOW."""
    value = value.strip().lower()
    if value not in HOW:
        raise Invalid(field_name, f"must be one of {', '.join(HOW)}")
    return value


def check_note(value: str, field_name: str) -> str:
    """An optional note about the consent: one line, short, and no direct
    identifier (the family's name, a phone number...), which is refused rather
    than stored."""
    value = value.strip()
    if len(value) > MAX_NOTE_CHARS or "\n" in value:
        raise Invalid(field_name, f"one line of at most {MAX_NOTE_CHARS} characters")
    found = redact(value).identifiers if value else ()
    if found:
        kinds = ", ".join(sorted({i.kind for i in found}))
        raise Invalid(field_name, f"it holds what looks like a direct identifier ({kinds}); "
                                  "describe how without naming or contacting anyone")
    return value


def check_reference(value: str) -> str:
    """An export's reference (a tender's number): optional, one line, short. It
    goes to the Agency with any withdrawal notice."""
    value = value.strip()
    if len(value) > MAX_REFERENCE_CHARS or "\n" in value:
        raise Invalid("reference", f"one line of at most {MAX_REFERENCE_CHARS} characters")
    return value


def check_approved_text(text: str, max_chars: int = MAX_STORY_CHARS) -> str:
    """A reviewer's edit of the redacted text: it may remove more, never put a
    direct identifier back (placeholders themselves are fine)."""
    check_story(text, max_chars)
    again = redact(text)
    if again.identifiers:
        kinds = sorted({i.kind for i in again.identifiers})
        raise Invalid("approved_text", "it still holds what looks like a direct identifier "
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
        raise NotNow("", f"consent for {use} is already recorded for story {story.story_id}")


def can_withdraw(story: StoryStatus, use: str) -> ConsentEntry:
    consent = story.consent(use)
    if consent is None:
        raise NotNow("", f"no consent for {use} was recorded for story {story.story_id}")
    if not consent.given:
        raise NotNow("", f"consent for {use} was already withdrawn for story {story.story_id}")
    return consent


def check_title(title: str) -> str:
    if len(title) > MAX_TITLE_CHARS:
        raise Invalid("title", f"at most {MAX_TITLE_CHARS} characters")
    return title


def flags_of(redaction: Redaction) -> list[dict]:
    """What a reviewer should look at again, as kept with the story, numbered
    from 1 for the reviewer's decisions."""
    return [{"kind": f.kind, "start": f.start, "end": f.end, "text": f.text, "reason": f.reason,
             "number": n} for n, f in enumerate(redaction.flags, 1)]


# Flags that are for information only: a labelled number with a wrong check
# digit was replaced anyway. Every other flag is a quasi-identifier to decide.
FOR_INFORMATION = {"check_digit"}


@dataclass(frozen=True)
class Decision:
    """A reviewer's decision on flag `flag` (its number): take it out, or keep it because..."""
    flag: int
    redact: bool
    reason: str = ""


def _numbered(flags: list[dict]) -> list[dict]:
    """Flags with their numbers (stories stored before flags were numbered have none)."""
    return [dict(f, number=f.get("number") or n) for n, f in enumerate(flags, 1)]


def decide(text: str, flags: list[dict], decisions: list[Decision]) -> tuple[str, list[dict]]:
    """The text approved, with the flags the reviewer takes out replaced by
    numbered placeholders ([PLACE_1]), and every flag with its decision.
    Invalid, changing nothing, when a decision names no flag or one twice, a
    kept flag has no reason, or any quasi-identifier flag is left undecided."""
    flags = _numbered(flags)
    by_number = {f["number"]: f for f in flags}
    decided: dict[int, Decision] = {}
    for d in decisions:
        flag = by_number.get(d.flag)
        if flag is None:
            raise Invalid("decisions", f"there is no flag {d.flag}: the text approved has "
                                       f"{len(flags)} flag{'s' * (len(flags) != 1)}")
        if d.flag in decided:
            raise Invalid("decisions", f"flag {d.flag} is decided twice")
        if flag["kind"] in FOR_INFORMATION:
            raise Invalid("decisions", f"flag {d.flag} ({flag['kind']}) is for information only "
                                       "(the number was replaced); it needs no decision")
        if not d.redact and not d.reason.strip():
            raise Invalid("decisions", f"flag {d.flag} ({flag['kind']} {flag['text']!r}) is kept "
                                       "without a reason: say why it is safe to keep, or redact it")
        decided[d.flag] = Decision(d.flag, d.redact, "" if d.redact else check_note(
            d.reason, f"decisions (the reason for keeping flag {d.flag})"))
    left = [f for f in flags if f["kind"] not in FOR_INFORMATION and f["number"] not in decided]
    if left:
        raise Invalid("decisions", f"{len(left)} flag{'s' * (len(left) != 1)} not decided; "
                                   "redact each or keep it with a reason: " + "; ".join(
                                       f"{f['number']} {f['kind']} {f['text']!r}" for f in left))
    chosen = {i for i, f in enumerate(flags) if decided.get(f["number"], Decision(0, False)).redact}
    approved, moved = redact_flags(text, [Flag(f["kind"], f["start"], f["end"], f["text"],
                                               f["reason"]) for f in flags], chosen)
    out = []
    for flag, where in zip(flags, moved):
        decision = decided.get(flag["number"])
        out.append(dict(flag, start=where.start, end=where.end, text=where.text,
                        action="" if decision is None else "redacted" if decision.redact
                        else "kept", kept_because=decision.reason if decision else ""))
    return approved, out


@dataclass(frozen=True)
class Story:
    """A stored story: only its redacted text, the review, and what the family said."""
    story_id: str
    provider_id: str
    title: str
    state: str  # "awaiting_review" | "approved"
    redacted_text: str
    replaced: dict[str, int]
    flags: list[dict]
    submitted_by: str
    submitted_at: float
    approved_by: str = ""
    approved_at: float | None = None
    consents: list[ConsentEntry] = field(default_factory=list)  # oldest first
    # Withdrawals after an export, per use: the event payload the Agency is owed.
    notices: dict[str, dict] = field(default_factory=dict)
    notices_pending: list[str] = field(default_factory=list)
    agency_notified_at: float | None = None
    history: list[str] = field(default_factory=list)

    @property
    def status(self) -> StoryStatus:
        consents: dict[str, list[ConsentEntry]] = {}
        for entry in self.consents:
            consents.setdefault(entry.use, []).append(entry)
        return StoryStatus(self.story_id, self.state == "approved", consents)


@dataclass(frozen=True)
class Export:
    """One export: which stories left, for which use, when and by whom."""
    export_id: str
    provider_id: str
    use: str
    reference: str
    exported_by: str
    exported_at: float
    story_ids: list[str]


def approved_flags(story: Story, text: str) -> list[dict]:
    """The flags of the text approved: an edit moves what the first ones pointed
    at (and is flagged afresh, numbered afresh)."""
    return _numbered(story.flags) if text == story.redacted_text else flags_of(redact(text))


def check_exportable(stories: list[StoryStatus], use: str) -> None:
    """NotNow naming every story of an export that may not leave for `use`."""
    problems = [f"story {s.story_id}: {why}" for s in stories
                if (why := why_not_usable(s, use))]
    if problems:
        raise NotNow("", "nothing exported; " + "; ".join(problems))


def usable(stories: list[Story], use: str) -> list[Story]:
    """The stories that may leave for `use`; NotNow when there is none."""
    found = [s for s in stories if why_not_usable(s.status, use) is None]
    if not found:
        raise NotNow("", f"no story is approved and consented for {use}; nothing exported")
    return found


def withdrawal_notice(story: Story, use: str, exports: list[Export],
                      withdrawn_at: float) -> dict | None:
    """The event payload the Agency is owed for a withdrawal (None when the
    story never left for `use`)."""
    if not exports:
        return None
    return {"story_id": story.story_id, "provider_id": story.provider_id, "use": use,
            "export_ids": [e.export_id for e in exports],
            "references": [e.reference for e in exports], "withdrawn_at": withdrawn_at}
