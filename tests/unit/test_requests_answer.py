"""The family's answer assembled from plain data, and the request rules the
entrypoints call: who is asked about what, the query each unit gets, when
the answer can be read."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from services.requests import answer, domain
from services.requests.answer_document import render_answer
from services.requests.domain import FamilyRequest, Step
from tests.service.factories import EXAMPLE
from tiaki.core.clock import parse_day
from tiaki.core.errors import Invalid, NotFound, NotNow
from tiaki.core.plan import Plan

D = dt.date
PURPOSE = {"purpose_id": "evaluation", "pseudonyms": ["p1", "p2"],
           "delivery_ids": ["d1", "d2"]}


@pytest.fixture
def plan() -> Plan:
    return Plan.from_dict(yaml.safe_load(EXAMPLE.read_text()), version=1)


def held(kind: str = "access", state: str = "open", answered: bool = False,
         correction: dict | None = None) -> FamilyRequest:
    rules = domain.open_request(kind, D(2026, 3, 2), ["evaluation"],
                                purposes={"evaluation": [PURPOSE]})
    if answered:
        rules = domain.record_unit_outcome(rules, "evaluation",
                                           domain.answered_as(kind, ""))
    return FamilyRequest(request_id="r1", provider_id="ccss", programme_id="best-foot-forward",
                         requester="the client", authorisation="signed form", rules=rules,
                         state=state, opened_at=1.0, correction=correction,
                         history=(Step(1.0, "ccss", "opened the request"),))


def test_the_answer_names_each_holding_with_its_reasons_uses_and_outcomes(plan):
    records = [{"delivery_id": "d1", "purpose_id": "evaluation", "period": "2026Q1",
                "fields": {"pseudonym": "p1", "slk581": "ABCDE", "region": "Otago"},
                "statements": [{"field": "region", "text": "I moved"}]},
               {"delivery_id": "d2", "purpose_id": "evaluation", "period": "2026Q2",
                "fields": {"pseudonym": "p2", "region": "Canterbury"}}]
    accesses = [{"delivery_id": "d1", "accessor": "analyst"},
                {"delivery_id": "elsewhere", "accessor": "someone"}]
    outcomes = [{"outcome_id": "o1", "informed_by": [{"delivery_id": "d2"}]},
                {"outcome_id": "o2", "informed_by": [{"delivery_id": "x"}]}]
    got = answer.assemble(held(answered=True), facts(plan), {"evaluation": records}, accesses,
                          outcomes, D(2026, 3, 9))

    assert answer.delivery_ids({"evaluation": records}) == ["d1", "d2"]
    assert {k: got[k] for k in ("request_id", "programme_name", "provider_name", "requester",
                                "received", "due", "completed")} == {
        "request_id": "r1", "programme_name": "Best foot forward",
        "provider_name": "City Centre Social Services",
        "requester": "the client", "received": "2026-03-02", "due": "2026-03-30",
        "completed": "2026-03-09"}
    [holding] = got["holdings"]
    assert (holding["unit_id"], holding["unit_name"], holding["purpose_id"],
            holding["purpose_name"]) == ("evaluation", "Evaluation and Insights team",
                                         "evaluation", "Programme evaluation")
    assert [f["name"] for f in holding["fields"]] == [
        i.name for i in plan.items if "evaluation" in i.purposes()]
    assert all(f["explanation"] for f in holding["fields"])
    # What tiaki added to link records is not the family's information.
    under = {"plan_version": 1, "agreement_version": 0, "basis": "aware_through_notice"}
    assert holding["records"] == [
        {"period": "2026Q1", "values": {"region": "Otago"},
         "statements": [{"field": "region", "text": "I moved"}], **under},
        {"period": "2026Q2", "values": {"region": "Canterbury"}, "statements": [], **under}]
    assert holding["accesses"] == [accesses[0]]
    assert holding["outcomes"] == [outcomes[0]]
    assert got["counts_only"] == [{
        "unit_id": "service-delivery", "unit_name": "Contracts and Service Delivery team",
        "purpose_name": "Service delivery reporting",
        "explanation": plan.purpose("service_delivery_reporting").description}]
    assert "<html" in render_answer(got).lower()


def facts(*plans: Plan, provenance: dict | None = None) -> answer.Facts:
    """The example's facts: every delivery d1, d2 collected under plan version 1."""
    by_version = {p.version: p for p in plans}
    provenance = provenance or {d: {"delivery_id": d, "plan_version": 1, "agreement_version": 0,
                                    "basis": "aware_through_notice", "purpose_id": "evaluation",
                                    "fields": ["pseudonym", *by_version[1].fields_for_purpose(
                                        "evaluation")]} for d in ("d1", "d2")}
    return answer.Facts(by_version, provenance, {"provider:ccss": "City Centre Social Services"})


def test_the_answer_explains_only_what_each_record_was_collected_under(plan):
    """Plan version 2 adds referral_source to evaluation and words ethnicity
    differently; a record collected in 2026Q3 under version 1 is explained in
    version 1's words, and referral_source (never collected) is not mentioned."""
    data = plan.to_dict()
    data["items"].append({"name": "referral_source", "type": "string",
                          "description": "Who referred the family.",
                          "uses": [{"purpose_id": "evaluation", "explanation": "New words."}]})
    next(i for i in data["items"] if i["name"] == "ethnicity")["uses"][0]["explanation"] = \
        "Version 2 words."
    v2 = Plan.from_dict(data, version=2)
    records = [{"delivery_id": "d1", "purpose_id": "evaluation", "period": "2026Q3",
                "fields": {"pseudonym": "p1", "ethnicity": "Asian"}},
               # the same period submitted again: the same record, one row
               {"delivery_id": "d2", "purpose_id": "evaluation", "period": "2026Q3",
                "fields": {"pseudonym": "p1", "ethnicity": "Asian"}}]

    got = answer.assemble(held(answered=True), facts(plan, v2), {"evaluation": records}, [],
                          [], D(2026, 10, 9))

    [holding] = got["holdings"]
    names = [f["name"] for f in holding["fields"]]
    assert "referral_source" not in names and "ethnicity" in names
    ethnicity = next(f for f in holding["fields"] if f["name"] == "ethnicity")
    assert ethnicity["explanation"] == plan.item("ethnicity").uses[0].explanation
    assert [r["values"] for r in holding["records"]] == [{"ethnicity": "Asian"}]


def test_nobody_holding_anything_is_answered_naming_the_units_asked(plan):
    nothing = FamilyRequest(request_id="r2", provider_id="ccss", programme_id="best-foot-forward",
                            requester="the client", authorisation="signed form",
                            rules=domain.open_request("access", D(2026, 3, 2), []),
                            state="open", opened_at=1.0)
    assert nothing.to_assemble
    got = answer.assemble(nothing, facts(plan), {}, [], [], D(2026, 3, 2))
    assert got["holdings"] == [] and got["asked"] == ["Evaluation and Insights team"]
    doc = render_answer(got)
    assert "The Agency holds nothing about you for this programme." in doc
    assert "The Agency asked Evaluation and Insights team. None of them holds any" in doc
    # Still tracked with its deadline.
    assert got["due"] == "2026-03-30" and "The Privacy Act says the Agency must answer by" in doc


def test_without_word_from_insights_the_answer_says_nothing_of_outcomes(plan):
    records = [{"delivery_id": "d1", "purpose_id": "evaluation", "period": "2026Q1",
                "fields": {}}]
    got = answer.assemble(held(answered=True), facts(plan), {"evaluation": records}, [], None,
                          D(2026, 3, 9))
    assert "outcomes" not in got["holdings"][0]
    nothing = answer.assemble(held(answered=True), facts(plan), {}, [], [], D(2026, 3, 9))
    assert nothing["holdings"] == [] and answer.delivery_ids({}) == []


def test_each_holding_unit_is_asked_under_every_generation_of_pseudonym(plan):
    holders = [{"unit_id": "evaluation", "purpose_id": "evaluation", "delivery_ids": ["d1"]},
               {"unit_id": "service-delivery", "purpose_id": "service_delivery_reporting",
                "delivery_ids": ["d9"]}]
    pseudonyms = {"evaluation": ["p1", "p2"], "service_delivery_reporting": ["s1"]}
    asked = domain.asked(holders, pseudonyms, plan, "C-1", "best-foot-forward")
    assert asked == {
        "evaluation": [{"purpose_id": "evaluation", "pseudonyms": ["p1", "p2"],
                        "delivery_ids": ["d1"]}],
        "service-delivery": [{"purpose_id": "service_delivery_reporting", "pseudonyms": ["s1"],
                              "delivery_ids": ["d9"]}]}
    # A correction asks only the units holding the field.
    only = domain.asked(holders, pseudonyms, plan, "C-1", "best-foot-forward",
                        {"field": "wellbeing_end"})
    assert list(only) == ["evaluation"]
    # Nobody holding anything is an answer to an access request, not an error...
    assert domain.asked([], pseudonyms, plan, "C-1", "best-foot-forward") == {}
    # ...but there is nothing to correct.
    with pytest.raises(NotFound, match="nothing to correct"):
        domain.asked([], pseudonyms, plan, "C-1", "best-foot-forward", {"field": "region"})
    with pytest.raises(Invalid, match="not an item of the plan"):
        domain.asked(holders, pseudonyms, plan, "C-1", "best-foot-forward",
                     {"field": "favourite_food"})
    with pytest.raises(NotFound, match="no unit holds 'wellbeing_end'"):
        domain.asked(holders[1:], pseudonyms, plan, "C-1", "best-foot-forward",
                     {"field": "wellbeing_end"})


def test_a_unit_is_queried_about_its_own_purposes_and_answers_from_its_deliveries():
    correction = {"field": "region", "current_value": "Otago", "corrected_value": "Canterbury",
                  "reason": "moved"}
    found = held("correction", correction=correction)
    [unit] = found.units
    assert unit.delivery_ids == {"d1", "d2"}
    assert found.unit("evaluation") is unit and found.unit("elsewhere") is None
    assert domain.query(found, unit) == {
        "kind": "query", "request_id": "r1", "request_kind": "correction",
        "unit_id": "evaluation", "provider_id": "ccss", "programme_id": "best-foot-forward",
        "purposes": [PURPOSE], "correction": correction}
    assert domain.query(held(), unit)["correction"] is None
    assert domain.answered_as("access", "") == "answered"
    assert domain.answered_as("correction", "") == ""
    assert domain.answered_as("correction", "applied") == "applied"


def test_the_answer_is_read_once_complete_and_assembled_once():
    assert not held().to_assemble
    assert held(answered=True).to_assemble
    assert not held(state="complete", answered=True).to_assemble
    with pytest.raises(NotNow, match="still waiting for: evaluation"):
        domain.answer_ready(held())
    moved = held(state="transferred")
    moved = FamilyRequest(**{**moved.__dict__, "rules": domain.transfer(
        moved.rules, D(2026, 3, 3), "Ministry of Health")})
    with pytest.raises(NotNow, match="transferred to Ministry of Health, which answers it"):
        domain.answer_ready(moved)
    domain.answer_ready(held(state="complete", answered=True))
    domain.must_be_open(held())
    with pytest.raises(NotNow, match="^request r1 is complete, not open$"):
        domain.must_be_open(held(state="complete"))
    with pytest.raises(NotNow, match="is complete; only an open one is extended"):
        domain.must_be_open(held(state="complete"), then="only an open one is extended")


def test_a_day_is_given_as_yyyy_mm_dd_exactly():
    assert parse_day("2026-03-02", "received") == D(2026, 3, 2)
    for bad in ("02/03/2026", "20260302", "2026-03-2", ""):
        with pytest.raises(Invalid, match="^received: must be a date as YYYY-MM-DD"):
            parse_day(bad, "received")
