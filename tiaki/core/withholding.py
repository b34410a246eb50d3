"""The grounds on which an Agency unit may withhold an item from a family's
access request: Privacy Act 2020, Part 4, ss 49-53 ("reasons for refusing
access"), each cited to the subsection, paragraph and subparagraph the Act
numbers it by, with the Act's test and what it means in plain words. The one
place they live: a unit records a ground's code with its answer, and the
family's answer names the ground from that code.

Source: the Privacy Act 2020 (2020 No 31), ss 49-53 as enacted, in force
1 December 2020: https://www.legislation.govt.nz/act/public/2020/0031/latest/
(s 49 LMS23392, s 50 LMS23394, s 51 LMS23395, s 52 LMS23396, s 53 LMS23398),
read on 3 December 2026 through copies of those sections (plainlanguagelaw.
ackama.com/acts/LMS23193/, privacy.org.nz's principle 6 pages) and checked
against the Act's own letters as cited by agencies (e.g. Corrections' "s 51(a)",
"s 49(1)(a)(i)-(iii)", "s 50(1)(a) and (b)"). Sections 49, 50 and 52 have
subsections, s 51 and s 53 do not.

Section 53's paragraphs keep their letters; two are not offered, being about
a request rather than an item the unit holds: (a) "the information requested
does not exist or cannot be found" and (h) "the request is frivolous or
vexatious, or the information requested is trivial".

Codes recorded before the grounds were cited this precisely (whole sections
"s49" to "s52") stay readable (FORMER): answers that carry them still name
their ground; a new withholding names a precise one."""

from __future__ import annotations

from dataclasses import dataclass

from tiaki.core.errors import Invalid

ACT = "Privacy Act 2020"


@dataclass(frozen=True)
class Ground:
    """A reason the law allows for withholding information from the person it is about."""
    code: str      # what a unit records, e.g. "s49(1)(a)(i)"
    section: str   # how it is cited, e.g. "section 49(1)(a)(i)"
    heading: str   # the section's heading in the Act, for staff
    words: str     # what it means, for the family
    law: str = ""  # the paragraph's test, in the Act's terms

    @property
    def citation(self) -> str:
        return f"{self.section} of the {ACT}"


def _g(code: str, heading: str, law: str, words: str) -> Ground:
    return Ground(code, "section " + code[1:], heading, words, law)


S49 = "Protection, etc, of individual"
S50 = "Evaluative material"
S51 = "Security, defence, international relations"
S52 = "Trade secret"
S53 = "Other reasons"

# In the order of the Act.
GROUNDS: dict[str, Ground] = {g.code: g for g in (
    _g("s49(1)(a)(i)", S49,
       "disclosure would be likely to pose a serious threat to the life, health, or safety of "
       "any individual, or to public health or public safety",
       "Giving it to you would be likely to put someone's life, health or safety, or public "
       "health or safety, under serious threat."),
    _g("s49(1)(a)(ii)", S49,
       "disclosure would create a significant likelihood of serious harassment of an individual",
       "Giving it to you would make it quite likely that someone is seriously harassed."),
    _g("s49(1)(a)(iii)", S49,
       "disclosure would include information about another person who is the victim of an "
       "offence or alleged offence and would be caused significant distress, loss of dignity, "
       "or injury to feelings by it",
       "It is about someone who is the victim of an offence, or of an alleged one, and giving "
       "it to you would cause them great distress, loss of dignity or hurt."),
    _g("s49(1)(b)", S49,
       "after consulting the individual's health practitioner where practicable, the agency is "
       "satisfied that disclosing information about their physical or mental health would be "
       "likely to prejudice their health",
       "It is about your health, and after checking with your health practitioner where that "
       "could be done, the team is satisfied that giving it to you would be likely to harm your "
       "health."),
    _g("s49(1)(c)", S49,
       "the individual is under the age of 16 and disclosure would be contrary to their interests",
       "The person it is about is under 16, and giving it would not be in their interests."),
    _g("s49(1)(d)", S49,
       "the individual has been convicted of an offence or is or has been detained in custody, "
       "and disclosure would be likely to prejudice their safe custody or rehabilitation",
       "Giving it to you would be likely to harm the safe custody or the rehabilitation of the "
       "person it is about."),
    _g("s50(1)(a)", S50,
       "the information is evaluative material, and disclosing it or who supplied it would "
       "breach an express or implied promise to the supplier that it or their identity would "
       "be held in confidence",
       "It is an opinion about you, given to help decide something about you, on a promise "
       "that it (or who gave it) would be kept confidential."),
    _g("s50(1)(b)", S50,
       "the information is evaluative material the agency made available to another agency, "
       "and that agency may refuse to disclose it under paragraph (a)",
       "It is an opinion about you that another organisation holds in confidence and may keep "
       "from you, so this team may too."),
    _g("s51(a)", S51,
       "disclosure would be likely to prejudice the security or defence of New Zealand or the "
       "international relations of the Government of New Zealand",
       "Giving it to you would be likely to harm New Zealand's security or defence, or its "
       "relations with other countries."),
    _g("s51(b)", S51,
       "disclosure would be likely to prejudice the entrusting of information to the Government "
       "of New Zealand on a basis of confidence by another country's government or its agency, "
       "or by an international organisation",
       "Giving it to you would be likely to make other countries or international "
       "organisations less willing to share information with New Zealand in confidence."),
    _g("s51(c)", S51,
       "disclosure would be likely to prejudice the security or defence of the Cook Islands, "
       "Niue, Tokelau, or the Ross Dependency",
       "Giving it to you would be likely to harm the security or defence of the Cook Islands, "
       "Niue, Tokelau or the Ross Dependency."),
    _g("s51(d)", S51,
       "disclosure would be likely to prejudice relations between any of the Governments of "
       "New Zealand, the Cook Islands, and Niue",
       "Giving it to you would be likely to harm relations between the governments of New "
       "Zealand, the Cook Islands and Niue."),
    _g("s51(e)", S51,
       "disclosure would be likely to prejudice the international relations of the Governments "
       "of the Cook Islands or Niue",
       "Giving it to you would be likely to harm the relations of the Cook Islands or Niue "
       "with other countries."),
    _g("s52(1)(a)", S52,
       "making the information available would disclose a trade secret (not where the public "
       "interest in making it available outweighs withholding it: s 52(2))",
       "Giving it to you would reveal a trade secret."),
    _g("s52(1)(b)", S52,
       "making the information available would be likely to unreasonably prejudice the "
       "commercial position of the person who supplied it or who is its subject (not where the "
       "public interest in making it available outweighs withholding it: s 52(2))",
       "Giving it to you would be likely to unfairly harm the business of the person who gave "
       "it, or whom it is about."),
    _g("s53(b)", S53,
       "disclosure would involve the unwarranted disclosure of the affairs of another "
       "individual or of a deceased person",
       "Giving it to you would tell you about another person's private affairs (or those of "
       "someone who has died) without a good reason."),
    _g("s53(c)", S53,
       "disclosure would be likely to prejudice the maintenance of the law by any public sector "
       "agency, including the prevention, investigation, and detection of offences, and the "
       "right to a fair trial",
       "Giving it to you would be likely to get in the way of upholding the law: of "
       "preventing, investigating or detecting crime, or of a fair trial."),
    _g("s53(d)", S53,
       "disclosure would breach legal professional privilege",
       "It is advice between a lawyer and their client that the law keeps private."),
    _g("s53(e)", S53,
       "the information is in material placed in a library, museum, or archive, and disclosure "
       "would breach a condition subject to which it was placed there",
       "It is in material placed in a library, museum or archive, and giving it to you would "
       "break a condition it was placed there under."),
    _g("s53(f)", S53,
       "disclosure would constitute contempt of court or of the House of Representatives",
       "Giving it to you would be contempt of court or of Parliament."),
    _g("s53(g)", S53,
       "the request is made by a defendant or their agent for information that could be sought "
       "under the Criminal Disclosure Act 2008, or that has been disclosed or withheld under it",
       "You asked as a defendant (or for one), and this is information the Criminal Disclosure "
       "Act 2008 deals with: ask for it under that Act."),
)}

# Whole-section codes recorded before (withholdings approved under them still name them).
FORMER: dict[str, Ground] = {g.code: g for g in (
    Ground("s49", "section 49", S49,
           "Giving it to you could put someone's life, health or safety at risk, lead to "
           "someone being harassed, or harm you."),
    Ground("s50", "section 50", S50, "It is an opinion about you that someone gave in confidence."),
    Ground("s51", "section 51", S51,
           "Giving it to you could harm New Zealand's security, defence or relations with "
           "other countries."),
    Ground("s52", "section 52", S52,
           "Giving it to you would reveal a trade secret, or unfairly harm the business of the "
           "person who gave it."),
)}


def named(code: str) -> Ground | None:
    """The ground a recorded code names (a current or a former code), or None."""
    code = (code or "").strip()
    return GROUNDS.get(code) or FORMER.get(code)


def ground(code: str, field: str = "ground", former: bool = False) -> Ground:
    """The ground `code` names; Invalid when it names none. A former (whole
    section) code is taken only where `former` says so: a person withholding
    an item now names the precise ground."""
    found = named(code) if former else GROUNDS.get((code or "").strip())
    if found is None:
        hint = (" (a whole section is no longer enough: name its paragraph)"
                if (code or "").strip() in FORMER else "")
        raise Invalid(field, f"{code!r} is not a ground for withholding under ss 49-53 of the "
                             f"{ACT}{hint}; use one of {', '.join(GROUNDS)}")
    return found
