"""The rules of a family's access or correction request, as plain functions:
deadlines, the units that must answer, escalation, extensions and transfers
(Privacy Act 2020 ss 43, 44, 48, 65). No I/O here; the service stores the
request and records every step with who did it and when."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from tiaki.core.errors import Invalid, NotFound, NotNow
from tiaki.core.plan import Plan
from tiaki.core.withholding import ground
from tiaki.core.working_days import add_working_days, working_days_until

DECISION_WORKING_DAYS = 20   # s 44
TRANSFER_WORKING_DAYS = 10   # s 43
UNIT_WORKING_DAYS = 5        # our own internal deadline for each holding unit

KINDS = ("access", "correction")
UNIT_OUTCOMES = ("answered", "applied", "refused")


@dataclass(frozen=True)
class UnitPart:
    """One holding unit's share of the work."""
    unit_id: str
    due: dt.date
    outcome: str = ""            # "" while outstanding
    refusal_reason: str = ""     # corrections only
    # What the unit is asked about: [{purpose_id, pseudonym, pseudonyms, delivery_ids}]
    purposes: tuple[dict, ...] = ()

    @property
    def delivery_ids(self) -> set[str]:
        """The deliveries holding this person: the only ones the unit may answer from."""
        return {d for p in self.purposes for d in p["delivery_ids"]}


@dataclass(frozen=True)
class Request:
    kind: str
    received: dt.date
    due: dt.date
    transfer_due: dt.date
    units: tuple[UnitPart, ...]
    original_due: dt.date | None = None
    extension_reasons: str = ""
    transferred_to: str = ""

    @property
    def outstanding(self) -> tuple[str, ...]:
        return tuple(u.unit_id for u in self.units if not u.outcome)

    @property
    def complete(self) -> bool:
        """Complete only when every holding unit has answered: a unit that is
        down keeps the request open, never completing it silently."""
        return not self.outstanding and not self.transferred_to


@dataclass(frozen=True)
class Step:
    """One recorded step of a request: who did what, when (epoch seconds), and
    the staff id of the person who acted for them ("" when none was named)."""
    at: float
    who: str
    what: str
    person: str = ""


STATES = ("open", "complete", "transferred")


@dataclass(frozen=True)
class FamilyRequest:
    """A request as it is held: who opened it for whom, its rules' state
    (`rules`), every step taken, and the version each change counts on."""
    request_id: str
    provider_id: str
    programme_id: str
    requester: str
    authorisation: str
    rules: Request
    state: str
    opened_at: float
    correction: dict | None = None  # {field, current_value, corrected_value, reason}
    escalated: tuple[str, ...] = ()
    completed_at: float | None = None
    history: tuple[Step, ...] = ()
    version: int = 0
    asked_at: float | None = None   # when its outstanding units were last asked

    @property
    def kind(self) -> str:
        return self.rules.kind

    @property
    def units(self) -> tuple[UnitPart, ...]:
        return self.rules.units

    def unit(self, unit_id: str) -> UnitPart | None:
        return next((u for u in self.units if u.unit_id == unit_id), None)

    @property
    def to_assemble(self) -> bool:
        """Every holding unit answered and the family's answer is not assembled yet."""
        return self.state == "open" and self.rules.complete


def must_be_open(found: FamilyRequest, then: str = "") -> None:
    """Only an open request is extended or transferred (`then` says which)."""
    if found.state != "open":
        raise NotNow("", f"request {found.request_id} is {found.state}"
                         + (f"; {then}" if then else ", not open"))


def answer_ready(found: FamilyRequest) -> None:
    """The family's answer is there to read only once the request is complete."""
    if found.state == "transferred":
        raise NotNow("", f"request {found.request_id} was transferred to "
                         f"{found.rules.transferred_to}, which answers it")
    if found.state != "complete":
        raise NotNow("", f"request {found.request_id} is still waiting for: "
                         f"{', '.join(found.rules.outstanding)}")


def answered_as(kind: str, outcome: str) -> str:
    """A unit answering an access request without naming an outcome has answered."""
    return outcome or ("answered" if kind == "access" else "")


def withheld(fields: dict, items: list[tuple[str, str]]) -> list[dict]:
    """A unit's withheld items of one record as kept with its answer:
    [{item, ground}], each under a ground of ss 49-53, each once, and none
    whose value the unit also gave."""
    out: list[dict] = []
    for item, code in items:
        if not item.strip():
            raise Invalid("withheld.item", "name the item withheld")
        if item in fields:
            raise Invalid("withheld.item", f"{item!r} is both given and withheld")
        if any(w["item"] == item for w in out):
            raise Invalid("withheld.item", f"{item!r} is withheld twice")
        # A unit on an earlier SDK may still name a whole section (former codes).
        out.append({"item": item, "ground": ground(code, "withheld.ground", former=True).code})
    return out


def asked(holders: list[dict], pseudonyms: dict[str, list[str]], plan: Plan,
          client_ref: str, programme_id: str,
          correction: dict | None = None) -> dict[str, list[dict]]:
    """What each holding unit is asked about, by unit: [{purpose_id,
    pseudonyms, pseudonym, delivery_ids}]. `holders` are purpose_router's
    [{unit_id, purpose_id, delivery_ids}]; `pseudonyms` the person's, by
    purpose, one per key generation. A correction asks only the units holding
    the field. Nobody holding anything is an answer for an access request
    (the Agency holds nothing); a correction of nothing is refused."""
    if not holders and correction:
        raise NotFound("", f"no records about client {client_ref!r} were sent for "
                           f"{programme_id!r}: there is nothing to correct; check the client "
                           "reference")
    if correction:
        item = plan.item(correction["field"])
        if item is None:
            raise Invalid("", f"{correction['field']!r} is not an item of the plan")
        holders = [h for h in holders if h["purpose_id"] in item.purposes()]
        if not holders:
            raise NotFound("", f"no unit holds {correction['field']!r} about this client")
    by_unit: dict[str, list[dict]] = {}
    for h in holders:
        mine = pseudonyms[h["purpose_id"]]
        # Every generation's pseudonym: a unit holds records under each.
        by_unit.setdefault(h["unit_id"], []).append({
            "purpose_id": h["purpose_id"], "pseudonyms": mine, "delivery_ids": h["delivery_ids"]})
    return by_unit


def query(found: FamilyRequest, unit: UnitPart) -> dict:
    """The query a holding unit gets on its own queue."""
    return {"kind": "query", "request_id": found.request_id, "request_kind": found.kind,
            "unit_id": unit.unit_id, "provider_id": found.provider_id,
            "programme_id": found.programme_id, "purposes": list(unit.purposes),
            "correction": found.correction or None}


def open_request(kind: str, received: dt.date, holders: list[str],
                 unit_working_days: int = UNIT_WORKING_DAYS,
                 purposes: dict[str, list[dict]] | None = None) -> Request:
    """A new request, fanned out to exactly the units that hold the person's
    information (`purposes`: what each is asked about, by unit). A request
    nobody holds anything for is still a request: it completes with the
    answer that the Agency holds nothing."""
    if kind not in KINDS:
        raise Invalid("", f"kind must be one of {', '.join(KINDS)}")
    if len(set(holders)) != len(holders):
        raise Invalid("", "a unit is listed twice")
    unit_due = add_working_days(received, unit_working_days)
    due = add_working_days(received, DECISION_WORKING_DAYS)
    return Request(kind=kind, received=received, due=due, original_due=due,
                   transfer_due=add_working_days(received, TRANSFER_WORKING_DAYS),
                   units=tuple(UnitPart(u, unit_due, purposes=tuple((purposes or {}).get(u, ())))
                               for u in sorted(holders)))


def record_unit_outcome(request: Request, unit_id: str, outcome: str,
                        refusal_reason: str = "") -> Request:
    part = next((u for u in request.units if u.unit_id == unit_id), None)
    if part is None:
        raise Invalid("", f"unit {unit_id} holds nothing for this request")
    if part.outcome:
        raise Invalid("", f"unit {unit_id} has already answered ({part.outcome})")
    allowed = ("answered",) if request.kind == "access" else ("applied", "refused")
    if outcome not in allowed:
        raise Invalid("", f"a {request.kind} request is answered with {' or '.join(allowed)}")
    if outcome == "refused" and not refusal_reason.strip():
        raise Invalid("", "a refused correction needs the reasons")
    parts = tuple(replace(u, outcome=outcome, refusal_reason=refusal_reason.strip())
                  if u.unit_id == unit_id else u for u in request.units)
    return replace(request, units=parts)


def escalated(request: Request, today: dt.date) -> tuple[str, ...]:
    """Units past their internal due date without an answer."""
    return tuple(u.unit_id for u in request.units if not u.outcome and today > u.due)


def working_days_left(request: Request, today: dt.date) -> int:
    """Working days from today until the due date (0 on the due date, negative when late)."""
    return working_days_until(today, request.due)


# What waits for a provider or unit (the portal's notifications), from the recorded facts.
DUE_SOON_WORKING_DAYS = 3


def notices(found: FamilyRequest, today: dt.date, unit_id: str = "") -> list[dict]:
    """An open request's notices: due within DUE_SOON_WORKING_DAYS working days
    (or overdue), and each unit escalated past its internal due date; for a
    unit (`unit_id`), only its own part, and only while it has not answered."""
    if found.state != "open":
        return []
    part = found.unit(unit_id) if unit_id else None
    if unit_id and (part is None or part.outcome):
        return []
    out = []
    left = working_days_left(found.rules, today)
    if left <= DUE_SOON_WORKING_DAYS:
        out.append({"kind": "request_due_soon", "subject": found.request_id,
                    "due": found.rules.due.isoformat(),
                    "text": f"the {found.kind} request is due on {found.rules.due.isoformat()}: "
                            + (f"{left} working day{'' if left == 1 else 's'} left"
                               if left >= 0 else f"{-left} working days late")})
    for late in escalated(found.rules, today):
        if not unit_id or late == unit_id:
            due = found.unit(late).due.isoformat()
            out.append({"kind": "unit_escalated", "subject": found.request_id, "due": due,
                        "text": f"unit {late} has not answered; its part was due on {due}"})
    return out


def extend(request: Request, today: dt.date, new_due: dt.date, reasons: str) -> Request:
    """An extension (s 48 access, s 65 correction) must be notified within the
    original period, with the new due date and the reasons."""
    if today > request.original_due:  # too late is the request's state, not bad input
        raise NotNow("", f"an extension must be made by the original due date "
                         f"{request.original_due.isoformat()}")
    if new_due <= request.due:
        raise Invalid("", f"the new due date must be after {request.due.isoformat()}")
    if not reasons.strip():
        raise Invalid("", "an extension needs the reasons, told to the requester")
    return replace(request, due=new_due, extension_reasons=reasons.strip())


def transfer(request: Request, today: dt.date, agency: str) -> Request:
    """Transferring to another agency (s 43) is due within 10 working days."""
    # Unnamed is bad input whenever it comes; too late is the request's state.
    if not agency.strip():
        raise Invalid("", "name the agency the request is transferred to")
    if today > request.transfer_due:
        raise NotNow("", f"a transfer had to be made by {request.transfer_due.isoformat()}")
    return replace(request, transferred_to=agency.strip())
