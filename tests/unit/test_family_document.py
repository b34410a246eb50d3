""""Where your information goes": made from the plan and the provider's
agreement, it follows both, stays self-contained and printable, and reads at
grade 8 or below."""

from __future__ import annotations

import copy
import datetime as dt
import re
from html import escape

import pytest
import yaml

from services.purpose_router.codesign import agreement
from services.purpose_router.codesign.family_document import (
    reading_grade,
    render_family_document,
    visible_text,
)
from tests.service.factories import EXAMPLE
from tiaki.core.plan import Plan

NOW = dt.datetime(2026, 7, 10, tzinfo=dt.timezone.utc)


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def agreed(plan: Plan, **special) -> dict:
    return agreement.decide(plan, None, [
        {"item_name": i.name, "decision": special.get(i.name, "accept"), "note": ""}
        for i in plan.items], "Mere", "provider:ccss", NOW)


def letter(data: dict, **special) -> str:
    plan = Plan.from_dict(data, version=1)
    return render_family_document(plan, agreed(plan, **special), "City Centre Social Services",
                                  "Phone 04 123 4567", "2026Q3")


def section(html: str, heading: str) -> str:
    """The text of the item section whose heading is `heading`."""
    match = re.search(rf"<h2>{re.escape(escape(heading))}</h2>(.*?)</section>", html, re.S)
    assert match, f"no section {heading!r}"
    return visible_text(match.group(1))


def test_every_accepted_item_is_explained_in_plain_english(example):
    html = letter(example)
    text = visible_text(html)
    assert "Where your information goes" in text
    assert "City Centre Social Services sends nine things." in text
    age = section(html, "Age of the main client, in bands")
    assert "We look at age groups, never exact ages" in age            # why
    assert "Evaluation and Insights team gets it, for programme evaluation." in age   # who sees
    assert "They keep it for 7 years after the programme ends." in age  # how long
    assert "Contracts and Service Delivery team." in age               # who does not
    assert "Case managers who decide on benefits or care." in age
    assert "Not by name." in age                                       # can it identify you
    assert "You can say no. You still get the same help." in age        # choices
    region = section(html, "Region where the service was delivered")
    assert "Contracts and Service Delivery team gets totals only" in region
    assert "No. This team only gets totals" in region
    # how to ask what is held: through the provider, with the legal deadline
    assert "Ask City Centre Social Services. Phone 04 123 4567." in text
    assert "within 20 working days" in text
    assert "Your name, address and date of birth are never sent." in text


def test_the_letter_follows_the_plan(example):
    before = letter(example)
    changed = copy.deepcopy(example)
    goals = next(i for i in changed["items"] if i["name"] == "goals_met")
    goals["uses"][0]["retention"] = "2 years after the programme ends"
    goals["uses"][0]["not_seen_by"].append("Your landlord")
    goals["uses"][0]["explanation"] = "Your goals show us what matters to you."
    after = letter(changed)
    old, new = (section(h, "How many of the family's own goals were met") for h in (before, after))
    assert "They keep it for 7 years after the programme ends." in old
    assert "They keep it for 2 years after the programme ends." in new
    assert "Your landlord." in new and "Your landlord" not in old
    assert "Your goals show us what matters to you." in new


def test_declined_items_are_not_described_as_sent(example):
    html = letter(example, wellbeing_end="decline", goals_met="query")
    text = visible_text(html)
    assert "City Centre Social Services sends seven things." in text
    headings = [visible_text(h) for h in re.findall(r"<h2>.*?</h2>", html)]
    assert "Age of the main client, in bands." in headings
    assert "How many of the family's own goals were met." not in headings
    not_sent = visible_text(re.search(r'<section class="not-sent">(.*?)</section>', html,
                                      re.S).group(1))
    assert "Family wellbeing score (1 to 10) at the end of the quarter." in not_sent
    assert "How many of the family's own goals were met." in not_sent
    assert "agreement version 1" in text


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
        html = render_family_document(plan, provider_agreement, "City Centre Social Services",
                                      "Phone 04 123 4567", "2026Q3")
        assert reading_grade(html) <= 8.0


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
