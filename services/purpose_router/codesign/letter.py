"""What the families' letter for one provider and one period says, worked out
from recorded facts (no I/O): the deliveries of that period in the ledger
(each with the plan and agreement versions it was collected under), or,
before anything was delivered, the terms the period was (or would be)
collected under. Never from today's plan or agreement.

The letter's plan holds exactly the items delivered, each with exactly the
uses (purpose and unit) that received it, explained in the words of the plan
version it travelled under."""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.purpose_router.codesign.agreement import effective_plan
from tiaki.core.plan import Plan


@dataclass(frozen=True)
class Terms:
    """One set of terms deliveries of the period travelled under."""
    plan: Plan          # the plan version as published
    withheld: dict      # item name -> why the agreement keeps it back ({}: none)
    agreement_version: int = 0


def agreed_plan(terms: Terms) -> Plan:
    """The plan as the provider's agreement lets it be collected."""
    return effective_plan(terms.plan, terms.withheld)


def planned_deliveries(terms: Terms) -> list[dict]:
    """The deliveries a period collected under `terms` makes, before any is
    made: one per purpose, with the items the agreement lets through."""
    agreed = agreed_plan(terms)
    return [{"plan_version": terms.plan.version, "agreement_version": terms.agreement_version,
             "purpose_id": p.purpose_id, "unit_id": p.unit_id,
             "fields": list(agreed.fields_for_purpose(p.purpose_id))} for p in agreed.purposes]


def labels(terms: dict[tuple[int, int], Terms]) -> dict[str, str]:
    """Every item of these plans as families name it (its description), for
    what the letter says was not sent."""
    return {i.name: i.description.strip().rstrip(".") or i.name.replace("_", " ")
            for t in terms.values() for i in t.plan.items}


def what_was_sent(deliveries: list[dict], terms: dict[tuple[int, int], Terms]) -> tuple[Plan, dict]:
    """The letter's plan (the items delivered, each with only the uses that
    got it) and what was held back ({item name: why}) for one period.
    `terms` maps each delivery's (plan_version, agreement_version) to its Terms."""
    sent: dict[str, dict[str, int]] = {}  # item -> purpose -> the plan version it went under
    for d in deliveries:
        plan = terms[(d["plan_version"], d["agreement_version"])].plan
        for name in d["fields"]:
            if plan.item(name) is not None:
                sent.setdefault(name, {})[d["purpose_id"]] = max(
                    sent.get(name, {}).get(d["purpose_id"], 0), plan.version)
    plans = {t.plan.version: t.plan for t in terms.values()}
    latest = plans[max(plans)]
    units = {u.unit_id: u for p in sorted(plans) for u in plans[p].units}
    purposes = {}
    items = []
    order = [i.name for p in sorted(plans, reverse=True) for i in plans[p].items]
    for name in sorted(sent, key=order.index):
        by_version = sent[name]
        source = plans[max(by_version.values())]
        item = source.item(name)
        uses = []
        for purpose_id, version in sorted(by_version.items()):
            use = next(u for u in plans[version].item(name).uses if u.purpose_id == purpose_id)
            uses.append(use)
            purposes.setdefault(purpose_id, plans[version].purpose(purpose_id))
        items.append(replace(item, uses=tuple(uses)))
    letter_plan = Plan(programme_id=latest.programme_id, name=latest.name, version=latest.version,
                       units=tuple(units.values()), purposes=tuple(purposes.values()),
                       items=tuple(items))
    held = {name: why for t in terms.values() for name, why in t.withheld.items()
            if name not in sent}
    return letter_plan, held
