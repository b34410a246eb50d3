"""The plain-language answer to a family's access request: "What does the
Agency hold about me?" (Privacy Act 2020, IPP 6).

`render_answer(answer)` turns the assembled answer into one self-contained
HTML document: inline CSS and an inline SVG picture, no scripts, no external
resources, printable on A4. Every value comes from data and is escaped.
Internal ids appear only in the small "for the provider" line at the end."""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import Any

from tiaki.core.clock import NZ, nz_date_words
from tiaki.core.periods import period_words
from tiaki.core.withholding import named

NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")

PRIVACY_WEB = "www.privacy.org.nz"
PRIVACY_PHONE = "0800 803 909"


# ---------------------------------------------------------------- small helpers

def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _date(value: Any) -> str:
    """'2026-03-02' or an ISO timestamp -> '2 March 2026' (timestamps as the New
    Zealand date). Anything unreadable is shown as given."""
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    try:
        if len(text) <= 10:
            day = dt.date.fromisoformat(text)
        else:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(NZ)
            day = moment.date()
    except ValueError:
        return text
    return nz_date_words(day)


def _period(value: Any) -> str:
    """'2026Q3' (or '2026 Q3', '2026-q3') -> 'July to September 2026'."""
    text = "" if value is None else str(value).strip()
    return period_words(re.sub(r"\s*-?\s*[Qq]", "Q", text)) if re.fullmatch(
        r"\d{4}\s*-?\s*[Qq][1-4]", text) else text


def _value(value: Any) -> str:
    """A recorded value as a family would say it: dates in words, yes/no, and
    code-like words ('not_stated') spelled out."""
    if value is None or value == "":
        return "Not recorded"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return _date(text)
    if re.fullmatch(r"[a-z][a-z0-9_]*", text):
        return _capital(text.replace("_", " "))
    return text


def _sentence(text: Any) -> str:
    """Trimmed, with a full stop at the end if it has none."""
    out = "" if text is None else str(text).strip()
    if out and out[-1] not in ".!?":
        out += "."
    return out


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _and(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _count(n: int, one: str, many: str) -> str:
    word = NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)
    return f"{word} {one if n == 1 else many}"


def _field_label(field: dict | None, name: str) -> str:
    description = str((field or {}).get("description") or "").strip()
    if description:
        return description[:-1].rstrip() if description.endswith(".") else description
    return _capital(str(name).replace("_", " ").strip()) or "Other information"


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap for SVG text (SVG does not wrap by itself)."""
    lines: list[str] = []
    current = ""
    for word in str(text).split():
        while len(word) > width:  # a very long word: cut it
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines or [""]


# ---------------------------------------------------------------- the picture

_W = 720
_PROV_X, _PROV_W = 8, 180
_ELBOW_X = 222
_UNIT_X, _UNIT_W = 470, 242
_LINE_H = 17
_LABEL_H = 14


def _svg_text(lines: list[str], x: float, y: float, cls: str, line_h: float) -> str:
    spans = "".join(
        f'<tspan x="{x:g}" y="{y + i * line_h:g}">{_e(line)}</tspan>' for i, line in enumerate(lines))
    return f'<text class="{cls}" text-anchor="middle">{spans}</text>'


def _picture(provider: str, holdings: list[dict], counts_only: list[dict]) -> str:
    rows = [(h, False) for h in holdings] + [(c, True) for c in counts_only]
    if not rows:
        return ""
    label_w = int((_UNIT_X - _ELBOW_X - 16) / 6.4)   # 12px bold: about 6.4px a character
    note_w = int((_UNIT_X - _ELBOW_X - 12) / 5.8)    # 11px italic
    laid = []
    y = 10
    for unit, counts in rows:
        name_lines = _wrap(unit.get("unit_name") or "A part of the Agency", 26)
        purpose_lines = _wrap(unit.get("purpose_name") or "", label_w)
        below = _wrap("counts only \u2014 you cannot be identified", note_w) if counts else []
        box_h = max(46, len(name_lines) * _LINE_H + 20)
        above_h = len(purpose_lines) * _LABEL_H + 8
        below_h = len(below) * _LABEL_H + 8 if below else 0
        half = max(box_h / 2, above_h, below_h)
        row_h = 2 * half
        laid.append((counts, name_lines, purpose_lines, below, box_h, y + half))
        y += row_h + 14
    height = max(y, 90)
    prov_lines = _wrap(provider or "Your provider", 18)
    prov_h = len(prov_lines) * _LINE_H + 38
    prov_cy = height / 2
    prov_top = prov_cy - prov_h / 2

    parts = [
        f'<svg class="flows" role="img" aria-labelledby="flows-title flows-desc" '
        f'viewBox="0 0 {_W} {height:g}" width="100%" preserveAspectRatio="xMidYMin meet">',
        '<title id="flows-title">Where your information went</title>',
        '<desc id="flows-desc">' + _e(
            f"Your information went from {provider or 'your provider'} to the Agency. "
            f"Solid arrows go to teams that hold information about you. "
            f"Dashed arrows go to teams that only get counts.") + "</desc>",
        "<defs>"
        '<marker id="head-holds" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#0b5d5e"/></marker>'
        '<marker id="head-counts" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#6b6b6b"/></marker>'
        "</defs>",
        f'<rect class="provider" x="{_PROV_X}" y="{prov_top:g}" width="{_PROV_W}" '
        f'height="{prov_h:g}" rx="10" fill="#fdf3e1" stroke="#b7791f" stroke-width="1.5"/>',
        _svg_text(prov_lines, _PROV_X + _PROV_W / 2, prov_top + 22, "box-name", _LINE_H),
        _svg_text(["your provider"], _PROV_X + _PROV_W / 2,
                  prov_top + 22 + len(prov_lines) * _LINE_H + 4, "box-note", _LINE_H),
    ]
    label_x = (_ELBOW_X + _UNIT_X) / 2
    for counts, name_lines, purpose_lines, below, box_h, cy in laid:
        kind = "counts" if counts else "holds"
        colour = "#6b6b6b" if counts else "#0b5d5e"
        dashes = ' stroke-dasharray="7 5"' if counts else ""
        parts.append(
            f'<path class="flow {kind}" d="M{_PROV_X + _PROV_W},{prov_cy:g} H{_ELBOW_X} '
            f'V{cy:g} H{_UNIT_X - 2}" fill="none" stroke="{colour}" stroke-width="2.5"{dashes} '
            f'marker-end="url(#head-{kind})"/>')
        top = cy - (len(purpose_lines) * _LABEL_H) - 2
        parts.append(_svg_text(purpose_lines, label_x, top + 10, f"flow-label {kind}", _LABEL_H))
        if below:
            parts.append(_svg_text(below, label_x, cy + 16, "flow-note", _LABEL_H))
        box_top = cy - box_h / 2
        fill = "#ffffff" if counts else "#e6f2f2"
        box_dashes = ' stroke-dasharray="6 4"' if counts else ""
        parts.append(
            f'<rect class="unit {kind}" x="{_UNIT_X}" y="{box_top:g}" width="{_UNIT_W}" '
            f'height="{box_h:g}" rx="8" fill="{fill}" stroke="{colour}" stroke-width="1.5"{box_dashes}/>')
        first = cy - (len(name_lines) - 1) * _LINE_H / 2 + 5
        parts.append(_svg_text(name_lines, _UNIT_X + _UNIT_W / 2, first, "box-name", _LINE_H))
    parts.append("</svg>")
    return "\n".join(parts)


# ---------------------------------------------------------------- the sections

def _record_table(record: dict, fields: dict[str, dict], order: list[str]) -> str:
    values = record.get("values") or {}
    names = [n for n in order if n in values] + [n for n in values if n not in fields]
    period = _period(record.get("period"))
    caption = f"Information for {period}" if period else "Information"
    rows = "".join(
        f'<tr><th scope="row">{_e(_field_label(fields.get(n), n))}</th>'
        f"<td>{_e(_value(values[n]))}</td></tr>"
        for n in names)
    withheld = [w for w in record.get("withheld") or [] if isinstance(w, dict)]
    rows += "".join(_withheld_row(w, fields) for w in withheld)
    if not rows:
        rows = '<tr><td colspan="2">This record is empty.</td></tr>'
    table = (f'<table class="record"><caption>{_e(caption)}</caption>'
             f'<thead><tr><th scope="col">What it is</th><th scope="col">What it says</th></tr>'
             f"</thead><tbody>{rows}</tbody></table>")
    return table + "".join(_statement(s, fields) for s in record.get("statements") or [])


def _withheld_row(withheld: dict, fields: dict[str, dict]) -> str:
    """An item the team withheld: what it is, and the ground the team recorded, in
    plain words with its section of the Privacy Act and the Act's test."""
    item = str(withheld.get("item") or "")
    found = named(str(withheld.get("ground") or ""))
    law = f" ({found.heading}: {found.law})" if found and found.law else ""
    why = (f"{_sentence(found.words)} The law allows this: {found.citation}{law}."
           if found else "The law allows this.")
    return (f'<tr class="withheld"><th scope="row">{_e(_field_label(fields.get(item), item))}</th>'
            f"<td><strong>Not given to you.</strong> {_e(why)}</td></tr>")


def _statement(statement: dict, fields: dict[str, dict]) -> str:
    """A refused correction: the family's statement travels with the record."""
    label = _field_label(fields.get(statement.get("field", "")), statement.get("field", ""))
    return (
        '<div class="statement"><p><strong>You asked for a change here.</strong> '
        f"You said “{_e(label)}” should say “{_e(_value(statement.get('corrected_value')))}”. "
        f"Your reason: {_e(_sentence(statement.get('reason')))}</p>"
        f"<p>{REFUSED_IN_PLAIN_WORDS} "
        "Your statement is kept with this information. "
        "Anyone who sees it also sees your statement.</p></div>")


# A refusal explained to a family: never a unit's own staff note, which is
# written for staff (and may name people or systems).
REFUSED_IN_PLAIN_WORDS = ("The team did not change it. This happens when their records show "
                          "something different, or when the change would make the information "
                          "wrong for the time it covers.")


def _correction_section(answer: dict) -> str:
    """What a family asked to be corrected, and what each team did, in plain words."""
    c = answer.get("correction") or {}
    label = _field_label(None, c.get("field", ""))
    out = ['<section><h2>What you asked to be corrected</h2>',
           f"<p>You asked for <strong>{_e(label)}</strong> to say "
           f"“{_e(_value(c.get('corrected_value')))}”. Your reason: "
           f"{_e(_sentence(c.get('reason')))}</p>", '<ul class="why">']
    for d in answer.get("decisions") or []:
        name = _e(d.get("unit_name") or "A team in the Agency")
        if d.get("outcome") == "applied":
            out.append(f"<li><strong>{name}</strong> corrected it.</li>")
        elif d.get("outcome") == "refused":
            out.append(f"<li><strong>{name}</strong>: {_e(REFUSED_IN_PLAIN_WORDS)} You can ask "
                       "for a statement of your view to be kept with it.</li>")
        else:
            out.append(f"<li><strong>{name}</strong> has not decided yet.</li>")
    out.append("</ul></section>")
    return "\n".join(out)


def _accesses(accesses: list[dict], fields: dict[str, dict]) -> str:
    if not accesses:
        return "<p>Nobody has looked at this information yet.</p>"
    n = len(accesses)
    intro = ("Someone has looked at it once." if n == 1
             else f"It has been looked at {_count(n, 'time', 'times')}.")
    rows = []
    for access in accesses:
        looked = "".join(
            f"<li>{_e(_field_label(fields.get(name), name))}</li>"
            for name in access.get("fields") or [])
        looked = f'<ul class="looked">{looked}</ul>' if looked else "All of it"
        rows.append(
            f"<tr><td>{_e(access.get('accessor') or 'Not recorded')}</td>"
            f"<td class=\"when\">{_e(_date(access.get('recorded_at')) or 'Not recorded')}</td>"
            f"<td>{looked}</td>"
            f"<td>{_e(_sentence(access.get('reason')) or 'Not recorded')}</td></tr>")
    return (f"<p>{_e(intro)} This is who, when and why.</p>"
            '<table class="accesses"><thead><tr><th scope="col">Who</th><th scope="col">When</th>'
            '<th scope="col">What they looked at</th><th scope="col">Why</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


_OUTCOME_WORDS = {"decision": "A decision", "advice": "Advice", "report": "A report",
                  "evaluation_finding": "A finding of the evaluation",
                  "policy_or_service_change": "A change to policy or services"}


def _outcomes(outcomes: list[dict]) -> str:
    """What the information informed (told by insights), in plain words."""
    if not outcomes:
        return ("<p>The Agency has not told us of any decision or report this information "
                "helped with yet.</p>")
    items = "".join(
        f"<li><strong>{_e(_OUTCOME_WORDS.get(o.get('kind'), 'An outcome'))}, "
        f"{_e(_date(o.get('date')))}: {_e(o.get('title'))}.</strong> "
        f"{_e(_sentence(o.get('summary')))} It was for {_e(o.get('audience'))}.</li>"
        for o in outcomes)
    return ("<p>Your information, together with other families' information, helped the "
            f'Agency with this:</p><ul class="why">{items}</ul>')


def _holding(unit: dict) -> str:
    name = unit.get("unit_name") or "A part of the Agency"
    field_list = [f for f in unit.get("fields") or [] if isinstance(f, dict)]
    fields = {str(f.get("name")): f for f in field_list}
    order = [str(f.get("name")) for f in field_list]
    records = unit.get("records") or []

    out = [f'<section class="unit"><h2>{_e(name)}</h2>', "<h3>What they hold about you</h3>"]
    if records:
        out.append(f"<p>They hold {_e(_count(len(records), 'record', 'records'))} about you.</p>")
        out.extend(_record_table(r, fields, order) for r in records)
    else:
        out.append("<p>They hold no records about you right now.</p>")

    out.append("<h3>Why they have it</h3>")
    purpose = unit.get("purpose_name")
    if purpose:
        out.append(f"<p>They use it for one purpose: <strong>{_e(purpose)}</strong>.</p>")
    if unit.get("purpose_description"):
        out.append(f"<p>{_e(_sentence(unit['purpose_description']))}</p>")
    explained = [f for f in field_list if str(f.get("explanation") or "").strip()]
    if explained:
        out.append("<p>Why each piece of information is needed:</p><ul class=\"why\">")
        out.extend(
            f"<li><strong>{_e(_field_label(f, str(f.get('name'))))}.</strong> "
            f"{_e(_sentence(f.get('explanation')))}</li>"
            for f in explained)
        out.append("</ul>")
    out.append("<p>They are not allowed to use it for anything else.</p>")

    out.append("<h3>Who has looked at it, and why</h3>")
    out.append(_accesses(unit.get("accesses") or [], fields))
    if "outcomes" in unit:
        out.append("<h3>What it helped the Agency do</h3>")
        out.append(_outcomes(unit["outcomes"] or []))
    out.append("</section>")
    return "\n".join(out)


def _counts_section(counts_only: list[dict]) -> str:
    if not counts_only:
        return ""
    out = ['<section class="counts"><h2>Teams that only get counts</h2>',
           "<p>These teams never get information about you as a person. "
           "They only get totals, like how many families were helped. "
           "You cannot be identified from them.</p>"]
    for unit in counts_only:
        out.append('<div class="counts-unit">')
        out.append(f"<h3>{_e(unit.get('unit_name') or 'A part of the Agency')}</h3>")
        if unit.get("purpose_name"):
            out.append(f"<p>Purpose: <strong>{_e(unit['purpose_name'])}</strong>.</p>")
        if unit.get("explanation"):
            out.append(f"<p>{_e(_sentence(unit['explanation']))}</p>")
        out.append("</div>")
    out.append("</section>")
    return "\n".join(out)


def _reference(answer: dict, holdings: list[dict], counts_only: list[dict]) -> str:
    bits = []
    if answer.get("request_id"):
        bits.append(f"request {answer['request_id']}")
    for unit in holdings:
        bits.append(f"unit {unit.get('unit_id', '')} (purpose {unit.get('purpose_id', '')})")
    for unit in counts_only:
        pid = unit.get("purpose_id")
        bits.append(f"unit {unit.get('unit_id', '')} (counts only"
                    + (f", purpose {pid})" if pid else ")"))
    return f'<p class="ref">For the provider: {_e("; ".join(bits))}.</p>'


_CSS = """
@page { size: A4; margin: 18mm }
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 17px;
  line-height: 1.5; color: #1d1d1d; background: #fff; margin: 0 auto; padding: 24px;
  max-width: 50rem; }
h1 { font-size: 1.9em; line-height: 1.2; margin: 0 0 .2em; color: #0b3d3e; }
h2 { font-size: 1.35em; margin: 1.4em 0 .4em; color: #0b3d3e; border-bottom: 2px solid #cfe3e3;
  padding-bottom: .15em; }
h3 { font-size: 1.08em; margin: 1.1em 0 .3em; }
p { margin: .4em 0; }
.lede { font-size: 1.1em; color: #333; margin-bottom: 1em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25em 1.2em; margin: .8em 0;
  padding: .8em 1em; background: #f3f8f8; border-radius: 8px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: .5em 0 1em; font-size: .95em; }
caption { text-align: left; font-weight: 600; padding: .3em 0; }
th, td { border: 1px solid #c9d4d4; padding: .4em .6em; text-align: left; vertical-align: top; }
thead th { background: #e6f2f2; }
table.record tbody th { font-weight: normal; width: 60%; }
.statement { border-left: 4px solid #b35c00; background: #fff6ec; padding: .2em .8em;
             margin: .5em 0 1em; break-inside: avoid; }
td.when { white-space: nowrap; }
.looked { margin: 0; padding-left: 1.1em; }
.looked li { margin: 0 0 .2em; }
ul.why { padding-left: 1.2em; }
ul.why li { margin: .3em 0; }
figure { margin: 1em 0; }
figcaption { font-size: .92em; color: #444; margin-top: .4em; }
svg.flows { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; }
svg .box-name { font-size: 14px; font-weight: 600; fill: #1d1d1d; }
svg .box-note { font-size: 12px; fill: #555; }
svg .flow-label { font-size: 12px; font-weight: 600; }
svg .flow-label.holds { fill: #0b5d5e; }
svg .flow-label.counts { fill: #555; }
svg .flow-note { font-size: 11px; font-style: italic; fill: #555; }
.unit, .counts-unit { break-inside: avoid; page-break-inside: avoid; }
section.unit { border-left: 4px solid #0b5d5e; padding-left: 1em; margin: 1.5em 0; }
section.counts .counts-unit { border-left: 4px dashed #9a9a9a; padding-left: 1em; margin: 1em 0; }
.todo { background: #f3f8f8; border-radius: 8px; padding: .6em 1em; }
.contact { font-size: 1.05em; }
.ref { margin-top: 2.5em; font-size: .75em; color: #666; border-top: 1px solid #ddd; padding-top: .5em;
  word-break: break-word; }
th, td, dd, p, li { overflow-wrap: anywhere; }
@media (max-width: 600px) {
  body { padding: 12px; font-size: 16px; }
  dl.facts { grid-template-columns: 1fr; gap: 0; }
  dl.facts dd { margin-bottom: .4em; }
  table { table-layout: fixed; }
  td.when { white-space: normal; }
}
@media print {
  body { font-size: 11pt; padding: 0; max-width: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure, table, tr, .todo { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_answer(answer: dict) -> str:
    """The family's answer as one self-contained HTML document (see module doc)."""
    programme = answer.get("programme_name") or "the programme"
    provider = answer.get("provider_name") or "your provider"
    holdings = [h for h in answer.get("holdings") or [] if isinstance(h, dict)]
    counts_only = [c for c in answer.get("counts_only") or [] if isinstance(c, dict)]

    requester = str(answer.get("requester") or "").strip()
    is_client = requester.lower() in ("", "the client", "client", "you", "the service user")
    who = "You" if is_client else _capital(requester)
    received, due, completed = (_date(answer.get(k)) for k in ("received", "due", "completed"))

    facts = [("Who asked", who), ("Asked through", provider), ("The Agency got the request", received),
             ("The law says the answer is due by", due),
             ("The Agency answered on", completed or "Not finished yet")]
    facts_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts if v)

    asker = "You" if is_client else _e(_capital(requester))
    intro = [f"<p>{asker} asked what the Agency holds about you. "
             f"{_e(provider)} asked the Agency for you.</p>"]
    if received:
        intro.append(f"<p>The Agency got the request on {_e(received)}.</p>")
    if due:
        intro.append(f"<p>The Privacy Act says the Agency must answer by {_e(due)}.</p>")
    if completed:
        intro.append(f"<p>The Agency answered on {_e(completed)}. This letter is that answer.</p>")
    else:
        intro.append("<p>The Agency is still working on part of your request.</p>")
    if holdings:
        n = len(holdings)
        intro.append(f"<p>{_e(_capital(_count(n, 'team', 'teams')))} in the Agency "
                     f"{'holds' if n == 1 else 'hold'} information about you. "
                     "Each team is shown below.</p>")
    else:
        asked = [str(a) for a in answer.get("asked") or []]
        intro.append("<p><strong>The Agency holds nothing about you for this programme."
                      "</strong></p>")
        if asked:
            intro.append(f"<p>The Agency asked {_e(_and(asked))}. None of them holds any "
                         "information about you.</p>")
    if counts_only:
        n = len(counts_only)
        intro.append(f"<p>{_e(_capital(_count(n, 'other team', 'other teams')))} "
                     f"{'gets' if n == 1 else 'get'} counts only. "
                     "You cannot be identified from counts.</p>")

    picture = _picture(provider, holdings, counts_only)
    figure = ""
    if picture:
        caption = []
        if holdings:
            caption.append("A solid arrow means the team holds information about you.")
        if counts_only:
            caption.append("A dashed arrow means the team only gets counts.")
        caption.append("The words on each arrow say why.")
        figure = (f"<section><h2>Where your information went</h2><figure>{picture}"
                  f"<figcaption>{' '.join(caption)}</figcaption></figure></section>")

    withheld_any = any(r.get("withheld") for h in holdings for r in h.get("records") or []
                       if isinstance(r, dict))
    todo = [
        '<section class="todo-wrap"><h2>What you can do</h2><div class="todo">',
        "<h3>If something is wrong</h3>",
        f"<p>You can ask for it to be corrected. Talk to {_e(provider)}. "
        "They will ask the Agency for you. "
        "The correction goes to every team that holds the information.</p>",
        "<p>The Agency might say no to a change. "
        "If so, you can ask for a note with your view to be kept with the information.</p>",
        "<h3>If you are not happy with this answer</h3>",
        "<p>You can complain to the Privacy Commissioner. It is free.</p>",
        "<p>This includes anything the Agency did not give you: the Commissioner can check "
        "the reason.</p>" if withheld_any else "",
        f'<p class="contact">Website: <strong>{PRIVACY_WEB}</strong><br>'
        f"Phone: <strong>{PRIVACY_PHONE}</strong></p>",
        "<h3>If you have questions</h3>",
        f"<p>Ask {_e(provider)}. They can explain this letter.</p>",
        "</div></section>",
    ]

    correcting = answer.get("kind") == "correction"
    if correcting:
        intro[0] = (f"<p>{asker} asked the Agency to correct information about you. "
                    f"{_e(provider)} asked the Agency for you.</p>")
    body = [
        "<h1>Your request to correct your information</h1>" if correcting else
        "<h1>What the Agency holds about you</h1>",
        f'<p class="lede">For the programme <strong>{_e(programme)}</strong>, '
        f"run by {_e(provider)}.</p>",
        f'<dl class="facts">{facts_html}</dl>',
        "<section><h2>About your request</h2>", *intro, "</section>",
        _correction_section(answer) if correcting else "",
        figure,
        *(_holding(h) for h in holdings),
        _counts_section(counts_only),
        *todo,
        _reference(answer, holdings, counts_only),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-NZ">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>What the Agency holds about you: {_e(programme)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )
