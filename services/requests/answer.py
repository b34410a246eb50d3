"""The family's answer, assembled: what each holding unit holds about the
person, why it holds it (from the plan versions those records were collected
under, as the ledger recorded them), who used it (from the ledger) and what
it informed (from insights), as the dict `render_answer` renders. Plain data
in, plain data out; the service fetches the inputs.

Nothing here reads today's plan for what a record is: each record's delivery
says which items it carried and under which plan and agreement versions, and
only those items are explained, in that version's words."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from services.requests.domain import FamilyRequest
from tiaki.core.plan import Plan
from tiaki.core.records import items_of


@dataclass(frozen=True)
class Facts:
    """What the answer is made from besides the units' answers."""
    # Plan versions by number: those the deliveries were collected under, and
    # the latest (for a request with no records).
    plans: dict[int, Plan]
    # The ledger's provenance of each delivery answered from, by delivery id.
    provenance: dict[str, dict] = field(default_factory=dict)
    # Directory names: "provider:<id>", "unit:<id>" -> display name.
    names: dict[str, str] = field(default_factory=dict)

    def unit_name(self, unit_id: str, plan: Plan) -> str:
        return (self.names.get(f"unit:{unit_id}")
                or next((u.name for u in plan.units if u.unit_id == unit_id), "")
                or "A team in the Agency")


def delivery_ids(answers: dict[str, list[dict]]) -> list[str]:
    """The deliveries the units answered from, in the order they answered."""
    return [r["delivery_id"] for records in answers.values() for r in records]


def one_row_each(records: list[dict]) -> list[dict]:
    """The records a unit holds, one row per record: the same record delivered
    again (a period submitted again) is shown once."""
    seen, out = set(), []
    for r in records:
        key = json.dumps([r["period"], items_of(r["fields"]), r.get("statements", []),
                          r.get("withheld", [])],
                         sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def unit_level_units(plan: Plan) -> list[str]:
    """The units of a plan that hold unit-level data: those asked about a person."""
    out = []
    for p in plan.purposes:
        if p.form != "aggregate" and p.unit_id not in out:
            out.append(p.unit_id)
    return out


def assemble(found: FamilyRequest, facts: Facts, answers: dict[str, list[dict]],
             accesses: list[dict], outcomes: list[dict] | None,
             completed: dt.date) -> dict:
    """The answer for `found` from the units' `answers` ({unit_id: records}),
    the ledger's `accesses` to those deliveries and the `outcomes` they
    informed (None when insights did not say: the answer then says nothing
    of outcomes)."""
    latest = facts.plans[max(facts.plans)]

    def collected_under(record: dict) -> dict:
        return facts.provenance.get(record["delivery_id"]) or {
            "plan_version": latest.version, "agreement_version": 0, "basis": "",
            "fields": [i.name for i in latest.items if record["purpose_id"] in i.purposes()]}

    holdings = []
    used_versions = set()
    for unit_id, records in sorted(answers.items()):
        for purpose_id in sorted({r["purpose_id"] for r in records}):
            held = [r for r in records if r["purpose_id"] == purpose_id]
            ids = {r["delivery_id"] for r in held}
            # Every record held is explained; each is shown once.
            under = [collected_under(r) for r in held]
            mine = one_row_each(held)
            used_versions |= {u["plan_version"] for u in under}
            plan = facts.plans[max(u["plan_version"] for u in under)]
            purpose = plan.purpose(purpose_id)
            carried = {name for u in under for name in u["fields"]}
            explained = {}
            for u in sorted(under, key=lambda u: -u["plan_version"]):
                version_plan = facts.plans[u["plan_version"]]
                for name in u["fields"]:
                    item = version_plan.item(name)
                    if item is not None and name not in explained:
                        explained[name] = {"name": name, "description": item.description,
                                           "explanation": next(
                                               (x.explanation for x in item.uses
                                                if x.purpose_id == purpose_id), "")}
            order = [i.name for i in plan.items] + sorted(explained)
            holding = {
                "unit_id": unit_id, "unit_name": facts.unit_name(unit_id, plan),
                "purpose_id": purpose_id, "purpose_name": purpose.name,
                "purpose_description": purpose.description,
                "fields": [explained[n] for n in dict.fromkeys(order)
                           if n in explained and n in carried],
                "records": [{"period": r["period"],
                             "values": {k: v for k, v in items_of(r["fields"]).items()
                                        if k in carried},
                             "statements": r.get("statements", []),
                             # What the unit withheld, and under which ground, as it recorded it.
                             **({"withheld": r["withheld"]} if r.get("withheld") else {}),
                             "plan_version": u["plan_version"],
                             "agreement_version": u["agreement_version"],
                             "basis": u.get("basis", "")}
                            for r, u in ((r, collected_under(r)) for r in mine)],
                "accesses": [a for a in accesses if a["delivery_id"] in ids],
            }
            if outcomes is not None:
                holding["outcomes"] = [o for o in outcomes if ids & {
                    c["delivery_id"] for c in o["informed_by"]}]
            holdings.append(holding)
    counted_from = [facts.plans[v] for v in sorted(used_versions)] or [latest]
    counts_only, seen = [], set()
    for plan in counted_from:
        for p in plan.purposes:
            if p.form == "aggregate" and p.purpose_id not in seen:
                seen.add(p.purpose_id)
                counts_only.append({"unit_id": p.unit_id,
                                    "unit_name": facts.unit_name(p.unit_id, plan),
                                    "purpose_name": p.name, "explanation": p.description})
    return {"request_id": found.request_id, "kind": found.kind,
            "correction": found.correction or {},
            "decisions": [{"unit_name": facts.unit_name(u.unit_id, latest),
                           "outcome": u.outcome} for u in found.units],
            "programme_name": latest.name,
            "provider_name": facts.names.get(f"provider:{found.provider_id}", ""),
            "requester": found.requester,
            "received": found.rules.received.isoformat(), "due": found.rules.due.isoformat(),
            "completed": completed.isoformat(), "holdings": holdings,
            "counts_only": counts_only,
            # Who was asked: the holding units; with none, every unit that holds
            # unit-level data under the programme's plan (each said it holds nothing).
            "asked": [facts.unit_name(u, latest) for u in
                      ([u.unit_id for u in found.units] or unit_level_units(latest))]}
