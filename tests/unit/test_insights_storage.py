"""insights' stored documents read back as the same domain objects (no store needed)."""

from __future__ import annotations

import datetime as dt

from services.insights import domain
from services.insights.storage import measure_doc, measure_from, outcome_doc, outcome_from

AGENCY = domain.Party("agency", "agency")


def test_an_outcome_reads_back_as_written_and_is_to_be_announced():
    outcome = domain.new_outcome(
        "o1", "evaluation",
        domain.OutcomeDraft(kind="evaluation_finding", title="Goals met more often",
                            summary="Most families met most goals.", date="2026-03-02",
                            audience="the public", delivery_ids=("b1:evaluation",),
                            measure_ids=("m1",)),
        [{"delivery_id": "b1:evaluation", "submission_id": "s1", "provider_id": "ccss",
          "programme_id": "bff", "purpose_id": "evaluation"}],
        lambda programme, purpose: "Programme evaluation",
        {"m1": domain.Measure("m1", "bff", "Goals", "", AGENCY, state="agreed")},
        dt.date(2026, 3, 2), 10, 1.0)
    outcome = domain.reply(outcome, "o1", "ccss", "add_context", "Two storms", dt.date(2026, 3, 3),
                           2.0)
    doc = outcome_doc(outcome)
    assert doc["_id"] == "o1" and doc["delivery_ids"] == ["b1:evaluation"]
    assert doc["announce_pending"] == 1 and doc["version"] == 1
    assert outcome_from(doc) == outcome


def test_a_measure_reads_back_as_written():
    measure = domain.propose("m1", "bff", "Goals met", "Share meeting most goals", "Asked for",
                             AGENCY, 1.0)
    measure = domain.respond_to_measure(measure, domain.Party("provider", "ccss"), "endorse", "",
                                        2.0)
    assert measure_from(measure_doc(measure)) == measure
