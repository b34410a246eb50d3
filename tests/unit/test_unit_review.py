"""A unit's review of a family's access query (issue 14): a person approves
the answer, withholding items only under a Privacy Act 2020 ground (ss 49-53),
and the family's answer names each ground the unit recorded."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from services.requests import answer, domain
from services.requests.answer_document import render_answer
from services.requests.domain import FamilyRequest
from tests.service.factories import EXAMPLE
from tiaki.core.errors import Invalid, NotNow
from tiaki.core.person import person_id
from tiaki.core.plan import Plan
from tiaki.core.withholding import FORMER, GROUNDS, ground, named
from tiaki.unit import review
from tiaki.unit.review import Withholding
from tiaki.unit.review_server import loopback

HELD = [{"delivery_id": "d1", "purpose_id": "evaluation", "period": "2026Q3",
         "fields": {"region": "Otago", "goals_met": "some"}, "statements": []},
        {"delivery_id": "d2", "purpose_id": "evaluation", "period": "2026Q4",
         "fields": {"region": "Otago", "goals_met": "most"}, "statements": []}]


def test_every_ground_is_cited_to_the_paragraph_the_act_numbers_it_by():
    # Privacy Act 2020 ss 49-53 (see tiaki/core/withholding.py for the source).
    assert list(GROUNDS) == [
        "s49(1)(a)(i)", "s49(1)(a)(ii)", "s49(1)(a)(iii)", "s49(1)(b)", "s49(1)(c)", "s49(1)(d)",
        "s50(1)(a)", "s50(1)(b)", "s51(a)", "s51(b)", "s51(c)", "s51(d)", "s51(e)",
        "s52(1)(a)", "s52(1)(b)",
        "s53(b)", "s53(c)", "s53(d)", "s53(e)", "s53(f)", "s53(g)"]
    for code, g in GROUNDS.items():
        assert g.code == code and g.citation == f"section {code[1:]} of the Privacy Act 2020"
        assert g.words.endswith(".") and g.heading and g.law
    assert GROUNDS["s53(b)"].law.startswith("disclosure would involve the unwarranted disclosure")
    assert GROUNDS["s51(b)"].heading == "Security, defence, international relations"
    assert ground(" s53(b) ").code == "s53(b)"
    with pytest.raises(Invalid, match="not a ground"):
        ground("s54")
    with pytest.raises(Invalid):
        ground("")  # "I just don't want to" is not a ground
    for request_not_item in ("s53(a)", "s53(h)"):
        with pytest.raises(Invalid, match="not a ground"):
            ground(request_not_item)


def test_a_whole_section_recorded_before_still_names_its_ground_but_is_not_picked_now():
    assert named("s49").citation == "section 49 of the Privacy Act 2020"
    assert named("s53(b)") is GROUNDS["s53(b)"] and named("because") is None
    with pytest.raises(Invalid, match="name its paragraph"):
        ground("s49")
    assert ground("s50", former=True) is FORMER["s50"]


def test_an_approved_answer_leaves_out_each_withheld_item_and_keeps_its_ground():
    draft = review.numbered(HELD)
    assert [r["number"] for r in draft] == [1, 2]
    got = review.approve(draft, [Withholding(2, "goals_met", "s53(b)")], "aroha.ngata")
    assert got[0] == dict(HELD[0], withheld=[])
    assert got[1]["fields"] == {"region": "Otago"}
    assert got[1]["withheld"] == [{"item": "goals_met", "ground": "s53(b)"}]
    assert review.withholdings_of(got) == [Withholding(2, "goals_met", "s53(b)")]
    # Nothing withheld: everything held is given.
    assert [r["fields"] for r in review.approve(draft, [], "aroha.ngata")] == [
        r["fields"] for r in HELD]


@pytest.mark.parametrize("withholding, person, state, problem", [
    (Withholding(3, "goals_met", "s53(b)"), "aroha.ngata", "waiting", "no record 3"),
    (Withholding(1, "ethnicity", "s53(b)"), "aroha.ngata", "waiting", "no item"),
    (Withholding(1, "goals_met", "because"), "aroha.ngata", "waiting", "not a ground"),
    (Withholding(1, "goals_met", "s53(b)"), "", "waiting", "name the person"),
    (Withholding(1, "goals_met", "s53(b)"), "Aroha Ngata", "waiting", "staff id"),
])
def test_an_approval_that_does_not_hold_up_is_refused(withholding, person, state, problem):
    with pytest.raises(Invalid, match=problem):
        review.approve(review.numbered(HELD), [withholding], person, state)


def test_a_query_is_approved_once_and_an_item_withheld_once():
    with pytest.raises(NotNow, match="approved"):
        review.approve(review.numbered(HELD), [], "aroha.ngata", review.APPROVED)
    twice = [Withholding(1, "goals_met", "s53(b)"), Withholding(1, "goals_met", "s49(1)(b)")]
    with pytest.raises(Invalid, match="twice"):
        review.approve(review.numbered(HELD), twice, "aroha.ngata")


@given(st.lists(st.tuples(st.integers(1, 2), st.sampled_from(["region", "goals_met"]),
                          st.sampled_from(sorted(GROUNDS))), unique_by=lambda w: w[:2]))
def test_every_value_is_either_given_or_withheld_under_a_ground(withholdings):
    got = review.approve(review.numbered(HELD), [Withholding(*w) for w in withholdings], "a.b")
    for held, gave in zip(HELD, got):
        withheld = {w["item"] for w in gave["withheld"]}
        assert set(gave["fields"]) | withheld == set(held["fields"])
        assert not set(gave["fields"]) & withheld
        assert all(gave["fields"][k] == held["fields"][k] for k in gave["fields"])
        assert all(w["ground"] in GROUNDS for w in gave["withheld"])


def test_a_unit_answers_at_once_unless_its_config_says_review():
    assert review.answer_mode(None) == "auto"
    assert review.answer_mode("review") == "review"
    with pytest.raises(Invalid):
        review.answer_mode("sometimes")


def test_a_person_is_named_by_a_staff_id():
    assert person_id("aroha.ngata") == "aroha.ngata"
    assert person_id("") == "" and person_id(None) == ""
    for bad in ("Aroha", "-x", "a" * 65, "a b", "ā"):
        with pytest.raises(Invalid):
            person_id(bad)


def test_the_review_service_listens_only_on_this_machine():
    assert loopback("127.0.0.1:50061") == "127.0.0.1:50061"
    assert loopback("[::1]:50061") and loopback("localhost:1")
    for address in ("0.0.0.0:50061", "10.0.0.5:50061", "example.nz:50061"):
        with pytest.raises(Invalid):
            loopback(address)


# -- the requests service's side: what the unit recorded, in the family's answer ----------

def test_the_requests_service_keeps_only_withholdings_under_a_ground():
    assert domain.withheld({"region": "Otago"}, [("goals_met", "s53(b)")]) == [
        {"item": "goals_met", "ground": "s53(b)"}]
    # A unit on an earlier SDK may still name a whole section: kept, it still renders.
    assert domain.withheld({}, [("goals_met", "s52")]) == [{"item": "goals_met", "ground": "s52"}]
    for items, problem in ([("goals_met", "s99")], "not a ground"), (
            [("region", "s49(1)(b)")], "both given and withheld"), (
            [("goals_met", "s49(1)(b)"), ("goals_met", "s50(1)(a)")], "twice"), ([("", "s49(1)(b)")], "name"):
        with pytest.raises(Invalid, match=problem):
            domain.withheld({"region": "Otago"}, items)


def test_the_familys_answer_names_the_ground_for_each_withheld_item():
    plan = Plan.from_dict(yaml.safe_load(EXAMPLE.read_text()), version=1)
    rules = domain.record_unit_outcome(
        domain.open_request("access", dt.date(2026, 3, 2), ["evaluation"],
                            purposes={"evaluation": [{"purpose_id": "evaluation",
                                                      "pseudonyms": ["p1"],
                                                      "delivery_ids": ["d1"]}]}),
        "evaluation", "answered")
    found = FamilyRequest(request_id="r1", provider_id="ccss", programme_id="best-foot-forward",
                          requester="the client", authorisation="form", rules=rules,
                          state="open", opened_at=1.0)
    records = [{"delivery_id": "d1", "purpose_id": "evaluation", "period": "2026Q3",
                "fields": {"region": "Otago"}, "statements": [],
                "withheld": [{"item": "goals_met", "ground": "s53(b)"},
                             {"item": "sessions", "ground": "s49"}]}]  # recorded before
    facts = answer.Facts({1: plan}, {"d1": {
        "delivery_id": "d1", "plan_version": 1, "agreement_version": 0, "basis": "",
        "fields": plan.fields_for_purpose("evaluation")}})
    got = answer.assemble(found, facts, {"evaluation": records}, [], None, dt.date(2026, 3, 9))
    [record] = got["holdings"][0]["records"]
    assert record["withheld"][0] == {"item": "goals_met", "ground": "s53(b)"}
    html = render_answer(got).replace("&#x27;", "'")
    s53b = GROUNDS["s53(b)"]
    assert html.count("Not given to you.") == 2
    # The precise ground, as the Act words it, and what it means.
    assert f"{s53b.citation} (Other reasons: disclosure would involve the unwarranted " \
           "disclosure of the affairs of another individual or of a deceased person)" in html
    assert s53b.words in html
    # A whole section recorded before still names its ground.
    assert f"The law allows this: {FORMER['s49'].citation}." in html
    assert "Otago" in html
    assert "the Commissioner can check the reason" in html
    # An answer with nothing withheld says nothing of withholding.
    plain = render_answer(answer.assemble(
        found, facts, {"evaluation": [dict(records[0], withheld=[])]}, [], None,
        dt.date(2026, 3, 9)))
    assert "Not given to you." not in plain and "check the reason" not in plain
