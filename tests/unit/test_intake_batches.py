"""Intake's batch rules, without a broker or store: a batch sorted into
duplicates, rejections and rows; the rows carry pseudonyms, never the client's
reference; the agreement's terms; the events a submission sends."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.intake import domain
from services.intake.domain import Identity, Submission
from tests.unit.test_intake_domain import GOOD_RECORD, make_plan
from tiaki.core.errors import NotNow
from tiaki.core.plan import Plan

KEYS = {"service-planning": b"k" * 32, "outcomes-report": b"o" * 32}
UNDECLARED = domain.UNDECLARED
SUB = Submission("sub-1", "ccss", "housing-support", 1, "2026Q3", "open", 1.0,
                 agreement_version=3, notice_version=2)


@pytest.fixture(scope="module")
def rules() -> domain.RecordRules:
    return domain.RecordRules(Plan.from_dict(make_plan()))


def test_a_good_record_becomes_a_row_of_pseudonyms_and_typed_fields(rules):
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", dict(GOOD_RECORD), None)
    assert problems == []
    assert row["pseudonyms"] == {p: domain.pseudonym(k, "ccss", "C-1") for p, k in KEYS.items()}
    assert row["fields"]["age"] == 34 and "C-1" not in str(row) and "slk581" not in row


def test_a_bad_record_gives_no_row(rules):
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1",
                                        dict(GOOD_RECORD, age="old"), None)
    assert row is None and [f for f, _ in problems] == ["age"]


def test_the_linkage_key_is_added_when_the_plan_asks_and_refused_when_unreadable():
    data = make_plan()
    data["purposes"][0]["include_slk581"] = True
    rules = domain.RecordRules(Plan.from_dict(data))
    assert rules.needs_slk581
    good = Identity("Smith", "John", "1970-01-01", "male")
    row, _ = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", dict(GOOD_RECORD), good)
    assert row["slk581"] == domain.slk581("Smith", "John", "1970-01-01", "male")
    bad = Identity("Smith", "John", "01/01/1970", "male")
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", dict(GOOD_RECORD), bad)
    assert row is None and problems[0][0] == "identity"


# -- minimisation at the door: identity details only when a purpose in force asks -----------

DETAILS = ("identity.family_name", "identity.given_name", "identity.date_of_birth", "identity.sex")
PERSON = Identity("Te Rangi", "Aroha", "1990-12-31", "female")


def slk_plan() -> Plan:
    data = make_plan()
    data["purposes"][0]["include_slk581"] = True  # service-planning
    return Plan.from_dict(data)


def test_identity_details_no_purpose_asks_for_reject_the_record_naming_each_detail(rules):
    assert not rules.needs_slk581
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", dict(GOOD_RECORD),
                                        PERSON)
    assert row is None
    assert problems == [(name, domain.IDENTITY_NOT_ASKED) for name in DETAILS]
    assert "SLK-581" in domain.IDENTITY_NOT_ASKED
    assert domain.reason_kind(problems[0][1]) == "identity_not_asked"
    # Only the details actually sent are named; an empty identity is no identity.
    _, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", dict(GOOD_RECORD),
                                      Identity("", "", "1990-12-31", ""))
    assert [f for f, _ in problems] == ["identity.date_of_birth"]
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", dict(GOOD_RECORD),
                                        Identity("", "", "", ""))
    assert problems == [] and "slk581" not in row


def test_identity_details_are_refused_when_the_agreement_leaves_no_slk_purpose_in_force():
    plan = slk_plan()
    planning_items = {i.name for i in plan.items if "service-planning" in i.purposes()}
    assert "region" in planning_items  # shared with the aggregate purpose, which stays
    # Every item of the SLK purpose withheld: that purpose is not in force.
    rules = domain.agreed_rules(plan, dict.fromkeys(planning_items, "declined"))
    record = {k: v for k, v in GOOD_RECORD.items() if k not in planning_items}
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", record, PERSON)
    assert row is None and problems == [(name, domain.IDENTITY_NOT_ASKED) for name in DETAILS]
    # One of its items still agreed: it is in force, and its linkage key is made.
    rules = domain.agreed_rules(plan, dict.fromkeys(planning_items - {"age"}, "declined"))
    record = {k: v for k, v in GOOD_RECORD.items() if k not in planning_items - {"age"}}
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", record, PERSON)
    assert problems == [] and row["slk581"] == domain.slk581(*vars(PERSON).values())
    assert not set(vars(PERSON).values()) & set(str(v) for v in row["fields"].values())


details = st.text(max_size=30)


@given(identity=st.builds(Identity, details, details, details, details))
def test_any_identity_detail_sent_without_an_slk_purpose_rejects_the_record(rules, identity):
    row, problems = domain.check_record(rules, KEYS, "ccss", "r1", "C-1", dict(GOOD_RECORD),
                                        identity)
    sent = [f"identity.{name}" for name, value in vars(identity).items() if value]
    assert [f for f, _ in problems] == sent
    assert (row is None) == bool(sent)
    # A rejection names the detail, never its value.
    assert all(reason == domain.IDENTITY_NOT_ASKED for _, reason in problems)


def test_a_batch_is_sorted_into_duplicates_rejections_and_rows():
    checks = {0: ({"n": 0}, []), 2: (None, [("age", "required by the plan"),
                                            ("x", UNDECLARED)]), 3: ({"n": 3}, [])}
    asked = []

    def check(i):
        asked.append(i)
        return checks[i]

    batch = domain.sort_batch(["a", "seen", "b", "c", "a"], {"seen": ""}, check)
    assert (batch.rows, batch.refs, batch.duplicates) == ([{"n": 0}, {"n": 3}], ["a", "c"], 2)
    assert batch.rejections == [(2, "b", "age", "required by the plan"),
                                (2, "b", "x", UNDECLARED)]
    assert batch.reasons == ["missing"] and asked == [0, 2, 3] and not batch.empty
    assert domain.sort_batch(["seen"], {"seen": ""}, check).empty


@pytest.mark.parametrize("reason, kind", [
    (UNDECLARED, "undeclared_field"), ("not agreed: you declined it", "not_agreed"),
    ("required by the plan", "missing"), ("130 is outside 0..120", "out_of_range"),
    ("'x' is not one of: a", "not_allowed_value"), ("expected a date", "bad_format"),
    (domain.IDENTITY_NOT_ASKED, "identity_not_asked"),
    (domain.CONFLICTING_DUPLICATE, "conflicting_duplicate")])
def test_a_rejection_is_labelled_by_kind_for_metrics(reason, kind):
    assert domain.reason_kind(reason) == kind


def test_items_the_agreement_withholds_are_refused_with_the_reason():
    rules = domain.agreed_rules(Plan.from_dict(make_plan()), {"age": "declined"})
    _, problems = rules.check("r1", "C-1", dict(GOOD_RECORD))
    assert problems == [("age", "not agreed: you declined it in your agreement "
                                "(never stored or forwarded)")]


def test_terms_without_a_needed_agreement_are_not_now():
    ok = {"agreement_required": True, "agreement_version": 2, "withheld": {}}
    assert domain.check_terms(ok, "ccss", "p", 1, "2026Q3") is ok
    with pytest.raises(NotNow, match="ccss has no agreement to p version 1 for 2026Q3"):
        domain.check_terms(dict(ok, agreement_version=0), "ccss", "p", 1, "2026Q3")
    with pytest.raises(NotNow, match="^the plan is withdrawn$"):
        domain.check_terms(dict(ok, problem="the plan is withdrawn"), "ccss", "p", 1, "2026Q3")


def test_the_events_carry_the_submission_and_its_agreement_and_notice_versions():
    batch = domain.batch_event(SUB, [{"n": 1}])
    assert batch == {"submission_id": "sub-1", "provider_id": "ccss",
                     "programme_id": "housing-support", "plan_version": 1, "period": "2026Q3",
                     "agreement_version": 3, "notice_version": 2, "records": [{"n": 1}]}
    del batch["records"]
    assert domain.seal_event(SUB, 5, ["sub-1.1"]) == dict(batch, accepted_count=5,
                                                          batch_ids=["sub-1.1"],
                                                          replaces_submission_id="")
    # A replacement's seal names what it supersedes.
    replacement = dataclasses.replace(SUB, replaces_submission_id="sub-0")
    assert domain.seal_event(replacement, 5, [])["replaces_submission_id"] == "sub-0"


def test_a_stored_rejection_never_quotes_an_identity_detail():
    stored = domain.stored_rejection(
        4, "r1", "identity", "date of birth must be YYYY-MM-DD, got '1987-13-01'")
    assert stored == [4, "r1", "identity", "bad_format", "date of birth must be YYYY-MM-DD"]
    assert domain.stored_rejection(5, "r2", "age", "expected a whole number, got 'x'")[4] == (
        "expected a whole number, got 'x'")
