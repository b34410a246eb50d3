"""The Agency's own notice (IPP 3A), as plain rules (no I/O): when a unit
gets someone's information and no notice of the provider's named that unit
and purpose, the Agency tells the person itself. In plain words (grade 8 or
below) it says every IPP 3A matter: that the information was collected, why,
who gets it, the names and addresses of who collected it and who holds it,
the law, and the rights to see it and have it corrected."""

from __future__ import annotations

from dataclasses import replace
from html import escape

from services.purpose_router.codesign.family_document import (
    PRIVACY_PHONE,
    PRIVACY_WEB,
    Party,
    laws_of,
    period_words,
)
from tiaki.core.plan import Plan

CSS = ("body{font-family:Arial,sans-serif;font-size:17px;line-height:1.5;max-width:40em;"
       "margin:0 auto;padding:1em;color:#1d1d1d}h1{font-size:1.5em;color:#0b5d5e}"
       "h2{font-size:1.1em;color:#0b5d5e}li,p{overflow-wrap:anywhere}"
       "@page{size:A4;margin:16mm}")


def _e(text) -> str:
    return escape(str(text or ""), quote=True)


def render_agency_notice(plan: Plan, purpose_id: str, fields: list[str], period: str,
                         provider: Party, agency: Party, unit: Party, given_on: str) -> str:
    """The notice for one period's records sent to one unit for one purpose
    (`fields`: the items the delivery carried, as the ledger recorded them)."""
    purpose = plan.purpose(purpose_id)
    items = [i for i in plan.items if i.name in fields]
    named = not (purpose.include_slk581 or any(i.identifying for i in items))
    laws = laws_of(replace(plan, items=tuple(items), _by_name=None), purpose_id)
    what = "".join(f"<li>{_e(i.description.strip().rstrip('.') or i.name)}</li>" for i in items)
    body = [
        "<h1>We have some information about you</h1>",
        f"<p>This is a note from {_e(agency.name)}. We are writing to tell you about "
        f"information we got about you for {_e(period_words(period))}.</p>",
        "<h2>What we got</h2>",
        f"<p>{_e(provider.name)} helps your family in the programme {_e(plan.name)}. "
        f"They sent us this about you:</p><ul>{what}</ul>",
        "<p>Your name is not on it. A code is used in place of your name.</p>" if named else
        "<p>Some of it could show who you are.</p>",
        "<h2>Why we got it</h2>",
        f"<p>{_e(purpose.description or purpose.name)} We use it only for this.</p>",
        "<h2>Who gets it</h2>",
        f"<p>Only {_e(unit.name)} gets it. No one else gets it from us.</p>",
        "<h2>Who we are</h2>",
        f"<p><strong>Who sent it:</strong> {_e(provider.name)}. {_e(provider.reach())}.</p>",
        f"<p><strong>Who keeps it:</strong> {_e(agency.name)}. {_e(agency.reach())}.</p>",
        "<h2>The law</h2>",
        f"<p>We get it because of: {_e('; '.join(laws) or 'our funding agreement')}.</p>",
        "<h2>What you can do</h2>",
        f"<p>You can ask to see what we hold about you. You can ask us to fix it if it is "
        f"wrong. Ask {_e(provider.name)}, or write to us at the address above.</p>",
        "<p>If you are not happy, you can complain to the Privacy Commissioner. It is free. "
        f"Website: {PRIVACY_WEB}. Phone: {PRIVACY_PHONE}.</p>",
        f"<p>We gave this note on {_e(given_on)}.</p>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en-NZ\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>We have some information about you</title>\n<style>{CSS}</style>\n"
            "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")
