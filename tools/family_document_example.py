"""Writes docs/example-where-your-information-goes.html from the example
programme (programmes/best-foot-forward.yaml), the letter a provider that
declined one item gives families, so the example never drifts from the
generator (tests/unit/test_family_document_example.py checks it).

    python -m tools.family_document_example          # rewrite the example
    python -m tools.family_document_example --check  # exit 1 when it is stale
"""

from __future__ import annotations

import sys

import yaml

from services.purpose_router.codesign.agreement import withheld
from services.purpose_router.codesign.family_document import Party, render_family_document
from services.purpose_router.codesign.letter import (
    Terms,
    labels,
    planned_deliveries,
    what_was_sent,
)
from tiaki.core.plan import Plan
from tools.examples import ROOT, write_or_check

PLAN = ROOT / "programmes" / "best-foot-forward.yaml"
DIRECTORY = ROOT / "programmes" / "directory.yaml"
EXAMPLE = ROOT / "docs" / "example-where-your-information-goes.html"
DECLINED = ("wellbeing_end",)


def render() -> str:
    plan = Plan.from_dict(yaml.safe_load(PLAN.read_text()), version=1)
    agreement = {"number": 1, "applies_from": "", "items": [
        {"item_name": i.name, "decision": "decline" if i.name in DECLINED else "accept"}
        for i in plan.items]}
    terms = Terms(plan, withheld(plan, agreement), agreement_version=1)
    sent, held = what_was_sent(planned_deliveries(terms), {(1, 1): terms})
    directory = yaml.safe_load(DIRECTORY.read_text())["entries"]
    parties = {(e["kind"], e["id"]): Party(e["name"], e["address"], e["phone"], e["email"])
               for e in directory}
    return render_family_document(
        sent, held, parties[("provider", "ccss")], "2026Q3", agency=parties[("agency", "agency")],
        units={unit_id: party for (kind, unit_id), party in parties.items() if kind == "unit"},
        versions={"plan_version": 1, "agreement_version": 1, "notice_version": 1},
        labels=labels({(1, 1): terms}))


def main(argv: list[str]) -> int:
    return write_or_check(argv, EXAMPLE, render, "tools.family_document_example")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
