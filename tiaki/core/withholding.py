"""The grounds on which an Agency unit may withhold an item from a family's
access request: Privacy Act 2020, Part 4, ss 49-53 ("reasons for refusing
access"), each with its section and what it means in plain words. The one
place they live: a unit records a ground's code with its answer, and the
family's answer names the ground from that code.

Sections 49 to 52 are cited as whole sections; section 53's paragraphs are
cited one by one (only those that can apply to an item the unit holds: "the
information does not exist" and "the request is trivial" are about a request,
not an item)."""

from __future__ import annotations

from dataclasses import dataclass

from tiaki.core.errors import Invalid

ACT = "Privacy Act 2020"


@dataclass(frozen=True)
class Ground:
    """A reason the law allows for withholding information from the person it is about."""
    code: str      # what a unit records, e.g. "s53(b)"
    section: str   # how it is cited, e.g. "section 53(b)"
    heading: str   # the section's heading, for staff
    words: str     # what it means, for the family

    @property
    def citation(self) -> str:
        return f"{self.section} of the {ACT}"


GROUNDS: dict[str, Ground] = {g.code: g for g in (
    Ground("s49", "section 49", "Protection, etc, of individual",
           "Giving it to you could put someone's life, health or safety at risk, lead to "
           "someone being harassed, or harm you."),
    Ground("s50", "section 50", "Evaluative material",
           "It is an opinion about you that someone gave in confidence."),
    Ground("s51", "section 51", "Security, defence, international relations",
           "Giving it to you could harm New Zealand's security, defence or relations with "
           "other countries."),
    Ground("s52", "section 52", "Trade secret",
           "Giving it to you would reveal a trade secret, or unfairly harm the business of the "
           "person who gave it."),
    Ground("s53(b)", "section 53(b)", "Unwarranted disclosure of the affairs of another",
           "Giving it to you would tell you about another person's private affairs without a "
           "good reason."),
    Ground("s53(c)", "section 53(c)", "Maintenance of the law",
           "Giving it to you could get in the way of preventing, investigating or detecting "
           "crime, or of a fair trial."),
    Ground("s53(d)", "section 53(d)", "Legal professional privilege",
           "It is advice from a lawyer that the law keeps private."),
    Ground("s53(f)", "section 53(f)", "Contempt of court or of the House",
           "Giving it to you would break an order of a court or of Parliament."),
)}


def ground(code: str, field: str = "ground") -> Ground:
    """The ground `code` names; Invalid when it names none."""
    found = GROUNDS.get(code.strip())
    if found is None:
        raise Invalid(field, f"{code!r} is not a ground for withholding under ss 49-53 of the "
                             f"{ACT}; use one of {', '.join(GROUNDS)}")
    return found
