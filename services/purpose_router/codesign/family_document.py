""""Where your information goes": the plain-language letter a provider gives a
family, and its notice under IPP 3A (no I/O).

It is rendered from what letter.py works out was sent for a period (the
ledger's deliveries, or the terms the period is collected under), so it
cannot say something different from what happened. Items that travel the
same way are listed together, so it fits on two A4 pages. One
self-contained HTML document: inline CSS, no scripts, no external
resources, printable on A4. Every value from data is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

import textstat

from services.purpose_router.codesign import notice
from services.purpose_router.codesign import rules as codesign
from tiaki.core.periods import period_words
from tiaki.core.plan import Plan, ScheduleItem

PRIVACY_WEB = "www.privacy.org.nz"
PRIVACY_PHONE = "0800 803 909"
BLOCKS = {"title", "h1", "h2", "h3", "p", "li", "dt", "dd", "th", "td", "caption", "figcaption"}


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _sentence(text) -> str:
    out = "" if text is None else str(text).strip()
    if out and out[-1] not in ".!?":
        out += "."
    return out


def _label(item: ScheduleItem) -> str:
    """The item as a family would name it: its description, else its name."""
    text = item.description.strip().rstrip(".")
    return text or item.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Party:
    """Someone a document names, as the directory has them (never by id)."""
    name: str
    address: str = ""
    phone: str = ""
    email: str = ""

    def reach(self) -> str:
        parts = [self.address.replace("\n", ", ")] if self.address else []
        parts += [f"Phone {self.phone}"] if self.phone else []
        parts += [f"Email {self.email}"] if self.email else []
        return ". ".join(parts)


def laws_of(plan: Plan, purpose_id: str = "") -> list[str]:
    """Each law or rule the plan's items are collected under (for one purpose,
    or all), once, in plan order."""
    laws: list[str] = []
    for item in plan.items:
        for use in item.uses:
            if purpose_id and use.purpose_id != purpose_id:
                continue
            for law in use.legal_basis.split(";"):
                if law.strip() and law.strip() not in laws:
                    laws.append(law.strip())
    return laws


# -- sections ---------------------------------------------------------------------------

def _routes(plan: Plan, units: dict[str, Party]) -> list[str]:
    """One block per way items travel (team, purpose, form, how long, who
    does not see it): the items that travel that way are listed in it once."""
    groups: dict[tuple, list[tuple[ScheduleItem, str]]] = {}
    for purpose in plan.purposes:
        for item in plan.items:
            for use in item.uses:
                if use.purpose_id != purpose.purpose_id:
                    continue
                key = (purpose.purpose_id, use.retention, tuple(codesign.not_seen_by(plan, use)),
                       codesign.can_identify(item, purpose))
                groups.setdefault(key, []).append((item, use.explanation))
    names = {u.unit_id: u.name for u in plan.units}
    out = []
    for (purpose_id, retention, not_seen, identify), members in groups.items():
        purpose = plan.purpose(purpose_id)
        team = (units.get(purpose.unit_id) and units[purpose.unit_id].name) or \
            names.get(purpose.unit_id) or "A team in the Agency"
        gets = "gets totals only" if purpose.form == "aggregate" else "gets it"
        lines = "".join(f"<li><strong>{_e(_label(i))}.</strong> {_e(_sentence(why))}</li>"
                        for i, why in members)
        block = [f'<section class="route"><h3>{_e(team)} {gets}, for '
                 f"{_e(purpose.name.lower())}</h3>",
                 f'<ul class="plain">{lines}</ul>',
                 f"<p>They keep it for {_e(_sentence(retention))} {_e(identify)}</p>"]
        if not_seen:
            block.append(f"<p>Who does not see it: {_e('; '.join(not_seen))}.</p>")
        block.append("</section>")
        out.append("\n".join(block))
    return out


def _choices(plan: Plan) -> str:
    said: dict[str, list[str]] = {}
    for item in plan.items:
        if item.choice:
            said.setdefault(_sentence(item.choice), []).append(_label(item))
    if not said:
        return ""
    rows = "".join(f"<li><strong>{_e(', '.join(labels))}.</strong> {_e(choice)}</li>"
                   for choice, labels in said.items())
    return f'<section><h2>Your choices</h2><ul class="plain">{rows}</ul></section>'


def _not_sent(held: dict[str, str], labels: dict[str, str], provider: str) -> str:
    if not held:
        return ""
    names = "; ".join(labels.get(n, n.replace("_", " ")) for n in held)
    return ('<section class="not-sent"><h2>What is not sent</h2>'
            f"<p>{_e(provider)} said no to sending these, or has not said yes yet. "
            f"So they are not sent at all: {_e(names)}.</p></section>")


def _who(plan: Plan, provider: Party, agency: Party | None, units: dict[str, Party],
         period: str, codesigned: bool) -> str:
    receiving = []
    for p in plan.purposes:
        if p.unit_id not in receiving:
            receiving.append(p.unit_id)
    rows = [f"<li><strong>Who collects it:</strong> {_e(provider.name)}. "
            f"{_e(_sentence(provider.reach()))}</li>"]
    if agency is not None:
        rows.append(f"<li><strong>Who holds it:</strong> {_e(agency.name)}. "
                    f"{_e(_sentence(agency.reach()))}</li>")
    for unit_id in receiving:
        unit = units.get(unit_id)
        if unit is not None and unit.reach():
            rows.append(f"<li><strong>{_e(unit.name)}:</strong> {_e(_sentence(unit.reach()))}</li>")
    laws = laws_of(plan)
    if laws:
        rows.append(f"<li><strong>The law or rule that lets them:</strong> "
                    f"{_e('; '.join(laws))}.</li>")
    notes = []
    if not codesigned:
        notes.append("<p><strong>This plan was not co-designed.</strong> The Agency wrote it "
                     "without working it out with providers and families.</p>")
    if period and notice.before_ipp3a(period):
        notes.append("<p>This is for a time before 1 May 2026. The new rule on telling you "
                     "(IPP 3A) is for what is collected from that day on, so it does not cover "
                     "this. We tell you anyway.</p>")
    return ('<section><h2>Who we are</h2><ul class="plain">' + "".join(rows) + "</ul>"
            + "".join(notes) + "</section>")


_CSS = """
@page { size: A4; margin: 14mm }
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 17px;
  line-height: 1.45; color: #1d1d1d; max-width: 46em; margin: 0 auto; padding: 1.5em;
  overflow-wrap: anywhere; }
@media (max-width: 30em) {  /* a phone: the letter reads without sideways scrolling */
  body { padding: 1em .8em; }
  dl.facts { grid-template-columns: 1fr; }
}
h1 { font-size: 1.6em; margin: 0 0 .2em; color: #0b5d5e; }
h2 { font-size: 1.2em; margin: 1em 0 .3em; color: #0b5d5e; }
h3 { font-size: 1em; margin: .2em 0; }
p { margin: .3em 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1.2em; margin: .6em 0;
  padding: .6em 1em; background: #f3f8f8; border-radius: 8px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
section.route { border-left: 4px solid #0b5d5e; padding-left: .8em; margin: .8em 0;
  break-inside: avoid; page-break-inside: avoid; }
ul.plain { margin: .2em 0; padding-left: 1.2em; }
ul.plain li { margin: .15em 0; }
section.not-sent { border-left: 4px dashed #9a9a9a; padding-left: .8em; }
.todo { background: #f3f8f8; border-radius: 8px; padding: .4em 1em; }
.ref { margin-top: 1.5em; font-size: .75em; color: #666; border-top: 1px solid #ddd; padding-top: .4em;
  word-break: break-word; }
@media print {
  body { font-size: 9.5pt; padding: 0; max-width: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_family_document(plan: Plan, held: dict[str, str], provider: Party, period: str = "",
                           *, codesigned: bool = True, agency: Party | None = None,
                           units: dict[str, Party] | None = None,
                           versions: dict | None = None, labels: dict[str, str] | None = None
                           ) -> str:
    """The letter for families of one provider (and one period). `plan` holds
    exactly what is sent (each item with the uses that get it: see letter.py),
    `held` what is not and why; parties are named from the directory.
    `versions` (plan, agreement, notice) go in the staff footer; `labels`
    names held items as families read them."""
    units = units or {}
    name = (provider.name or "").strip() or "your provider"
    sent = list(plan.items)
    identifying = any(i.identifying for i in sent if any(
        plan.purpose(u.purpose_id).form != "aggregate" for u in i.uses)) or any(
        p.include_slk581 for p in plan.purposes)

    facts = [("Programme", plan.name or plan.programme_id), ("Your provider", name)]
    if period:
        facts.append(("This letter is for", period_words(period)))
    facts_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)

    intro = [f"<p>{_e(name)} helps your family. The Agency pays for this help. In return, "
             f"{_e(name)} sends the Agency some information. This letter tells you what is "
             "sent, why, who sees it, and how long it is kept.</p>"]
    if not identifying:
        intro.append("<p><strong>Your name, address and date of birth are never sent.</strong> "
                     "A code is used in place of your name.</p>")
    else:
        intro.append("<p><strong>Some of this could show who you are.</strong> "
                     "Each part below says if it can.</p>")
    intro.append("<p>The Agency may use it only for the reasons below, and nothing else.</p>")

    if sent:
        items_html = [f"<section><h2>What is sent</h2><p>{_e(name)} sends "
                      f"{_e(_count(len(sent)))}. They go to the teams below.</p></section>",
                      *_routes(plan, units)]
    else:
        items_html = [f"<section><h2>What is sent</h2><p>{_e(name)} sends nothing about you "
                      "for this programme.</p></section>"]

    contact = f" {_e(_sentence(provider.reach()))}" if provider.reach() else ""
    todo = [
        '<section class="todo-wrap"><h2>What you can do</h2><div class="todo">',
        f"<p><strong>See what is held about you.</strong> Ask {_e(name)}.{contact} They will "
        "ask the Agency for you. The law says the Agency must answer within 20 working "
        "days.</p>",
        f"<p><strong>Fix something that is wrong.</strong> Ask {_e(name)}. The change goes to "
        "every team that has it.</p>",
        "<p><strong>If you are not happy,</strong> you can complain to the Privacy "
        f"Commissioner. It is free. Website: <strong>{PRIVACY_WEB}</strong>. "
        f"Phone: <strong>{PRIVACY_PHONE}</strong>.</p>",
        "</div></section>",
    ]
    ref = [f"programme {plan.programme_id}"]
    ref += [f"{k.replace('_', ' ')} {v}" for k, v in (versions or {}).items()]
    body = [
        "<h1>Where your information goes</h1>",
        f'<dl class="facts">{facts_html}</dl>',
        "<section><h2>About this letter</h2>", *intro, "</section>",
        *items_html,
        _not_sent(held, labels or {}, name),
        _choices(plan),
        _who(plan, Party(name, provider.address, provider.phone, provider.email), agency, units,
             period, codesigned),
        *todo,
        f'<p class="ref">For staff: {_e("; ".join(ref))}.</p>',
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-NZ">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Where your information goes: {_e(plan.name or plan.programme_id)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n")


def _count(n: int) -> str:
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    word = words[n] if n < len(words) else str(n)
    return f"{word} {'thing' if n == 1 else 'things'}"


# -- readability ------------------------------------------------------------------------

class _Text(HTMLParser):
    """The words a reader sees, each block (heading, paragraph, list item, ...)
    as its own sentence: a heading is not the start of the next sentence."""

    def __init__(self):
        super().__init__()
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self.skip += 1
        elif tag in BLOCKS or tag == "br":
            self._close()

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self.skip -= 1
        elif tag in BLOCKS:
            self._close()

    def handle_data(self, data):
        if not self.skip:
            self.current.append(data)

    def _close(self):
        text = " ".join("".join(self.current).split())
        self.current = []
        if text:
            self.blocks.append(_sentence(text))


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    parser._close()
    return "\n".join(parser.blocks)


def reading_grade(html: str) -> float:
    """Flesch-Kincaid grade level of what a reader sees (textstat)."""
    return float(textstat.flesch_kincaid_grade(visible_text(html)))


def item_grades(plan: Plan) -> list[tuple[str, float]]:
    """Each item's own words (explanations and choice), hardest first."""
    out = []
    for item in plan.items:
        text = " ".join(_sentence(t) for t in [*(u.explanation for u in item.uses), item.choice] if t)
        if text:
            out.append((item.name, float(textstat.flesch_kincaid_grade(text))))
    return sorted(out, key=lambda pair: -pair[1])


def reading_problems(plan: Plan) -> list[codesign.Problem]:
    """The families' document made from this plan must read at grade 8 or below;
    when it does not, the hardest explanations are named."""
    grade = reading_grade(render_family_document(plan, {}, Party("Your provider")))
    if grade <= codesign.MAX_READING_GRADE:
        return []
    hardest = [f"{name} ({g:.1f})" for name, g in item_grades(plan)
               if g > codesign.MAX_READING_GRADE]
    return [codesign.Problem(
        "rule", "plan", "explanation",
        f"the families' document reads at grade {grade:.1f}, above "
        f"{codesign.MAX_READING_GRADE:g}; simplify: {', '.join(hardest) or 'the explanations'}")]


def publish_problems(plan: Plan) -> list[codesign.Problem]:
    """Everything that stops a plan being published: the co-design rules, then
    (when they pass) the reading grade of the document families will get."""
    return codesign.publish_problems(plan) or reading_problems(plan)
