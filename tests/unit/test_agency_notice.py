"""The Agency's own notice (IPP 3A): every matter the law lists, in plain
words, only the items the delivery carried."""

from __future__ import annotations

import yaml

from services.purpose_router.codesign.agency_notice import render_agency_notice
from services.purpose_router.codesign.family_document import Party, reading_grade, visible_text
from tests.service.factories import EXAMPLE
from tiaki.core.plan import Plan

PLAN = Plan.from_dict(yaml.safe_load(EXAMPLE.read_text()), version=1)
CCSS = Party("City Centre Social Services", "12 Cuba Street, Wellington 6011", "04 555 0100")
AGENCY = Party("Ministry for Families", "PO Box 10200, Wellington 6143", "0800 555 010",
               "privacy@families.example.nz")


def notice() -> str:
    return render_agency_notice(PLAN, "evaluation", ["pseudonym", "age_band", "ethnicity"],
                                "2026Q3", CCSS, AGENCY, Party("Evaluation and Insights team"),
                                "3 December 2026")


def test_it_says_every_ipp3a_matter_in_plain_words():
    text = visible_text(notice())
    assert "information we got about you for July to September 2026" in text   # the fact
    assert "Learn whether the programme helps families, and for whom." in text  # the purpose
    assert "Only Evaluation and Insights team gets it." in text                # recipients
    assert "Who sent it: City Centre Social Services. 12 Cuba Street" in text   # collector
    assert "Who keeps it: Ministry for Families. PO Box 10200" in text         # holder
    assert "Funding agreement, evaluation clause" in text                      # the law
    assert "ask to see what we hold about you" in text and "fix it" in text   # access, correction
    assert "We gave this note on 3 December 2026." in text
    assert reading_grade(notice()) <= 8.0


def test_it_names_only_what_was_sent():
    text = visible_text(notice())
    assert "Age of the main client, in bands." in text
    assert "Self-identified ethnic group (level 1)." in text
    assert "The day the family was referred" not in text
