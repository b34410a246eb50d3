"""A programme's data plan: what a good plan looks like, and every way a plan
can be unusable, reported to its author all at once."""

from __future__ import annotations

import copy
import json

import pytest

from tiaki.core.plan import RESERVED_FIELDS, Plan, PlanInvalid, check_plan

BASE_PLAN = {
    "programme_id": "housing-support",
    "name": "Housing support 2025",
    "version": 3,
    "units": [
        {"unit_id": "housing-team", "name": "Housing policy team"},
        {"unit_id": "insights", "name": "Insights and evaluation"},
    ],
    "purposes": [
        {
            "purpose_id": "service-planning",
            "name": "Plan housing services",
            "description": "Where to place caseworkers next year",
            "unit_id": "housing-team",
            "form": "unit_level",
        },
        {
            "purpose_id": "outcomes-report",
            "name": "Quarterly outcomes",
            "description": "How many people were housed, by region",
            "unit_id": "insights",
            "form": "aggregate",
            "dimensions": ["region", "housed"],
            "measures": ["nights_housed"],
            "suppress_below": 6,
        },
    ],
    "items": [
        {
            "name": "region",
            "type": "enum",
            "allowed_values": ["northland", "auckland", "waikato"],
            "required": True,
            "uses": [{"purpose_id": "service-planning"}, {"purpose_id": "outcomes-report"}],
        },
        {
            "name": "housed",
            "type": "boolean",
            "uses": [{"purpose_id": "outcomes-report", "retention": "2 years"}],
        },
        {
            "name": "nights_housed",
            "type": "integer",
            "min": 0,
            "max": 366,
            "uses": [{"purpose_id": "service-planning"}, {"purpose_id": "outcomes-report"}],
        },
        {
            "name": "referral_date",
            "type": "date",
            "uses": [{"purpose_id": "service-planning", "legal_basis": "funding agreement",
                      "explanation": "to see how long people wait"}],
        },
        {
            "name": "case_code",
            "type": "string",
            "pattern": r"[A-Z]{2}-\d{3}",
            "uses": [{"purpose_id": "service-planning"}],
        },
    ],
}


def make_plan(**overrides) -> dict:
    """A good plan dict, with top-level keys replaced by `overrides`."""
    data = copy.deepcopy(BASE_PLAN)
    data.update(copy.deepcopy(overrides))
    return data


def purpose_of(data: dict, purpose_id: str) -> dict:
    return next(p for p in data["purposes"] if p["purpose_id"] == purpose_id)


def item_of(data: dict, name: str) -> dict:
    return next(i for i in data["items"] if i["name"] == name)


def problems_of(data: dict) -> list[str]:
    with pytest.raises(PlanInvalid) as caught:
        Plan.from_dict(data)
    return caught.value.problems


def mentions(problems: list[str], *words: str) -> bool:
    return any(all(w in p for w in words) for p in problems)


# -- a good plan --------------------------------------------------------------

def test_a_good_plan_is_accepted_with_no_problems():
    plan = Plan.from_dict(make_plan())

    assert check_plan(plan) == []
    assert plan.programme_id == "housing-support"
    assert plan.version == 3


def test_a_good_plan_survives_a_round_trip_through_its_dict():
    plan = Plan.from_dict(make_plan())

    again = Plan.from_dict(plan.to_dict())

    assert again == plan
    assert again.to_dict() == plan.to_dict()


def test_a_plan_dict_is_json_safe_so_it_can_travel_between_services():
    plan = Plan.from_dict(make_plan())

    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_the_round_trip_keeps_what_each_item_is_used_for_and_why():
    plan = Plan.from_dict(Plan.from_dict(make_plan()).to_dict())

    use = plan.item("referral_date").uses[0]
    assert use.purpose_id == "service-planning"
    assert use.legal_basis == "funding agreement"
    assert use.explanation == "to see how long people wait"
    assert plan.item("housed").uses[0].retention == "2 years"


def test_an_integer_item_with_min_or_max_has_a_range():
    plan = Plan.from_dict(make_plan())

    nights = plan.item("nights_housed")
    assert (nights.has_range, nights.min, nights.max) == (True, 0, 366)
    assert plan.item("region").has_range is False


def test_the_version_can_be_given_by_the_store_rather_than_the_file():
    assert Plan.from_dict(make_plan(), version=7).version == 7


def test_a_purposes_allow_list_is_exactly_the_items_declared_for_it_in_plan_order():
    plan = Plan.from_dict(make_plan())

    assert plan.fields_for_purpose("service-planning") == (
        "region", "nights_housed", "referral_date", "case_code")
    assert plan.fields_for_purpose("outcomes-report") == ("region", "housed", "nights_housed")
    assert plan.fields_for_purpose("no-such-purpose") == ()


def test_a_linkage_key_is_needed_only_when_a_purpose_asks_for_it():
    assert not Plan.from_dict(make_plan()).needs_slk581()

    data = make_plan()
    purpose_of(data, "service-planning")["include_slk581"] = True
    assert Plan.from_dict(data).needs_slk581()


def test_looking_up_an_unknown_purpose_is_an_error():
    with pytest.raises(KeyError):
        Plan.from_dict(make_plan()).purpose("future-proofing")


# -- every kind of problem is reported -----------------------------------------

def test_a_purpose_going_to_a_unit_the_plan_does_not_name_is_reported():
    data = make_plan()
    purpose_of(data, "service-planning")["unit_id"] = "marketing"

    assert mentions(problems_of(data), "service-planning", "'marketing'",
                    "not one of the plan's units")


@pytest.mark.parametrize("form", ["", "raw", "UNIT_LEVEL", "everything"])
def test_a_purpose_with_an_unknown_form_is_reported(form):
    data = make_plan()
    purpose_of(data, "service-planning")["form"] = form

    assert mentions(problems_of(data), "service-planning", f"form {form!r}")


def test_an_item_declared_for_no_purpose_is_reported():
    data = make_plan()
    data["items"].append({"name": "iwi", "type": "string", "uses": []})

    assert mentions(problems_of(data), "'iwi'", "declares no purpose")


def test_an_item_used_for_a_purpose_the_plan_does_not_have_is_reported():
    data = make_plan()
    item_of(data, "case_code")["uses"].append({"purpose_id": "future-proofing"})

    assert mentions(problems_of(data), "'case_code'", "'future-proofing'",
                    "not one of the plan's purposes")


def test_a_purpose_no_item_is_declared_for_is_reported():
    data = make_plan()
    data["purposes"].append({"purpose_id": "idle", "unit_id": "insights", "form": "unit_level"})

    assert mentions(problems_of(data), "'idle'", "no schedule item")


def test_a_plan_with_no_purpose_is_reported():
    assert mentions(problems_of(make_plan(purposes=[], items=[])), "at least one purpose")


def test_an_enum_item_without_allowed_values_is_reported():
    data = make_plan()
    item_of(data, "region")["allowed_values"] = []

    assert mentions(problems_of(data), "'region'", "allowed_values")


def test_an_item_of_an_unknown_type_is_reported():
    data = make_plan()
    item_of(data, "case_code")["type"] = "free_text"

    assert mentions(problems_of(data), "'case_code'", "'free_text'")


def test_an_integer_range_that_is_upside_down_is_reported():
    data = make_plan()
    item_of(data, "nights_housed").update(min=10, max=1)

    assert mentions(problems_of(data), "'nights_housed'", "min is greater than max")


def test_a_pattern_that_does_not_compile_is_reported():
    data = make_plan()
    item_of(data, "case_code")["pattern"] = "[A-Z"

    assert mentions(problems_of(data), "'case_code'", "pattern does not compile")


def test_an_aggregate_dimension_not_declared_for_that_purpose_is_reported():
    data = make_plan()
    purpose_of(data, "outcomes-report")["dimensions"] = ["region", "ethnicity"]

    assert mentions(problems_of(data), "outcomes-report", "dimension 'ethnicity'",
                    "not an item declared for it")


def test_a_dimension_declared_only_for_another_purpose_is_reported():
    data = make_plan()
    data["items"].append({"name": "priority", "type": "enum", "allowed_values": ["a", "b"],
                          "uses": [{"purpose_id": "service-planning"}]})
    purpose_of(data, "outcomes-report")["dimensions"] = ["priority"]

    assert mentions(problems_of(data), "outcomes-report", "dimension 'priority'",
                    "not an item declared for it")


@pytest.mark.parametrize("dimension", ["nights_housed", "referral_date"])
def test_an_aggregate_dimension_that_is_not_enum_or_boolean_is_reported(dimension):
    data = make_plan()
    item_of(data, "referral_date")["uses"].append({"purpose_id": "outcomes-report"})
    purpose_of(data, "outcomes-report")["dimensions"] = [dimension]

    assert mentions(problems_of(data), f"dimension {dimension!r}", "enum or boolean")


@pytest.mark.parametrize("measure", ["region", "housed"])
def test_an_aggregate_measure_that_is_not_an_integer_is_reported(measure):
    data = make_plan()
    purpose_of(data, "outcomes-report")["measures"] = [measure]

    assert mentions(problems_of(data), f"measure {measure!r}", "integer item")


def test_an_aggregate_measure_not_declared_for_that_purpose_is_reported():
    data = make_plan()
    purpose_of(data, "outcomes-report")["measures"] = ["case_code"]

    assert mentions(problems_of(data), "measure 'case_code'", "not an item declared for it")


def test_an_aggregate_purpose_cannot_receive_a_linkage_key():
    data = make_plan()
    purpose_of(data, "outcomes-report")["include_slk581"] = True

    assert mentions(problems_of(data), "outcomes-report", "linkage key")


def test_a_unit_level_purpose_cannot_have_dimensions_or_measures():
    data = make_plan()
    purpose_of(data, "service-planning")["dimensions"] = ["region"]

    assert mentions(problems_of(data), "service-planning", "only aggregate purposes")


def test_a_negative_suppression_threshold_is_reported():
    data = make_plan()
    purpose_of(data, "outcomes-report")["suppress_below"] = -1

    assert mentions(problems_of(data), "outcomes-report", "suppress_below")


@pytest.mark.parametrize("reserved", RESERVED_FIELDS)
def test_an_item_may_not_take_a_name_intake_adds_itself(reserved):
    data = make_plan()
    item_of(data, "case_code")["name"] = reserved

    assert mentions(problems_of(data), f"item {reserved!r}", "not reserved")


@pytest.mark.parametrize("name", ["Region", "2nd_region", "first name", "region-code", "",
                                  "wh\u0101nau"])  # ledger keys stay ASCII (docs/ledger.md)
def test_an_item_name_that_is_not_a_plain_field_name_is_reported(name):
    data = make_plan()
    item_of(data, "case_code")["name"] = name

    assert mentions(problems_of(data), f"item {name!r}", "lowercase")


@pytest.mark.parametrize("kind, section, key, value", [
    ("unit", "units", "unit_id", "housing-team"),
    ("purpose", "purposes", "purpose_id", "service-planning"),
    ("item", "items", "name", "region"),
])
def test_duplicate_ids_are_reported(kind, section, key, value):
    data = make_plan()
    original = next(x for x in data[section] if x[key] == value)
    data[section].append(copy.deepcopy(original))

    assert mentions(problems_of(data), f"duplicate {kind} ids", value)


@pytest.mark.parametrize("programme_id", ["", "Housing", "housing support", "-housing"])
def test_a_programme_id_that_is_not_a_plain_id_is_reported(programme_id):
    assert mentions(problems_of(make_plan(programme_id=programme_id)), "programme_id")


def test_every_problem_of_a_plan_is_listed_at_once():
    data = make_plan()
    purpose_of(data, "service-planning")["unit_id"] = "marketing"
    purpose_of(data, "service-planning")["form"] = "raw"
    purpose_of(data, "outcomes-report")["dimensions"] = ["nights_housed"]
    purpose_of(data, "outcomes-report")["measures"] = ["region"]
    item_of(data, "region")["allowed_values"] = []
    item_of(data, "case_code")["name"] = "pseudonym"
    data["items"].append({"name": "iwi", "type": "string", "uses": []})
    data["units"].append({"unit_id": "insights", "name": "again"})

    with pytest.raises(PlanInvalid) as caught:
        Plan.from_dict(data)
    problems = caught.value.problems

    assert mentions(problems, "'marketing'")
    assert mentions(problems, "form 'raw'")
    assert mentions(problems, "dimension 'nights_housed'")
    assert mentions(problems, "measure 'region'")
    assert mentions(problems, "'region'", "allowed_values")
    assert mentions(problems, "'pseudonym'", "reserved")
    assert mentions(problems, "'iwi'", "declares no purpose")
    assert mentions(problems, "duplicate unit ids", "insights")
    assert len(problems) >= 8
    # The exception's message carries them all for logs and error replies.
    assert all(p in str(caught.value) for p in problems)


def test_a_malformed_plan_is_reported_as_a_plan_problem_not_a_crash():
    data = make_plan()
    del data["purposes"][0]["purpose_id"]

    assert mentions(problems_of(data), "malformed plan")


def test_a_plan_invalid_is_a_value_error_so_callers_can_treat_it_as_bad_input():
    assert issubclass(PlanInvalid, ValueError)
