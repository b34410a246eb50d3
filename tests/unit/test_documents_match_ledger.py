"""For generated histories (plans and agreements changing between periods, a
period sometimes submitted again under another plan version), every
statement the families' letter and the access answer make about what was
sent matches the deliveries in the ledger: nothing delivered goes unsaid,
nothing said was not delivered, and each item is explained in the words of
the plan version it travelled under."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.purpose_router.codesign import letter
from services.purpose_router.codesign.agreement import effective_plan
from services.purpose_router.codesign.family_document import Party, render_family_document
from services.purpose_router.routing import domain as routing
from services.requests import answer
from services.requests import domain as requests
from services.requests.domain import FamilyRequest
from tests.service.factories import EXAMPLE
from tiaki.core.plan import Plan

BASE = Plan.from_dict(yaml.safe_load(EXAMPLE.read_text()), version=1)
NAMES = [i.name for i in BASE.items]
PERIODS = ["2026Q2", "2026Q3", "2026Q4", "2027Q1"]


def plan_version(number: int, dropped: frozenset[str]) -> Plan:
    """A later plan version: some items gone, every explanation in its own words."""
    plan = effective_plan(BASE, dropped)
    items = tuple(replace(i, uses=tuple(replace(u, explanation=f"v{number}: {u.explanation}")
                                        for u in i.uses)) for i in plan.items)
    return replace(plan, version=number, items=items, _by_name=None)


histories = st.fixed_dictionaries({
    # plan versions 1..3, each without some items
    "dropped": st.lists(st.frozensets(st.sampled_from(NAMES), max_size=4), min_size=3,
                        max_size=3),
    # per period: one or two submissions, each (plan version, items the agreement withholds)
    "periods": st.lists(st.lists(st.tuples(st.integers(1, 3),
                                           st.frozensets(st.sampled_from(NAMES), max_size=3)),
                                 min_size=1, max_size=2), min_size=1, max_size=len(PERIODS)),
})


def deliveries_of(history: dict) -> tuple[dict, list[dict]]:
    """The plans and the ledger's delivery entries routing would make."""
    plans = {n: plan_version(n, history["dropped"][n - 1]) for n in (1, 2, 3)}
    ledger, terms = [], {}
    for period, submissions in zip(PERIODS, history["periods"], strict=False):
        for s, (version, withheld) in enumerate(submissions):
            plan = plans[version]
            held = {n: "declined" for n in withheld if plan.item(n) is not None}
            number = (s + 1) * 10 + version if held else 0  # an agreement version per terms
            terms[(period, version, number)] = letter.Terms(plan, held, number)
            agreed = effective_plan(plan, held)
            for purpose in agreed.purposes:
                body = routing.delivery_body(
                    {"provider_id": "ccss", "submission_id": f"{period}-{s}", "period": period,
                     "agreement_version": number}, agreed, purpose,
                    f"{period}-{s}:{purpose.purpose_id}", kind="records", content=[],
                    record_count=1)
                ledger.append(routing.delivery_entry(body))
    return plans, ledger, terms


def sent_in(ledger: list[dict], period: str, plans: dict) -> set[tuple[str, str]]:
    return {(name, d["purpose_id"]) for d in ledger if d["period"] == period
            for name in d["fields"] if plans[d["plan_version"]].item(name) is not None}


@settings(max_examples=60, deadline=None)
@given(histories)
def test_every_letter_says_exactly_what_its_period_delivered(history):
    plans, ledger, terms = deliveries_of(history)
    for period in {d["period"] for d in ledger}:
        mine = [d for d in ledger if d["period"] == period]
        period_terms = {(v, n): t for (p, v, n), t in terms.items() if p == period}
        said, held = letter.what_was_sent(mine, period_terms)
        stated = {(i.name, u.purpose_id) for i in said.items for u in i.uses}
        assert stated == sent_in(ledger, period, plans)
        # each item in the words of the newest plan version it went under in that period
        for item in said.items:
            for use in item.uses:
                newest = max(d["plan_version"] for d in mine
                             if item.name in d["fields"] and d["purpose_id"] == use.purpose_id)
                assert use.explanation.startswith(f"v{newest}: ")
        # what is said not to be sent was not sent
        assert not {n for n, _ in stated} & set(held)
        html = render_family_document(said, held, Party("City Centre Social Services"), period,
                                      labels=letter.labels(period_terms))
        routes = "".join(re.findall(r'<section class="route">.*?</section>', html, re.S))
        for plan in plans.values():
            for item in plan.items:
                label = item.description.strip().rstrip(".")
                assert (f"<strong>{label}.</strong>" in routes.replace("&#x27;", "'")) == (
                    item.name in {n for n, _ in stated}), (period, item.name)


@settings(max_examples=60, deadline=None)
@given(histories)
def test_every_answer_explains_exactly_what_the_persons_records_carried(history):
    plans, ledger, _ = deliveries_of(history)
    unit_level = [d for d in ledger if d["unit_id"] == "evaluation"]
    records = [{"delivery_id": d["delivery_id"], "purpose_id": d["purpose_id"],
                "period": d["period"],
                "fields": {name: "value" for name in d["fields"]}} for d in unit_level]
    found = FamilyRequest("r1", "ccss", BASE.programme_id, "the client", "signed form",
                          requests.open_request("access", dt.date(2027, 4, 1), ["evaluation"]),
                          "open", 1.0)
    facts = answer.Facts({**plans}, {d["delivery_id"]: d for d in ledger})

    got = answer.assemble(found, facts, {"evaluation": records}, [], [], dt.date(2027, 4, 2))

    carried = {name for d in unit_level for name in d["fields"]
               if plans[d["plan_version"]].item(name) is not None}
    explained = {f["name"] for h in got["holdings"] for f in h["fields"]}
    assert explained == carried
    for h in got["holdings"]:
        for f in h["fields"]:
            used = [d["plan_version"] for d in unit_level if f["name"] in d["fields"]]
            assert f["explanation"].startswith(f"v{max(used)}: ")
        # one row per record: a period's records repeat only when they differ
        rows = [(r["period"], tuple(sorted(r["values"]))) for r in h["records"]]
        assert len(rows) == len(set(rows))
        periods = {d["period"] for d in unit_level}
        assert {r["period"] for r in h["records"]} == periods
