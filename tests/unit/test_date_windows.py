"""Validation that matches the period: every date in its item's window (never
after the reporting period ends; not before a bound the plan may set), and a
record reference sent twice with different values is a rejection that says so."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake.domain import CONFLICTING_DUPLICATE, sort_batch
from tests.unit.test_intake_domain import make_plan, make_record
from tiaki.core.periods import period_days
from tiaki.core.plan import Plan, PlanInvalid, RecordRules, outside_window


def _rules(**window) -> RecordRules:
    data = make_plan()
    data["items"][4].update(window)  # referral_date
    return RecordRules(Plan.from_dict(data))


def _fields(rules, day: str, period="2026Q3"):
    typed, problems = rules.check("r", "c", make_record(referral_date=day), period)
    return typed.get("referral_date"), [(f, why) for f, why in problems]


def test_by_default_a_date_after_the_period_is_rejected_and_one_before_is_not():
    rules = _rules()
    assert _fields(rules, "2026-09-30") == ("2026-09-30", [])
    assert _fields(rules, "2019-01-01") == ("2019-01-01", [])
    value, problems = _fields(rules, "2031-01-01")
    assert value is None
    assert problems == [("referral_date", "2031-01-01 is outside the window for 2026Q3: "
                                          "after its last day, 2026-09-30")]
    value, problems = _fields(rules, "2026-10-01")
    assert [f for f, _ in problems] == ["referral_date"]


def test_a_plan_may_set_a_lower_bound_or_the_period_itself():
    assert _fields(_rules(not_before="2020-01-01"), "2019-12-31")[1] == [
        ("referral_date", "2019-12-31 is outside the window for 2026Q3: before 2020-01-01")]
    assert _fields(_rules(not_before="2020-01-01"), "2020-01-01")[1] == []
    assert [f for f, _ in _fields(_rules(in_period=True), "2026-06-30")[1]] == ["referral_date"]
    assert _fields(_rules(in_period=True), "2026-07-01")[1] == []


def test_without_a_period_no_window_applies():
    typed, problems = _rules().check("r", "c", make_record(referral_date="2031-01-01"))
    assert problems == [] and typed["referral_date"] == "2031-01-01"


def test_a_window_is_only_for_a_date_item_and_a_bound_is_a_date():
    data = make_plan()
    data["items"][0]["not_before"] = "2020-01-01"  # age
    data["items"][4]["not_before"] = "1 Jan 2020"
    with pytest.raises(PlanInvalid) as caught:
        Plan.from_dict(data)
    assert "only a date item" in str(caught.value) and "YYYY-MM-DD" in str(caught.value)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
       st.integers(2000, 2060), st.integers(1, 4), st.booleans(),
       st.one_of(st.none(), st.dates(min_value=dt.date(1990, 1, 1),
                                     max_value=dt.date(2070, 1, 1))))
def test_a_date_is_in_its_window_exactly_when_between_its_bounds(day, year, quarter, in_period,
                                                                 bound):
    period = f"{year}Q{quarter}"
    item = _rules(in_period=in_period,
                  not_before=bound.isoformat() if bound else "").plan.item("referral_date")
    first, last = period_days(period)
    lowest = max([d for d in (first if in_period else None, bound) if d], default=None)
    inside = day <= last and (lowest is None or day >= lowest)
    assert (outside_window(item, day.isoformat(), period) == "") == inside


def test_the_same_ref_with_other_values_is_a_rejection_that_says_so():
    refs = ["r1", "r2", "r1", "r1"]
    contents = ["a", "b", "a", "changed"]
    batch = sort_batch(refs, {}, lambda i: ({"row": i}, []), contents)
    assert batch.refs == ["r1", "r2"]
    assert batch.duplicates == 1  # the same values again
    assert batch.rejections == [(3, "r1", "record_ref", CONFLICTING_DUPLICATE)]
    assert batch.reasons == ["conflicting_duplicate"]


def test_a_ref_accepted_in_an_earlier_batch_is_compared_by_its_content():
    seen = {"r1": "a", "r2": "b", "old": ""}  # "": stored before digests were kept
    batch = sort_batch(["r1", "r2", "old", "r3"], seen, lambda i: ({"row": i}, []),
                       ["a", "changed", "anything", "c"])
    assert batch.refs == ["r3"] and batch.contents == ["c"]
    assert batch.duplicates == 2  # r1 with the same content, and "old" (not known)
    assert batch.rejections == [(1, "r2", "record_ref", CONFLICTING_DUPLICATE)]
