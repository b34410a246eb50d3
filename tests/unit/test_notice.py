"""The families' notice and IPP 3A bases: what a notice names, a plan that
would send to a unit the notice in force does not name, each delivery's
basis, and agreement versions never reaching back into a collected period."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from services.purpose_router.codesign import agreement, notice
from tests.service.factories import EXAMPLE
from tiaki.core.errors import NotNow
from tiaki.core.ledger import IPP3A_BASES
from tiaki.core.periods import period_days
from tiaki.core.plan import Plan, Purpose, Unit


@pytest.fixture
def plan() -> Plan:
    return Plan.from_dict(yaml.safe_load(EXAMPLE.read_text()), version=1)


def test_a_notice_names_every_unit_its_plan_sends_to(plan):
    said = notice.facts(plan, codesigned=False)
    assert notice.units_named(said) == {"evaluation", "service-delivery"}
    assert notice.purposes_named(said, "evaluation") == {"evaluation"}


def test_what_a_notice_says_changes_its_fingerprint_and_nothing_else_does(plan):
    said = notice.facts(plan, codesigned=False)
    assert notice.fingerprint(said) == notice.fingerprint(notice.facts(replace(plan, version=9),
                                                                       codesigned=False))
    assert notice.fingerprint(said) != notice.fingerprint(notice.facts(plan, codesigned=True))


def test_a_plan_sending_to_a_unit_the_notice_does_not_name_is_refused_naming_it(plan):
    said = notice.facts(plan, codesigned=False)
    research = Purpose("research", "Research", "research-unit", "unit_level")
    wider = replace(plan, units=plan.units + (Unit("research-unit", "Research team"),),
                    purposes=plan.purposes + (research,),
                    items=tuple(replace(i, uses=i.uses + (replace(i.uses[0],
                                                                  purpose_id="research"),))
                                if i.name == "age_band" else i for i in plan.items),
                    _by_name=None)

    problem = notice.unnamed_receiver(wider, said, 3, "2026Q3", {"research-unit": "Research team"})

    assert "notice in force for 2026Q3 (version 3) does not name Research team" in problem
    assert "(unit research-unit)" in problem
    assert notice.unnamed_receiver(plan, said, 3, "2026Q3", {}) == ""


@given(st.integers(2024, 2030), st.integers(1, 4),
       st.sampled_from(["unit_level", "aggregate"]), st.booleans())
def test_every_delivery_has_exactly_one_basis(year, quarter, form, named):
    period = f"{year}Q{quarter}"
    said = {"codesigned": False, "items": [
        {"item": "x", "uses": [{"purpose_id": "p", "unit_id": "u", "form": form,
                                "retention": ""}]}]} if named else None
    basis = notice.basis(period, form, "u", "p", said)
    assert basis in IPP3A_BASES
    if period_days(period)[1] < notice.IPP3A_IN_FORCE:
        assert basis == "before_ipp3a"
    elif form == "aggregate":
        assert basis == "not_identifiable"
    else:
        assert basis == ("aware_through_notice" if named else "agency_notice")


def test_the_quarter_ipp3a_began_in_is_in_scope():
    assert notice.before_ipp3a("2026Q1")
    assert not notice.before_ipp3a("2026Q2")  # April to June: 1 May falls in it


COLLECTED = [{"period": "2026Q3", "plan_version": 1, "agreement_version": 0}]


def test_an_agreement_for_every_period_starts_after_what_was_collected():
    assert agreement.first_period("", []) == ""
    assert agreement.first_period("", COLLECTED) == "2026Q4"
    assert agreement.first_period("2027Q1", COLLECTED) == "2027Q1"
    assert agreement.first_period("", COLLECTED, asked="2027Q2") == "2027Q2"


def test_an_agreement_dated_into_a_collected_period_is_refused_saying_why():
    with pytest.raises(NotNow) as refused:
        agreement.first_period("", COLLECTED, asked="2026Q3")
    assert refused.value.reason == ("2026Q3 was already collected (under plan version 1, with "
                                    "no agreement); an agreement made now applies from 2026Q4 "
                                    "at the earliest")
