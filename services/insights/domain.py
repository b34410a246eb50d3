"""The rules of insights as plain functions: what an outcome of information
use must say, which deliveries a unit may cite, when a draft evaluation
finding may be published (the provider's right of reply, counted in Privacy
Act working days: not before each provider's window closes unless it said the
finding may go early, and never while a correction of fact waits for the
Agency's response), and when an evaluation measure is agreed.

No I/O here: `today` (a New Zealand date) and `now` (epoch seconds) are always
passed in, so every window can be tested on any day. Refusals are tiaki's
error kinds (tiaki/core/errors.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace

from tiaki.core.clock import parse_day
from tiaki.core.errors import Invalid, NotFound, NotNow
from tiaki.core.working_days import add_working_days, working_days_until

OUTCOME_KINDS = ("decision", "advice", "report", "evaluation_finding", "policy_or_service_change")
FINDING = "evaluation_finding"
RESPONSE_KINDS = ("agree", "correct_fact", "add_context")
CORRECTION = "correct_fact"
RESOLUTIONS = ("accepted", "declined")  # the Agency's response to a correction of fact
PARTY_KINDS = ("agency", "provider", "representative")
STANCES = ("endorse", "object")

# The right of reply, unless configured otherwise: two working weeks.
REVIEW_WORKING_DAYS = 10
TITLE_MAX, TEXT_MAX, AUDIENCE_MAX, REF_MAX = 200, 5000, 200, 100
MAX_CITED = 1000


@dataclass(frozen=True)
class Step:
    """One line of a record's history: who did what, when (epoch seconds), and
    the staff id of the person who acted for them ("" when none was named)."""
    at: float
    who: str
    what: str
    person: str = ""


def period(date_from: str, date_to: str, required: bool) -> tuple[str, str]:
    """A period of dates as YYYY-MM-DD (either end open unless `required`)."""
    if required and not date_from:
        raise Invalid("date_from", "is required")
    if required and not date_to:
        raise Invalid("date_to", "is required")
    start = parse_day(date_from, "date_from") if date_from else None
    end = parse_day(date_to, "date_to") if date_to else None
    if start and end and start > end:
        raise Invalid("date_to", f"{date_to} is before date_from {date_from}")
    return date_from, date_to


def _text(value: str, field: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise Invalid(field, "is required")
    if len(value) > limit:
        raise Invalid(field, f"is {len(value)} characters; at most {limit}")
    return value


# -- outcomes ------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeDraft:
    """What a unit says when it records an outcome."""
    kind: str
    title: str
    summary: str
    date: str
    audience: str
    delivery_ids: tuple[str, ...] = ()
    submission_ids: tuple[str, ...] = ()
    measure_ids: tuple[str, ...] = ()
    outcome_ref: str = ""


def check_outcome(draft: OutcomeDraft, today: dt.date) -> OutcomeDraft:
    """The draft trimmed and checked; raises Invalid naming the first bad field."""
    if draft.kind not in OUTCOME_KINDS:
        raise Invalid("kind", f"must be one of {', '.join(OUTCOME_KINDS)}")
    title = _text(draft.title, "title", TITLE_MAX)
    summary = _text(draft.summary, "summary", TEXT_MAX)
    audience = _text(draft.audience, "audience", AUDIENCE_MAX)
    ref = _text(draft.outcome_ref, "outcome_ref", REF_MAX, required=False)
    if parse_day(draft.date, "date") > today:
        raise Invalid("date", f"{draft.date} is in the future; record an outcome once it has happened")
    deliveries = _ids(draft.delivery_ids, "delivery_ids")
    submissions = _ids(draft.submission_ids, "submission_ids")
    if not deliveries and not submissions:
        raise Invalid("delivery_ids", "name the deliveries or submissions that informed it")
    if len(deliveries) + len(submissions) > MAX_CITED:
        raise Invalid("delivery_ids", f"at most {MAX_CITED} deliveries and submissions")
    measures = _ids(draft.measure_ids, "measure_ids")
    if draft.kind == FINDING and not measures:
        raise Invalid("measure_ids", "an evaluation finding names the agreed measures it uses")
    if draft.kind != FINDING and measures:
        raise Invalid("measure_ids", "only an evaluation finding names measures")
    return replace(draft, title=title, summary=summary, audience=audience, outcome_ref=ref,
                   delivery_ids=deliveries, submission_ids=submissions, measure_ids=measures)


def _ids(values, field: str) -> tuple[str, ...]:
    out = []
    for value in values:
        value = value.strip()
        if not value:
            raise Invalid(field, "has an empty entry")
        if value not in out:
            out.append(value)
    return tuple(out)


def unreceived(draft: OutcomeDraft, received: list[dict]) -> tuple[list[str], list[str]]:
    """The cited deliveries and submissions the unit never received
    (`received`: the unit's own delivery entries from the ledger)."""
    deliveries = {d["delivery_id"] for d in received}
    submissions = {d["submission_id"] for d in received}
    return ([d for d in draft.delivery_ids if d not in deliveries],
            [s for s in draft.submission_ids if s not in submissions])


@dataclass(frozen=True)
class Citation:
    """One delivery an outcome cites, and the purpose it was delivered for."""
    delivery_id: str
    provider_id: str
    programme_id: str
    submission_id: str
    purpose_id: str
    purpose_name: str = ""
    period: str = ""  # the reporting period of its submission, e.g. 2026Q3


def citations(draft: OutcomeDraft, received: list[dict]) -> tuple[Citation, ...]:
    """Every delivery the outcome cites, a whole submission standing for each
    of its deliveries to the unit: once each, in delivery id order."""
    wanted = set(draft.delivery_ids)
    submissions = set(draft.submission_ids)
    keep = {d["delivery_id"]: d for d in received
            if d["delivery_id"] in wanted or d["submission_id"] in submissions}
    return tuple(Citation(**{k: keep[i][k] for k in ("delivery_id", "provider_id",
                                                       "programme_id", "submission_id",
                                                       "purpose_id")}, period=keep[i].get("period", ""))
                 for i in sorted(keep))


def purpose_name(plan: dict, purpose_id: str) -> str:
    """A purpose's name in a plan (its id when the plan does not name it)."""
    for purpose in plan.get("purposes", []):
        if purpose["purpose_id"] == purpose_id:
            return purpose.get("name") or purpose_id
    return purpose_id


def check_finding_measures(measure_ids: tuple[str, ...], measures: dict[str, Measure],
                           programme_ids: set[str]) -> None:
    """A finding may use only agreed measures of a programme whose data informed it."""
    for measure_id in measure_ids:
        measure = measures.get(measure_id)
        if measure is None or measure.programme_id not in programme_ids:
            raise Invalid("measure_ids", f"no measure {measure_id!r} for "
                                         f"{' or '.join(sorted(programme_ids))}")
        if measure.state != "agreed":
            raise NotNow("measure_ids", f"measure {measure_id} ({measure.name!r}) is not agreed "
                                        "yet; a finding may use only agreed measures")


# -- the right of reply ---------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    kind: str
    text: str
    at: float
    person: str = ""  # the provider's person who replied
    # A correction of fact: the Agency's response ("accepted", the finding
    # revised; or "declined", with its reasons shown beside it), when, by whom.
    resolution: str = ""
    resolution_reason: str = ""
    resolved_at: float | None = None
    resolved_by_person: str = ""

    @property
    def awaits_agency(self) -> bool:
        return self.kind == CORRECTION and not self.resolution


@dataclass(frozen=True)
class Review:
    """One provider's right of reply on a draft finding about its data."""
    provider_id: str
    shared_on: dt.date
    respond_by: dt.date
    responses: tuple[Response, ...] = ()
    may_publish_early: bool = False  # the provider said it may go before its window closes


def open_reviews(provider_ids: Iterable[str], today: dt.date,
                 working_days: int = REVIEW_WORKING_DAYS) -> tuple[Review, ...]:
    """A draft is shared with every provider whose data informed it on the
    day it is recorded; each may respond until the window's last working day."""
    respond_by = add_working_days(today, working_days)
    return tuple(Review(p, today, respond_by) for p in sorted(set(provider_ids)))


def respond(review: Review, kind: str, text: str, today: dt.date, now: float,
            person: str = "", may_publish_early: bool = False) -> Review:
    """A reply within the window; its `may_publish_early` (the latest reply's
    word) says whether the finding may be published before the window closes."""
    if kind not in RESPONSE_KINDS:
        raise Invalid("kind", f"must be one of {', '.join(RESPONSE_KINDS)}")
    text = _text(text, "text", TEXT_MAX, required=kind != "agree")
    if today > review.respond_by:
        raise NotNow("", f"the review window closed on {review.respond_by.isoformat()}")
    return replace(review, responses=review.responses + (Response(kind, text, now, person),),
                   may_publish_early=may_publish_early)


def publication_blockers(state: str, reviews: tuple[Review, ...], today: dt.date) -> list[str]:
    """Why the finding cannot be published today; empty when it can. Each
    provider's window must have closed, unless it said the finding may go
    early; and every correction of fact needs the Agency's response first."""
    if state != "draft":
        return [f"it is {state}, not a draft"]
    blockers = [f"{r.provider_id} may respond until {r.respond_by.isoformat()} and has not "
                "said it may be published earlier"
                for r in reviews if today <= r.respond_by and not r.may_publish_early]
    blockers += [f"{r.provider_id}'s correction of fact {n} ({x.text!r}) awaits the Agency's "
                 "response: accept it and revise the finding, or decline it with reasons"
                 for r in reviews for n, x in enumerate(r.responses, start=1) if x.awaits_agency]
    return blockers


# -- an outcome, recorded and changed ------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """An outcome as kept: what the unit said, whom it reaches, and its history.
    `version` counts its changes; every change is told to its providers again."""
    outcome_id: str
    outcome_ref: str
    unit_id: str
    kind: str
    title: str
    summary: str
    date: str
    audience: str
    citations: tuple[Citation, ...]
    provider_ids: tuple[str, ...]
    programme_ids: tuple[str, ...]
    measure_ids: tuple[str, ...]
    state: str
    recorded_at: float
    changed_at: float
    reviews: tuple[Review, ...] = ()
    history: tuple[Step, ...] = ()
    published_at: float | None = None
    version: int = 1
    recorded_by_person: str = ""   # staff ids of the unit's people who recorded and published it
    published_by_person: str = ""


def new_outcome(outcome_id: str, unit_id: str, draft: OutcomeDraft, received: list[dict],
                purpose_name: Callable[[str, str], str], measures: dict[str, Measure],
                today: dt.date, review_days: int, now: float, person: str = "") -> Outcome:
    """The outcome a checked draft records. `received`: the unit's delivery
    entries for what it cites; `purpose_name(programme_id, purpose_id)`;
    `measures`: the measures the draft names. An evaluation finding starts as
    a draft shared with each provider for reply; any other outcome is told."""
    deliveries, submissions = unreceived(draft, received)
    if deliveries or submissions:
        never = ([f"deliveries {', '.join(deliveries)}"] if deliveries else []) + (
            [f"submissions {', '.join(submissions)}"] if submissions else [])
        raise NotFound("", f"unit {unit_id} never received {'; nor '.join(never)}: an outcome "
                           "cites only deliveries its unit received")
    cites = tuple(replace(c, purpose_name=purpose_name(c.programme_id, c.purpose_id))
                  for c in citations(draft, received))
    programmes = tuple(sorted({c.programme_id for c in cites}))
    providers = tuple(sorted({c.provider_id for c in cites}))
    state, reviews, what = "recorded", (), "recorded the outcome"
    if draft.kind == FINDING:
        check_finding_measures(draft.measure_ids, measures, set(programmes))
        state, what = "draft", "shared the draft finding for reply"
        reviews = open_reviews(providers, today, review_days)
    return Outcome(
        outcome_id=outcome_id, outcome_ref=draft.outcome_ref, unit_id=unit_id, kind=draft.kind,
        title=draft.title, summary=draft.summary, date=draft.date, audience=draft.audience,
        citations=cites, provider_ids=providers, programme_ids=programmes,
        measure_ids=draft.measure_ids, state=state, recorded_at=now, changed_at=now,
        reviews=reviews, history=(Step(now, unit_id, what, person),),
        recorded_by_person=person)


def _changed(outcome: Outcome, step: Step, **changes) -> Outcome:
    return replace(outcome, **changes, changed_at=step.at, history=outcome.history + (step,))


def publish(outcome: Outcome | None, outcome_id: str, unit_id: str, today: dt.date,
            now: float, person: str = "") -> Outcome:
    """The unit's draft finding, published with the providers' responses once
    each provider has responded or its window has closed."""
    if outcome is None or outcome.unit_id != unit_id:
        raise NotFound("", f"no outcome {outcome_id!r} recorded by unit {unit_id}")
    if outcome.kind != FINDING:
        raise NotNow("", f"outcome {outcome.outcome_id} is a {outcome.kind}, told to providers "
                         "when recorded; only an evaluation finding is published")
    blockers = publication_blockers(outcome.state, outcome.reviews, today)
    if blockers:
        raise NotNow("", f"finding {outcome.outcome_id} cannot be published yet: "
                         + "; ".join(blockers))
    return _changed(outcome, Step(now, unit_id, "published the finding with the providers' "
                                                "responses", person),
                    state="published", published_at=now, published_by_person=person)


def reply(outcome: Outcome | None, outcome_id: str, provider_id: str, kind: str, text: str,
          today: dt.date, now: float, person: str = "",
          may_publish_early: bool = False) -> Outcome:
    """A provider's response to a draft finding about its data, within its window."""
    if outcome is None or provider_id not in outcome.provider_ids:
        raise NotFound("", f"no outcome {outcome_id!r}")
    if outcome.kind != FINDING:
        raise NotNow("", f"outcome {outcome.outcome_id} is a {outcome.kind}; only a draft "
                         "evaluation finding takes a reply")
    if outcome.state != "draft":
        raise NotNow("", f"finding {outcome.outcome_id} is already {outcome.state}")
    reviews = tuple(respond(r, kind, text, today, now, person, may_publish_early)
                    if r.provider_id == provider_id else r for r in outcome.reviews)
    early = "; it may be published before the window closes" if may_publish_early else ""
    return _changed(outcome, Step(now, provider_id, f"responded: {kind.replace('_', ' ')}"
                                  + early, person), reviews=reviews)


def resolve_correction(outcome: Outcome | None, outcome_id: str, unit_id: str,
                       provider_id: str, number: int, accept: bool, reason: str,
                       revised_summary: str, revised_title: str, now: float,
                       person: str = "") -> Outcome:
    """The Agency's response to a provider's correction of fact (its `number`th
    reply): accepted, with the finding revised (a new summary, and title if
    given); or declined, with reasons that are shown beside the correction."""
    if outcome is None or outcome.unit_id != unit_id:
        raise NotFound("", f"no outcome {outcome_id!r} recorded by unit {unit_id}")
    if outcome.state != "draft":
        raise NotNow("", f"finding {outcome.outcome_id} is already {outcome.state}")
    review = next((r for r in outcome.reviews if r.provider_id == provider_id), None)
    if review is None or not 1 <= number <= len(review.responses):
        raise NotFound("response_number", f"no reply {number} from {provider_id!r} on "
                                          f"finding {outcome.outcome_id}")
    correction = review.responses[number - 1]
    if correction.kind != CORRECTION:
        raise NotNow("response_number", f"reply {number} from {provider_id} is not a "
                                        "correction of fact")
    if correction.resolution:
        raise NotNow("response_number", f"the correction was already {correction.resolution}")
    changes: dict = {}
    if accept:
        summary = _text(revised_summary, "revised_summary", TEXT_MAX)
        title = _text(revised_title, "revised_title", TITLE_MAX, required=False) or outcome.title
        if (summary, title) == (outcome.summary, outcome.title):
            raise Invalid("revised_summary", "an accepted correction revises the finding: "
                                             "give the summary as corrected")
        reason = _text(reason, "reason", TEXT_MAX, required=False)
        changes = {"summary": summary, "title": title}
    else:
        reason = _text(reason, "reason", TEXT_MAX)  # the reasons are shown beside it
    verdict = "accepted" if accept else "declined"
    resolved = replace(correction, resolution=verdict, resolution_reason=reason,
                       resolved_at=now, resolved_by_person=person)
    reviews = tuple(replace(r, responses=tuple(resolved if i == number - 1 else x
                                               for i, x in enumerate(r.responses)))
                    if r is review else r for r in outcome.reviews)
    what = (f"{verdict} {provider_id}'s correction of fact"
            + (" and revised the finding" if accept else f": {reason}"))
    return _changed(outcome, Step(now, unit_id, what, person), reviews=reviews, **changes)


# What waits for a provider or unit (the portal's notifications), from the recorded facts.
CLOSING_WORKING_DAYS = 2


def notices(outcome: Outcome, today: dt.date, provider_id: str = "") -> list[dict]:
    """A draft finding's notices. For a provider (`provider_id`): open for its
    reply while it has not replied, and its window closing within
    CLOSING_WORKING_DAYS working days unless it said the finding may go early.
    For the unit that recorded it: each correction of fact awaiting its response."""
    if outcome.kind != FINDING or outcome.state != "draft":
        return []
    title = outcome.title
    if not provider_id:
        return [{"kind": "correction_to_answer", "subject": outcome.outcome_id, "due": "",
                 "text": f"{r.provider_id} corrected a fact in {title!r}: accept it and "
                         "revise the finding, or decline it with reasons"}
                for r in outcome.reviews for x in r.responses if x.awaits_agency]
    review = next((r for r in outcome.reviews if r.provider_id == provider_id), None)
    if review is None or today > review.respond_by:
        return []
    due, out = review.respond_by.isoformat(), []
    if not review.responses:
        out.append({"kind": "draft_finding_open", "subject": outcome.outcome_id, "due": due,
                    "text": f"the draft finding {title!r} is open for your reply until {due}"})
    if (working_days_until(today, review.respond_by) <= CLOSING_WORKING_DAYS
            and not review.may_publish_early):
        out.append({"kind": "reply_window_closing", "subject": outcome.outcome_id, "due": due,
                    "text": f"your window to reply to {title!r} closes on {due}"})
    return out


def view(outcome: Outcome, provider_id: str | None = None) -> dict:
    """An outcome as plain data, as events and other services carry it. A
    provider's view holds only its own citations and its own review; a unit's
    (provider_id None) holds all."""
    def mine(item) -> bool:
        return provider_id is None or item.provider_id == provider_id

    return {
        "outcome_id": outcome.outcome_id, "outcome_ref": outcome.outcome_ref,
        "unit_id": outcome.unit_id, "kind": outcome.kind, "title": outcome.title,
        "summary": outcome.summary, "date": outcome.date, "audience": outcome.audience,
        "state": outcome.state, "version": outcome.version,
        "informed_by": [asdict(c) for c in outcome.citations if mine(c)],
        "measure_ids": list(outcome.measure_ids),
        "reviews": [review_data(r) for r in outcome.reviews if mine(r)],
        "recorded_at": outcome.recorded_at, "published_at": outcome.published_at,
        "recorded_by_person": outcome.recorded_by_person,
        "published_by_person": outcome.published_by_person,
    }


def agency_view(outcome: Outcome, today: dt.date) -> dict:
    """An outcome as the Agency sees it: whole (every provider's citations and
    replies, the units' responses to corrections), and for a draft finding the
    last day of its reply windows and what stands in the way of publishing it
    today. Only an Agency caller is given this view: never a provider or a
    representative (a provider's view is `view(outcome, provider_id)`)."""
    draft = outcome.kind == FINDING and outcome.state == "draft"
    blockers = publication_blockers(outcome.state, outcome.reviews, today) if draft else []
    closes = max((r.respond_by for r in outcome.reviews), default=None) if draft else None
    return {"outcome": view(outcome), "reply_window_closes": closes.isoformat() if closes else "",
            "publication_blockers": blockers, "may_publish": draft and not blockers}


# ListAgencyOutcomes: outcomes a page (0 asks for the default; more than the most is refused).
DEFAULT_PAGE, MAX_PAGE = 100, 500


def page_size(asked: int) -> int:
    if not 0 <= asked <= MAX_PAGE:
        raise Invalid("page_size", f"page_size must be 0 ({DEFAULT_PAGE}) to {MAX_PAGE}, "
                                   f"got {asked}")
    return asked or DEFAULT_PAGE


def page_token(outcome: Outcome) -> str:
    """Where the next page of the Agency's list starts: after this outcome."""
    return f"{outcome.date}|{outcome.recorded_at!r}|{outcome.outcome_id}"


def read_page_token(token: str) -> tuple[str, float, str] | None:
    """The (date, recorded_at, outcome_id) a page_token starts after; None for none;
    Invalid for one we did not give."""
    if not token:
        return None
    try:
        date, recorded_at, outcome_id = token.split("|")
        dt.date.fromisoformat(date)
        if not outcome_id:
            raise ValueError(token)
        return date, float(recorded_at), outcome_id
    except ValueError:
        raise Invalid("page_token", "page_token is not one we gave out") from None


def review_data(review: Review) -> dict:
    """A review as plain data: dates as YYYY-MM-DD."""
    return {"provider_id": review.provider_id, "shared_on": review.shared_on.isoformat(),
            "respond_by": review.respond_by.isoformat(),
            "responses": [asdict(x) for x in review.responses],
            "may_publish_early": review.may_publish_early}


# -- evaluation measures -----------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


@dataclass(frozen=True)
class Position:
    party: Party
    stance: str
    reason: str
    at: float
    person: str = ""  # the party's person who took it


@dataclass(frozen=True)
class Measure:
    measure_id: str
    programme_id: str
    name: str
    definition: str
    proposed_by: Party
    positions: tuple[Position, ...] = ()
    state: str = "proposed"
    agreed_by: tuple[Party, ...] = ()
    agreed_at: float | None = None
    history: tuple[Step, ...] = ()
    version: int = 1


def propose(measure_id: str, programme_id: str, name: str, definition: str, reason: str,
            party: Party, now: float, person: str = "") -> Measure:
    """A new measure; proposing it is the proposer's endorsement."""
    if party.kind not in PARTY_KINDS:
        raise Invalid("party", f"measures are co-defined by {', '.join(PARTY_KINDS)}")
    measure = Measure(measure_id, programme_id, _text(name, "name", TITLE_MAX),
                      _text(definition, "definition", TEXT_MAX), party,
                      history=(Step(now, str(party), "proposed the measure", person),))
    return take_position(measure, party, "endorse", _text(reason, "reason", TEXT_MAX), now,
                         person)


def take_position(measure: Measure, party: Party, stance: str, reason: str,
                  now: float, person: str = "") -> Measure:
    """A party endorses or objects; its latest position replaces its earlier one."""
    if stance not in STANCES:
        raise Invalid("stance", f"must be one of {', '.join(STANCES)}")
    reason = _text(reason, "reason", TEXT_MAX, required=stance == "object")
    if measure.state == "agreed":
        raise NotNow("", f"measure {measure.measure_id} ({measure.name!r}) is already agreed; "
                         "propose a new measure to change it")
    positions = tuple(p for p in measure.positions if p.party != party) + (
        Position(party, stance, reason, now, person),)
    return settle(replace(measure, positions=positions), now)


def respond_to_measure(measure: Measure, party: Party, stance: str, reason: str,
                       now: float, person: str = "") -> Measure:
    """A party's position taken, and written in the measure's history."""
    changed = take_position(measure, party, stance, reason, now, person)
    what = f"{stance.removesuffix('e')}ed" + (f": {reason.strip()}" if reason.strip() else "")
    return replace(changed, history=changed.history + (Step(now, str(party), what, person),))


def still_needed(measure: Measure) -> list[str]:
    """What stands between a measure and agreement, in words."""
    endorsing = {p.party.kind for p in measure.positions if p.stance == "endorse"}
    needed = [f"an endorsement from {'the Agency' if k == 'agency' else 'a ' + k}"
              for k in PARTY_KINDS if k not in endorsing]
    needed += [f"{p.party.kind} {p.party.id} objects: {p.reason}"
               for p in measure.positions if p.stance == "object"]
    return needed


def settle(measure: Measure, now: float) -> Measure:
    """Agreed once the Agency, a provider and a service-user representative
    endorse it and nobody's objection stands."""
    if measure.state == "agreed" or still_needed(measure):
        return measure
    return replace(measure, state="agreed", agreed_at=now,
                   agreed_by=tuple(p.party for p in measure.positions))
