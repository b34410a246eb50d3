"""Which person is told what: the services' notices (their `ListNotices` RPCs,
derived from recorded facts) turned into one notification per person per
subject, for the roles of the organisation kind that each kind of notice is for.
No I/O here; notify.py calls the services and sends."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from services.portal.accounts import Staff


@dataclass(frozen=True)
class Source:
    stub: str                   # the service, as notify.py names its stub
    method: str                 # the RPC that lists what waits for the caller
    org_kinds: tuple[str, ...]  # the organisation kinds that may call it


SOURCES = (
    Source("codesign", "ListNotices", ("provider", "representative", "agency")),
    Source("requests", "ListNotices", ("provider", "unit")),
    Source("outcomes", "ListNotices", ("provider",)),
    Source("unit_outcomes", "ListUnitNotices", ("unit",)),
)

# (organisation kind, notice kind) -> the roles told, the title (all an email says
# besides the date and the link) and the portal page it links to.
ROUTES: dict[tuple[str, str], tuple[tuple[str, ...], str, str]] = {
    ("provider", "invited_to_draft"): (
        ("privacy-officer",), "You are invited to a co-design draft", "/"),
    ("provider", "proposal_to_review"): (
        ("privacy-officer",), "A proposal is open to your review", "/"),
    ("provider", "request_due_soon"): (
        ("privacy-officer",), "A family's request is near its due date",
        "/provider/requests/{subject}"),
    ("provider", "unit_escalated"): (
        ("privacy-officer",), "A unit has not answered a family's request in time",
        "/provider/requests/{subject}"),
    ("provider", "draft_finding_open"): (
        ("privacy-officer",), "A draft finding is open for your reply", "/provider/outcomes"),
    ("provider", "reply_window_closing"): (
        ("privacy-officer",), "Your window to reply to a draft finding is closing",
        "/provider/outcomes"),
    ("representative", "invited_to_draft"): (
        ("representative",), "You are invited to a co-design draft",
        "/representative/drafts/{programme}/{version}"),
    ("representative", "proposal_to_review"): (
        ("representative",), "A proposal is open to your review",
        "/representative/drafts/{programme}/{version}"),
    ("agency", "proposal_to_review"): (
        ("analyst",), "A proposal waits for your decision", "/agency/drafts/{programme}/{version}"),
    ("agency", "item_query"): (
        ("contract-manager",), "A provider queried an agreement item", "/agency/queries"),
    ("unit", "request_due_soon"): (
        ("unit-reviewer",), "A query about a person is near its due date", "/unit"),
    ("unit", "unit_escalated"): (
        ("unit-reviewer",), "Your unit's answer to a query is late", "/unit"),
    ("unit", "correction_to_answer"): (
        ("unit-reviewer",), "A provider corrected a fact in your draft finding", "/"),
}


@dataclass(frozen=True)
class Notification:
    key: str       # once per person per subject: the store keeps it, so it is sent once
    staff: Staff
    title: str     # what the email says, with the date and the link
    what: str      # what the portal's page says (signed in: the service's sentence)
    due: str
    link: str


def notifications(org_kind: str, people: list[Staff], notices) -> list[Notification]:
    """For one organisation's `people` (all of one kind and organisation), what each
    of `notices` (objects with kind, subject, text, due) tells whom. A kind not
    routed for this organisation kind tells nobody; disabled accounts are not told.
    Several notices of one kind and subject (a draft's proposals) make one, the first."""
    out: dict[str, Notification] = {}
    for n in notices:
        route = ROUTES.get((org_kind, n.kind))
        if route is None:
            continue
        roles, title, link = route
        for person in people:
            if person.disabled or person.org_kind != org_kind or not set(roles) & set(person.roles):
                continue
            key = f"{n.kind}|{n.subject}|{person.id}"
            out.setdefault(key, Notification(key, person, title, n.text, n.due, _link(link, n.subject)))
    return list(out.values())


def _link(template: str, subject: str) -> str:
    """The page for a subject: a request id, or a draft's "PROGRAMME@VERSION"."""
    programme, _, version = subject.rpartition("@")
    return template.format(subject=quote(subject, safe=""), programme=quote(programme, safe=""),
                           version=quote(version, safe=""))


def email_text(note: Notification) -> tuple[str, str]:
    """The subject and body of the email: the kind, the date and a link, nothing of a family."""
    when = f" (due {note.due})" if note.due else ""
    return (f"{note.title}{when}",
            f"{note.title}{when}.\n\nOpen it in the tiaki portal: {note.link}\n"
            "(No details are sent by email.)\n")
