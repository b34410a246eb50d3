"""The family's answer, assembled: what each holding unit holds about the
person, why it holds it (from the plan), who used it (from the ledger) and
what it informed (from insights), as the dict `render_answer` renders.
Plain data in, plain data out; the service fetches the inputs."""

from __future__ import annotations

import datetime as dt

from services.requests.domain import FamilyRequest
from tiaki.core.plan import Plan
from tiaki.core.records import items_of


def delivery_ids(answers: dict[str, list[dict]]) -> list[str]:
    """The deliveries the units answered from, in the order they answered."""
    return [r["delivery_id"] for records in answers.values() for r in records]


def assemble(found: FamilyRequest, plan: Plan, answers: dict[str, list[dict]],
             accesses: list[dict], outcomes: list[dict] | None,
             completed: dt.date) -> dict:
    """The answer for `found` from the units' `answers` ({unit_id: records}),
    the ledger's `accesses` to those deliveries and the `outcomes` they
    informed (None when insights did not say: the answer then says nothing
    of outcomes)."""
    units = {u.unit_id: u.name for u in plan.units}
    holdings = []
    for unit_id, records in sorted(answers.items()):
        for purpose_id in sorted({r["purpose_id"] for r in records}):
            purpose = plan.purpose(purpose_id)
            mine = [r for r in records if r["purpose_id"] == purpose_id]
            ids = {r["delivery_id"] for r in mine}
            holding = {
                "unit_id": unit_id, "unit_name": units.get(unit_id, unit_id),
                "purpose_id": purpose_id, "purpose_name": purpose.name,
                "purpose_description": purpose.description,
                "fields": [{"name": i.name, "description": i.description,
                            "explanation": next(u.explanation for u in i.uses
                                                if u.purpose_id == purpose_id)}
                           for i in plan.items if purpose_id in i.purposes()],
                "records": [{"period": r["period"], "values": items_of(r["fields"]),
                             "statements": r.get("statements", [])}
                            for r in mine],
                "accesses": [a for a in accesses if a["delivery_id"] in ids],
            }
            if outcomes is not None:
                holding["outcomes"] = [o for o in outcomes if ids & {
                    c["delivery_id"] for c in o["informed_by"]}]
            holdings.append(holding)
    counts_only = [{"unit_id": p.unit_id, "unit_name": units.get(p.unit_id, p.unit_id),
                    "purpose_name": p.name, "explanation": p.description}
                   for p in plan.purposes if p.form == "aggregate"]
    return {"request_id": found.request_id, "programme_name": plan.name,
            "provider_name": found.provider_id, "requester": found.requester,
            "received": found.rules.received.isoformat(), "due": found.rules.due.isoformat(),
            "completed": completed.isoformat(), "holdings": holdings,
            "counts_only": counts_only}
