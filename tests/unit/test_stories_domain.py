"""The tender stories' rules without a store: which stories may leave for a
use, what the Agency is owed on a withdrawal, and the flags of an approved text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake import stories_domain as rules
from services.intake.stories_domain import ConsentEntry, Export, Story
from tiaki.core.deidentify import redact
from tiaki.core.errors import Invalid, NotNow


def story(story_id="s1", state="approved", consents=(), text="[NAME] went to kura.") -> Story:
    return Story(story_id=story_id, provider_id="ccss", title="", state=state,
                 redacted_text=text, replaced={}, flags=[{"kind": "x"}], submitted_by="Sarah",
                 submitted_at=1.0, consents=list(consents))


def said(use="tender", given=True, at=1.0) -> ConsentEntry:
    return ConsentEntry(use=use, given=given, recorded_by="Sarah", how="verbal", at=at)


def test_the_last_word_of_the_family_holds():
    s = story(consents=[said(), said(given=False, at=2), said(at=3)])
    assert s.status.consent("tender").at == 3 and rules.why_not_usable(s.status, "tender") is None
    assert "withdrew" in rules.why_not_usable(story(consents=[said(), said(given=False)]).status,
                                              "tender")


def test_only_approved_and_consented_stories_are_usable():
    ready, unapproved = story("a", consents=[said()]), story("b", "awaiting_review", [said()])
    assert rules.usable([ready, unapproved, story("c")], "tender") == [ready]
    with pytest.raises(NotNow, match="no story is approved and consented for reporting"):
        rules.usable([ready], "reporting")


def test_an_export_naming_an_unusable_story_names_every_reason():
    with pytest.raises(NotNow) as caught:
        rules.check_exportable([story("a", consents=[said()]).status,
                                story("b", "awaiting_review").status], "tender")
    assert str(caught.value) == ("nothing exported; story b: its redacted text has not been "
                                 "approved by a reviewer")
    rules.check_exportable([story("a", consents=[said()]).status], "tender")


def test_consent_changes_the_state_does_not_allow_are_not_now():
    with pytest.raises(NotNow, match="^consent for tender is already recorded for story s1$"):
        rules.can_record_consent(story(consents=[said()]).status, "tender")
    with pytest.raises(NotNow, match="^no consent for tender was recorded"):
        rules.can_withdraw(story().status, "tender")


def test_a_withdrawal_notice_is_owed_only_for_a_story_that_left():
    exports = [Export("e1", "ccss", "tender", "T-1", "Manager", 1.0, ["s1"])]
    assert rules.withdrawal_notice(story(), "tender", [], 5.0) is None
    assert rules.withdrawal_notice(story(), "tender", exports, 5.0) == {
        "story_id": "s1", "provider_id": "ccss", "use": "tender", "export_ids": ["e1"],
        "references": ["T-1"], "withdrawn_at": 5.0}


def test_an_edited_approval_gets_the_flags_of_its_own_text():
    s = story()
    assert rules.approved_flags(s, s.redacted_text) == [{"kind": "x", "number": 1}]
    assert [f["text"] for f in rules.approved_flags(s, "[NAME] works at Countdown.")] == [
        "Countdown"]


# -- issue 11: every quasi-identifier flag decided before approval ----------------------------

STORY_TEXT = ("[NAME_1] (42) lives in Kaikohe with a family of seven; her NHI ZAC5362 was "
              "typed wrong. [NAME_2], 15, is the rugby captain at Tangaroa College.")


@given(st.data())
@settings(max_examples=80, deadline=None)
def test_an_approval_holds_only_when_every_quasi_identifier_flag_is_decided(data):
    flags = rules.flags_of(redact(STORY_TEXT))
    text = redact(STORY_TEXT).text
    decidable = [f["number"] for f in flags if f["kind"] not in rules.FOR_INFORMATION]
    chosen = data.draw(st.lists(st.sampled_from(decidable), unique=True))
    decisions = [rules.Decision(n, data.draw(st.booleans()), "a big town, many families")
                 for n in chosen]
    if set(chosen) != set(decidable):
        with pytest.raises(Invalid) as refused:
            rules.decide(text, flags, decisions)
        assert all(f"{n} " in str(refused.value) for n in set(decidable) - set(chosen))
        return
    approved, decided = rules.decide(text, flags, decisions)
    for decision, flag in zip(sorted(decisions, key=lambda d: d.flag),
                              [f for f in decided if f["number"] in chosen]):
        assert flag["action"] == ("redacted" if decision.redact else "kept")
        assert approved[flag["start"]:flag["end"]] == flag["text"]
        if not decision.redact:
            assert flag["kept_because"] == "a big town, many families"
    assert [f["action"] for f in decided if f["kind"] == "check_digit"] == [""]
    # What was redacted is gone unless kept elsewhere; what was kept is still there.
    kept = {f["text"] for f in decided if f["action"] == "kept"}
    for before, after in zip(flags, decided):
        if after["action"] == "redacted" and before["text"] not in " ".join(kept):
            assert before["text"] not in approved
