"""The influence report as a provider's Board reads it: self-contained, a
chart by kind over time, every outcome traced to the reporting periods and
purposes behind it, named as people name things (ids only in a staff footer)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import replace
from html.parser import HTMLParser

from services.insights import domain
from services.insights.influence_report import influence_report, render_influence_report
from services.purpose_router.codesign.family_document import visible_text
from tiaki.core.periods import period_of

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def outcome(n: int, kind: str, date: str, state: str = "recorded", **extra) -> dict:
    base = {
        "outcome_id": f"o{n}", "outcome_ref": "", "unit_id": "evaluation",
        "unit_name": "Evaluation and Insights team", "kind": kind, "title": f"Outcome {n}",
        "summary": f"What outcome {n} changed.", "date": date, "audience": "Agency leadership",
        "state": state, "version": 1, "programme_names": ["Best foot forward"],
        "measure_ids": [], "measures": [], "reviews": [], "recorded_at": 1.0,
        "published_at": None,
        "informed_by": [{"delivery_id": f"b{n}:evaluation", "provider_id": "ccss",
                         "programme_id": "bff", "submission_id": f"sub-{n}",
                         "purpose_id": "evaluation", "purpose_name": "Programme evaluation",
                         "period": period_of(dt.date.fromisoformat(date))}],
    }
    base.update(extra)
    return base


def report(outcomes, date_from="2026-01-01", date_to="2026-06-30") -> str:
    return render_influence_report({"provider_id": "ccss",
                                    "provider_name": "City Centre Social Services",
                                    "date_from": date_from,
                                    "date_to": date_to, "generated_on": "2026-07-01",
                                    "outcomes": outcomes})


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_the_chart_stacks_each_month_by_kind():
    html = report([outcome(1, "decision", "2026-02-03"), outcome(2, "decision", "2026-02-20"),
                   outcome(3, "report", "2026-02-21"), outcome(4, "advice", "2026-05-01")])
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert re.findall(r"<title>([^<]*)</title>", svg) == [
        "Feb 2026, decisions: 2", "Feb 2026, reports: 1", "May 2026, advice: 1"]
    assert [m for m in re.findall(r'class="month"[^>]*>([^<]*)<', svg)] == [
        "Jan 2026", "Feb 2026", "Mar 2026", "Apr 2026", "May 2026", "Jun 2026"]
    assert "4 outcomes from 1 January 2026 to 30 June 2026: Decisions: 2; Advice: 1; Reports: 1." in svg
    assert "<strong>4 outcomes</strong>" in html
    assert "drawing on what you sent for 2 reporting periods" in html  # Jan-Mar and Apr-Jun


def test_a_long_period_is_charted_by_quarter():
    html = report([outcome(1, "decision", "2025-05-03")], date_from="2024-01-01",
                  date_to="2026-12-31")
    labels = re.findall(r'class="month"[^>]*>([^<]*)<', html)
    assert labels[0] == "Q1 2024" and "Q2 2025" in labels and len(labels) == 12
    assert "per quarter" in html


def test_each_outcome_is_traced_to_its_reporting_periods_and_purposes():
    two_sources = outcome(1, "policy_or_service_change", "2026-03-01", informed_by=[
        {"delivery_id": f"b{i}:evaluation", "provider_id": "ccss", "programme_id": "bff",
         "submission_id": "sub-q3", "purpose_id": "evaluation",
         "purpose_name": "Programme evaluation", "period": "2025Q3"} for i in range(3)] + [
        {"delivery_id": "sub-q4:reporting", "provider_id": "ccss", "programme_id": "bff",
         "submission_id": "sub-q4", "purpose_id": "reporting",
         "purpose_name": "Service delivery reporting", "period": "2025Q4"},
        {"delivery_id": "old:reporting", "provider_id": "ccss", "programme_id": "bff",
         "submission_id": "sub-old", "purpose_id": "reporting",
         "purpose_name": "Service delivery reporting"}])  # recorded before periods were kept
    html = report([two_sources])
    article = html[html.index('<article class="outcome" id="o-o1"'):]
    article = article[:article.index("</article>")]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td>"
                      r'<td class="n">(\d+)</td></tr>', article)
    assert rows == [("Period not recorded", "Service delivery reporting", "1"),
                    ("July to September 2025", "Programme evaluation", "3"),
                    ("October to December 2025", "Service delivery reporting", "1")]
    assert "sub-q3" not in article and "Policy or service changes" in html
    footer = html[html.index("<footer"):]
    assert ("Period not recorded: sub-old; July to September 2025: sub-q3; "
            "October to December 2025: sub-q4") in footer


def test_findings_carry_their_measures_and_the_providers_reply():
    published = outcome(1, "evaluation_finding", "2026-03-01", state="published",
                        measures=[{"measure_id": "m1", "name": "Goals met"}], reviews=[{
                            "provider_id": "ccss", "shared_on": "2026-03-02",
                            "respond_by": "2026-03-16", "responses": [
                                {"kind": "correct_fact", "text": "We ran 12 sessions, not 10.",
                                 "at": 2.0}]}])
    draft = outcome(2, "evaluation_finding", "2026-04-01", state="draft", reviews=[{
        "provider_id": "ccss", "shared_on": "2026-04-01", "respond_by": "2026-04-16",
        "responses": []}])
    html = report([published, draft])
    assert "Measures used</dt><dd>Goals met" in html
    assert "You corrected a fact: We ran 12 sessions, not 10." in html
    assert "you may respond until 16 April 2026" in html
    # Only what was told counts in the chart; the draft is listed apart.
    assert "<strong>1 outcome</strong>" in html
    assert html.index("Draft findings awaiting publication") < html.index('id="o-o2"')


def test_self_contained_and_escaped():
    hostile = outcome(1, "advice", "2026-02-02", title='<script>alert("x")</script>',
                      summary="<img src=https://evil.example/x.png>")
    html = report([hostile])
    tags = parsed(html)
    assert "script" not in tags.tags and "img" not in tags.tags
    assert not any(k in ("src", "href") for k, _ in tags.attrs)
    assert "url(" not in html and "@import" not in html  # nothing fetched from elsewhere
    assert "&lt;script&gt;" in html and "<svg" in html and "<style>" in html
    assert "@page" in html and "@media print" in html


def test_an_empty_period_still_renders():
    html = report([])
    assert "recorded no outcomes informed by City Centre Social Services" in html
    assert "<svg" in html and "0 outcomes" in html


def test_the_report_names_units_programmes_and_measures_as_their_plans_do():
    recorded = domain.new_outcome(
        "o1", "evaluation",
        domain.OutcomeDraft(kind="advice", title="Keep it", summary="Funded.", date="2026-03-02",
                            audience="Minister", delivery_ids=("b1:evaluation", "b2:x")),
        [{"delivery_id": "b1:evaluation", "submission_id": "s1", "provider_id": "ccss",
          "programme_id": "bff", "purpose_id": "evaluation"},
         {"delivery_id": "b2:x", "submission_id": "s2", "provider_id": "other-ngo",
          "programme_id": "gone", "purpose_id": "x"}],
        lambda programme, purpose: purpose, {}, dt.date(2026, 3, 2), 10, 1.0)
    measure = domain.Measure("m1", "bff", "Goals met", "", domain.Party("agency", "agency"))
    plans = {"bff": {"name": "Best foot forward",
                     "units": [{"unit_id": "evaluation", "name": "Evaluation team"}]},
             "gone": {"programme_id": "gone", "name": "gone"}}
    data = influence_report("ccss", "2026-01-01", "2026-06-30",
                            [recorded, replace(recorded, outcome_id="o2", unit_id="audit",
                                               measure_ids=("m1", "m9"))],
                            plans, {"m1": measure}, dt.date(2026, 7, 1))
    assert data["generated_on"] == "2026-07-01" and data["provider_id"] == "ccss"
    first, second = data["outcomes"]
    assert [c["delivery_id"] for c in first["informed_by"]] == ["b1:evaluation"]  # its own only
    assert first["unit_name"] == "Evaluation team" and second["unit_name"] == "audit"
    assert first["programme_names"] == ["Best foot forward", "gone"]
    assert second["measures"] == [{"measure_id": "m1", "name": "Goals met"},
                                  {"measure_id": "m9", "name": "m9"}]
    assert "Evaluation team" in render_influence_report(data)


def test_people_read_names_periods_and_dates_and_staff_find_the_ids_in_the_footer():
    """Real ids (UUIDs) everywhere the store has them; the Board sees none of
    them, nor the provider's or unit's id, outside the footer for staff."""
    sub, delivery, outcome_id = (str(uuid.uuid4()) for _ in range(3))
    received = [{"delivery_id": f"{delivery}:evaluation", "submission_id": sub,
                 "provider_id": "ccss", "programme_id": "best-foot-forward",
                 "purpose_id": "evaluation", "unit_id": "evaluation", "period": "2026Q3"}]
    recorded = domain.new_outcome(
        outcome_id, "evaluation",
        domain.OutcomeDraft(kind="decision", title="Keep the parenting strand",
                            summary="Funded for two more years.", date="2026-10-02",
                            audience="Agency leadership", submission_ids=(sub,)),
        received, lambda programme, purpose: "Programme evaluation", {}, dt.date(2026, 10, 2),
        10, 1.0)
    plans = {"best-foot-forward": {"name": "Best Foot Forward", "units": [
        {"unit_id": "evaluation", "name": "evaluation unit (plan)"}]}}
    names = {"provider:ccss": "City Centre Social Services", "agency:agency": "The Agency",
             "unit:evaluation": "Evaluation and Insights team"}
    html = render_influence_report(influence_report(
        "ccss", "2026-07-01", "2026-12-31", [recorded], plans, {}, dt.date(2027, 1, 5), names))
    seen, footer = html[:html.index("<footer")], html[html.index("<footer"):]
    text = visible_text(seen)
    assert not UUID.search(text), UUID.search(text)
    assert not re.search(r"\bccss\b|best-foot-forward", text)
    for words in ("City Centre Social Services", "Evaluation and Insights team",
                  "Best Foot Forward", "July to September 2026", "Programme evaluation",
                  "2 October 2026"):
        assert words in text, words
    assert "City Centre Social Services" in re.search(r"<title>([^<]*)</title>", html).group(1)
    staff = visible_text(footer)
    assert "For staff" in staff and sub in staff and outcome_id in staff and "ccss" in staff
