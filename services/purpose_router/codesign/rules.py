"""Co-design of a programme's data plan, as plain rules (no I/O).

The Agency drafts a plan version; providers and service-user representatives
propose changes to its items (add, change, remove, with a reason), endorse,
object or comment; the Agency accepts or declines each proposal with a reason.
A draft is published as the agreed plan only when every item has a complete
purpose statement (DPUP's template) and the plan breaks none of the rules
below. Every version has a readable diff against the one before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from tiaki.core.clock import parse_day
from tiaki.core.errors import Invalid, NotFound, NotNow
from tiaki.core.plan import Plan, PlanInvalid, ScheduleItem, item_from_dict, item_to_dict
from tiaki.core.working_days import add_working_days

# Who may take part, by the kind of their API token.
ROLES = {"agency": "agency", "provider": "provider",
         "representative": "service_user_representative"}
CHANGE_KINDS = ("add", "change", "remove")
RESPONSE_KINDS = ("endorse", "object", "comment")
MAX_TEXT = 2000
MAX_READING_GRADE = 8.0
# Unless configured otherwise: a draft is open to participants for four working
# weeks, and a proposal of the Agency's own is open to their review for one.
DRAFT_OPEN_WORKING_DAYS = 20
AGENCY_PROPOSAL_REVIEW_WORKING_DAYS = 5


def role_of(kind: str) -> str:
    return ROLES[kind]


def participant(kind: str, ident: str) -> str:
    return f"{kind}:{ident}"


def parse_participant(text: str) -> str:
    """'provider:ccss' or 'representative:whanau-voice', checked."""
    kind, _, ident = text.strip().partition(":")
    if kind not in ROLES or kind == "agency" or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", ident):
        raise Invalid("participants", f"{text[:80]!r} must be provider:ID or representative:ID")
    return f"{kind}:{ident}"


def require_text(field: str, value: str, limit: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(field, "is required")
    if len(text) > limit:
        raise Invalid(field, f"is longer than {limit} characters")
    return text


# -- the partnership's dates (New Zealand dates, working days as core.working_days) --

def closing_date(asked: str, today: dt.date, working_days: int) -> dt.date:
    """The last day a new draft takes proposals, comments and lessons: the day
    asked for (YYYY-MM-DD, after today), else `working_days` working days on."""
    if not asked:
        return add_working_days(today, working_days)
    day = parse_day(asked, "closes_on")
    if day <= today:
        raise Invalid("closes_on", f"{asked} is not after today ({today.isoformat()}): "
                                   "participants need time to take part")
    return day


def still_open(closes_on: str, today: dt.date, what: str) -> None:
    """NotNow once the draft's closing date has passed ("" : a draft from
    before drafts had one, open until published)."""
    if closes_on and today > dt.date.fromisoformat(closes_on):
        raise NotNow("version", f"the draft closed to participants on {closes_on}: "
                                f"{what} no longer")


def review_until(role: str, proposed_on: dt.date, working_days: int) -> str:
    """The last day of participants' review of a proposal: an Agency proposal's
    review period; "" for a participant's, which the Agency may decide at once."""
    if role != ROLES["agency"]:
        return ""
    return add_working_days(proposed_on, working_days).isoformat()


def may_accept(proposal: dict, today: dt.date) -> None:
    """NotNow while participants are still reviewing an Agency proposal."""
    until = proposal.get("review_until") or ""
    if until and today <= dt.date.fromisoformat(until):
        raise NotNow("proposal_number", (
            f"proposal {proposal['number']} is the Agency's own: participants may review it "
            f"until {until}; it can be accepted from the next day (declined at any time)"))


def waiting(who: str, draft, proposals: list[dict], responses: list[dict],
            today: dt.date) -> list[dict]:
    """What a draft (storage.Draft, still a draft) holds waiting for `who`
    ("agency:agency", "provider:ccss", ...), for the portal's notifications: a
    participant is invited while it is open, and asked to review each open
    proposal of others it has not responded to; the Agency decides each open one."""
    subject = f"{draft.programme_id}@{draft.version}"
    where = f"{draft.programme_id} version {draft.version}"
    is_open = not draft.closes_on or today <= dt.date.fromisoformat(draft.closes_on)
    agency = who.startswith("agency:")
    if not agency and who not in draft.participants:
        return []
    out = []
    if not agency and is_open:
        out.append({"kind": "invited_to_draft", "subject": subject, "due": draft.closes_on,
                    "text": f"you are invited to the draft of {where}"
                            + (f"; it is open until {draft.closes_on}" if draft.closes_on
                               else "")})
    answered = {r["proposal"] for r in responses if r["by"] == who}
    for p in proposals:
        if proposal_state(p["number"], draft.decisions) != "open":
            continue
        review = p.get("review_until") or ""
        what = f"proposal {p['number']} ({p['kind']} {p['item_name']}) on {where}"
        if agency:
            out.append({"kind": "proposal_to_review", "subject": subject, "due": review,
                        "text": f"{what} waits for your decision"
                                + (f" (from the day after {review})" if review else "")})
        elif p["proposed_by"] != who and p["number"] not in answered and (
                is_open or review >= today.isoformat()):
            out.append({"kind": "proposal_to_review", "subject": subject,
                        "due": review or draft.closes_on,
                        "text": f"{what} is open to your review"})
    return out


# -- proposals ----------------------------------------------------------------------

def apply_change(plan: Plan, kind: str, item_name: str, item: dict | None) -> Plan:
    """The plan with one item added, changed or removed; raises when the change
    does not fit this plan (unknown item, an item that already exists, or a
    result that could not be used for routing)."""
    if kind not in CHANGE_KINDS:
        raise Invalid("kind", f"must be one of {', '.join(CHANGE_KINDS)}")
    name = (item_name or "").strip()
    if not name:
        raise Invalid("item_name", "is required")
    data = plan.to_dict()
    names = [i["name"] for i in data["items"]]
    if kind == "add":
        if name in names:
            raise NotNow("item_name", f"item {name!r} is already in the plan; propose a change")
        data["items"].append(_proposed_item(name, item))
    elif name not in names:
        raise NotFound("item_name", f"no item {name!r} in {plan.programme_id} version {plan.version}")
    elif kind == "change":
        new = _proposed_item(name, item)
        if new == next(i for i in data["items"] if i["name"] == name):
            raise Invalid("item", f"the proposed item {name!r} is the same as the current one")
        data["items"][names.index(name)] = new
    else:
        del data["items"][names.index(name)]
    try:
        return Plan.from_dict(data, version=plan.version)
    except PlanInvalid as exc:
        raise Invalid("item", f"the plan would not be usable: {exc}") from None


def _proposed_item(name: str, item: dict | None) -> dict:
    if not item:
        raise Invalid("item", "an add or change needs the item as proposed")
    if item.get("name") and item["name"] != name:
        raise Invalid("item.name", f"{item['name']!r} differs from item_name {name!r} "
                                   "(to rename, remove one item and add another)")
    try:
        return item_to_dict(item_from_dict({**item, "name": name}))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise Invalid("item", f"malformed item: {exc!r}") from None


def proposal_state(number: int, decisions: list[dict]) -> str:
    for d in decisions:
        if d["proposal"] == number:
            return "accepted" if d["accepted"] else "declined"
    return "open"


# -- diffs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    subject: str   # "item wellbeing_end", "purpose evaluation", "unit evaluation", "plan"
    change: str    # added, removed, changed
    field: str = ""
    before: str = ""
    after: str = ""

    @property
    def text(self) -> str:
        if self.change != "changed":
            return f"{self.subject}: {self.change}" + (f" ({self.after or self.before})"
                                                       if self.after or self.before else "")
        return f"{self.subject}: {self.field} changed from {self.before or '(nothing)'} " \
               f"to {self.after or '(nothing)'}"

    def to_dict(self) -> dict:
        return {"subject": self.subject, "change": self.change, "field": self.field,
                "before": self.before, "after": self.after, "text": self.text}


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _fields(subject: str, before: dict, after: dict, skip: tuple = ()) -> list[Difference]:
    out = []
    for key in list(before) + [k for k in after if k not in before]:
        if key in skip:
            continue
        old, new = before.get(key), after.get(key)
        if old != new and (old or new):
            out.append(Difference(subject, "changed", key, _show(old) if old not in (None, "")
                                  else "", _show(new) if new not in (None, "") else ""))
    return out


def _keyed(rows: list[dict], key: str) -> dict[str, dict]:
    return {r[key]: r for r in rows}


def diff_plans(before: dict | None, after: dict) -> list[Difference]:
    """What changed from one plan version to the next, item by item and field
    by field, in the order a reader meets them in the plan."""
    if before is None:
        return [Difference("plan", "added", after=f"first version: {len(after['items'])} items")]
    out: list[Difference] = []
    out += _fields("plan", {"name": before["name"]}, {"name": after["name"]})
    for kind, key, label in (("units", "unit_id", "unit"), ("purposes", "purpose_id", "purpose")):
        old, new = _keyed(before[kind], key), _keyed(after[kind], key)
        for ident in old:
            if ident not in new:
                out.append(Difference(f"{label} {ident}", "removed"))
            else:
                out += _fields(f"{label} {ident}", old[ident], new[ident], skip=(key,))
        out += [Difference(f"{label} {ident}", "added", after=new[ident].get("name", ""))
                for ident in new if ident not in old]
    old_items, new_items = _keyed(before["items"], "name"), _keyed(after["items"], "name")
    for name, old in old_items.items():
        subject = f"item {name}"
        if name not in new_items:
            out.append(Difference(subject, "removed", before=old.get("description", "")))
            continue
        new = new_items[name]
        out += _fields(subject, old, new, skip=("name", "uses"))
        old_uses, new_uses = _keyed(old["uses"], "purpose_id"), _keyed(new["uses"], "purpose_id")
        for pid, use in old_uses.items():
            if pid not in new_uses:
                out.append(Difference(f"{subject}, use for {pid}", "removed"))
            else:
                out += _fields(f"{subject}, use for {pid}", use, new_uses[pid], skip=("purpose_id",))
        out += [Difference(f"{subject}, use for {pid}", "added",
                           after=new_uses[pid].get("explanation", ""))
                for pid in new_uses if pid not in old_uses]
    for name, new in new_items.items():
        if name not in old_items:
            purposes = ", ".join(u["purpose_id"] for u in new["uses"])
            out.append(Difference(f"item {name}", "added", after=f"{new['type']}, for {purposes}"))
    return out


# -- publishing: complete purpose statements and the plan's rules ------------------

@dataclass(frozen=True)
class Problem:
    kind: str      # "missing" (an incomplete purpose statement) or "rule" (a rule broken)
    subject: str   # "item age_band", "purpose evaluation", "plan"
    field: str
    message: str

    @property
    def text(self) -> str:
        return f"{self.subject}: {self.field}: {self.message}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "subject": self.subject, "field": self.field,
                "message": self.message, "text": self.text}


_NUMBER = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)"
RETENTION_PERIOD = re.compile(rf"\b{_NUMBER}\s+(day|week|month|year)s?\b", re.IGNORECASE)
VAGUE_RETENTION = re.compile(r"\b(indefinite(ly)?|forever|permanent(ly)?|as long as|"
                             r"until (it is )?no longer|no longer (needed|required))\b", re.IGNORECASE)
# DPUP: no broad "future-proofing" purposes.
BROAD_PURPOSE = re.compile(
    r"\b((any|all|other|further|such other|unspecified)\s+(future\s+)?(uses?|purposes?)|"
    r"future[- ](uses?|purposes?|research|proof(ing|ed)?)|including but not limited to)\b",
    re.IGNORECASE)
NEGATION = re.compile(r"\b(not|never|no|nor|cannot)\b|n't\b", re.IGNORECASE)
# How far before a broad phrase a negation still rules it out ("never used for any other purpose").
NEGATION_REACH = 4
_COORDINATION = re.compile(r"\b(and|but|or|while|though|although|yet)\b|,", re.IGNORECASE)


def broad_phrase(text: str) -> str:
    """The broad phrase a text uses as a purpose, or "" (a sentence that rules
    it out, "never for any other purpose", is what we want, not a breach).
    Only a negation a few words before the phrase, in the same clause, rules
    it out: "we do not sell it and may use it for any future purpose" is broad."""
    for sentence in re.split(r"(?<=[.!?;])\s+", text or ""):
        for match in BROAD_PURPOSE.finditer(sentence):
            before = _COORDINATION.split(sentence[:match.start()])[-1]
            if not NEGATION.search(" ".join(before.split()[-NEGATION_REACH:])):
                return match.group(0)
    return ""


def publish_problems(plan: Plan) -> list[Problem]:
    """What stops this plan being published as agreed: first what is missing
    from each item's purpose statement, then each rule broken (the families'
    document's reading grade is checked by family_document.publish_problems)."""
    missing: list[Problem] = []
    rules: list[Problem] = []
    units = {u.unit_id: u for u in plan.units}
    purposes = {p.purpose_id: p for p in plan.purposes}
    for p in plan.purposes:
        where = f"purpose {p.purpose_id}"
        if not p.description.strip():
            missing.append(Problem("missing", where, "description", "why it is needed (DPUP: why)"))
        unit = units.get(p.unit_id)
        if unit is None or not unit.name.strip():
            rules.append(Problem("rule", where, "unit_id", "no purpose without a named receiving unit"))
        for text_field in ("name", "description"):
            phrase = broad_phrase(getattr(p, text_field))
            if phrase:
                rules.append(Problem("rule", where, text_field,
                                     f"{phrase!r} is a broad purpose; name the one use"))
        if p.include_slk581 and not p.identifiable_need.strip():
            rules.append(Problem("rule", where, "include_slk581",
                                 "a linkage key can identify people; say why this purpose "
                                 "needs it (identifiable_need) or drop it"))
    for item in plan.items:
        where = f"item {item.name}"
        if not item.description.strip():
            missing.append(Problem("missing", where, "description", "what is collected (DPUP: what)"))
        if not item.choice.strip():
            missing.append(Problem("missing", where, "choice", "the family's choice (DPUP: choice)"))
        if not item.uses:
            missing.append(Problem("missing", where, "uses", "a purpose"))
        receivers = {purposes[u.purpose_id].unit_id for u in item.uses if u.purpose_id in purposes}
        for use in item.uses:
            at = f"{where}, use for {use.purpose_id}"
            purpose = purposes.get(use.purpose_id)
            if purpose is None:
                missing.append(Problem("missing", at, "purpose_id", "a purpose of this plan"))
                continue
            if not purpose.unit_id:
                missing.append(Problem("missing", at, "unit", "a receiving unit"))
            if not purpose.form:
                missing.append(Problem("missing", at, "form", "a form"))
            for name, label in (("retention", "how long it is kept"),
                                ("legal_basis", "the legal basis (DPUP: law)"),
                                ("explanation", "a plain-language explanation")):
                if not getattr(use, name).strip():
                    missing.append(Problem("missing", at, name, label))
            if not use.not_seen_by:
                missing.append(Problem("missing", at, "not_seen_by",
                                       "who will NOT see it (DPUP: who will not have access)"))
            if use.retention.strip():
                vague = VAGUE_RETENTION.search(use.retention)
                if vague or not RETENTION_PERIOD.search(use.retention):
                    rules.append(Problem("rule", at, "retention",
                                         f"{use.retention!r} is not a stated period "
                                         "(e.g. '7 years after the programme ends')"))
            phrase = broad_phrase(use.explanation)
            if phrase:
                rules.append(Problem("rule", at, "explanation",
                                     f"{phrase!r} is a broad purpose; name the one use"))
            if (item.identifying and purpose.form != "aggregate"
                    and not purpose.identifiable_need.strip()):
                rules.append(Problem("rule", at, "form",
                                     f"{item.name} can identify a person, and purpose "
                                     f"{purpose.purpose_id} does not say why it needs that "
                                     "(identifiable_need); send counts, or leave it out"))
            for who in use.not_seen_by:
                named = _unit_named(who, plan)
                if named and named in receivers:
                    rules.append(Problem("rule", at, "not_seen_by",
                                         f"says {who!r} will not see it, but that unit receives it"))
    return missing + rules


def _unit_named(text: str, plan: Plan) -> str:
    lowered = text.strip().lower()
    for u in plan.units:
        if lowered in (u.unit_id.lower(), u.name.strip().lower()):
            return u.unit_id
    return ""


# -- the purpose statement of one item (DPUP's template) ---------------------------

TRANSPARENCY = ("Every time this information goes to a team, and every time someone there "
                "looks at it, it is written in a record your provider can check. "
                "Ask your provider what the Agency holds about you.")


def can_identify(item: ScheduleItem, purpose) -> str:
    if purpose.form == "aggregate":
        return "No. This team only gets totals, like how many families took part. Small numbers are hidden."
    if item.identifying:
        need = purpose.identifiable_need.strip().rstrip(".")
        return f"Yes, it could show who you are. The team needs that because: {need}."
    text = ("Not by name. A code is used in place of your name. The team does not get your "
            "name, address or date of birth.")
    if purpose.include_slk581:
        text += (" They also get a code made from letters of your name and your date of birth. "
                 "That code can sometimes be matched to you.")
    return text


def how_text(purpose) -> str:
    if purpose.form == "aggregate":
        return ("Your provider sends it each quarter. The team only gets counts and totals. "
                "Counts under " f"{max(purpose.suppress_below, 1)} are hidden.")
    return ("Your provider sends it each quarter with a code in place of your name. "
            "The team gets only the items listed for this purpose.")


def not_seen_by(plan: Plan, use) -> list[str]:
    """Who will not see it: the plan's own words, unit ids as unit names."""
    names = {u.unit_id: u.name for u in plan.units}
    return [names.get(who, who) for who in use.not_seen_by]


def purpose_statement(plan: Plan, item_name: str) -> dict:
    """The item's full purpose statement: what, why, how, who will and will not
    see it, whether it can identify a person, how long it is kept, the law,
    the family's choice and how to find out more."""
    item = plan.item(item_name)
    if item is None:
        raise NotFound("item_name", f"no item {item_name!r} in {plan.programme_id} "
                                   f"version {plan.version}")
    units = {u.unit_id: u.name for u in plan.units}
    uses = []
    for use in item.uses:
        purpose = plan.purpose(use.purpose_id)
        uses.append({
            "purpose_id": purpose.purpose_id, "purpose_name": purpose.name,
            "why": purpose.description, "explanation": use.explanation,
            "how": how_text(purpose), "receiving_unit": purpose.unit_id,
            "who_will_see": units.get(purpose.unit_id, purpose.unit_id),
            "who_will_not_see": not_seen_by(plan, use),
            "law": use.legal_basis, "retention": use.retention,
            "can_identify": can_identify(item, purpose),
        })
    return {"item_name": item.name, "what": item.description, "uses": uses,
            "choice": item.choice, "transparency": TRANSPARENCY}
