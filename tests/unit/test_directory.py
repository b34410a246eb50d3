"""Directory entries: every field required, each refusal naming its field."""

from __future__ import annotations

import pytest

from services.purpose_router.directory import domain
from tiaki.core.errors import Invalid

GOOD = {"display_name": "City Centre Social Services",
        "postal_address": "12 Cuba Street, Te Aro, Wellington 6011",
        "phone": "04 555 0100", "privacy_email": "privacy@ccss.example.org.nz"}


def test_a_full_entry_is_kept_as_given():
    entry = domain.checked("provider", "ccss", **GOOD)
    assert entry.key == "provider:ccss"
    assert entry.address_lines() == ["12 Cuba Street", "Te Aro", "Wellington 6011"]


@pytest.mark.parametrize("field, value, says", [
    ("postal_address", "", "needs a postal address"),
    ("postal_address", "Wellington", "needs a full postal address"),
    ("display_name", " ", "needs a display name"),
    ("phone", "call us", "is not a phone number"),
    ("privacy_email", "ccss", "is not an email address"),
])
def test_a_missing_or_wrong_field_is_refused_by_name(field, value, says):
    with pytest.raises(Invalid) as refused:
        domain.checked("provider", "ccss", **{**GOOD, field: value})
    assert refused.value.field == f"entry.{field}"
    assert says in refused.value.reason


def test_the_agency_has_one_entry():
    assert domain.checked("agency", "", **GOOD).id == "agency"
    with pytest.raises(Invalid):
        domain.checked("agency", "other", **GOOD)


def test_a_party_without_an_entry_is_never_named_by_its_id():
    assert domain.name_of({}, "provider", "ccss") == "your provider"
    assert domain.name_of({}, "unit", "evaluation") == "a team in the Agency"
