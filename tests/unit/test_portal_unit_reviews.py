"""Which unit's review service the portal calls, from the units' config the
units themselves read: a unit not set to review answers at once and has
nothing to review; a reviewing unit's service is called with its staff token."""

from __future__ import annotations

import pytest
import yaml

from services.portal.unit import UnitReviews
from services.portal.web import Refusal


def reviews(tmp_path, **units) -> UnitReviews:
    path = tmp_path / "units.yaml"
    path.write_text(yaml.safe_dump(units))
    return UnitReviews(str(path))


def test_a_unit_answers_at_once_unless_its_config_says_review(tmp_path):
    r = reviews(tmp_path, evaluation={"answer": "review", "review_address": "127.0.0.1:1"},
                **{"service-delivery": {"answer": "auto"}})
    assert r.setting("evaluation").answer == "review"
    assert r.setting("service-delivery").answer == "auto"
    assert r.setting("not-configured").answer == "auto"
    assert UnitReviews("").setting("evaluation").answer == "auto"
    with pytest.raises(Refusal) as refused:
        r.stub("service-delivery", "aroha.ngata")
    assert refused.value.status == 409 and "at once" in refused.value.message


def test_the_review_service_is_called_with_the_units_staff_token_and_the_person(tmp_path):
    token = tmp_path / "unit-staff-evaluation"
    r = reviews(tmp_path, evaluation={"answer": "review", "review_address": "127.0.0.1:1",
                                      "staff_token_file": str(token)})
    with pytest.raises(Refusal) as refused:
        r.stub("evaluation", "aroha.ngata")
    assert refused.value.status == 503 and "token" in refused.value.message
    token.write_text("tk_unitstaff_x\n")
    stub = r.stub("evaluation", "aroha.ngata")
    assert stub._metadata == (("authorization", "Bearer tk_unitstaff_x"),
                              ("tiaki-person", "aroha.ngata"))
    r.close()
