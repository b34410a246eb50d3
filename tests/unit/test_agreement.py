"""Item-by-item agreements: versions, who decided what and when, which version
governs a reporting period, what is withheld, and the plan routing uses."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from services.purpose_router.codesign import agreement
from tests.service.factories import EXAMPLE
from tiaki.core import clock, errors, periods
from tiaki.core.plan import Plan

JULY = dt.datetime(2026, 7, 10, 1, 0, tzinfo=dt.timezone.utc)       # 2026Q3 in New Zealand
NOVEMBER = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.timezone.utc)   # 2026Q4


@pytest.fixture
def plan() -> Plan:
    return Plan.from_dict(yaml.safe_load(EXAMPLE.read_text()), version=2)


def choices(**decisions) -> list[dict]:
    return [{"item_name": name, "decision": d, "note": ""} for name, d in decisions.items()]


def everything_but(plan: Plan, **special) -> list[dict]:
    return choices(**{i.name: special.get(i.name, "accept") for i in plan.items})


def test_periods():
    assert periods.period_of(dt.date(2026, 3, 31)) == "2026Q1"
    assert periods.period_of(dt.date(2026, 10, 1)) == "2026Q4"
    assert periods.next_period("2026Q4") == "2027Q1"
    assert periods.next_period("2026Q2") == "2026Q3"
    # 31 December 2026, 13:00 UTC is already 1 January 2027 in New Zealand
    assert clock.nz_today(dt.datetime(2026, 12, 31, 13, 0, tzinfo=dt.timezone.utc)) == \
        dt.date(2027, 1, 1)
    with pytest.raises(errors.Invalid):
        periods.check_period("2026-Q3")


def test_first_version_applies_to_every_period_and_records_who(plan):
    first = agreement.decide(plan, None, everything_but(plan, wellbeing_end="decline"),
                             "Mere Tane, CCSS manager", "provider:ccss", JULY)
    assert first["number"] == 1 and first["applies_from"] == ""
    declined = next(d for d in first["items"] if d["item_name"] == "wellbeing_end")
    assert declined == {"item_name": "wellbeing_end", "decision": "decline", "note": "",
                        "decided_by": "Mere Tane, CCSS manager", "caller": "provider:ccss",
                        "decided_at": "2026-07-10T01:00:00.000000+00:00", "since_version": 1,
                        "person": ""}
    assert [d["item_name"] for d in first["items"]] == [i.name for i in plan.items]
    assert agreement.withheld(plan, first) == {"wellbeing_end": "declined"}


def test_the_person_acting_is_recorded_and_names_the_decider_when_none_is_given(plan):
    made = agreement.decide(plan, None, everything_but(plan), "", "provider:ccss", JULY,
                            person="mere.tane")
    assert made["person"] == "mere.tane" and made["made_by"] == "mere.tane"
    assert {(d["person"], d["decided_by"]) for d in made["items"]} == {("mere.tane", "mere.tane")}
    with pytest.raises(errors.Invalid, match="decided_by"):  # nobody named at all
        agreement.decide(plan, None, everything_but(plan), "", "provider:ccss", JULY)


def test_a_change_applies_from_the_next_period_and_keeps_earlier_decisions(plan):
    first = agreement.decide(plan, None, everything_but(plan, wellbeing_end="decline"),
                             "Mere", "provider:ccss", JULY)
    second = agreement.decide(plan, first, choices(wellbeing_end="accept", goals_met="query"),
                              "Sam", "provider:ccss", NOVEMBER)
    assert second["number"] == 2 and second["applies_from"] == "2027Q1"
    by_item = {d["item_name"]: d for d in second["items"]}
    assert by_item["wellbeing_end"]["decided_by"] == "Sam"
    assert by_item["wellbeing_end"]["since_version"] == 2
    assert by_item["age_band"]["decided_by"] == "Mere"      # unchanged: still Mere's decision
    assert by_item["age_band"]["since_version"] == 1

    versions = [first, second]
    assert agreement.in_force(versions, "2025Q1") is first   # the first covers every period
    assert agreement.in_force(versions, "2026Q4") is first   # the change waits for next quarter
    assert agreement.in_force(versions, "2027Q1") is second
    assert agreement.withheld(plan, second) == {"goals_met": "queried"}


def test_the_same_choices_again_make_no_new_version(plan):
    first = agreement.decide(plan, None, choices(age_band="accept"), "Mere", "provider:ccss", JULY)
    assert agreement.decide(plan, first, choices(age_band="accept"), "Mere", "provider:ccss",
                            NOVEMBER) is None


def test_undecided_and_queried_items_are_withheld(plan):
    partial = agreement.decide(plan, None, choices(age_band="accept", region="query"), "Mere",
                               "provider:ccss", JULY)
    held = agreement.withheld(plan, partial)
    assert held["region"] == "queried"
    assert held["wellbeing_end"] == "not decided"
    assert "age_band" not in held
    assert set(agreement.withheld(plan, None)) == {i.name for i in plan.items}


@pytest.mark.parametrize("bad, error, field", [
    (choices(shoe_size="accept"), errors.NotFound, "choices.item_name"),
    (choices(age_band="maybe"), errors.Invalid, "choices.decision"),
    (choices(age_band="accept") * 2, errors.Invalid, "choices.item_name"),
    ([], errors.Invalid, "choices"),
])
def test_bad_choices(plan, bad, error, field):
    with pytest.raises(error) as err:
        agreement.decide(plan, None, bad, "Mere", "provider:ccss", JULY)
    assert err.value.field == field


def test_who_decided_is_required(plan):
    with pytest.raises(errors.Invalid) as err:
        agreement.decide(plan, None, choices(age_band="accept"), "  ", "provider:ccss", JULY)
    assert err.value.field == "decided_by"


def test_effective_plan_drops_withheld_items_dimensions_and_measures(plan):
    effective = agreement.effective_plan(plan, {"region": "declined", "sessions_attended": "declined"})
    assert effective.item("region") is None and effective.item("sessions_attended") is None
    counts = effective.purpose("service_delivery_reporting")
    assert counts.dimensions == ("programme_strand",) and counts.measures == ()
    assert "region" not in effective.fields_for_purpose("evaluation")
    assert agreement.effective_plan(plan, {}) is plan


def test_a_purpose_left_with_nothing_is_dropped(plan):
    only_counts = {"region", "programme_strand", "sessions_attended"}
    effective = agreement.effective_plan(plan, {i.name: "declined" for i in plan.items
                                                if i.name in only_counts})
    assert [p.purpose_id for p in effective.purposes] == ["evaluation"]


def test_a_query_is_listed_until_answered_and_only_a_query_is_answered(plan):
    made = agreement.decide(plan, None, everything_but(plan, wellbeing_end="query"), "Mere",
                            "provider:ccss", JULY, person="mere.tane")
    latest = dict(made, provider_id="ccss")
    (asked,) = agreement.queries([latest])
    assert (asked["item_name"], asked["agreement_version"], asked["person"]) == (
        "wellbeing_end", 1, "mere.tane")
    answered = agreement.answer(latest, "wellbeing_end", "  It shows whether families are "
                                "better off at the end.  ", "agency:agency", "hana.kaimahi", JULY)
    assert answered["answer"] == "It shows whether families are better off at the end."
    assert agreement.query_key(answered) == agreement.query_key(asked)
    with pytest.raises(errors.NotNow, match="not queried"):
        agreement.answer(latest, "goals_met", "Why not?", "agency:agency", "", JULY)
    with pytest.raises(errors.Invalid, match="answer"):
        agreement.answer(latest, "wellbeing_end", " ", "agency:agency", "", JULY)
    # Accepted later: the query is no longer open, and there is nothing to answer.
    second = dict(agreement.decide(plan, made, choices(wellbeing_end="accept"), "Mere",
                                   "provider:ccss", JULY), provider_id="ccss")
    assert agreement.queries([second]) == []
    with pytest.raises(errors.NotNow, match="no query to answer"):
        agreement.answer(second, "wellbeing_end", "Because.", "agency:agency", "", JULY)
