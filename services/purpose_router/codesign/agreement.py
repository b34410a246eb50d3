"""A provider's item-by-item agreement to an agreed plan, as plain rules (no I/O).

For its contract, a provider accepts, declines or queries each schedule item.
Only accepted items are ever collected from it: intake refuses the rest like
undeclared fields and routing works from the plan without them. Every change
makes a new agreement version; the first applies to every reporting period, a
later one from the reporting period after the one in which it was made, so a
quarter already under way is never collected under two sets of terms; and
none applies to a period the provider has already collected (under any plan
version): what families were told for that period stays true.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from services.purpose_router.codesign.rules import require_text
from tiaki.core.clock import now_iso, nz_today
from tiaki.core.errors import Invalid, NotFound, NotNow
from tiaki.core.periods import next_period, period_of
from tiaki.core.plan import Plan

DECISIONS = ("accept", "decline", "query")
WITHHELD_BECAUSE = {"decline": "declined", "query": "queried"}
NOT_DECIDED = "not decided"


def decide(plan: Plan, previous: dict | None, choices: list[dict], decided_by: str,
           caller: str, now: dt.datetime, person: str = "") -> dict | None:
    """The next agreement version after `previous` with these choices
    ({item_name, decision, note}), or None when nothing changes. Each item
    keeps who decided it (`decided_by`, else the acting `person`'s staff id)
    and when until it is decided again."""
    decided_by = require_text("decided_by", decided_by or person, 200)
    if not choices:
        raise Invalid("choices", "decide on at least one item")
    seen: set[str] = set()
    for c in choices:
        name = c["item_name"]
        if plan.item(name) is None:
            raise NotFound("choices.item_name",
                          f"no item {name!r} in {plan.programme_id} version {plan.version}")
        if name in seen:
            raise Invalid("choices.item_name", f"item {name!r} is decided twice in one request")
        seen.add(name)
        if c["decision"] not in DECISIONS:
            raise Invalid("choices.decision", f"item {name!r}: decision must be accept, "
                                              "decline or query")
        if len(c.get("note") or "") > 2000:
            raise Invalid("choices.note", f"item {name!r}: the note is longer than 2000 characters")
    number = previous["number"] + 1 if previous else 1
    items = {d["item_name"]: d for d in (previous["items"] if previous else [])}
    at = now_iso(now)
    changed = False
    for c in choices:
        note = (c.get("note") or "").strip()
        old = items.get(c["item_name"])
        if old and old["decision"] == c["decision"] and old["note"] == note:
            continue
        changed = True
        items[c["item_name"]] = {"item_name": c["item_name"], "decision": c["decision"],
                                 "note": note, "decided_by": decided_by, "caller": caller,
                                 "person": person, "decided_at": at, "since_version": number}
    if not changed:
        return None
    order = [i.name for i in plan.items]
    return {
        "programme_id": plan.programme_id, "plan_version": plan.version, "number": number,
        # The first version covers every period; a change waits for the next one.
        "applies_from": "" if number == 1 else next_period(period_of(nz_today(now))),
        "made_at": at, "made_by": decided_by, "caller": caller, "person": person,
        "items": sorted(items.values(), key=lambda d: order.index(d["item_name"])),
    }


def first_period(proposed: str, collected: list[dict], asked: str = "") -> str:
    """The first period a new agreement version governs: `proposed` (decide's
    rule; "" is every period) moved past every period already collected
    (`collected`: {period, plan_version, agreement_version}), or the period
    `asked` for, refused when it is earlier than that."""
    earliest = proposed
    if collected:
        earliest = max(earliest, next_period(max(c["period"] for c in collected)))
    if not asked:
        return earliest
    if asked < earliest:
        first = next((c for c in collected if c["period"] == asked), None)
        if first is not None:
            raise NotNow("applies_from", (
                f"{asked} was already collected (under plan version {first['plan_version']}"
                + (f", agreement version {first['agreement_version']}"
                   if first["agreement_version"] else ", with no agreement")
                + f"); an agreement made now applies from {earliest} at the earliest"))
        raise NotNow("applies_from", f"an agreement made now applies from {earliest} at the "
                                     f"earliest, not {asked}")
    return asked


def in_force(versions: list[dict], period: str) -> dict | None:
    """The agreement version that governs a reporting period."""
    found = None
    for v in versions:
        if v["applies_from"] <= period and (found is None or v["number"] > found["number"]):
            found = v
    return found


def withheld(plan: Plan, agreement: dict | None) -> dict[str, str]:
    """Every item this provider must not send, with why: only accepted items
    are collected under an agreement."""
    decided = {d["item_name"]: d["decision"] for d in (agreement or {}).get("items", [])}
    return {i.name: WITHHELD_BECAUSE.get(decided.get(i.name), NOT_DECIDED)
            for i in plan.items if decided.get(i.name) != "accept"}


def effective_plan(plan: Plan, held_back) -> Plan:
    """The plan as it applies to one provider: withheld items gone, aggregate
    dimensions and measures without them, and purposes left with no item
    dropped, so routing never expects what the provider does not send."""
    held = set(held_back)
    if not held:
        return plan
    items = tuple(i for i in plan.items if i.name not in held)
    purposes = tuple(
        replace(p, dimensions=tuple(d for d in p.dimensions if d not in held),
                measures=tuple(m for m in p.measures if m not in held))
        for p in plan.purposes_in_force(held))
    return replace(plan, items=items, purposes=purposes, _by_name=None)


# -- a query on an item: it reaches the Agency and is answered in the record ------------

def queries(latest: list[dict]) -> list[dict]:
    """The items each provider's latest agreement version holds as queried
    (`latest`: one version a provider, programme and plan version, with its
    provider_id), as {provider_id, programme_id, plan_version, agreement_version,
    item_name, note, asked_by, person, asked_at}."""
    return [{"provider_id": v["provider_id"], "programme_id": v["programme_id"],
             "plan_version": v["plan_version"], "agreement_version": d["since_version"],
             "item_name": d["item_name"], "note": d["note"], "asked_by": d["decided_by"],
             "person": d.get("person", ""), "asked_at": d["decided_at"]}
            for v in latest for d in v["items"] if d["decision"] == "query"]


def query_key(query: dict) -> str:
    """One query: an item queried in one agreement version of one provider."""
    return (f"{query['provider_id']}|{query['programme_id']}@{query['plan_version']}|"
            f"{query['item_name']}#{query['agreement_version']}")


def answer(latest: dict | None, item_name: str, text: str, by: str, person: str,
           now: dt.datetime) -> dict:
    """The Agency's answer to the query the provider's latest agreement version
    holds on an item: refused when there is none to answer."""
    text = require_text("answer", text)
    open_now = [q for q in queries([latest] if latest else []) if q["item_name"] == item_name]
    if not open_now:
        raise NotNow("item_name", f"{item_name!r} is not queried in the provider's agreement"
                                  + (f" (version {latest['number']})" if latest else "")
                                  + ": there is no query to answer")
    return {**open_now[0], "answer": text, "answered_by": by, "answered_by_person": person,
            "answered_at": now_iso(now)}
