"""A family's answer tells them what their information helped the Agency do
(outcomes told by insights), in plain words, for each team that holds it."""

from __future__ import annotations

import copy

from services.requests.answer_document import render_answer
from tests.unit.test_answer_document import EXAMPLE

OUTCOME = {"outcome_id": "o-1", "kind": "policy_or_service_change", "date": "2026-05-04",
           "title": "More evening sessions", "summary": "Families asked for sessions after work",
           "audience": "providers in Waikato", "unit_id": "unit-eval-01",
           "informed_by": [{"delivery_id": "b1:evaluation"}]}


def answer(**outcomes_by_unit) -> str:
    a = copy.deepcopy(EXAMPLE)
    for holding in a["holdings"]:
        if holding["unit_id"] in outcomes_by_unit:
            holding["outcomes"] = outcomes_by_unit[holding["unit_id"]]
    return render_answer(a)


def section(html: str, unit_name: str) -> str:
    start = html.index(f"<h2>{unit_name}</h2>")
    return html[start:html.index("</section>", start)]


def test_each_team_says_what_the_information_helped_with():
    html = answer(**{"unit-eval-01": [OUTCOME, dict(OUTCOME, kind="evaluation_finding",
                                                    title="It helps <b>", summary="Most did.")]},
                  **{"unit-res-02": []})
    evaluation = section(html, "Evaluation and Insights team")
    assert "<h3>What it helped the Agency do</h3>" in evaluation
    assert ("<strong>A change to policy or services, 4 May 2026: More evening sessions.</strong> "
            "Families asked for sessions after work. It was for providers in Waikato.") in evaluation
    assert "A finding of the evaluation, 4 May 2026: It helps &lt;b&gt;." in evaluation
    assert "together with other families' information" in evaluation
    research = section(html, "Research team")
    assert "has not told us of any decision or report" in research
    assert "o-1" not in html  # no internal ids for the family


def test_answers_without_outcome_information_are_unchanged():
    assert "What it helped the Agency do" not in render_answer(copy.deepcopy(EXAMPLE))
