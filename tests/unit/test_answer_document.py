"""The family's plain-language answer to an access request (IPP 6): complete,
escaped, self-contained, readable, and free of internal ids."""

from __future__ import annotations

import copy
import re
from html import escape
from html.parser import HTMLParser

import pytest

from services.requests.answer_document import render_answer
from tests.chromium import needs_chromium, overflow

FIELDS = [
    {"name": "age_band", "description": "Age of the main client, in bands.",
     "explanation": "We look at age groups, never exact ages, to see if the programme works "
                    "for young and older parents."},
    {"name": "sessions_attended", "description": "Sessions the family attended this quarter.",
     "explanation": "We see whether coming more often makes a difference."},
    {"name": "goals_met", "description": "How many of the family's own goals were met.",
     "explanation": "Success is measured by the goals your family set, not only by the Agency's."},
    {"name": "wellbeing_end", "description": "", "explanation": ""},  # no description: label from name
]

EXAMPLE = {
    "request_id": "req-7Q2K9XW4",
    "programme_name": "Best foot forward",
    "provider_name": "City Centre Social Services",
    "requester": "the client",
    "received": "2026-03-02", "due": "2026-03-30", "completed": "2026-03-04",
    "holdings": [
        {"unit_id": "unit-eval-01", "unit_name": "Evaluation and Insights team",
         "purpose_id": "purpose-eval-01", "purpose_name": "Programme evaluation",
         "purpose_description": "Learn whether the programme helps families, and for whom.",
         "fields": FIELDS,
         "records": [
             {"period": "2026Q3", "values": {"age_band": "25-39", "sessions_attended": 12,
                                             "goals_met": "some", "wellbeing_end": 6,
                                             "ethnicity": "not_stated", "referral_date": "2026-07-14"}},
             {"period": "2026Q4", "values": {"age_band": "25-39", "sessions_attended": 9,
                                             "goals_met": "most", "first_visit": True}},
         ],
         "accesses": [{"accessor": "analyst A. Tane", "fields": ["goals_met", "age_band"],
                       "reason": "Q3 outcomes report",
                       "recorded_at": "2026-03-03T01:02:03.000000+00:00"}]},
        {"unit_id": "unit-res-02", "unit_name": "Research team",
         "purpose_id": "purpose-res-02", "purpose_name": "Family wellbeing research",
         "purpose_description": "Find out what helps families feel well.",
         "fields": FIELDS[:1],
         "records": [{"period": "2026Q4", "values": {"age_band": "40-64"}}],
         "accesses": [{"accessor": "researcher M. Wong", "fields": ["age_band"],
                       "reason": "Wellbeing study", "recorded_at": "2026-03-01T21:00:00+00:00"}]},
    ],
    "counts_only": [{"unit_id": "service-delivery", "unit_name": "Contracts and Service Delivery team",
                     "purpose_name": "Service delivery reporting",
                     "explanation": "The Agency counts how many families were helped in each region."}],
}

INTERNAL_IDS = ["req-7Q2K9XW4", "unit-eval-01", "purpose-eval-01", "unit-res-02", "purpose-res-02",
                "service-delivery", "age_band", "sessions_attended", "goals_met", "wellbeing_end"]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCKS = {"p", "li", "h1", "h2", "h3", "td", "th", "caption", "figcaption", "dt", "dd", "text", "tspan",
          "title", "div", "section", "br", "tr"}


class Checker(HTMLParser):
    """Checks nesting, and collects the visible text with block edges marked."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in BLOCKS:
            self.text.append(" . ")
        if tag in VOID:
            return
        self.stack.append(tag)
        if tag in ("style", "desc") or (tag == "title" and "svg" not in self.stack):
            self.hidden += 1

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("style", "desc") or (tag == "title" and "svg" not in self.stack):
            self.hidden -= 1
        if tag in BLOCKS:
            self.text.append(" . ")

    def handle_data(self, data):
        if not self.hidden:
            self.text.append(data)


def parse(doc: str) -> Checker:
    checker = Checker()
    checker.feed(doc)
    checker.close()
    return checker


def without_reference(doc: str) -> str:
    refs = re.findall(r'<p class="ref">.*?</p>', doc, flags=re.S)
    assert len(refs) == 1
    return doc.replace(refs[0], "")


@pytest.fixture
def doc() -> str:
    return render_answer(copy.deepcopy(EXAMPLE))


def test_is_a_complete_well_nested_document(doc):
    assert doc.startswith("<!DOCTYPE html>")
    checker = parse(doc)
    assert checker.problems == []
    assert checker.stack == []
    assert [t for t, _ in checker.tags].count("h1") == 1
    assert "What the Agency holds about you" in doc


def test_intro_shows_dates_in_plain_words(doc):
    for day in ("2 March 2026", "30 March 2026", "4 March 2026"):
        assert day in doc
    assert "2026-03-0" not in doc
    assert "City Centre Social Services" in doc and "Best foot forward" in doc


def test_every_record_value_and_accessor_appears(doc):
    for unit in EXAMPLE["holdings"]:
        assert unit["unit_name"] in doc
        for record in unit["records"]:
            for value in record["values"].values():
                assert f"<td>{shown(value)}</td>" in doc
        for access in unit["accesses"]:
            assert access["accessor"] in doc
            assert access["reason"] in doc


def shown(value) -> str:
    """How the document shows a recorded value (see the next test)."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return {"some": "Some", "most": "Most", "not_stated": "Not stated",
            "2026-07-14": "14 July 2026"}.get(value, str(value))


def test_values_are_shown_in_plain_words(doc):
    assert "<td>Not stated</td>" in doc and "not_stated" not in doc
    assert "<td>14 July 2026</td>" in doc and "2026-07-14" not in doc
    assert "<td>Some</td>" in doc and "<td>Yes</td>" in doc
    assert "<td>25-39</td>" in doc and "<td>12</td>" in doc


def test_labels_are_descriptions_or_spelled_out_names(doc):
    assert "Age of the main client, in bands</th>" in doc
    assert "Wellbeing end</th>" in doc          # no description: the name, spelled out
    assert "First visit</th>" in doc            # a value with no declared field at all
    assert "July to September 2026" in doc and "October to December 2026" in doc


def test_purpose_and_explanations_are_given(doc):
    assert "Programme evaluation" in doc
    assert "Learn whether the programme helps families, and for whom." in doc
    for field in FIELDS[:3]:
        assert escape(field["explanation"]) in doc


def test_access_dates_are_new_zealand_dates_only(doc):
    assert "3 March 2026" in doc       # 01:02 UTC on 3 March is the afternoon of 3 March in NZ
    assert "2 March 2026</td>" in doc  # 21:00 UTC on 1 March is already 2 March in NZ
    assert "01:02" not in doc and "T01" not in doc


def test_nobody_looked_is_said_plainly():
    answer = copy.deepcopy(EXAMPLE)
    answer["holdings"][0]["accesses"] = []
    doc = render_answer(answer)
    assert "Nobody has looked at this information yet." in doc


def test_values_from_data_are_escaped():
    evil = "<script>alert(1)</script>"
    answer = copy.deepcopy(EXAMPLE)
    answer["provider_name"] = evil
    answer["programme_name"] = evil
    unit = answer["holdings"][0]
    unit["unit_name"] = evil
    unit["purpose_name"] = evil
    unit["purpose_description"] = evil
    unit["fields"][0]["description"] = evil
    unit["records"][0]["values"]["goals_met"] = evil
    unit["accesses"][0]["accessor"] = evil
    unit["accesses"][0]["reason"] = evil
    answer["counts_only"][0]["unit_name"] = evil
    answer["request_id"] = '"><script>x</script>'
    doc = render_answer(answer)
    assert "<script" not in doc.lower()
    assert "&lt;script&gt;" in doc
    assert parse(doc).problems == []


def test_empty_holdings_says_the_agency_holds_nothing():
    answer = copy.deepcopy(EXAMPLE)
    answer["holdings"] = []
    doc = render_answer(answer)
    assert "The Agency holds nothing about you for this programme." in doc
    assert "Contracts and Service Delivery team" in doc
    answer["counts_only"] = []
    doc = render_answer(answer)
    assert "The Agency holds nothing about you for this programme." in doc
    assert parse(doc).problems == []


def flows(doc: str):
    tags = parse(doc).tags
    paths = [a for t, a in tags if t == "path" and "flow" in (a.get("class") or "").split()]
    labels = [a for t, a in tags if t == "text" and "flow-label" in (a.get("class") or "").split()]
    return paths, labels


def test_picture_has_one_arrow_per_unit_dashed_for_counts(doc):
    paths, labels = flows(doc)
    holds = [p for p in paths if "holds" in p["class"].split()]
    counts = [p for p in paths if "counts" in p["class"].split()]
    assert len(holds) == len(EXAMPLE["holdings"])
    assert len(counts) == len(EXAMPLE["counts_only"])
    assert all(p.get("marker-end") for p in paths)
    assert len(labels) == len(paths)
    assert all(p.get("stroke-dasharray") for p in counts)
    assert not any(p.get("stroke-dasharray") for p in holds)
    svg = doc[doc.index("<svg"):doc.index("</svg>")]
    for unit in EXAMPLE["holdings"]:
        assert unit["purpose_name"] in svg
    assert "Service delivery reporting" in svg
    assert "counts only \u2014 you cannot be identified" in svg


def test_no_external_resources_or_scripts(doc):
    assert "http" not in doc.lower()
    assert "www.privacy.org.nz" in doc and "0800 803 909" in doc
    lowered = doc.lower()
    for bad in ("<script", "<link", "<img", "<iframe", "@import", "src=", "href=", "javascript:"):
        assert bad not in lowered
    for target in re.findall(r"url\(([^)]*)\)", doc):
        assert target.startswith("#")
    assert not re.search(r"<[^>]+\son\w+=", doc)  # no event handlers


def test_printable_on_a4(doc):
    assert "@page { size: A4; margin: 18mm }" in doc
    assert re.search(r"\.unit[^{]*\{[^}]*break-inside: avoid", doc)
    assert "@media print" in doc


def test_what_you_can_do(doc):
    assert "What you can do" in doc
    assert "corrected" in doc
    assert "Privacy Commissioner" in doc


def test_internal_ids_only_in_the_reference_line(doc):
    ref = re.search(r'<p class="ref">(.*?)</p>', doc, flags=re.S).group(1)
    assert "For the provider" in ref
    for internal in ("req-7Q2K9XW4", "unit-eval-01", "purpose-eval-01", "service-delivery"):
        assert internal in ref
    rest = without_reference(doc)
    for internal in INTERNAL_IDS:
        assert internal not in rest, internal
    assert "2026Q3" not in rest


def sentences(doc: str) -> list[list[str]]:
    text = "".join(parse(doc).text)
    out = []
    for chunk in re.split(r"[.!?]", text):
        words = chunk.split()
        if words:
            out.append(words)
    return out


@pytest.mark.parametrize("variant", ["example", "no holdings", "no accesses"])
def test_sentences_are_short(variant):
    answer = copy.deepcopy(EXAMPLE)
    if variant == "no holdings":
        answer["holdings"] = []
    elif variant == "no accesses":
        for unit in answer["holdings"]:
            unit["accesses"] = []
    found = sentences(render_answer(answer))
    average = sum(len(s) for s in found) / len(found)
    assert average < 20, average
    longest = max(found, key=len)
    assert len(longest) <= 25, " ".join(longest)


@needs_chromium
@pytest.mark.parametrize("kind", ["access", "correction"])
def test_the_answer_reads_on_a_phone_with_nothing_clipped(kind, tmp_path):
    """Rendered in headless Chromium 375 px wide: no element past the edge,
    nothing cut off, no sideways scrolling (long words and values included)."""
    answer = copy.deepcopy(EXAMPLE)
    answer["holdings"][0]["records"][0]["values"]["referral_date"] = "x" * 80
    if kind == "correction":
        answer.update(kind="correction", correction={
            "field": "ethnicity", "corrected_value": "Māori", "reason": "It was recorded wrongly"},
            decisions=[{"unit_name": "Evaluation and Insights team", "outcome": "refused"}])
    measured = overflow(render_answer(answer), tmp_path, width=375)
    assert measured["width"] == 375
    assert measured["out"] == [] and measured["scroll_width"] <= 375


def test_a_correction_page_uses_correction_words_and_no_staff_note():
    answer = copy.deepcopy(EXAMPLE)
    answer.update(kind="correction", correction={
        "field": "ethnicity", "corrected_value": "Māori", "reason": "It was recorded wrongly"},
        decisions=[{"unit_name": "Evaluation and Insights team", "outcome": "refused"},
                   {"unit_name": "Research team", "outcome": "applied"}])
    answer["holdings"][0]["records"][0]["statements"] = [{
        "field": "ethnicity", "corrected_value": "Māori", "reason": "It was recorded wrongly",
        "refused_because": "SR-1142 per A.Tane: CMS export mismatch, see ticket"}]
    doc = render_answer(answer)
    assert "Your request to correct your information" in doc
    assert "You asked for <strong>Ethnicity</strong> to say “Māori”." in doc
    assert "<strong>Research team</strong> corrected it." in doc
    assert "The team did not change it. This happens when their records show" in doc
    assert "SR-1142" not in doc and "A.Tane" not in doc
