"""Co-design rules: proposals applied to a draft, readable diffs, and what stops
a plan being published (incomplete purpose statements, broken rules)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.purpose_router.codesign import family_document
from services.purpose_router.codesign import rules as codesign
from tests.service.factories import EXAMPLE
from tiaki.core import errors
from tiaki.core.errors import Invalid, NotNow
from tiaki.core.plan import Plan
from tiaki.core.working_days import add_working_days


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def plan_of(data: dict, version: int = 1) -> Plan:
    return Plan.from_dict(data, version=version)


def item(data: dict, name: str) -> dict:
    return next(i for i in data["items"] if i["name"] == name)


def texts(problems) -> list[str]:
    return [p.text for p in problems]


NEW_ITEM = {"name": "housing_stable", "type": "boolean",
            "description": "Whether the family has a stable home.",
            "choice": "You can say no. You still get the same help.",
            "uses": [{"purpose_id": "evaluation", "retention": "7 years after the programme ends",
                      "legal_basis": "Funding agreement, evaluation clause",
                      "explanation": "We see if a stable home helps families stay.",
                      "not_seen_by": ["service-delivery"]}]}


# -- proposals ---------------------------------------------------------------------------

class TestApplyChange:
    def test_add_change_remove(self, example):
        plan = plan_of(example)
        added = codesign.apply_change(plan, "add", "housing_stable", NEW_ITEM)
        assert added.item("housing_stable").uses[0].not_seen_by == ("service-delivery",)
        assert added.version == plan.version

        changed_item = copy.deepcopy(item(example, "age_band"))
        changed_item["uses"][0]["retention"] = "5 years after the programme ends"
        changed = codesign.apply_change(plan, "change", "age_band", changed_item)
        assert changed.item("age_band").uses[0].retention == "5 years after the programme ends"

        removed = codesign.apply_change(plan, "remove", "goals_met", None)
        assert removed.item("goals_met") is None
        assert len(removed.items) == len(plan.items) - 1

    def test_unknown_item_is_not_found(self, example):
        with pytest.raises(errors.NotFound) as err:
            codesign.apply_change(plan_of(example), "remove", "shoe_size", None)
        assert err.value.field == "item_name" and "shoe_size" in err.value.reason

    def test_adding_an_existing_item_is_refused(self, example):
        with pytest.raises(errors.NotNow, match="already in the plan"):
            codesign.apply_change(plan_of(example), "add", "age_band", item(example, "age_band"))

    @pytest.mark.parametrize("kind, name, proposed, error, field", [
        ("rename", "age_band", None, errors.Invalid, "kind"),
        ("change", "", None, errors.Invalid, "item_name"),
        ("change", "age_band", None, errors.Invalid, "item"),
        ("change", "age_band", {**NEW_ITEM, "name": "other"}, errors.Invalid, "item.name"),
        ("add", "housing_stable", {**NEW_ITEM, "uses": [{"purpose_id": "marketing"}]}, errors.Invalid,
         "item"),
        ("add", "x_item", {"type": "enum", "uses": [{"purpose_id": "evaluation"}]},
         errors.Invalid, "item"),
    ])
    def test_bad_proposals(self, example, kind, name, proposed, error, field):
        with pytest.raises(error) as err:
            codesign.apply_change(plan_of(example), kind, name, proposed)
        assert err.value.field == field

    def test_a_change_that_changes_nothing_is_refused(self, example):
        with pytest.raises(errors.Invalid, match="the same"):
            codesign.apply_change(plan_of(example), "change", "age_band", item(example, "age_band"))

    def test_proposal_state_follows_decisions(self):
        decisions = [{"proposal": 1, "accepted": True}, {"proposal": 2, "accepted": False}]
        assert [codesign.proposal_state(n, decisions) for n in (1, 2, 3)] == \
            ["accepted", "declined", "open"]


# -- diffs --------------------------------------------------------------------------------

class TestDiff:
    def test_item_added_removed_and_changed_field_by_field(self, example):
        before = plan_of(example)
        after = codesign.apply_change(before, "add", "housing_stable", NEW_ITEM)
        after = codesign.apply_change(after, "remove", "goals_met", None)
        age = copy.deepcopy(item(example, "age_band"))
        age["uses"][0]["retention"] = "5 years after the programme ends"
        age["choice"] = "You can say no."
        after = codesign.apply_change(after, "change", "age_band", age)

        lines = [d.text for d in codesign.diff_plans(before.to_dict(), after.to_dict())]
        assert lines == [
            "item age_band: choice changed from 'You can say no. You still get the same help.' "
            "to 'You can say no.'",
            "item age_band, use for evaluation: retention changed from "
            "'7 years after the programme ends' to '5 years after the programme ends'",
            "item goals_met: removed (How many of the family's own goals were met.)",
            "item housing_stable: added (boolean, for evaluation)",
        ]

    def test_a_use_added_and_a_purpose_changed(self, example):
        changed = copy.deepcopy(example)
        changed["purposes"][0]["description"] = "Learn what helps families."
        item(changed, "ethnicity")["uses"].append(
            {"purpose_id": "service_delivery_reporting", "explanation": "Counts by community."})
        diff = codesign.diff_plans(plan_of(example).to_dict(), plan_of(changed).to_dict())
        assert [(d.subject, d.change, d.field) for d in diff] == [
            ("purpose evaluation", "changed", "description"),
            ("item ethnicity, use for service_delivery_reporting", "added", ""),
        ]

    def test_same_plan_no_differences_and_a_first_version(self, example):
        plan = plan_of(example).to_dict()
        assert codesign.diff_plans(plan, plan) == []
        (first,) = codesign.diff_plans(None, plan)
        assert first.text == "plan: added (first version: 9 items)"


# -- publishing ------------------------------------------------------------------------------

class TestPublishProblems:
    def test_the_example_programme_is_publishable(self, example):
        assert codesign.publish_problems(plan_of(example)) == []

    def test_every_missing_part_of_a_purpose_statement_is_listed(self, example):
        data = copy.deepcopy(example)
        use = item(data, "wellbeing_end")["uses"][0]
        for name in ("retention", "legal_basis", "explanation"):
            use[name] = ""
        use["not_seen_by"] = []
        item(data, "goals_met")["choice"] = ""
        item(data, "goals_met")["description"] = ""
        data["purposes"][0]["description"] = ""

        problems = codesign.publish_problems(plan_of(data))
        assert {p.kind for p in problems} == {"missing"}
        assert texts(problems) == [
            "purpose evaluation: description: why it is needed (DPUP: why)",
            "item wellbeing_end, use for evaluation: retention: how long it is kept",
            "item wellbeing_end, use for evaluation: legal_basis: the legal basis (DPUP: law)",
            "item wellbeing_end, use for evaluation: explanation: a plain-language explanation",
            "item wellbeing_end, use for evaluation: not_seen_by: "
            "who will NOT see it (DPUP: who will not have access)",
            "item goals_met: description: what is collected (DPUP: what)",
            "item goals_met: choice: the family's choice (DPUP: choice)",
        ]

    def test_a_plan_made_before_co_design_lists_what_it_lacks(self):
        old = {"programme_id": "old", "name": "Old", "units": [{"unit_id": "u", "name": "U"}],
               "purposes": [{"purpose_id": "p", "name": "P", "unit_id": "u", "form": "unit_level"}],
               "items": [{"name": "a", "type": "string", "uses": [{"purpose_id": "p"}]}]}
        problems = codesign.publish_problems(plan_of(old))
        assert {(p.subject, p.field) for p in problems} == {
            ("purpose p", "description"), ("item a", "description"), ("item a", "choice"),
            ("item a, use for p", "retention"), ("item a, use for p", "legal_basis"),
            ("item a, use for p", "explanation"), ("item a, use for p", "not_seen_by")}

    def test_purpose_without_a_named_unit(self, example):
        data = copy.deepcopy(example)
        data["units"][0]["name"] = " "
        (problem,) = codesign.publish_problems(plan_of(data))
        assert problem.kind == "rule"
        assert problem.text == ("purpose evaluation: unit_id: "
                                "no purpose without a named receiving unit")

    @pytest.mark.parametrize("text", [
        "Evaluation and any future use the Agency needs.",
        "For research and other purposes.",
        "Kept for future research.",
        "Used for, including but not limited to, audits.",
    ])
    def test_broad_purposes_break_a_rule(self, example, text):
        data = copy.deepcopy(example)
        data["purposes"][0]["description"] = text
        problems = codesign.publish_problems(plan_of(data))
        assert [(p.kind, p.subject, p.field) for p in problems] == [
            ("rule", "purpose evaluation", "description")]
        assert "broad purpose" in problems[0].message

    def test_ruling_out_other_uses_is_not_a_broad_purpose(self, example):
        data = copy.deepcopy(example)
        item(data, "age_band")["uses"][0]["explanation"] += " It is never used for any other purpose."
        assert codesign.publish_problems(plan_of(data)) == []

    def test_broad_explanation_breaks_a_rule(self, example):
        data = copy.deepcopy(example)
        item(data, "age_band")["uses"][0]["explanation"] = "We keep it for any future use."
        (problem,) = codesign.publish_problems(plan_of(data))
        assert (problem.subject, problem.field) == ("item age_band, use for evaluation",
                                                    "explanation")

    @pytest.mark.parametrize("retention", ["indefinitely", "as long as needed", "for a while",
                                           "7 years, or forever if needed"])
    def test_retention_must_be_a_stated_period(self, example, retention):
        data = copy.deepcopy(example)
        item(data, "age_band")["uses"][0]["retention"] = retention
        (problem,) = codesign.publish_problems(plan_of(data))
        assert (problem.kind, problem.field) == ("rule", "retention")

    def test_identifying_item_needs_a_purpose_that_needs_it(self, example):
        data = copy.deepcopy(example)
        item(data, "referral_date")["identifying"] = True
        (problem,) = codesign.publish_problems(plan_of(data))
        assert (problem.kind, problem.subject, problem.field) == (
            "rule", "item referral_date, use for evaluation", "form")
        data["purposes"][0]["identifiable_need"] = "Staff check each family's dates by hand."
        assert codesign.publish_problems(plan_of(data)) == []

    def test_identifying_item_as_counts_only_is_fine(self, example):
        data = copy.deepcopy(example)
        item(data, "programme_strand")["identifying"] = True
        problems = codesign.publish_problems(plan_of(data))
        # only the unit-level use breaks the rule, not the aggregate one
        assert [p.subject for p in problems] == ["item programme_strand, use for evaluation"]

    def test_linkage_key_needs_a_reason(self, example):
        data = copy.deepcopy(example)
        data["purposes"][0]["include_slk581"] = True
        (problem,) = codesign.publish_problems(plan_of(data))
        assert (problem.subject, problem.field) == ("purpose evaluation", "include_slk581")

    def test_not_seen_by_cannot_name_a_unit_that_receives_it(self, example):
        data = copy.deepcopy(example)
        item(data, "region")["uses"][0]["not_seen_by"] = ["Contracts and Service Delivery team"]
        (problem,) = codesign.publish_problems(plan_of(data))
        assert problem.field == "not_seen_by" and "receives it" in problem.message

    def test_hard_words_break_the_reading_rule(self, example):
        data = copy.deepcopy(example)
        hard = ("Notwithstanding contractual obligations, longitudinal disaggregated "
                "administrative datasets facilitate comprehensive evaluative methodologies "
                "regarding intergenerational socioeconomic determinants.")
        for i in data["items"]:
            for use in i["uses"]:
                use["explanation"] = hard
        assert codesign.publish_problems(plan_of(data)) == []  # the rules alone pass
        problems = family_document.publish_problems(plan_of(data))
        assert [(p.kind, p.subject, p.field) for p in problems] == [("rule", "plan", "explanation")]
        assert "grade" in problems[0].message and "age_band" in problems[0].message


class TestPurposeStatement:
    def test_follows_dpups_template(self, example):
        statement = codesign.purpose_statement(plan_of(example), "region")
        assert statement["what"] == "Region where the service was delivered."
        assert statement["choice"].startswith("This is the area")
        assert "record your provider can check" in statement["transparency"]
        evaluation, counts = statement["uses"]
        assert evaluation["who_will_see"] == "Evaluation and Insights team"
        assert evaluation["why"] == "Learn whether the programme helps families, and for whom."
        assert evaluation["law"] == "Funding agreement, evaluation clause"
        assert evaluation["retention"] == "7 years after the programme ends"
        assert evaluation["who_will_not_see"] == ["Case managers who decide on benefits or care",
                                                  "Other government agencies"]
        assert evaluation["can_identify"].startswith("Not by name")
        assert counts["who_will_see"] == "Contracts and Service Delivery team"
        assert counts["can_identify"].startswith("No.") and "Counts under 6" in counts["how"]

    def test_unit_ids_in_not_seen_by_read_as_unit_names(self, example):
        statement = codesign.purpose_statement(plan_of(example), "age_band")
        assert statement["uses"][0]["who_will_not_see"][0] == "Contracts and Service Delivery team"

    def test_unknown_item(self, example):
        with pytest.raises(errors.NotFound, match="shoe_size"):
            codesign.purpose_statement(plan_of(example), "shoe_size")

    @pytest.mark.parametrize("text", ["agency:agency", "provider:", "provider:CCSS", "unit:x", "ccss"])
    def test_participants_are_providers_or_representatives(self, text):
        with pytest.raises(errors.Invalid):
            codesign.parse_participant(text)
        assert codesign.parse_participant(" representative:whanau-voice ") == \
            "representative:whanau-voice"


@pytest.mark.parametrize("text, broad", [
    ("We do not sell it and may use it for any future purpose.", "any future purpose"),
    ("It is not shared, but we keep it for future research.", "future research"),
    ("No names are sent; the Agency may use it for other purposes.", "other purposes"),
    ("It is never used for any other purpose.", ""),
    ("It is not used for other purposes.", ""),
    ("We will not use it for any future purpose.", ""),
])
def test_only_a_negation_just_before_a_broad_phrase_rules_it_out(text, broad):
    assert codesign.broad_phrase(text) == broad


# -- the partnership's dates: for every day of the year ------------------------------

DAYS = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2032, 12, 31))


@settings(deadline=None)  # the first call loads the year's public holidays
@given(opened=DAYS, later=st.integers(0, 60), working_days=st.integers(1, 40))
def test_a_draft_takes_part_until_its_closing_date_and_never_after(opened, later, working_days):
    closes = codesign.closing_date("", opened, working_days)
    assert closes == add_working_days(opened, working_days) and closes > opened
    day = opened + dt.timedelta(days=later)
    if day <= closes:
        codesign.still_open(closes.isoformat(), day, "proposals are taken")
    else:
        with pytest.raises(NotNow, match=f"closed to participants on {closes.isoformat()}"):
            codesign.still_open(closes.isoformat(), day, "proposals are taken")
    codesign.still_open("", day, "proposals are taken")  # a draft from before closing dates


@settings(deadline=None)  # the first call loads the year's public holidays
@given(today=DAYS, offset=st.integers(-30, 30))
def test_a_closing_date_asked_for_is_after_today(today, offset):
    asked = today + dt.timedelta(days=offset)
    if offset > 0:
        assert codesign.closing_date(asked.isoformat(), today, 20) == asked
    else:
        with pytest.raises(Invalid, match="closes_on"):
            codesign.closing_date(asked.isoformat(), today, 20)


@settings(deadline=None)  # the first call loads the year's public holidays
@given(proposed=DAYS, later=st.integers(0, 40), working_days=st.integers(1, 20))
def test_the_agency_accepts_its_own_proposal_only_after_participants_review(
        proposed, later, working_days):
    until = codesign.review_until("agency", proposed, working_days)
    assert until == add_working_days(proposed, working_days).isoformat()
    proposal = {"number": 3, "review_until": until}
    day = proposed + dt.timedelta(days=later)
    if day.isoformat() > until:
        codesign.may_accept(proposal, day)
    else:
        with pytest.raises(NotNow, match=f"review it until {until}"):
            codesign.may_accept(proposal, day)
    for role in ("provider", "service_user_representative"):  # decided at once
        codesign.may_accept({"number": 1, "review_until": codesign.review_until(
            role, proposed, working_days)}, proposed)


def test_what_a_draft_holds_waiting_for_each_participant_and_the_agency(example):
    from services.purpose_router.codesign.storage import Draft

    today = dt.date(2026, 3, 2)
    draft = Draft("bff", 2, 1, "draft", example, ("provider:ccss", "representative:voice"),
                  ({"proposal": 2, "accepted": False},), "agency:agency", "", closes_on="2026-03-20")
    proposals = [{"number": 1, "kind": "remove", "item_name": "ethnicity",
                  "proposed_by": "representative:voice"},
                 {"number": 2, "kind": "remove", "item_name": "age_band",
                  "proposed_by": "representative:voice"},
                 {"number": 3, "kind": "remove", "item_name": "region",
                  "proposed_by": "agency:agency", "review_until": "2026-03-27"}]
    responses = [{"proposal": 3, "by": "representative:voice"}]

    def kinds(who, day=today):
        return [(n["kind"], n["due"]) for n in codesign.waiting(who, draft, proposals,
                                                                 responses, day)]

    assert kinds("provider:ccss") == [("invited_to_draft", "2026-03-20"),
                                      ("proposal_to_review", "2026-03-20"),
                                      ("proposal_to_review", "2026-03-27")]
    assert kinds("representative:voice") == [("invited_to_draft", "2026-03-20")]
    assert kinds("provider:other") == []
    assert kinds("agency:agency") == [("proposal_to_review", ""),
                                      ("proposal_to_review", "2026-03-27")]
    # Closed: only the Agency's proposal, still in its review period, asks for review.
    assert kinds("provider:ccss", dt.date(2026, 3, 23)) == [("proposal_to_review", "2026-03-27")]
