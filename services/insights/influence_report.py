"""The influence report: what a provider's information informed in a period,
for its Board ("It's so useful to know how the information is used; we can
report that to our Board").

`render_influence_report(report)` returns one self-contained HTML document:
inline CSS and an inline SVG chart (outcomes by kind, month by month), no
scripts, no external resources, printable on A4. Each outcome is traced to the
submissions and purposes behind it. Every value comes from data and is escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from services.insights.domain import Measure, Outcome, view
from tiaki.core.clock import MONTHS, nz_date_words
from tiaki.core.periods import period_words

# Kinds in the order a Board reads them, with a label and a colour each
# (colour-blind-safe palette, and every bar is also labelled in the table).
KINDS = (
    ("decision", "Decisions", "#0b5d5e"),
    ("advice", "Advice", "#d98c1f"),
    ("report", "Reports", "#4477aa"),
    ("evaluation_finding", "Evaluation findings", "#aa3377"),
    ("policy_or_service_change", "Policy or service changes", "#66aa55"),
)
LABELS = {k: label for k, label, _ in KINDS}
RESPONSE_WORDS = {"agree": "You agreed", "correct_fact": "You corrected a fact",
                  "add_context": "You added context"}


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _date(text: str) -> str:
    try:
        day = dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return str(text)
    return nz_date_words(day)


def _months(date_from: str, date_to: str) -> list[tuple[int, int]]:
    start, end = dt.date.fromisoformat(date_from), dt.date.fromisoformat(date_to)
    months, (y, m) = [], (start.year, start.month)
    while (y, m) <= (end.year, end.month):
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def _buckets(date_from: str, date_to: str) -> list[tuple[str, str, str]]:
    """(first ISO day, last ISO day, label): months, or quarters for a period
    over two years so the chart stays readable."""
    months = _months(date_from, date_to)
    if len(months) > 24:
        quarters = []
        for y, m in months:
            q = (m - 1) // 3
            key = (y, q)
            if not quarters or quarters[-1][0] != key:
                quarters.append((key, []))
            quarters[-1][1].append((y, m))
        out = []
        for (y, q), _ in quarters:
            first = dt.date(y, 3 * q + 1, 1)
            last = dt.date(y + (q == 3), 1 if q == 3 else 3 * q + 4, 1) - dt.timedelta(days=1)
            out.append((first.isoformat(), last.isoformat(), f"Q{q + 1} {y}"))
        return out
    out = []
    for y, m in months:
        first = dt.date(y, m, 1)
        last = dt.date(y + (m == 12), 1 if m == 12 else m + 1, 1) - dt.timedelta(days=1)
        out.append((first.isoformat(), last.isoformat(), f"{MONTHS[m - 1][:3]} {y}"))
    return out


def _step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if top / step <= 5:
            return step
    return 1000


def _chart(outcomes: list[dict], date_from: str, date_to: str) -> str:
    """Stacked columns: how many outcomes of each kind, per month (or quarter)."""
    buckets = _buckets(date_from, date_to)
    counts = [{k: 0 for k, _, _ in KINDS} for _ in buckets]
    for o in outcomes:
        for i, (first, last, _) in enumerate(buckets):
            if first <= o["date"] <= last:
                counts[i][o["kind"]] = counts[i].get(o["kind"], 0) + 1
    top = max([sum(c.values()) for c in counts] + [1])
    step = _step(top)
    top = -(-top // step) * step
    width, height, left, right, above, below = 720, 300, 44, 12, 16, 74
    plot_w, plot_h = width - left - right, height - above - below
    slot = plot_w / len(buckets)
    bar = min(48.0, slot * 0.7)
    total = sum(sum(c.values()) for c in counts)
    desc = "; ".join(f"{label}: {sum(c[k] for c in counts)}" for k, label, _ in KINDS
                     if any(c[k] for c in counts)) or "none"
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="chart-title chart-desc" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMin meet">',
        '<title id="chart-title">Outcomes your information informed, by kind, over time</title>',
        '<desc id="chart-desc">'
        + _e(f"{total} outcomes from {_date(date_from)} to {_date(date_to)}: {desc}.") + "</desc>",
    ]
    for value in range(0, top + 1, step):
        y = above + plot_h - plot_h * value / top
        parts.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" '
                     f'y2="{y:.1f}" stroke="#d8dede" stroke-width="1"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{value}</text>')
    every = max(1, -(-len(buckets) // 12))  # at most 12 labels along the bottom
    for i, (_, _, label) in enumerate(buckets):
        x = left + slot * i + (slot - bar) / 2
        y = above + plot_h
        for kind, klabel, colour in KINDS:
            n = counts[i][kind]
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(f'<rect class="bar {kind}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{_e(label)}, '
                         f'{_e(klabel.lower())}: {n}</title></rect>')
        if i % every == 0:
            cx = left + slot * i + slot / 2
            parts.append(f'<text class="month" x="{cx:.1f}" y="{above + plot_h + 16}" '
                         f'text-anchor="middle">{_e(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{above + plot_h}" x2="{width - right}" '
                 f'y2="{above + plot_h}" stroke="#555" stroke-width="1"/>')
    x = left
    for _, klabel, colour in KINDS:
        parts.append(f'<rect class="key" x="{x}" y="{height - 30}" width="12" height="12" '
                     f'fill="{colour}"/><text class="key" x="{x + 16}" y="{height - 20}">'
                     f'{_e(klabel)}</text>')
        x += 28 + int(len(klabel) * 6.2)
    parts.append("</svg>")
    return "\n".join(parts)


def _sent_for(citation: dict) -> str:
    """The submission a citation came from, as the provider names it: its period."""
    return period_words(citation["period"]) if citation.get("period") else "Period not recorded"


def _trace(outcome: dict) -> str:
    """The reporting periods and purposes behind one outcome."""
    rows: dict[tuple[str, str, str], int] = {}
    for c in outcome.get("informed_by") or []:
        key = (c.get("period") or "", _sent_for(c), c.get("purpose_name") or c["purpose_id"])
        rows[key] = rows.get(key, 0) + 1
    body = "".join(
        f"<tr><td>{_e(sent_for)}</td><td>{_e(purpose)}</td>"
        f"<td class=\"n\">{n}</td></tr>" for (_, sent_for, purpose), n in sorted(rows.items()))
    return ('<table class="trace"><caption>Informed by your information</caption>'
            '<thead><tr><th scope="col">What you sent for</th><th scope="col">For the purpose'
            f'</th><th scope="col" class="n">Deliveries</th></tr></thead><tbody>{body}</tbody>'
            "</table>")


def _for_staff(report: dict, provider: str, outcomes: list[dict], period: str) -> str:
    """The ids staff need to find what the report names, in a small footer."""
    submissions: dict[str, set[str]] = {}
    for o in outcomes:
        for c in o.get("informed_by") or []:
            submissions.setdefault(c.get("period") or "", set()).add(c["submission_id"])
    listed = "; ".join(f"{_e(_sent_for({'period': p}))}: {_e(', '.join(sorted(s)))}"
                       for p, s in sorted(submissions.items()))
    ids = ", ".join(f"{o['outcome_id']} ({o['unit_id']})" for o in outcomes) or "none"
    return (f'<footer class="ref"><p>Influence report for {_e(provider)}, {_e(period)}; made on '
            f"{_e(_date(report.get('generated_on', '')))} by tiaki.</p>"
            f"<p>For staff: provider {_e(report['provider_id'])}; outcome ids (unit) {_e(ids)}. "
            f"Submission ids by period: {listed or 'none'}.</p></footer>")


def _review(outcome: dict) -> str:
    reviews = outcome.get("reviews") or []
    if not reviews:
        return ""
    out = []
    for review in reviews:
        responses = review.get("responses") or []
        if responses:
            for r in responses:
                text = f": {_e(r['text'])}" if r.get("text") else "."
                out.append(f'<p class="reply">{_e(RESPONSE_WORDS.get(r["kind"], r["kind"]))}'
                           f"{text}</p>")
        elif outcome["state"] == "draft":
            out.append(f'<p class="reply">Shared with you on {_e(_date(review["shared_on"]))}; '
                       f'you may respond until {_e(_date(review["respond_by"]))}.</p>')
        else:
            out.append('<p class="reply">You did not respond within the review window.</p>')
    return "<h4>Your right of reply</h4>" + "".join(out)


def _outcome(outcome: dict) -> str:
    state = {"draft": " (draft, shared with you for reply)",
             "published": " (published)"}.get(outcome["state"], "")
    facts = [("Date", _date(outcome["date"])), ("By", outcome.get("unit_name") or "an Agency unit"),
             ("For", outcome["audience"])]
    if outcome.get("programme_names"):
        facts.append(("Programme", ", ".join(outcome["programme_names"])))
    if outcome.get("measures"):
        facts.append(("Measures used", ", ".join(m["name"] for m in outcome["measures"])))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    return (f'<article class="outcome" id="o-{_e(outcome["outcome_id"])}">'
            f"<h3>{_e(outcome['title'])}{_e(state)}</h3><dl>{dl}</dl>"
            f"<p>{_e(outcome['summary'])}</p>{_trace(outcome)}{_review(outcome)}</article>")


_CSS = """
@page { size: A4; margin: 16mm }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 15px;
  line-height: 1.45; color: #1d1d1d; margin: 0 auto; padding: 24px; max-width: 52rem; }
h1 { font-size: 1.8em; color: #0b3d3e; margin: 0 0 .2em; }
h2 { font-size: 1.3em; color: #0b3d3e; border-bottom: 2px solid #cfe3e3; margin: 1.4em 0 .5em; }
h3 { font-size: 1.08em; margin: 0 0 .3em; }
h4 { font-size: .95em; margin: .6em 0 .2em; }
.lede { font-size: 1.1em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 .8em; font-size: .93em; }
caption { text-align: left; font-weight: 600; padding: .2em 0; }
th, td { border: 1px solid #c9d4d4; padding: .3em .5em; text-align: left; vertical-align: top; }
thead th { background: #e6f2f2; }
.n { text-align: right; width: 7em; }
article.outcome { border-left: 4px solid #0b5d5e; padding: .2em 0 .2em 1em; margin: 1em 0;
  break-inside: avoid; page-break-inside: avoid; }
article.outcome dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 1em;
  margin: .2em 0 .4em; font-size: .93em; }
article.outcome dt { font-weight: 600; }
article.outcome dd { margin: 0; }
.reply { background: #fff6ec; border-left: 3px solid #b35c00; padding: .2em .6em; margin: .2em 0; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; font-size: 11px; fill: #333; }
.ref { margin-top: 2em; font-size: .75em; color: #666; border-top: 1px solid #ddd; padding-top: .4em; }
@media print {
  body { font-size: 10.5pt; padding: 0; max-width: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, table { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def influence_report(provider_id: str, date_from: str, date_to: str, outcomes: list[Outcome],
                     plans: dict[str, dict], measures: dict[str, Measure],
                     today: dt.date, names: dict[str, str] | None = None) -> dict:
    """What `render_influence_report` shows a provider: its view of each outcome,
    named as the directory (`names` by "<kind>:<id>"), the plans (by programme
    id) and measures (by id) name them."""
    names = names or {}
    programmes = {p: plans.get(p) or {} for p in sorted({p for o in outcomes
                                                         for p in o.programme_ids})}
    units = {u["unit_id"]: u.get("name") or u["unit_id"]
             for plan in programmes.values() for u in plan.get("units", [])}
    units.update({key.split(":", 1)[1]: name for key, name in names.items()
                  if key.startswith("unit:")})
    shown = []
    for outcome in outcomes:
        v = view(outcome, provider_id)
        v["unit_name"] = units.get(outcome.unit_id, outcome.unit_id)
        v["programme_names"] = [programmes[p].get("name") or p for p in outcome.programme_ids]
        v["measures"] = [{"measure_id": m, "name": measures[m].name if m in measures else m}
                         for m in outcome.measure_ids]
        shown.append(v)
    return {"provider_id": provider_id, "provider_name": names.get(f"provider:{provider_id}", ""),
            "date_from": date_from, "date_to": date_to, "generated_on": today.isoformat(),
            "outcomes": shown}


def render_influence_report(report: dict) -> str:
    """report: {provider_id, provider_name, date_from, date_to, generated_on,
    outcomes: [an outcome's provider view with unit_name, programme_names,
    measures]}. Ids appear only in the footer for staff."""
    provider = report.get("provider_name") or "your organisation"
    date_from, date_to = report["date_from"], report["date_to"]
    outcomes = sorted(report.get("outcomes") or [], key=lambda o: (o["date"], o["outcome_id"]))
    told = [o for o in outcomes if o["state"] != "draft"]
    drafts = [o for o in outcomes if o["state"] == "draft"]
    period = f"{_date(date_from)} to {_date(date_to)}"

    rows = "".join(f"<tr><td>{_e(label)}</td><td class=\"n\">"
                   f"{sum(1 for o in told if o['kind'] == kind)}</td></tr>"
                   for kind, label, _ in KINDS)
    sent_for = sorted({_sent_for(c) for o in told for c in o.get("informed_by") or []})
    if told:
        lede = (f"From {period}, information {_e(provider)} sent to the Agency informed "
                f"<strong>{len(told)} outcome{'' if len(told) == 1 else 's'}</strong>, drawing on "
                f"what you sent for {len(sent_for)} reporting "
                f"period{'' if len(sent_for) == 1 else 's'}.")
    else:
        lede = f"From {period}, the Agency recorded no outcomes informed by {_e(provider)}'s information."
    body = [
        "<h1>What our information informed</h1>",
        f'<p class="lede">{lede}</p>',
        "<p>Each outcome below is one the Agency told us about: a decision, advice, a report, an "
        "evaluation finding, or a change to policy or services. Each shows the reporting periods "
        "our information was sent for, and the purposes it was used for.</p>",
        "<section><h2>Outcomes by kind</h2>",
        f'<table class="kinds"><thead><tr><th scope="col">Kind</th><th scope="col" class="n">'
        f"Outcomes</th></tr></thead><tbody>{rows}</tbody></table>",
        f"<figure>{_chart(told, date_from, date_to)}<figcaption>Outcomes by kind, per "
        f"{'quarter' if len(_months(date_from, date_to)) > 24 else 'month'}, "
        f"{_e(period)}.</figcaption></figure></section>",
    ]
    for kind, label, _ in KINDS:
        mine = [o for o in told if o["kind"] == kind]
        if mine:
            body.append(f"<section><h2>{_e(label)}</h2>")
            body.extend(_outcome(o) for o in mine)
            body.append("</section>")
    if drafts:
        body.append("<section><h2>Draft findings awaiting publication</h2>"
                    "<p>These are shared with us for our reply before they are published.</p>")
        body.extend(_outcome(o) for o in drafts)
        body.append("</section>")
    body.append(_for_staff(report, provider, outcomes, period))
    return ("<!DOCTYPE html>\n<html lang=\"en-NZ\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>What our information informed: {_e(provider)}, {_e(period)}</title>\n"
            f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
