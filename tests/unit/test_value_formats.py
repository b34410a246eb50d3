"""The value formats declared once in tiaki.core.plan, as intake and `tiaki
submit --check` both apply them: trimmed cells, enum aliases, integers,
decimals, dates and booleans."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_intake_domain import make_plan, make_record
from tiaki.core.plan import Plan, PlanInvalid, RecordRules, Rejected, parse_date, parse_decimal, parse_integer


def _rules(**item_changes) -> RecordRules:
    data = make_plan()
    data["items"].append({"name": "ethnicity", "type": "enum",
                          "allowed_values": ["Māori", "Pacific Peoples"],
                          "aliases": {"Maori": "Māori", "Pasifika": "Pacific Peoples"},
                          "uses": [{"purpose_id": "service-planning"}]})
    data["items"].append({"name": "hours", "type": "decimal", "min": 0, "max": 40,
                          "uses": [{"purpose_id": "service-planning"}], **item_changes})
    return RecordRules(Plan.from_dict(data))


def test_cells_are_trimmed_before_they_are_read():
    typed, problems = _rules().check("r", "c", make_record(
        region=" auckland ", age=" 34\t", case_code=" AB-123", ethnicity=" Maori ", notes=" x "))
    assert problems == []
    assert (typed["region"], typed["age"], typed["case_code"], typed["notes"]) == \
        ("auckland", 34, "AB-123", "x")
    typed, problems = _rules().check("r", "c", make_record(notes="   "))
    assert problems == [] and "notes" not in typed  # blank is "not recorded"


def test_an_enum_alias_is_stored_as_its_allowed_value():
    for sent, stored in (("Maori", "Māori"), ("Māori", "Māori"), ("Pasifika", "Pacific Peoples")):
        typed, problems = _rules().check("r", "c", make_record(ethnicity=sent))
        assert problems == [] and typed["ethnicity"] == stored
    _, problems = _rules().check("r", "c", make_record(ethnicity="maori"))
    assert [f for f, _ in problems] == ["ethnicity"]


def test_an_alias_must_name_an_allowed_value_of_an_enum_item():
    data = make_plan()
    data["items"][1]["aliases"] = {"Akl": "Auckland"}  # allowed: northland, auckland
    data["items"][0]["aliases"] = {"x": "1"}  # age is an integer
    with pytest.raises(PlanInvalid) as caught:
        Plan.from_dict(data)
    assert "alias 'Akl'" in str(caught.value) and "only an enum item has aliases" in str(
        caught.value)


def test_aliases_survive_the_plan_dict():
    plan = _rules().plan
    assert Plan.from_dict(plan.to_dict()).item("ethnicity").aliases == (
        ("Maori", "Māori"), ("Pasifika", "Pacific Peoples"))


@pytest.mark.parametrize("text, value", [("4", 4), ("4.0", 4), ("-4", -4), ("+7", 7),
                                         ("12.000", 12)])
def test_integers(text, value):
    assert parse_integer(text) == value


@pytest.mark.parametrize("text", ["4.5", "1_000", "1,000", "four", "", "٣", "1e3"])
def test_not_integers(text):
    with pytest.raises(Rejected, match="whole number"):
        parse_integer(text)


def test_a_decimal_item_reads_points_and_keeps_its_range():
    typed, problems = _rules().check("r", "c", make_record(hours="12.5"))
    assert problems == [] and typed["hours"] == "12.5"  # text: never a float
    for bad in ("12,5", "41", "-0.5", "nan", "inf", "1e2"):
        _, problems = _rules().check("r", "c", make_record(hours=bad))
        assert [f for f, _ in problems] == ["hours"], bad


@pytest.mark.parametrize("text", ["2026-7-01", "20260701", "2026-02-30", "01/07/2026",
                                  "2026-07-01T00:00"])
def test_dates_are_yyyy_mm_dd_only(text):
    with pytest.raises(Rejected, match="YYYY-MM-DD"):
        parse_date(text)


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_every_whole_number_reads_back(n):
    assert parse_integer(str(n)) == n and parse_integer(f"{n}.0") == n


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3,
                   min_value=-10**6, max_value=10**6))
def test_every_plain_decimal_reads_back_as_its_plain_text(d):
    text = parse_decimal(f"{d:f}")
    assert isinstance(text, str) and Decimal(text) == d
    padded = f"{d:.6f}"  # more places, and a + sign: the same number, the same text
    assert parse_decimal(padded if d < 0 else f"+{padded}") == text
    assert "E" not in text and not text.startswith("+")
    assert "." not in text or not text.endswith(("0", "."))


@given(st.dates())
def test_every_date_reads_back(day: dt.date):
    text = day.isoformat()
    assert len(text) != 10 or parse_date(text) == text


@given(st.text(max_size=30), st.sampled_from(["age", "region", "housed", "referral_date",
                                              "case_code", "hours", "ethnicity"]))
def test_any_cell_is_read_or_rejected_with_a_reason(text, name):
    """No text a provider sends makes the rules fail in any other way."""
    typed, problems = _rules().check("r", "c", make_record(**{name: text}))
    assert (name in typed) != any(f == name for f, _ in problems) or not text.strip()
