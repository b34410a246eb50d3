""""Where your information goes": the plain-language letter a provider gives a
family, made from the agreed plan and that provider's agreement (no I/O).

It is built from the same plan that drives routing, and from the same
agreement intake and routing follow, so it cannot say something different
from what happens. One self-contained HTML document: inline CSS, no scripts,
no external resources, printable on A4. Every value from data is escaped.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

import textstat

from services.purpose_router.codesign import rules as codesign
from services.purpose_router.codesign.agreement import withheld
from tiaki.core.clock import MONTHS
from tiaki.core.periods import PERIOD
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


def period_words(period: str) -> str:
    """'2026Q3' -> 'July to September 2026'."""
    match = PERIOD.fullmatch(period or "")
    if not match:
        return period
    year, quarter = int(match.group(1)), int(match.group(2))
    return f"{MONTHS[3 * quarter - 3]} to {MONTHS[3 * quarter - 1]} {year}"


# -- sections ---------------------------------------------------------------------------

def _item_section(plan: Plan, item: ScheduleItem) -> str:
    units = {u.unit_id: u.name for u in plan.units}
    out = [f'<section class="item"><h2>{_e(_label(item))}</h2>', '<dl class="item-facts">']

    why = "".join(f"<li>{_e(_sentence(u.explanation))}</li>" for u in item.uses if u.explanation)
    out.append(f'<dt>Why it is needed</dt><dd><ul class="plain">{why}</ul></dd>')

    sees = []
    for use in item.uses:
        purpose = plan.purpose(use.purpose_id)
        team = units.get(purpose.unit_id) or "A team in the Agency"
        gets = "gets totals only" if purpose.form == "aggregate" else "gets it"
        sees.append(f"<li><strong>{_e(team)}</strong> {gets}, for {_e(purpose.name.lower())}. "
                    f"They keep it for {_e(use.retention)}.</li>")
    out.append(f'<dt>Who sees it, and how long they keep it</dt><dd><ul class="plain">'
               f'{"".join(sees)}</ul></dd>')

    receivers = {plan.purpose(u.purpose_id).unit_id for u in item.uses}
    not_seen: list[str] = []
    for use in item.uses:
        for who in codesign.not_seen_by(plan, use):
            if who not in not_seen:
                not_seen.append(who)
    # Teams of this programme that get none of it are named too.
    not_seen += [u.name for u in plan.units if u.unit_id not in receivers and u.name not in not_seen]
    if not_seen:
        out.append('<dt>Who does not see it</dt><dd><ul class="plain">'
                   + "".join(f"<li>{_e(w)}.</li>" for w in not_seen) + "</ul></dd>")

    identify = []
    for use in item.uses:
        text = codesign.can_identify(item, plan.purpose(use.purpose_id))
        if text not in identify:
            identify.append(text)
    out.append("<dt>Can it show who you are?</dt><dd>"
               + " ".join(f"<p>{_e(t)}</p>" for t in identify) + "</dd>")

    if item.choice:
        out.append(f"<dt>Your choices</dt><dd><p>{_e(_sentence(item.choice))}</p></dd>")
    out.append("</dl></section>")
    return "\n".join(out)


def _not_sent(plan: Plan, held: dict[str, str], provider: str) -> str:
    if not held:
        return ""
    names = "".join(f"<li>{_e(_label(plan.item(n)))}.</li>" for n in held)
    return ('<section class="not-sent"><h2>What is not sent</h2>'
            f"<p>These things are in the Agency's plan. {_e(provider)} said no to sending them, "
            "or has not said yes yet. So they are not sent at all.</p>"
            f'<ul class="plain">{names}</ul></section>')


_CSS = """
@page { size: A4; margin: 18mm }
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; font-size: 17px;
  line-height: 1.5; color: #1d1d1d; max-width: 46em; margin: 0 auto; padding: 1.5em; }
h1 { font-size: 1.7em; margin: 0 0 .2em; color: #0b5d5e; }
h2 { font-size: 1.25em; margin: 1.4em 0 .4em; color: #0b5d5e; }
h3 { font-size: 1.05em; margin: 1em 0 .3em; }
p { margin: .4em 0; }
.lede { font-size: 1.1em; margin-bottom: 1em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3em 1.2em; margin: .8em 0;
  padding: .8em 1em; background: #f3f8f8; border-radius: 8px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
section.item { border-left: 4px solid #0b5d5e; padding-left: 1em; margin: 1.5em 0;
  break-inside: avoid; page-break-inside: avoid; }
dl.item-facts dt { font-weight: 600; margin-top: .6em; }
dl.item-facts dd { margin: 0 0 0 .2em; }
ul.plain { margin: .2em 0; padding-left: 1.2em; }
ul.plain li { margin: .2em 0; }
section.not-sent { border-left: 4px dashed #9a9a9a; padding-left: 1em; margin: 1.5em 0; }
.todo { background: #f3f8f8; border-radius: 8px; padding: .6em 1em; }
.contact { font-size: 1.05em; }
.ref { margin-top: 2.5em; font-size: .75em; color: #666; border-top: 1px solid #ddd; padding-top: .5em;
  word-break: break-word; }
@media print {
  body { font-size: 11pt; padding: 0; max-width: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  section.item, .todo { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def render_family_document(plan: Plan, agreement: dict | None, provider_name: str,
                           provider_contact: str, period: str = "") -> str:
    """The letter for families of one provider. `agreement` is the provider's
    agreement in force (None: as if every item were accepted, which is how a
    plan's readability is checked before it is published)."""
    provider = (provider_name or "").strip() or "your provider"
    held = withheld(plan, agreement) if agreement is not None else {}
    sent = [i for i in plan.items if i.name not in held]
    purposes_used = {u.purpose_id for i in sent for u in i.uses}
    identifying = any(i.identifying for i in sent if any(
        plan.purpose(u.purpose_id).form != "aggregate" for u in i.uses)) or any(
        plan.purpose(p).include_slk581 for p in purposes_used)

    facts = [("Programme", plan.name or plan.programme_id), ("Your provider", provider)]
    if period:
        facts.append(("This letter is for", period_words(period)))
    facts_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)

    intro = [
        f"<p>{_e(provider)} helps your family. The Agency pays for this help. "
        f"In return, {_e(provider)} sends the Agency some information.</p>",
        "<p>This letter tells you what is sent and why. "
        "It tells you who sees it, and who does not. It tells you how long it is kept.</p>",
    ]
    if not identifying:
        intro.append("<p><strong>Your name, address and date of birth are never sent.</strong> "
                     "A code is used in place of your name.</p>")
    else:
        intro.append("<p><strong>Some of this could show who you are.</strong> "
                     "Each part below says if it can.</p>")
    intro.append("<p>The Agency may use it only for the reasons below. "
                 "It may not use it for anything else.</p>")

    if sent:
        items_html = [
            "<section><h2>What is sent</h2>"
            f"<p>{_e(provider)} sends {_e(_count(len(sent)))}. Each one is shown below.</p></section>",
            *(_item_section(plan, i) for i in sent)]
    else:
        items_html = [f"<section><h2>What is sent</h2><p>{_e(provider)} sends nothing about you "
                      "for this programme.</p></section>"]

    contact = f" {_e(_sentence(provider_contact))}" if provider_contact.strip() else ""
    todo = [
        '<section class="todo-wrap"><h2>What you can do</h2><div class="todo">',
        "<h3>Ask what the Agency holds about you</h3>",
        f"<p>You can ask to see it at any time. Ask {_e(provider)}.{contact} "
        "They will ask the Agency for you. "
        "The law says the Agency must answer within 20 working days.</p>",
        "<h3>If something is wrong</h3>",
        f"<p>You can ask for it to be fixed. Ask {_e(provider)}. "
        "The change goes to every team that has it.</p>",
        "<h3>If you are not happy</h3>",
        "<p>You can complain to the Privacy Commissioner. It is free.</p>",
        f'<p class="contact">Website: <strong>{PRIVACY_WEB}</strong><br>'
        f"Phone: <strong>{PRIVACY_PHONE}</strong></p>",
        "</div></section>",
    ]
    ref = [f"programme {plan.programme_id}", f"plan version {plan.version}"]
    if agreement is not None:
        ref.append(f"agreement version {agreement['number']}")
    body = [
        "<h1>Where your information goes</h1>",
        f'<p class="lede">For the programme <strong>{_e(plan.name or plan.programme_id)}</strong>, '
        f"run by {_e(provider)}.</p>",
        f'<dl class="facts">{facts_html}</dl>',
        "<section><h2>About this letter</h2>", *intro, "</section>",
        *items_html,
        _not_sent(plan, held, provider),
        *todo,
        f'<p class="ref">For the provider: {_e("; ".join(ref))}.</p>',
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
    grade = reading_grade(render_family_document(plan, None, "Your provider", ""))
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
