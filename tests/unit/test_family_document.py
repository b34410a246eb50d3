""""Where your information goes": made from what was (or is to be) sent
under the plan and the provider's agreement, it follows both, groups items
that travel the same way, names parties as the directory does, stays
self-contained and printable, and reads at grade 8 or below."""

from __future__ import annotations

import copy
import datetime as dt
import re
from html import escape

import pytest
import yaml

from services.purpose_router.codesign import agreement
from services.purpose_router.codesign import letter as letters
from services.purpose_router.codesign.family_document import (
    Party,
    reading_grade,
    render_family_document,
    visible_text,
)
from tests.chromium import needs_chromium, overflow, pdf_pages
from tests.service.factories import EXAMPLE
from tiaki.core.plan import Plan
from tools import family_document_example as example_letter

NOW = dt.datetime(2026, 7, 10, tzinfo=dt.timezone.utc)


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def agreed(plan: Plan, **special) -> dict:
    return agreement.decide(plan, None, [
        {"item_name": i.name, "decision": special.get(i.name, "accept"), "note": ""}
        for i in plan.items], "Mere", "provider:ccss", NOW)


CCSS = Party("City Centre Social Services", phone="04 123 4567")


def render(plan: Plan, provider_agreement: dict | None, period: str = "2026Q3", **kwargs) -> str:
    held = agreement.withheld(plan, provider_agreement) if provider_agreement else {}
    terms = letters.Terms(plan, held, provider_agreement["number"] if provider_agreement else 0)
    by_versions = {(plan.version, terms.agreement_version): terms}
    sent, held = letters.what_was_sent(letters.planned_deliveries(terms), by_versions)
    return render_family_document(sent, held, CCSS, period, labels=letters.labels(by_versions),
                                  **kwargs)


def letter(data: dict, **special) -> str:
    plan = Plan.from_dict(data, version=1)
    return render(plan, agreed(plan, **special))


def section(html: str, heading: str) -> str:
    """The text of the route (team and purpose) whose heading is `heading`."""
    match = re.search(rf"<h3>{re.escape(escape(heading))}</h3>(.*?)</section>", html, re.S)
    assert match, f"no section {heading!r}"
    return visible_text(match.group(1))


def test_every_accepted_item_is_explained_in_plain_english(example):
    html = letter(example)
    text = visible_text(html)
    assert "Where your information goes" in text
    assert "City Centre Social Services sends nine things." in text
    evaluation = section(html, "Evaluation and Insights team gets it, for programme evaluation")
    assert "Age of the main client, in bands. We look at age groups, never exact ages" \
        in evaluation                                                          # why
    assert "They keep it for 7 years after the programme ends." in evaluation  # how long
    assert "Contracts and Service Delivery team;" in evaluation                # who does not
    assert "Case managers who decide on benefits or care" in evaluation
    assert "Not by name." in evaluation                                        # can it identify
    totals = section(html, "Contracts and Service Delivery team gets totals only, for service "
                           "delivery reporting")
    assert "Region where the service was delivered." in totals
    assert "No. This team only gets totals" in totals
    assert "Age of the main client, in bands. You can say no. You still get the same help." \
        in text                                                                # choices
    # how to ask what is held: through the provider, with the legal deadline
    assert "Ask City Centre Social Services. Phone 04 123 4567." in text
    assert "within 20 working days" in text
    assert "Your name, address and date of birth are never sent." in text


def test_items_that_travel_the_same_way_are_listed_together(example):
    html = letter(example)
    headings = [visible_text(h) for h in re.findall(r"<h3>.*?</h3>", html)]
    # one block per way items travel, not one per item
    assert len(headings) == 3 < len(Plan.from_dict(example).items)


def test_the_letter_follows_the_plan(example):
    before = letter(example)
    changed = copy.deepcopy(example)
    goals = next(i for i in changed["items"] if i["name"] == "goals_met")
    goals["uses"][0]["retention"] = "2 years after the programme ends"
    goals["uses"][0]["not_seen_by"].append("Your landlord")
    goals["uses"][0]["explanation"] = "Your goals show us what matters to you."
    after = visible_text(letter(changed))
    assert "They keep it for 2 years after the programme ends." not in visible_text(before)
    assert "They keep it for 2 years after the programme ends." in after
    assert "Your landlord." in after and "Your landlord" not in before
    assert "Your goals show us what matters to you." in after


def test_declined_items_are_not_described_as_sent(example):
    html = letter(example, wellbeing_end="decline", goals_met="query")
    text = visible_text(html)
    assert "City Centre Social Services sends seven things." in text
    sent = visible_text("".join(re.findall(r'<section class="route">.*?</section>', html, re.S)))
    assert "Age of the main client, in bands." in sent
    assert "How many of the family's own goals were met." not in sent
    not_sent = visible_text(re.search(r'<section class="not-sent">(.*?)</section>', html,
                                      re.S).group(1))
    assert "Family wellbeing score (1 to 10) at the end of the quarter" in not_sent
    assert "How many of the family's own goals were met" in not_sent


def test_a_plan_made_without_codesign_says_so(example):
    plan = Plan.from_dict(example, version=1)
    assert "This plan was not co-designed." in visible_text(render(plan, None, codesigned=False))
    assert "not co-designed" not in visible_text(render(plan, None))


def test_a_period_before_ipp3a_says_it_is_out_of_scope(example):
    plan = Plan.from_dict(example, version=1)
    assert "does not cover this" in visible_text(render(plan, None, period="2026Q1"))
    assert "does not cover this" not in visible_text(render(plan, None, period="2026Q2"))


def test_the_letter_names_who_collects_and_who_holds_it(example):
    plan = Plan.from_dict(example, version=1)
    agency = Party("Ministry for Families", "PO Box 1, Wellington 6140", "0800 555 010",
                   "privacy@families.example.nz")
    text = visible_text(render(plan, None, agency=agency, units={
        "evaluation": Party("Evaluation team", "PO Box 1, Wellington 6140", "04 555 0120")},
        versions={"plan_version": 1, "notice_version": 3}))
    assert "Who collects it: City Centre Social Services. Phone 04 123 4567." in text
    assert ("Who holds it: Ministry for Families. PO Box 1, Wellington 6140. Phone 0800 555 010. "
            "Email privacy@families.example.nz.") in text
    assert "Evaluation team gets it, for programme evaluation." in text
    assert "The law or rule that lets them: Funding agreement, evaluation clause;" in text
    assert "notice version 3" in text


def test_identifying_items_are_said_to_identify(example):
    data = copy.deepcopy(example)
    data["purposes"][0]["identifiable_need"] = "Staff check each family's dates by hand"
    next(i for i in data["items"] if i["name"] == "referral_date")["identifying"] = True
    text = visible_text(letter(data))
    assert "Some of this could show who you are." in text
    assert "Yes, it could show who you are. The team needs that because: Staff check" in text
    assert "are never sent" not in text


def test_self_contained_printable_and_escaped(example):
    data = copy.deepcopy(example)
    data["name"] = "Best <script>alert(1)</script> forward"
    html = letter(data)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "@page { size: A4" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html


def test_reading_grade_is_at_most_8(example):
    plan = Plan.from_dict(example, version=1)
    for provider_agreement in (agreed(plan), agreed(plan, wellbeing_end="decline"), None):
        assert reading_grade(render(plan, provider_agreement)) <= 8.0


def test_reading_grade_sees_hard_words(example):
    data = copy.deepcopy(example)
    hard = ("Notwithstanding contractual obligations, longitudinal disaggregated administrative "
            "datasets facilitate comprehensive evaluative methodologies regarding "
            "intergenerational socioeconomic determinants.")
    for i in data["items"]:
        i["choice"] = hard
        for use in i["uses"]:
            use["explanation"] = hard
    assert reading_grade(letter(data)) > 8.0


@needs_chromium
def test_the_letter_prints_on_at_most_two_a4_pages(example, tmp_path):
    """The example programme's whole letter, every party named with an address."""
    html = example_letter.render()
    assert pdf_pages(html, tmp_path) <= 2
    # A plan with many more items must still group them, not grow a page each.
    wide = copy.deepcopy(example)
    for n in range(12):
        extra = copy.deepcopy(next(i for i in wide["items"] if i["name"] == "goals_met"))
        extra["name"] = f"goal_{n}"
        extra["description"] = f"Goal number {n + 1}"
        wide["items"].append(extra)
    assert pdf_pages(letter(wide), tmp_path) <= 2


@needs_chromium
def test_the_letter_reads_on_a_phone_375_px_wide(tmp_path):
    """Families read it on a phone too: nothing past the edge or clipped, no
    sideways scroll (the directory's long privacy emails once pushed it to 390 px)."""
    measured = overflow(example_letter.render(), tmp_path, width=375)
    assert measured["width"] == 375
    assert measured["out"] == [] and measured["scroll_width"] <= 375
