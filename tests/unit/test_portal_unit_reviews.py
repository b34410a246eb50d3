"""Which unit's review service the portal calls, from the units' config the
units themselves read: where the service is and its staff token, never how the
unit answers (the unit says that); a unit the config gives no service is refused."""

from __future__ import annotations

import pytest
import yaml

from services.portal.unit import UnitReviews, UnitSetting
from services.portal.web import Refusal


def reviews(tmp_path, **units) -> UnitReviews:
    path = tmp_path / "units.yaml"
    path.write_text(yaml.safe_dump(units))
    return UnitReviews(str(path))


def test_the_config_says_where_a_units_review_service_is_not_how_it_answers(tmp_path):
    r = reviews(tmp_path, evaluation={"answer": "review", "review_address": "127.0.0.1:1",
                                      "staff_token_file": "x"},
                **{"service-delivery": {"answer": "auto"}})
    assert r.setting("evaluation") == UnitSetting("evaluation", "127.0.0.1:1", "x")
    assert not hasattr(r.setting("evaluation"), "answer")
    for unit in ("service-delivery", "not-configured"):
        with pytest.raises(Refusal) as refused:
            r.stub(unit, "aroha.ngata")
        assert refused.value.status == 503 and "names no review service" in refused.value.message


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
