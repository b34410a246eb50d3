"""A family's request: deadlines, holding units, escalation, extension, transfer."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.requests.domain import (
    FamilyRequest,
    escalated,
    extend,
    notices,
    open_request,
    record_unit_outcome,
    transfer,
    working_days_left,
)
from tiaki.core.errors import Invalid, NotNow
from tiaki.core.working_days import working_days_until

D = dt.date


def test_an_access_request_is_due_20_working_days_after_it_was_received():
    request = open_request("access", D(2025, 12, 24), ["service-delivery", "evaluation"])
    assert request.due == D(2026, 2, 13)
    assert request.transfer_due == D(2026, 1, 29)   # 10 working days: 16 Jan + 9
    assert [u.unit_id for u in request.units] == ["evaluation", "service-delivery"]
    assert all(u.due == D(2026, 1, 22) for u in request.units)  # 5 working days


def test_a_request_stays_open_until_every_holding_unit_answers():
    request = open_request("access", D(2026, 3, 2), ["evaluation", "service-delivery"])
    request = record_unit_outcome(request, "evaluation", "answered")
    assert not request.complete and request.outstanding == ("service-delivery",)
    request = record_unit_outcome(request, "service-delivery", "answered")
    assert request.complete


def test_a_unit_that_has_not_answered_by_its_due_date_is_escalated():
    request = open_request("access", D(2026, 3, 2), ["evaluation", "service-delivery"])
    request = record_unit_outcome(request, "evaluation", "answered")
    assert escalated(request, D(2026, 3, 9)) == ()          # its due day
    assert escalated(request, D(2026, 3, 10)) == ("service-delivery",)
    assert not request.complete


def test_a_request_nobody_holds_anything_for_completes_at_once():
    assert open_request("access", D(2026, 3, 2), []).complete


def test_corrections_are_applied_or_refused_with_reasons():
    request = open_request("correction", D(2026, 3, 2), ["evaluation", "service-delivery"])
    with pytest.raises(Invalid, match="applied or refused"):
        record_unit_outcome(request, "evaluation", "answered")
    with pytest.raises(Invalid, match="reasons"):
        record_unit_outcome(request, "evaluation", "refused", "  ")
    request = record_unit_outcome(request, "evaluation", "refused", "the record is accurate")
    request = record_unit_outcome(request, "service-delivery", "applied")
    assert request.complete
    assert {u.unit_id: u.outcome for u in request.units} == {
        "evaluation": "refused", "service-delivery": "applied"}


def test_a_unit_answers_once_and_only_for_requests_it_holds_data_for():
    request = open_request("access", D(2026, 3, 2), ["evaluation"])
    with pytest.raises(Invalid, match="holds nothing"):
        record_unit_outcome(request, "service-delivery", "answered")
    request = record_unit_outcome(request, "evaluation", "answered")
    with pytest.raises(Invalid, match="already answered"):
        record_unit_outcome(request, "evaluation", "answered")


def test_an_extension_is_made_within_the_original_period_with_reasons():
    request = open_request("access", D(2026, 3, 2), ["evaluation"])
    assert request.due == D(2026, 3, 30)
    extended = extend(request, D(2026, 3, 30), D(2026, 4, 28), "large volume of records")
    assert extended.due == D(2026, 4, 28) and extended.original_due == D(2026, 3, 30)
    with pytest.raises(NotNow, match="original due date"):
        extend(request, D(2026, 3, 31), D(2026, 4, 28), "too late")
    with pytest.raises(Invalid, match="reasons"):
        extend(request, D(2026, 3, 10), D(2026, 4, 28), "")
    with pytest.raises(Invalid, match="after"):
        extend(request, D(2026, 3, 10), D(2026, 3, 30), "not later")
    # A second extension is still bound to the original period.
    with pytest.raises(NotNow, match="original due date"):
        extend(extended, D(2026, 4, 1), D(2026, 5, 29), "more time")


def test_a_transfer_is_made_within_10_working_days():
    request = open_request("access", D(2026, 4, 1), ["evaluation"])
    assert request.transfer_due == D(2026, 4, 17)
    moved = transfer(request, D(2026, 4, 17), "Ministry of Health")
    assert moved.transferred_to == "Ministry of Health" and not moved.complete
    with pytest.raises(NotNow, match="2026-04-17"):
        transfer(request, D(2026, 4, 20), "Ministry of Health")
    with pytest.raises(Invalid, match="name the agency"):   # unnamed is bad input, late or not
        transfer(request, D(2026, 4, 20), " ")


def test_working_days_left_counts_down_to_zero_on_the_due_date_then_goes_negative():
    request = open_request("access", D(2026, 3, 2), ["evaluation"])   # due Mon 30 March
    assert working_days_left(request, D(2026, 3, 2)) == 20
    assert working_days_left(request, D(2026, 3, 27)) == 1            # Friday before
    assert working_days_left(request, D(2026, 3, 28)) == 1            # the Saturday
    assert working_days_left(request, D(2026, 3, 30)) == 0
    assert working_days_left(request, D(2026, 4, 1)) == -2


def test_bad_requests_are_refused():
    with pytest.raises(Invalid):
        open_request("erasure", D(2026, 3, 2), ["evaluation"])
    with pytest.raises(Invalid):
        open_request("access", D(2026, 3, 2), ["evaluation", "evaluation"])


RULES = record_unit_outcome(open_request("access", D(2026, 3, 2),
                                         ["evaluation", "service-delivery"]),
                            "evaluation", "answered")   # due 30 March; units 9 March


def test_notices_name_a_request_near_its_due_date_and_each_unit_escalated():
    rules = RULES
    found = FamilyRequest("r1", "ccss", "bff", "Aroha", "form", rules, "open", 0.0)
    assert notices(found, D(2026, 3, 3)) == []
    assert [(n["kind"], n["due"]) for n in notices(found, D(2026, 3, 10))] == [
        ("unit_escalated", "2026-03-09")]
    assert notices(found, D(2026, 3, 10), unit_id="evaluation") == []  # it answered
    assert [n["kind"] for n in notices(found, D(2026, 3, 10), unit_id="service-delivery")] == [
        "unit_escalated"]
    soon = notices(found, D(2026, 3, 25))
    assert soon[0] == {"kind": "request_due_soon", "subject": "r1", "due": "2026-03-30",
                       "text": "the access request is due on 2026-03-30: 3 working days left"}
    assert notices(FamilyRequest("r1", "ccss", "bff", "Aroha", "form", rules, "complete", 0.0),
                   D(2026, 3, 25)) == []


@settings(deadline=None)  # the first call loads the year's public holidays
@given(st.dates(min_value=D(2026, 3, 2), max_value=D(2026, 5, 30)))
def test_due_soon_exactly_within_three_working_days(today):
    found = FamilyRequest("r1", "ccss", "bff", "Aroha", "form", RULES, "open", 0.0)
    shown = any(n["kind"] == "request_due_soon" for n in notices(found, today))
    assert shown == (working_days_until(today, RULES.due) <= 3)
