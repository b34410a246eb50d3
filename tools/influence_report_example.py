"""Writes docs/example-influence-report.html: the Board report City Centre
Social Services downloads for January to August 2026, made by the same code
as GetInfluenceReport (the outcome rules, `influence_report`, the renderer)
from the example plan (programmes/best-foot-forward.yaml), the example
directory (programmes/directory.yaml) and the ledger entries a unit cites, so
the example never drifts from the generator
(tests/unit/test_influence_report_example.py checks it).

    python -m tools.influence_report_example          # rewrite the example
    python -m tools.influence_report_example --check  # exit 1 when it is stale
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid

import yaml

from services.insights import domain
from services.insights.influence_report import influence_report, render_influence_report
from tools.examples import ROOT, write_or_check

PLAN = ROOT / "programmes" / "best-foot-forward.yaml"
DIRECTORY = ROOT / "programmes" / "directory.yaml"
EXAMPLE = ROOT / "docs" / "example-influence-report.html"
PROVIDER, UNIT = "ccss", "evaluation"
MADE_ON = dt.date(2026, 9, 1)


def _id(name: str) -> str:
    """A stable UUID standing for a real one (the store's ids look like this)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tiaki-example:{name}"))


def _received(plan: dict) -> list[dict]:
    """CCSS's deliveries to the evaluation unit as the ledger records them:
    each period's submission, a few deliveries for each purpose."""
    out = []
    for period, evaluation, reporting in (("2025Q4", 6, 0), ("2026Q1", 4, 1), ("2026Q2", 4, 0)):
        for purpose, n in (("evaluation", evaluation), ("service_delivery_reporting", reporting)):
            out.extend({"delivery_id": f"{_id(f'batch-{period}-{i}')}:{purpose}",
                        "submission_id": _id(f"submission-{period}"), "provider_id": PROVIDER,
                        "programme_id": plan["programme_id"], "purpose_id": purpose,
                        "unit_id": UNIT, "period": period} for i in range(n))
    return out


def _cite(received: list[dict], period: str, purpose: str, n: int) -> tuple[str, ...]:
    return tuple(d["delivery_id"] for d in received
                 if d["period"] == period and d["purpose_id"] == purpose)[:n]


def render() -> str:
    plan = yaml.safe_load(PLAN.read_text())
    directory = yaml.safe_load(DIRECTORY.read_text())["entries"]
    names = {f"{e['kind']}:{e['id']}": e["name"] for e in directory}
    received = _received(plan)
    measures = {_id(m): domain.Measure(_id(m), plan["programme_id"], name, "",
                                       domain.Party("agency", "agency"), state="agreed")
                for m, name in (("goals", "Whānau-set goals met"),
                                ("attendance", "Sessions attended"))}

    def outcome(n, kind, title, summary, date, audience, cites, measure=""):
        day = dt.date.fromisoformat(date)
        draft = domain.OutcomeDraft(
            kind=kind, title=title, summary=summary, date=date, audience=audience,
            delivery_ids=sum((_cite(received, *c) for c in cites), ()),
            measure_ids=(_id(measure),) if measure else ())
        return domain.new_outcome(
            _id(f"outcome-{n}"), UNIT, domain.check_outcome(draft, day), received,
            lambda programme, purpose: domain.purpose_name(plan, purpose), measures, day, 10,
            1.0)

    finding = outcome(
        4, "evaluation_finding", "Whānau-set goals were met more often in the joint strand",
        "Families in the joint strand met most of their own goals more often than families "
        "in the parenting strand alone.", "2026-07-02", "the public",
        [("2026Q2", "evaluation", 3)], "goals")
    finding = domain.reply(finding, finding.outcome_id, PROVIDER, "add_context",
                           "The joint strand had smaller groups this year after two "
                           "facilitators joined.", dt.date(2026, 7, 6), 2.0)
    finding = domain.publish(finding, finding.outcome_id, UNIT, dt.date(2026, 7, 20), 3.0)
    outcomes = [
        outcome(1, "decision", "Funding for the joint strand continues",
                "The joint parenting and children's strand is funded for two more years.",
                "2026-04-30", "Agency leadership", [("2026Q1", "evaluation", 3)]),
        outcome(2, "advice", "Advice on evening sessions",
                "Working parents miss daytime sessions; the Agency advised funding evening "
                "groups.", "2026-03-20", "the Deputy Chief Executive",
                [("2025Q4", "evaluation", 2), ("2026Q1", "evaluation", 1)]),
        outcome(3, "report", "Quarterly programme report, October to December 2025",
                "Attendance and goals met across the programme, shared with all providers.",
                "2026-02-12", "providers and Agency leadership", [("2025Q4", "evaluation", 4)]),
        finding,
        outcome(5, "policy_or_service_change", "Evening sessions in Waikato and Otago",
                "Two regions now run evening groups.", "2026-06-15",
                "providers in Waikato and Otago",
                [("2026Q1", "evaluation", 1), ("2026Q1", "service_delivery_reporting", 1)]),
        outcome(6, "evaluation_finding", "Attendance fell in winter",
                "Attendance in July was a third lower than in May.", "2026-08-10",
                "Agency leadership", [("2026Q2", "evaluation", 1)], "attendance"),
    ]
    return render_influence_report(influence_report(
        PROVIDER, "2026-01-01", "2026-08-31", outcomes, {plan["programme_id"]: plan}, measures,
        MADE_ON, names))


def main(argv: list[str]) -> int:
    return write_or_check(argv, EXAMPLE, render, "tools.influence_report_example")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
