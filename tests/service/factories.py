"""Test data for the service tests, built from a valid base with overrides."""

from __future__ import annotations

from pathlib import Path

from tiaki.core.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "programmes" / "best-foot-forward.yaml"
WHO = [("provider", "ccss"), ("provider", "other-ngo"), ("agency", "agency"),
       ("unit", "evaluation"), ("unit", "service-delivery")]


def valid_fields(**overrides) -> dict[str, str]:
    """One record's fields as a provider sends them (text), all valid."""
    fields = {"referral_date": "2026-07-01", "age_band": "25-39", "ethnicity": "Māori",
              "region": "Waikato", "programme_strand": "parenting", "sessions_attended": "7",
              "wellbeing_start": "4", "wellbeing_end": "7", "goals_met": "most"}
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def accepted_batch(plan: Plan, n: int = 3, batch_id: str = "batch-1",
                   submission_id: str = "sub-1", **extra_fields) -> dict:
    """A `records_accepted` event payload as intake publishes it. `extra_fields`
    are added to every record, e.g. a field no purpose declares."""
    regions = ["Waikato", "Otago", "Waikato"]
    records = []
    for i in range(n):
        fields = {"referral_date": "2026-07-01", "age_band": "25-39", "ethnicity": "Asian",
                  "region": regions[i % len(regions)], "programme_strand": "joint",
                  "sessions_attended": i + 1, "wellbeing_start": 3, "wellbeing_end": 6,
                  "goals_met": "some", **extra_fields}
        records.append({"pseudonyms": {p.purpose_id: f"{p.purpose_id}-client-{i}"
                                       for p in plan.purposes},
                        "fields": fields})
    return {"submission_id": submission_id, "provider_id": "ccss",
            "programme_id": plan.programme_id, "plan_version": plan.version,
            "period": "2026Q3", "batch_id": batch_id, "records": records}
