"""The Agency's view of outcomes, without I/O: every provider's citations and
replies and the unit's responses, the reply window and what still stands in
the way of publishing a draft finding."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from services.insights import domain
from tests.unit.test_insights_domain import TODAY, finding

AFTER = dt.date(2026, 3, 5)  # the day after both windows of `finding()` closed


def test_a_draft_finding_shows_every_provider_and_why_it_cannot_go_yet():
    replied = domain.reply(finding(), "o1", "ccss", "correct_fact", "12 sessions, not 10",
                           TODAY, 11.0, "t-ccss-po", may_publish_early=True)
    seen = domain.agency_view(replied, TODAY)
    assert [r["provider_id"] for r in seen["outcome"]["reviews"]] == ["ccss", "other-ngo"]
    assert {c["provider_id"] for c in seen["outcome"]["informed_by"]} == {"ccss", "other-ngo"}
    assert seen["outcome"]["reviews"][0]["responses"][0]["text"] == "12 sessions, not 10"
    assert seen["reply_window_closes"] == "2026-03-04"
    assert seen["may_publish"] is False
    assert seen["publication_blockers"] == [
        "other-ngo may respond until 2026-03-04 and has not said it may be published earlier",
        "ccss's correction of fact 1 ('12 sessions, not 10') awaits the Agency's response: "
        "accept it and revise the finding, or decline it with reasons"]


def test_the_units_response_is_shown_and_then_nothing_stands_in_the_way():
    replied = domain.reply(finding(), "o1", "ccss", "correct_fact", "12 sessions", TODAY, 11.0)
    declined = domain.resolve_correction(replied, "o1", "evaluation", "ccss", 1, False,
                                         "Our attendance records show 10.", "", "", 12.0,
                                         "t-eval")
    seen = domain.agency_view(declined, AFTER)
    (response,) = seen["outcome"]["reviews"][0]["responses"]
    assert (response["resolution"], response["resolution_reason"],
            response["resolved_by_person"]) == ("declined", "Our attendance records show 10.",
                                                "t-eval")
    assert seen["publication_blockers"] == [] and seen["may_publish"] is True


def test_other_outcomes_have_no_window_and_nothing_to_publish():
    published = domain.publish(finding(), "o1", "evaluation", AFTER, 20.0)
    decision = replace(finding(), kind="decision", state="recorded", reviews=())
    for outcome in (published, decision):
        seen = domain.agency_view(outcome, AFTER)
        assert (seen["reply_window_closes"], seen["publication_blockers"],
                seen["may_publish"]) == ("", [], False)
    assert domain.agency_view(published, AFTER)["outcome"]["reviews"][0]["provider_id"] == "ccss"
