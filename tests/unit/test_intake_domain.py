"""Intake's rules: which records a provider can send, the pseudonym each
purpose sees a client under, and the SLK-581 linkage key."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain import (
    MAX_REF_LENGTH,
    MAX_VALUE_LENGTH,
    RecordRules,
    Rejected,
    pseudonym,
    slk581,
)
from tiaki.core.plan import Plan

BASE_PLAN = {
    "programme_id": "housing-support",
    "name": "Housing support 2025",
    "version": 1,
    "units": [{"unit_id": "housing-team", "name": "Housing policy team"},
              {"unit_id": "insights", "name": "Insights"}],
    "purposes": [
        {"purpose_id": "service-planning", "name": "Plan services",
         "unit_id": "housing-team", "form": "unit_level"},
        {"purpose_id": "outcomes-report", "name": "Outcomes", "unit_id": "insights",
         "form": "aggregate", "dimensions": ["region", "housed"], "measures": ["nights_housed"]},
    ],
    "items": [
        {"name": "age", "type": "integer", "min": 0, "max": 120, "required": True,
         "uses": [{"purpose_id": "service-planning"}]},
        {"name": "region", "type": "enum", "allowed_values": ["northland", "auckland"],
         "required": True,
         "uses": [{"purpose_id": "service-planning"}, {"purpose_id": "outcomes-report"}]},
        {"name": "housed", "type": "boolean", "uses": [{"purpose_id": "outcomes-report"}]},
        {"name": "nights_housed", "type": "integer",
         "uses": [{"purpose_id": "outcomes-report"}]},
        {"name": "referral_date", "type": "date", "uses": [{"purpose_id": "service-planning"}]},
        {"name": "case_code", "type": "string", "pattern": r"[A-Z]{2}-\d{3}",
         "uses": [{"purpose_id": "service-planning"}]},
        {"name": "notes", "type": "string", "uses": [{"purpose_id": "service-planning"}]},
    ],
}

GOOD_RECORD = {
    "age": "34",
    "region": "auckland",
    "housed": "yes",
    "nights_housed": "12",
    "referral_date": "2025-03-05",
    "case_code": "AB-123",
    "notes": "prefers text messages",
}


def make_plan(**overrides) -> dict:
    data = copy.deepcopy(BASE_PLAN)
    data.update(copy.deepcopy(overrides))
    return data


def make_record(**overrides) -> dict[str, str]:
    record = dict(GOOD_RECORD)
    record.update(overrides)
    return record


@pytest.fixture(scope="module")
def rules() -> RecordRules:
    return RecordRules(Plan.from_dict(make_plan()))


def problem_fields(problems) -> list[str]:
    return [name for name, _ in problems]


# -- checking records ----------------------------------------------------------

def test_a_good_record_is_accepted_with_typed_values(rules):
    typed, problems = rules.check("rec-1", "client-1", make_record())

    assert problems == []
    assert typed == {
        "age": 34,
        "region": "auckland",
        "housed": True,
        "nights_housed": 12,
        "referral_date": "2025-03-05",
        "case_code": "AB-123",
        "notes": "prefers text messages",
    }


@pytest.mark.parametrize("text, value", [
    ("true", True), ("Yes", True), ("1", True), (" TRUE ", True),
    ("false", False), ("no", False), ("0", False),
])
def test_booleans_are_read_the_way_people_write_them(rules, text, value):
    typed, problems = rules.check("rec-1", "client-1", make_record(housed=text))

    assert problems == []
    assert typed["housed"] is value


def test_integers_at_the_edges_of_their_range_are_accepted(rules):
    for age in ("0", "120", " 45 "):
        typed, problems = rules.check("rec-1", "client-1", make_record(age=age))
        assert problems == []
        assert typed["age"] == int(age)


def test_a_field_the_plan_does_not_declare_is_rejected(rules):
    typed, problems = rules.check("rec-1", "client-1", make_record(religion="none"))

    assert problem_fields(problems) == ["religion"]
    assert "not declared" in problems[0][1]
    assert "religion" not in typed


def test_a_field_named_like_one_intake_adds_itself_is_rejected(rules):
    _, problems = rules.check("rec-1", "client-1", make_record(pseudonym="abc"))

    assert problem_fields(problems) == ["pseudonym"]


def test_a_missing_required_field_is_rejected(rules):
    record = make_record()
    del record["age"]

    _, problems = rules.check("rec-1", "client-1", record)

    assert problems == [("age", "required by the plan")]


def test_an_empty_value_means_not_recorded(rules):
    typed, problems = rules.check("rec-1", "client-1", make_record(referral_date="", housed=""))

    assert problems == []
    assert "referral_date" not in typed
    assert "housed" not in typed


def test_an_empty_required_value_counts_as_missing(rules):
    _, problems = rules.check("rec-1", "client-1", make_record(age=""))

    assert problems == [("age", "required by the plan")]


@pytest.mark.parametrize("age", ["-1", "121", "1000"])
def test_an_integer_out_of_range_is_rejected(rules, age):
    _, problems = rules.check("rec-1", "client-1", make_record(age=age))

    assert problem_fields(problems) == ["age"]
    assert "outside 0..120" in problems[0][1]


def test_an_integer_without_a_declared_range_takes_any_whole_number(rules):
    typed, problems = rules.check("rec-1", "client-1", make_record(nights_housed="-5000"))

    assert problems == []
    assert typed["nights_housed"] == -5000


@pytest.mark.parametrize("age", ["thirty", "34.5", "3 4", "0x22", "1e2"])
def test_a_value_that_is_not_a_whole_number_is_rejected(rules, age):
    _, problems = rules.check("rec-1", "client-1", make_record(age=age))

    assert problem_fields(problems) == ["age"]
    assert "whole number" in problems[0][1]


@pytest.mark.parametrize("when", ["05/03/2025", "2025-02-30", "2025-13-01", "yesterday", "2025"])
def test_a_date_that_is_not_a_real_iso_date_is_rejected(rules, when):
    _, problems = rules.check("rec-1", "client-1", make_record(referral_date=when))

    assert problem_fields(problems) == ["referral_date"]
    assert "YYYY-MM-DD" in problems[0][1]


@pytest.mark.parametrize("region", ["Auckland", "wellington", "auck land"])
def test_an_enum_value_the_plan_does_not_allow_is_rejected(rules, region):
    _, problems = rules.check("rec-1", "client-1", make_record(region=region))

    assert problem_fields(problems) == ["region"]
    assert "northland, auckland" in problems[0][1]


@pytest.mark.parametrize("housed", ["maybe", "y", "2"])
def test_a_boolean_that_is_not_true_or_false_is_rejected(rules, housed):
    _, problems = rules.check("rec-1", "client-1", make_record(housed=housed))

    assert problem_fields(problems) == ["housed"]


@pytest.mark.parametrize("code", ["ab-123", "AB-12", "AB-1234", "xAB-123", "AB -123"])
def test_a_string_that_does_not_match_the_whole_pattern_is_rejected(rules, code):
    _, problems = rules.check("rec-1", "client-1", make_record(case_code=code))

    assert problem_fields(problems) == ["case_code"]
    assert "does not match" in problems[0][1]


def test_a_value_longer_than_the_limit_is_rejected(rules):
    _, problems = rules.check("rec-1", "client-1",
                              make_record(notes="x" * (MAX_VALUE_LENGTH + 1)))

    assert problem_fields(problems) == ["notes"]


def test_every_problem_of_a_record_is_reported_together(rules):
    record = make_record(age="200", region="otago", referral_date="not a date",
                         case_code="nope", religion="none")
    del record["housed"]

    typed, problems = rules.check("rec-1", "client-1", record)

    assert set(problem_fields(problems)) == {
        "religion", "age", "region", "referral_date", "case_code"}
    # A field that failed its check is not also reported as missing.
    assert problem_fields(problems).count("age") == 1
    # A record with any problem is rejected whole; the good fields are still typed.
    assert typed == {"nights_housed": 12, "notes": "prefers text messages"}


def test_undeclared_fields_are_reported_before_other_problems(rules):
    record = {"age": "200", "region": "otago", "religion": "none"}

    _, problems = rules.check("rec-1", "client-1", record)

    assert problem_fields(problems) == ["religion", "age", "region"]


def test_a_required_field_missing_alongside_bad_fields_is_also_reported(rules):
    record = make_record(case_code="nope")
    del record["region"]

    _, problems = rules.check("rec-1", "client-1", record)

    assert set(problem_fields(problems)) == {"case_code", "region"}


@pytest.mark.parametrize("record_ref, client_ref, bad", [
    ("", "client-1", "record_ref"),
    ("rec-1", "", "client_ref"),
    ("r" * (MAX_REF_LENGTH + 1), "client-1", "record_ref"),
    ("rec-1", "c" * (MAX_REF_LENGTH + 1), "client_ref"),
])
def test_a_record_needs_its_own_reference_and_a_client_reference(
        rules, record_ref, client_ref, bad):
    _, problems = rules.check(record_ref, client_ref, make_record())

    assert problem_fields(problems) == [bad]


@pytest.mark.parametrize("client_ref", [" ", "   ", "\t"])
def test_a_client_reference_of_only_spaces_is_rejected_as_missing(rules, client_ref):
    _, problems = rules.check("rec-1", client_ref, make_record())

    assert "client_ref" in problem_fields(problems)


def test_a_field_the_client_declined_is_no_longer_required_or_accepted():
    rules = RecordRules(Plan.from_dict(make_plan()), declined=frozenset({"age"}))
    record = make_record()
    del record["age"]

    typed, problems = rules.check("rec-1", "client-1", record)
    assert problems == []
    assert "age" not in typed

    _, problems = rules.check("rec-1", "client-1", make_record(age="34"))
    assert problem_fields(problems) == ["age"]


def test_rules_know_when_the_plan_asks_for_a_linkage_key():
    assert RecordRules(Plan.from_dict(make_plan())).needs_slk581 is False

    data = make_plan()
    data["purposes"][0]["include_slk581"] = True
    assert RecordRules(Plan.from_dict(data)).needs_slk581 is True
    # Not when the provider's agreement withholds every item of that purpose.
    plan = Plan.from_dict(data)
    its_items = frozenset(i.name for i in plan.items if "service-planning" in i.purposes())
    assert RecordRules(plan, its_items).needs_slk581 is False
    assert [p.purpose_id for p in plan.purposes_in_force(its_items)] == ["outcomes-report"]
    assert RecordRules(plan, its_items - {"age"}).needs_slk581 is True


# -- per-purpose pseudonyms -----------------------------------------------------

PLANNING_KEY = b"programme housing-support / purpose service-planning"
OUTCOMES_KEY = b"programme housing-support / purpose outcomes-report"


def test_the_same_client_gets_the_same_pseudonym_every_time_for_one_purpose():
    assert pseudonym(PLANNING_KEY, "ccss", "client-42") == pseudonym(PLANNING_KEY, "ccss", "client-42")


def test_stray_spaces_around_a_client_reference_do_not_change_the_pseudonym():
    assert pseudonym(PLANNING_KEY, "ccss", " client-42 ") == pseudonym(PLANNING_KEY, "ccss", "client-42")


def test_two_purposes_see_the_same_client_under_different_pseudonyms():
    assert pseudonym(PLANNING_KEY, "ccss", "client-42") != pseudonym(OUTCOMES_KEY, "ccss", "client-42")


def test_different_clients_get_different_pseudonyms():
    assert pseudonym(PLANNING_KEY, "ccss", "client-42") != pseudonym(PLANNING_KEY, "ccss", "client-43")


def test_a_pseudonym_is_128_bits_of_hex():
    value = pseudonym(PLANNING_KEY, "ccss", "client-42")

    assert len(value) == 32
    assert int(value, 16) >= 0


client_refs = st.text(min_size=8, max_size=60).filter(lambda s: len(s.strip()) >= 8)
keys = st.binary(min_size=16, max_size=32)


@settings(max_examples=150, deadline=None)
@given(client_ref=client_refs, key_a=keys, key_b=keys)
def test_pseudonyms_never_reveal_the_client_reference_and_differ_per_purpose(
        client_ref, key_a, key_b):
    if key_a == key_b:
        key_b = bytes([key_a[0] ^ 1]) + key_a[1:]

    a = pseudonym(key_a, "ccss", client_ref)
    b = pseudonym(key_b, "ccss", client_ref)

    assert a != b
    for value in (a, b):
        assert len(value) == 32 and set(value) <= set("0123456789abcdef")
        assert client_ref.strip() not in value
        assert client_ref.strip().lower() not in value


@settings(max_examples=150, deadline=None)
@given(ref_a=st.text(min_size=1, max_size=40), ref_b=st.text(min_size=1, max_size=40))
def test_distinct_clients_never_share_a_pseudonym(ref_a, ref_b):
    if ref_a.strip() == ref_b.strip():
        assert pseudonym(PLANNING_KEY, "ccss", ref_a) == pseudonym(PLANNING_KEY, "ccss", ref_b)
    else:
        assert pseudonym(PLANNING_KEY, "ccss", ref_a) != pseudonym(PLANNING_KEY, "ccss", ref_b)


# -- SLK-581 ----------------------------------------------------------------------

def test_slk581_of_john_smith_matches_the_published_example():
    assert slk581("Smith", "John", "2000-01-01", "male") == "MIHOH010120001"


@pytest.mark.parametrize("family, given_name, expected", [
    ("Ng", "John", "G22OH"),
    ("Li", "Al", "I22L2"),
    ("Ngata", "Jo", "GAAO2"),
    ("Smith", "A", "MIH22"),
    ("Smit", "John", "MI2OH"),
])
def test_short_names_are_padded_with_2(family, given_name, expected):
    assert slk581(family, given_name, "2000-01-01", "male")[:5] == expected


@pytest.mark.parametrize("family, given_name, expected", [
    ("", "John", "999OH"),
    ("   ", "John", "999OH"),
    ("Smith", "", "MIH99"),
    ("", "", "99999"),
    ("-", "'", "99999"),
])
def test_missing_names_are_coded_999_and_99(family, given_name, expected):
    assert slk581(family, given_name, "2000-01-01", "male")[:5] == expected


@pytest.mark.parametrize("family, same_as", [
    ("O'Brien", "OBrien"),
    ("Smith-Jones", "SmithJones"),
    ("van der Berg", "vanderBerg"),
    ("  smith  ", "SMITH"),
    ("Smith2", "Smith"),
])
def test_characters_that_are_not_letters_are_ignored(family, same_as):
    assert (slk581(family, "Mary Ann", "1985-07-23", "female")
            == slk581(same_as, "MaryAnn", "1985-07-23", "female"))


def test_slk581_of_a_hyphenated_apostrophe_name():
    # O'Brien-Walker -> OBRIENWALKER: letters 2, 3, 5 are B, R, E.
    assert slk581("O'Brien-Walker", "Te Rangi", "1990-12-31", "m") == "BREER311219901"


@pytest.mark.parametrize("sex, code", [
    ("male", "1"), ("M", "1"), ("1", "1"),
    ("female", "2"), ("f", "2"), ("2", "2"),
    ("other", "3"), ("X", "3"), ("3", "3"),
    ("not_stated", "9"), ("", "9"), ("9", "9"),
])
def test_the_sex_code_is_1_male_2_female_3_other_9_not_stated(sex, code):
    assert slk581("Smith", "John", "2000-01-01", sex)[-1] == code


def test_the_date_of_birth_is_written_ddmmyyyy():
    assert slk581("Smith", "John", "1975-11-09", "male")[5:13] == "09111975"


@pytest.mark.parametrize("born", ["01/01/2000", "2000-02-30", "", "first of Jan"])
def test_a_date_of_birth_that_cannot_be_read_is_rejected(born):
    with pytest.raises(Rejected, match="date of birth"):
        slk581("Smith", "John", born, "male")


@pytest.mark.parametrize("sex", ["unknown", "man", "4"])
def test_a_sex_that_cannot_be_coded_is_rejected(sex):
    with pytest.raises(Rejected, match="sex"):
        slk581("Smith", "John", "2000-01-01", sex)


@pytest.mark.parametrize("with_macron, without", [
    ("Tūhoe", "Tuhoe"),
    ("Ngāti", "Ngati"),
    ("Mākere", "Makere"),
])
def test_macron_vowels_count_as_letters_in_slk581(with_macron, without):
    assert (slk581(with_macron, "Mere", "2000-01-01", "female")
            == slk581(without, "Mere", "2000-01-01", "female"))


def test_the_same_client_reference_at_two_providers_is_two_people():
    assert pseudonym(PLANNING_KEY, "ccss", "C-1") != pseudonym(PLANNING_KEY, "other-ngo", "C-1")
