"""De-identification of a client's story (pure: no I/O).

Direct identifiers are replaced by typed placeholders, numbered within a
story so a reader can follow who is who: [NAME_1], [NAME_2], [ADDRESS_1],
[PHONE_1], [EMAIL_1], [DOB_1], [NHI_1], [IRD_1], [CLIENT_NUMBER_1], [PLATE_1].
The same person or number gets the same placeholder wherever it appears ("Aroha
Ngata" and a later "Aroha" are both [NAME_1]).
Quasi-identifiers (small towns and suburbs, schools, workplaces and shifts,
marae, hospitals and medical units, sports teams and roles, family sizes,
ages and exact dates, rare details) are kept but flagged for the person who
reviews the story: whether they identify someone depends on the community,
which only a person can judge; redact_flags() replaces the ones the reviewer
decides to take out ([PLACE_1], [AGE_1], ...). Known organisations and
government agencies (Oranga Tamariki, Work and Income, ...) are kept whole, as
are programme names, roles, te reo words and amounts.

Errs on the side of the family: an unknown capitalised word in the middle of a
sentence is taken for a name. NHI and IRD numbers are recognised by their
check digits; a number labelled as one ("NHI ABC1234") is replaced even when
its check digit is wrong (a mistyped number still points at someone) and the
reviewer is told."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, replace

import phonenumbers

from tiaki.core import story_words as words

# Overlapping findings: the higher priority wins (an email holding a name is an email).
_PRIORITY = {"EMAIL": 9, "NHI": 8, "IRD": 8, "CLIENT_NUMBER": 8, "DOB": 7, "PHONE": 7,
             "PLATE": 7, "ADDRESS": 6, "NAME": 5}


@dataclass(frozen=True)
class Identifier:
    """A direct identifier found in the original text (offsets into it), and
    the numbered placeholder that replaced it ("[NAME_2]")."""
    kind: str
    start: int
    end: int
    placeholder: str = ""


@dataclass(frozen=True)
class Flag:
    """A quasi-identifier kept for the reviewer to judge (offsets into the redacted text)."""
    kind: str
    start: int
    end: int
    text: str
    reason: str


@dataclass(frozen=True)
class Redaction:
    text: str
    identifiers: tuple[Identifier, ...]
    flags: tuple[Flag, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for found in self.identifiers:
            out[found.kind] = out.get(found.kind, 0) + 1
        return out


# -- check digits -------------------------------------------------------------------------

_NHI_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A=1 .. Z=24, no I or O


def _nhi_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else _NHI_LETTERS.index(ch) + 1


def nhi_valid(nhi: str) -> bool:
    """An NHI number in the old (AAANNNN, mod 11) or new (AAANNAA, mod 24) format."""
    nhi = nhi.upper()
    if re.fullmatch(r"[A-HJ-NP-Z]{3}\d{4}", nhi):
        total = sum(_nhi_value(c) * w for c, w in zip(nhi[:6], (7, 6, 5, 4, 3, 2)))
        remainder = total % 11
        return remainder != 0 and (11 - remainder) % 10 == int(nhi[6])
    if re.fullmatch(r"[A-HJ-NP-Z]{3}\d{2}[A-HJ-NP-Z]{2}", nhi):
        total = sum(_nhi_value(c) * w for c, w in zip(nhi[:6], (7, 6, 5, 4, 3, 2)))
        return _NHI_LETTERS[(24 - total % 24) - 1] == nhi[6]
    return False


def ird_valid(number: str) -> bool:
    """An IRD number: 8 or 9 digits (spaces and dashes ignored), 10,000,000 to
    150,000,000, with a check digit from the primary weights, or the secondary
    weights when the primary gives 10."""
    digits = re.sub(r"[\s-]", "", number)
    if not re.fullmatch(r"\d{8,9}", digits) or not 10_000_000 <= int(digits) <= 150_000_000:
        return False
    digits = digits.zfill(9)
    base, check = [int(d) for d in digits[:8]], int(digits[8])
    for weights in ((3, 2, 7, 6, 5, 4, 3, 2), (7, 4, 3, 2, 5, 2, 7, 6)):
        remainder = sum(d * w for d, w in zip(base, weights)) % 11
        expected = 0 if remainder == 0 else 11 - remainder
        if expected != 10:
            return expected == check
    return False


# -- patterns ------------------------------------------------------------------------------

_UP = "A-ZĀĒĪŌŪÀ-ÖØ-Þ"
_LOW = "a-zāēīōūß-öø-ÿ"
_WORD = rf"[{_UP}][{_LOW}{_UP}'’ʻ-]*"

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

_NHI_CANDIDATE = re.compile(r"\b[A-Za-z]{3}\d{4}\b|\b[A-Za-z]{3}\d{2}[A-Za-z]{2}\b")
_NHI_LABEL = re.compile(r"(?:\bNHI\b|national health index|health number)[^\n]{0,24}$", re.I)

_IRD_CANDIDATE = re.compile(r"(?<![\d-])\d{2,3}[- ]?\d{3}[- ]?\d{3}(?![\d-])")
_IRD_LABEL = re.compile(r"(?:\bIRD\b|\bIR (?:number|no)|tax (?:file )?number|inland revenue)"
                        r"[^\n]{0,24}$", re.I)
_IRD_DASHED = re.compile(r"\d{2,3}-\d{3}-\d{3}")

_CLIENT_LABEL = re.compile(
    r"\b(?:client|customer|case|file|patient|student|claim|reference|ref|member|MSD|SWN|"
    r"social welfare|CYF|OT|benefit|account|booking)\s*(?:number|no\.?|num|#|ID|id|ref(?:erence)?)"
    r"(?:\s+(?:is|was))?\s*[:#]?\s*|\bSWN:?\s*", re.I)
_CLIENT_VALUE = re.compile(r"[A-Za-z]{0,6}[-/]?\d[\d\-/ ]{2,14}\d[A-Za-z]?|[A-Za-z]{1,6}-?\d{3,}")
_CLIENT_PREFIXED = re.compile(r"\b[A-Z]{2,6}-\d{2,4}-\d{2,6}\b")

_PLATE_STANDARD = re.compile(r"\b[A-Z]{3}\d{3}\b")
_PLATE_LABEL = re.compile(r"\b(?:plates?|rego|registration|reg|number plate|licence plate)"
                          r"(?:\s+(?:number|no\.?))?(?:\s+(?:is|was|of))?\s*[:#]?\s*", re.I)
_PLATE_VALUE = re.compile(r"[A-Za-z0-9]{1,3} ?[A-Za-z0-9]{1,4}\b")

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
           "December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
DATE = re.compile(
    rf"\b\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
    rf"|\b{_DAY}\s+(?:of\s+)?(?:{_MONTHS})\.?,?\s+\d{{4}}\b"
    rf"|\b(?:{_MONTHS})\.?\s+{_DAY},?\s+\d{{4}}\b")
_BIRTH_DATE_EXTRA = re.compile(
    rf"\b{_DAY}\s+(?:of\s+)?(?:{_MONTHS})\b|\b(?:{_MONTHS})\s+{_DAY}\b|\b(?:{_MONTHS})\s+\d{{4}}\b")
_BIRTH_LABEL = re.compile(r"(?:\bborn\b|\bbirth|\bD\.?O\.?B\b|\bbirthday|\bb\.)[^\n.]{0,20}$", re.I)

_STREET_TYPES = ("Street|St|Road|Rd|Avenue|Ave|Drive|Dr|Place|Pl|Crescent|Cres|Terrace|Tce|Lane|"
                 "Ln|Way|Close|Grove|Parade|Pde|Highway|Hwy|Court|Ct|Rise|Heights|Hts|Quay|"
                 "Esplanade|Mews|Square|Sq|Track|Boulevard|Blvd|Loop|View|Glade|Green|Row|Walk|"
                 "Gardens|Valley|Crest|Ridge|Drive")
_STREET_NAME = (rf"(?:(?:St|Mt|Te|Ngā|Nga|Saint|Mount|Upper|Lower|Old|Great|North|South|East|"
                rf"West|State)\.?\s+)?(?:{_WORD}\s+){{1,3}}?(?:{_STREET_TYPES})\b"
                # "Rd." is an abbreviation only when the sentence goes on after it
                rf"(?:\.(?=,|\s+[a-zāēīōū0-9]))?")
_UNIT = r"(?:(?:Flat|Unit|Apartment|Apt|Room|Lot)\s*(?:\d+[A-Za-z]?|[A-Z]\b)\s*[,/]?\s*)?"
_NUMBER = r"\d{1,5}[A-Za-z]?(?:\s*/\s*\d{1,5}[A-Za-z]?)?"
STREET_ADDRESS = re.compile(
    rf"\b{_UNIT}{_NUMBER}\s+(?:State Highway\s+\d{{1,3}}\b|SH\s?\d{{1,3}}\b|{_STREET_NAME})")
STREET_ONLY = re.compile(rf"\b(?:on|in|to|at|off|of|from|along|near)\s+({_STREET_NAME})")
_RURAL = re.compile(r"\bR\.?\s?D\.?\s?\d{1,2}\b")
_PO_BOX = re.compile(r"\b(?:P\.?\s?O\.?|Post Office)\s*Box\s*\d+|\bPrivate Bag\s*\d+", re.I)
_ADDRESS_TAIL = re.compile(rf",?\s*(?:R\.?\s?D\.?\s?\d{{1,2}}|{_WORD}(?:\s+{_WORD}){{0,2}})"
                           rf"(?:\s+\d{{4}}\b)?")

_AGE = re.compile(r"\b\d{1,3}[- ](?:years?|yrs?)[- ]old\b|\b\d{1,3}-year-old\b"
                  r"|\baged?\s+\d{1,3}\b|\b(?:turned|turns|turning)\s+\d{1,3}\b", re.I)

_TOKEN = re.compile(rf"[{_UP}{_LOW}](?:[{_UP}{_LOW}]|['’ʻ-](?=[{_UP}{_LOW}]))*")
_SENTENCE_END = set('.!?\n"“”:;(—–•*')
_CONNECTORS = {"Te", "te", "van", "de", "der", "da", "la", "bin", "binti", "Dela", "Del"}


def _low(text: str) -> str:
    return text.lower().replace("’", "'")


# -- the work ------------------------------------------------------------------------------

def redact(text: str) -> Redaction:
    """Replaces direct identifiers in `text` with typed placeholders and flags
    quasi-identifiers for review."""
    found: list[tuple[str, int, int]] = []
    notes: list[tuple[str, int, int, str]] = []
    found += _emails(text)
    found += _numbers(text, notes)
    found += _phones(text, notes)
    found += _dates(text, notes)
    found += _addresses(text)
    kept = _resolve(found)
    protected = _protected(text, notes)
    # A known organisation is kept whole, whatever stands before it
    # ("Ministry for Children (Oranga Tamariki)", "Te Whatu Ora, Kāinga Ora").
    organisations = [("ORG", s, e) for s, e in _phrase_spans(text, words.ORGANISATIONS)]
    kept = _resolve(kept + _names(text, kept + organisations, protected))
    identifiers = _merge(text, kept)
    notes += _flags(text)
    return _apply(text, identifiers, notes)


def _emails(text):
    return [("EMAIL", m.start(), m.end()) for m in EMAIL.finditer(text)]


def _labelled(pattern: re.Pattern, text: str, start: int) -> bool:
    return bool(pattern.search(text[max(0, start - 40):start]))


def _numbers(text, notes):
    out = []
    for m in _NHI_CANDIDATE.finditer(text):
        value, labelled = m.group(), _labelled(_NHI_LABEL, text, m.start())
        if nhi_valid(value) and (value.isupper() or labelled):
            out.append(("NHI", m.start(), m.end()))
        elif labelled:
            out.append(("NHI", m.start(), m.end()))
            notes.append(("check_digit", m.start(), m.end(),
                          "labelled NHI but its check digit is wrong: replaced anyway"))
    for m in _IRD_CANDIDATE.finditer(text):
        labelled = _labelled(_IRD_LABEL, text, m.start())
        if ird_valid(m.group()) and (labelled or _IRD_DASHED.fullmatch(m.group())):
            out.append(("IRD", m.start(), m.end()))
        elif labelled:
            out.append(("IRD", m.start(), m.end()))
            notes.append(("check_digit", m.start(), m.end(),
                          "labelled IRD number but its check digit is wrong: replaced anyway"))
    for m in _CLIENT_LABEL.finditer(text):
        value = _CLIENT_VALUE.match(text, m.end())
        if value:
            out.append(("CLIENT_NUMBER", value.start(), value.end()))
    out += [("CLIENT_NUMBER", m.start(), m.end()) for m in _CLIENT_PREFIXED.finditer(text)]
    out += [("PLATE", m.start(), m.end()) for m in _PLATE_STANDARD.finditer(text)]
    for m in _PLATE_LABEL.finditer(text):
        value = _PLATE_VALUE.match(text, m.end())
        if value and any(c.isdigit() for c in value.group()) and not value.group().isdigit():
            out.append(("PLATE", value.start(), value.end()))
    return out


def _phones(text, notes):
    out = []
    for match in phonenumbers.PhoneNumberMatcher(text, "NZ", leniency=phonenumbers.Leniency.VALID):
        kind = phonenumbers.number_type(match.number)
        if kind == phonenumbers.PhoneNumberType.TOLL_FREE:
            # 0800/0508 lines belong to organisations (Healthline, Work and Income).
            notes.append(("freephone", match.start, match.end,
                          "free-phone number, usually an organisation's: kept"))
            continue
        out.append(("PHONE", match.start, match.end))
    return out


def _dates(text, notes):
    out = []
    for pattern in (DATE, _BIRTH_DATE_EXTRA):
        for m in pattern.finditer(text):
            if _labelled(_BIRTH_LABEL, text, m.start()):
                out.append(("DOB", m.start(), m.end()))
            elif pattern is DATE:
                notes.append(("date", m.start(), m.end(), "an exact date can single out an event"))
    return out


def _addresses(text):
    out = []
    spans = [m.span() for m in STREET_ADDRESS.finditer(text)]
    spans += [m.span(1) for m in STREET_ONLY.finditer(text)]
    spans += [m.span() for m in _RURAL.finditer(text)]
    spans += [m.span() for m in _PO_BOX.finditer(text)]
    for start, end in spans:
        # ", Suburb, Town 1234" after a street belongs to the address when it is a
        # known place, a rural delivery number, or ends the clause.
        while tail := _ADDRESS_TAIL.match(text, end):
            part = tail.group()
            bare = re.sub(r"\s+\d{4}$", "", part.strip(", "))
            if not part.startswith(","):
                if not _RURAL.fullmatch(bare):  # only "RD 2" follows without a comma
                    break
            elif not (bare in words.BIG_PLACES or bare in words.SMALL_PLACES
                      or _RURAL.fullmatch(bare) or re.search(r"\d{4}$", part)
                      or text[tail.end():tail.end() + 1] in ("", ".", ",", ";", "\n", ")")):
                break
            end = tail.end()
        out.append(("ADDRESS", start, end))
    return out


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def _resolve(found):
    """Keeps non-overlapping findings, higher priority and longer first."""
    kept: list[tuple[str, int, int]] = []
    for item in sorted(set(found), key=lambda f: (-_PRIORITY[f[0]], -(f[2] - f[1]), f[1])):
        if not any(_overlaps(item, other) for other in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f[1])


# -- names -------------------------------------------------------------------------------------

@dataclass
class _Token:
    text: str
    start: int
    end: int
    initial: bool      # first word of a sentence
    possessive: bool   # followed by 's


def _tokens(text: str) -> list[_Token]:
    out = []
    for m in _TOKEN.finditer(text):
        word, start, end = m.group(), m.start(), m.end()
        possessive = False
        for suffix in ("'s", "’s"):
            if word.endswith(suffix) and len(word) > 2:
                word, end, possessive = word[:-2], end - 2, True
        if word.endswith(("'", "’")):
            word, end = word[:-1], end - 1
        before = text[:start].rstrip(" \t")
        initial = not before or before[-1] in _SENTENCE_END
        out.append(_Token(word, start, end, initial, possessive))
    return out


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and not (len(word) > 1 and word.isupper())


@functools.lru_cache(maxsize=None)
def _phrase_pattern(phrases: frozenset[str]) -> re.Pattern:
    alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<![\w'’])(?:{alternatives})(?![\w’]|'[^s])")


def _phrase_spans(text: str, phrases: frozenset[str]) -> list[tuple[int, int]]:
    return [m.span() for m in _phrase_pattern(phrases).finditer(text)]


@functools.lru_cache(maxsize=None)
def _suffix_pattern(suffixes: frozenset[str]) -> re.Pattern:
    run = rf"(?:{_WORD}\s+(?:(?:of|and|for|o|ki|te|the|&)\s+)?){{0,5}}"
    alternatives = "|".join(sorted((re.escape(s) for s in suffixes), key=len, reverse=True))
    return re.compile(rf"\b{run}(?:{alternatives})\b")


_WORKPLACE_PHRASES = re.compile("|".join(re.escape(w) for w in words.WORKPLACE_PHRASES))
_WORK_CUES = re.compile(rf"\b(?:{'|'.join(words.WORK_CUES)})\s+(?:the\s+)?({_WORD}(?:\s{_WORD}){{0,3}})")


def _protected(text, notes):
    """Spans that name no person: organisations and programmes (kept), schools,
    workplaces and places (kept and flagged). Notes the flagged ones."""
    spans: list[tuple[int, int]] = []
    spans += _phrase_spans(text, words.ORGANISATIONS)
    spans += _phrase_spans(text, words.BIG_PLACES)
    spans += _phrase_spans(text, words.HOSPITALS)  # kept and flagged (_flags)
    for start, end in _phrase_spans(text, words.SMALL_PLACES):
        spans.append((start, end))
        notes.append(("place", start, end, "a small town or suburb can narrow a family down"))
    for start, end in _phrase_spans(text, words.WORKPLACE_NAMES):
        spans.append((start, end))
        notes.append(("workplace", start, end, "a workplace can narrow a family down"))
    # Runs of capitalised words ending in an organisation or school word.
    for suffixes, kind in ((words.SCHOOL_SUFFIXES, "school"), (words.ORG_SUFFIXES, None)):
        for m in _suffix_pattern(suffixes).finditer(text):
            start = _skip_leading_person(text, _skip_leading_common(text, m.start(), m.end()),
                                         m.end())
            if start >= m.end() or text[start:m.end()] in suffixes:
                continue
            spans.append((start, m.end()))
            if kind:
                notes.append((kind, start, m.end(), "a school can narrow a family down"))
    for m in re.finditer(r"\b(?:Kura Kaupapa Māori|Kura Kaupapa Maori|Te Kura)(?:\s+o)?"
                         rf"(?:\s+{_WORD}){{1,4}}", text):
        spans.append(m.span())
        notes.append(("school", m.start(), m.end(), "a school can narrow a family down"))
    # Quoted titles ("Best foot forward"), only when no word in them could be a
    # name: "Kylie is settled" is someone's words, not a title.
    for m in re.finditer(r"[\"“]([^\"”\n]{2,60})[\"”]", text):
        if not any(_capitalised(t.group()) and _name_like(t.group())
                   for t in _TOKEN.finditer(m.group(1))):
            spans.append(m.span(1))
    for m in _WORKPLACE_PHRASES.finditer(_low(text)):
        notes.append(("workplace", m.start(), m.end(), "a workplace can narrow a family down"))
    # Workplaces after a cue; "works for"/"job with" may name an employer who is a
    # person ("works for Mere Tipene"): known names in the run are kept as names
    # (_names), and a run holding any name-like word is not protected after those.
    for m in _WORK_CUES.finditer(text):
        notes.append(("workplace", m.start(1), m.end(1), "a workplace can narrow a family down"))
        cue = _low(m.group()).split()
        if cue[1] in ("for", "with", "by") and any(
                _name_like(t.group()) for t in _TOKEN.finditer(m.group(1))):
            continue
        spans.append(m.span(1))
    return spans


_JOINS = re.compile(r"\s+(?:and|of|&)\s+")


def _skip_leading_person(text: str, start: int, end: int) -> int:
    """Ends an organisation run's front at the last name-like word joined to the
    rest by and/of/& ("Sione and Work and Income", "Aroha Ngata of Kōkiri Marae"):
    the person before the join is not part of the organisation."""
    for join in _JOINS.finditer(text, start, end):
        before = list(_TOKEN.finditer(text, start, join.start()))
        if before and _name_like(before[-1].group()):
            start = join.end()
    return start


def _skip_leading_common(text: str, start: int, end: int) -> int:
    """Drops sentence-starting ordinary words from a capitalised run ("When Hillcrest School")."""
    for m in _TOKEN.finditer(text, start, end):
        if _low(m.group()) in words.COMMON_WORDS or _low(m.group()) in words.TITLES:
            start = m.end() + 1
            continue
        return m.start()
    return start


def _inside(spans, start, end) -> bool:
    return any(s <= start and end <= e for s, e in spans)


def _cue_before(text: str, start: int) -> bool:
    """A title, a naming word or a relationship word right before a name."""
    before = _low(text[max(0, start - 40):start]).rstrip()
    before = re.sub(r"[,:(]$", "", before).rstrip()
    if any(before.endswith(cue) for cue in words.NAME_CUES):
        return True
    last = re.findall(r"[\w'’-]+\.?$", before)
    if not last:
        return False
    word = last[0].rstrip(".")
    if word in words.TITLES:
        return True
    if word in words.RELATIONS:
        return True
    # "her son, aged 6, X" / "her 6-year-old son X" is covered by the word before;
    # "her sons X and Y": the second name follows "and" after a cued one (below).
    return False


def _names(text, taken, protected):
    tokens = [t for t in _tokens(text)
              if not any(s <= t.start < e for _, s, e in taken)]
    runs: list[list[_Token]] = []
    for tok in tokens:
        if not (_capitalised(tok.text) or tok.text in _CONNECTORS):
            runs.append([])
            continue
        if runs and runs[-1]:
            prev = runs[-1][-1]
            gap = text[prev.end:tok.start]
            if gap in (" ",) and not prev.possessive:
                runs[-1].append(tok)
                continue
        runs.append([tok])

    names: set[str] = set()
    cued_names: set[str] = set()  # named as people here, even if also places ("Nelson")
    spans: list[tuple[str, int, int]] = []
    after_cued_name = -1  # end of the last name found after a cue (for "X and Y", "X, Y")

    for run in (r for r in runs if r):
        # Drop ordinary words and titles at the front, connectors at either end.
        while run and (_low(run[0].text) in words.COMMON_WORDS or _low(run[0].text) in words.TITLES
                       or run[0].text in _CONNECTORS and len(run) == 1) \
                and not _known_name(run[0].text) and run[0].text not in words.WORD_NAMES:
            run = run[1:]
        while run and run[-1].text in _CONNECTORS:
            run = run[:-1]
        run = [t for t in run if not _inside(protected, t.start, t.end)
               or _low(t.text) not in _ORG_WORDS and (
                   _cue_before(text, run[0].start) or _name_beside(t, run))]
        if not run:
            continue
        cued = _cue_before(text, run[0].start) or (
            after_cued_name >= 0 and re.fullmatch(r"(?:,\s*|\s+(?:and|&|or)\s+|,\s*and\s+)",
                                                  text[after_cued_name:run[0].start]) is not None)
        evidence = [_evidence(text, t, run, cued) for t in run]
        if not any(evidence):
            continue
        # The run, less ordinary words that are not names in it.
        keep = [t for t, e in zip(run, evidence) if e or _ambiguous(t.text) or _unknown(t.text)]
        if not keep:
            continue
        first = run[0] if run[0].text in _CONNECTORS and len(run) > 1 and run[1] in keep else keep[0]
        spans.append(("NAME", first.start, keep[-1].end))
        names.update(t.text for t in keep if t.text not in _CONNECTORS)
        if cued:
            cued_names.update(t.text for t in keep if t.text not in _CONNECTORS)
        after_cued_name = keep[-1].end + (2 if keep[-1].possessive else 0)

    # Every other mention of a name found once; inside a protected span only a
    # word the lists know as a name ("Henderson" after "Kylie Henderson").
    for tok in tokens:
        if tok.text in cued_names or tok.text in names and (
                not _inside(protected, tok.start, tok.end)
                or _known_name(tok.text) or _ambiguous(tok.text)):
            spans.append(("NAME", tok.start, tok.end))
    return spans


def _name_beside(tok: _Token, run: list[_Token]) -> bool:
    """A known or ambiguous name inside a place or organisation span is a name
    when another name-like word stands in its run ("Kylie Henderson")."""
    return (_known_name(tok.text) or _ambiguous(tok.text)) and any(
        _name_like(o.text) for o in run if o is not tok and o.text not in _CONNECTORS)


_ORG_WORDS = {_low(w) for w in words.ORG_SUFFIXES | words.SCHOOL_SUFFIXES}
_KNOWN_NON_NAMES = ({_low(w) for w in words.COMMON_WORDS | words.TE_REO_WORDS | words.OTHER_PROPER
                     | words.RELATIONS | words.TITLES}
                    | {_low(w) for phrase in words.ORGANISATIONS | words.BIG_PLACES
                       | words.SMALL_PLACES | words.WORKPLACE_NAMES for w in phrase.split()}
                    | _ORG_WORDS) - {_low(w) for w in words.WORD_NAMES}


def _known_name(word: str) -> bool:
    return word in words.NAMES and word not in words.AMBIGUOUS_NAMES


def _ambiguous(word: str) -> bool:
    return word in words.AMBIGUOUS_NAMES


def _unknown(word: str) -> bool:
    return _capitalised(word) and _low(word) not in _KNOWN_NON_NAMES and word not in _CONNECTORS


def _name_like(word: str) -> bool:
    return _known_name(word) or _ambiguous(word) or _unknown(word)


def _evidence(text: str, tok: _Token, run: list[_Token], cued: bool) -> bool:
    if tok.text in _CONNECTORS:
        return False
    if cued and _capitalised(tok.text):  # "her son Nelson", "his nickname, Moko"
        return True
    if not _name_like(tok.text):
        return False
    if _known_name(tok.text):
        return True
    if not tok.initial:
        # Capitalised in the middle of a sentence and no word we know: a name.
        # This holds for names that are also words (Aroha, Moana, Grace): as
        # words they are written in lower case there.
        return True
    # The first word of a sentence: a name when another name stands beside it,
    # or it owns something, or it does something.
    if any(_name_like(o.text) for o in run if o is not tok and o.text not in _CONNECTORS):
        return True
    return tok.possessive or _next_word_is_verb(text, run)


_NEXT_WORD = re.compile(r"\s+([\w'’]+)")
_AGE_AFTER = re.compile(r",\s*\d{1,3}\s*[,)]")


def _next_word_is_verb(text: str, run: list[_Token]) -> bool:
    if text[run[-1].end:run[-1].end + 2] == " (":  # "Mariel (NHI ...)"
        return True
    if _AGE_AFTER.match(text, run[-1].end):  # "Waiana, 40, is ..."
        return True
    m = _NEXT_WORD.match(text, run[-1].end)
    if not m:
        return False
    following = _low(m.group(1))
    # "Sione quickly became ...": an adverb, then the verb.
    return following in words.NAME_VERBS or (following.endswith("ly") and len(following) > 4)


def _merge(text, found):
    """Joins a name split only by spaces into one placeholder ("[NAME]", not "[NAME] [NAME]")."""
    out: list[tuple[str, int, int]] = []
    for kind, start, end in found:
        if out and out[-1][0] == kind == "NAME" and text[out[-1][2]:start].strip() == "":
            out[-1] = (kind, out[-1][1], end)
        else:
            out.append((kind, start, end))
    return [Identifier(*f) for f in out]


# -- flags ------------------------------------------------------------------------------------

def _alternatives(phrases) -> str:
    return "|".join(sorted(phrases, key=len, reverse=True))


# Bare ages: "Aroha (42)", "her son Nikau, 15, is", "at 15", "is 42.", "in her forties".
_BARE_AGE = re.compile(
    r"\((?P<a>\d{1,3})\)"
    r"|(?<=[^\W\d]), (?P<b>\d{1,2})(?=[,)])"
    r"|\b(?:at|from|since|by|until|till) (?:the )?(?:age (?:of )?)?(?P<c>\d{1,2})\b"
    r"(?!\s*(?::|\.\d|am\b|pm\b|a\.m|p\.m|o['’]clock|%|percent|per\b|[-–]|/|hours?|hrs?|mins?|minutes?"
    r"|weeks?|months?|days?|sessions?|times?|of\b|or\b|people|families|whānau|kids|children|\$)"
    r"|[A-Za-z]+ (?:St|Street|Rd|Road|Ave|Avenue)\b)"
    r"|\b(?:is|was|now|just|only|turned|turns|be|being) (?P<d>\d{1,2})"
    r"(?=\s*(?:[.,;!?)]|$|\s+(?:and|but|now|this|when|with|so|at|in|next|last)\b))"
    r"|\b(?P<e>in (?:her|his|their|my|our) (?:early |mid |late |mid-)?(?:teens|\d0s|twenties|"
    r"thirties|forties|fifties|sixties|seventies|eighties|nineties))\b", re.I)
_COUNT = rf"(?:\d{{1,2}}|{_alternatives(words.NUMBER_WORDS)})"
_FAMILY_SIZE = re.compile(
    rf"\b(?:(?:a|the|our|their|her|his) )?(?:family|whānau|whanau|household) of (?P<n>{_COUNT})\b"
    rf"(?: (?:{_alternatives(words.FAMILY_MEMBERS)}))?"
    rf"|\b(?:mum|mother|dad|father|parent|nana|nan|grandmother|grandfather|koro|one|eldest|"
    rf"youngest|oldest|middle) of (?P<m>{_COUNT})(?: (?:{_alternatives(words.FAMILY_MEMBERS)}))?\b"
    rf"|\b(?P<k>{_COUNT}) (?:(?:young|little|small|older|grown|school-age|teenage) )?"
    rf"(?:{_alternatives(words.FAMILY_MEMBERS)})\b", re.I)
_LARGE_FAMILY = 4  # "two kids" is most families; "seven kids" is few
_MARAE = re.compile(rf"\b(?P<run>(?:{_WORD}\s+){{1,4}})[Mm]arae\b|\b[Mm]arae (?:at|in) {_WORD}")
_HEALTH = re.compile(rf"\b(?P<run>(?:{_WORD}\s+){{1,4}})(?:{_alternatives(words.HEALTH_SUFFIXES)})\b")
_HOSPITAL = re.compile(rf"\b(?:{_alternatives(words.HOSPITALS)})\b")
_MEDICAL_UNIT = re.compile(rf"\b(?:{_alternatives(words.MEDICAL_UNITS)})\s+"
                           rf"(?:{_alternatives(words.MEDICAL_UNIT_WORDS)})s?\b|\bward\s+\d+[A-Za-z]?\b"
                           r"|\b(?:NICU|PICU|ICU|SCBU)\b", re.I)
_SPORT_ROLE = re.compile(
    rf"\b(?:{_alternatives(words.SPORTS)})\s+(?:{_alternatives(words.SPORT_ROLES)})s?\b"
    rf"|\b(?:{_alternatives(words.ONE_HOLDER_ROLES)})(?![\w])"
    r"|\b(?:captain|vice-captain|co-captain|coach|manager) of (?:the|their|his|her|a) "
    r"(?:[\w'’-]+\s+){0,3}?(?:team|xv|xi|side|squad|club|crew)\b", re.I)
_SPORT_TEAM = re.compile(
    rf"\b(?P<run>(?:{_WORD}\s+){{1,3}})(?:(?i:{_alternatives(words.SPORTS)})\s+"
    r"(?i:team|club|squad|side)|Club|RFC|AFC|United|Rovers)\b")
_SHIFT = re.compile(rf"\b(?:{_alternatives(words.SHIFTS)})\b", re.I)


def _named(text: str, m: re.Match) -> tuple[int, int] | None:
    """The span of a capitalised run without the ordinary words in front
    ("When Kōkiri Marae" is "Kōkiri Marae"); None when no word of it names
    anything ("The Marae", "Our Hospital")."""
    if m.group("run") is None:
        return m.span()
    start = _skip_leading_common(text, m.start(), m.end("run"))
    return (start, m.end()) if start < m.end("run") else None


def _flags(text):
    notes = []
    for m in _AGE.finditer(text):
        notes.append(("age", m.start(), m.end(), "an exact age can single someone out"))
    for m in _BARE_AGE.finditer(text):
        group = next(g for g in "abcde" if m.group(g) is not None)
        notes.append(("age", *m.span(group), "an exact age can single someone out"))
    for m in _FAMILY_SIZE.finditer(text):
        count = next(m.group(g) for g in "nmk" if m.group(g) is not None).lower()
        size = int(count) if count.isdigit() else words.NUMBER_WORDS.index(count) + 1
        if size >= _LARGE_FAMILY:
            notes.append(("family_size", *m.span(), "a large family stands out in a community"))
    for pattern, kind, reason in (
            (_MARAE, "marae", "a named marae can narrow a whānau down"),
            (_HEALTH, "health", "a named hospital or health service can narrow a family down"),
            (_SPORT_TEAM, "sport", "a team or club can single someone out")):
        for m in pattern.finditer(text):
            if span := _named(text, m):
                notes.append((kind, *span, reason))
    for m in [*_MEDICAL_UNIT.finditer(text), *_HOSPITAL.finditer(text)]:
        notes.append(("health", *m.span(), "a medical unit can narrow a family down"))
    for m in _SPORT_ROLE.finditer(text):
        notes.append(("sport", *m.span(), "a role in a team or school can single someone out"))
    for m in _SHIFT.finditer(text):
        notes.append(("shift", *m.span(), "the hours someone works narrow them down at a workplace"))
    low = _low(text)
    for detail in words.RARE_DETAILS:
        for m in re.finditer(rf"\b{re.escape(detail)}", low):
            notes.append(("rare_detail", m.start(), m.start() + len(detail.rstrip()),
                          "a rare detail can single a family out"))
    return notes


def _apply(text, identifiers, notes) -> Redaction:
    numbering = _Numbering(text)
    identifiers = [replace(found, placeholder=numbering.placeholder(found.kind, key))
                   for found, key in zip(identifiers, _keys(text, identifiers))]
    redacted, moved = _replace(text, [(f.start, f.end, f.placeholder) for f in identifiers])

    flags, seen = [], set()
    for kind, start, end, reason in sorted(notes, key=lambda n: (n[1], n[2])):
        hits = [f for f in identifiers if f.start < end and start < f.end]
        if kind == "check_digit":
            # Points at the placeholder that replaced it: the NHI's own, or the
            # longer number that won the overlap ("NHI: case num1234 5678").
            hit = next((f for f in hits if f.start <= start), None) or next(iter(hits), None)
            if hit is None:
                continue
            new_start, new_end = moved(hit.start), moved(hit.start) + len(hit.placeholder)
        elif any(f.start <= start and end <= f.end for f in hits):
            continue  # already replaced
        else:  # a flag over part of a name covers its placeholder ("Ōtara [NAME_1] netball team")
            start, end = min([start] + [f.start for f in hits]), max([end] + [f.end for f in hits])
            new_start, new_end = moved(start), moved(end)
        key = (kind, new_start, new_end)
        if key in seen:
            continue
        seen.add(key)
        flags.append(Flag(kind, new_start, new_end, redacted[new_start:new_end], reason))
    # One decision for one phrase: a flag inside a longer one goes ("Middlemore" in
    # "Middlemore Hospital", "Ōtara" in "the Ōtara Tigers netball team").
    flags = [f for f in flags if f.kind == "check_digit" or not any(
        o is not f and o.kind != "check_digit" and o.start <= f.start and f.end <= o.end
        and (o.end - o.start) > (f.end - f.start) for o in flags)]
    return Redaction(redacted, tuple(identifiers), tuple(flags))


def _replace(text: str, spans: list[tuple[int, int, str]]):
    """`text` with each (start, end, placeholder) replaced (sorted, not
    overlapping), and a function from a position in `text` to the new one."""
    pieces, shifts, cursor = [], [], 0
    for start, end, placeholder in spans:
        pieces += [text[cursor:start], placeholder]
        shifts.append((end, len(placeholder) - (end - start)))
        cursor = end
    pieces.append(text[cursor:])

    def moved(pos: int) -> int:
        return pos + sum(delta for end, delta in shifts if end <= pos)
    return "".join(pieces), moved


# -- numbered placeholders ---------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\[([A-Z]+(?:_[A-Z]+)*)_(\d+)\]")


class _Numbering:
    """Numbers the placeholders of one text: the same thing gets the same
    number, a new one the next free number of its kind (after any already there)."""

    def __init__(self, text: str):
        self.next: dict[str, int] = {}
        for m in PLACEHOLDER.finditer(text):
            self.next[m.group(1)] = max(self.next.get(m.group(1), 1), int(m.group(2)) + 1)
        self.given: dict[tuple[str, str], str] = {}

    def placeholder(self, label: str, key: str) -> str:
        if (label, key) not in self.given:
            number = self.next.get(label, 1)
            self.next[label] = number + 1
            self.given[(label, key)] = f"[{label}_{number}]"
        return self.given[(label, key)]


def _plain(value: str) -> str:
    """Lower case, without macrons or punctuation: "Hēmi's" and "hemi" are one."""
    value = unicodedata.normalize("NFKD", value.lower())
    return " ".join(re.sub(r"[\W_]+", " ", "".join(c for c in value
                                                   if not unicodedata.combining(c))).split())


def _keys(text: str, identifiers) -> list[str]:
    """Who or what each identifier is: the same key, the same placeholder."""
    values = [_plain(text[f.start:f.end]) for f in identifiers]
    full = {v for f, v in zip(identifiers, values) if f.kind == "NAME" and " " in v}
    keys = []
    for found, value in zip(identifiers, values):
        if found.kind == "NAME":
            # A given name alone is the one full name it starts; a family name
            # alone ("Mrs Ngata") may be anyone in the family, so it stays apart.
            owners = [name for name in full if name.startswith(value + " ") or name == value]
            value = owners[0] if len(owners) == 1 else value
        keys.append(value.replace(" ", "") if found.kind != "NAME" else value)
    return keys


# What a flagged quasi-identifier becomes when the reviewer takes it out.
FLAG_PLACEHOLDERS = {"place": "PLACE", "school": "SCHOOL", "workplace": "WORKPLACE",
                     "shift": "SHIFT", "age": "AGE", "date": "DATE", "rare_detail": "DETAIL",
                     "marae": "MARAE", "health": "HEALTH_SERVICE", "sport": "SPORT",
                     "family_size": "FAMILY_SIZE", "freephone": "PHONE"}


def redact_flags(text: str, flags: list[Flag], chosen: set[int]) -> tuple[str, list[Flag]]:
    """`text` with the flags at the indexes in `chosen` replaced by numbered
    placeholders of their kind ([PLACE_1]; the same words get the same number,
    after those already in the text), and every flag moved to where it now is
    (a chosen one onto its placeholder). Overlapping chosen flags become one."""
    spans: list[list] = []  # [start, end, label], merged where they overlap
    for i in sorted(chosen, key=lambda i: (flags[i].start, -flags[i].end)):
        flag = flags[i]
        if spans and flag.start < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], flag.end)
        else:
            spans.append([flag.start, flag.end, FLAG_PLACEHOLDERS.get(flag.kind, "DETAIL")])
    numbering = _Numbering(text)
    placed = [(s, e, numbering.placeholder(label, _plain(text[s:e]))) for s, e, label in spans]
    redacted, moved = _replace(text, placed)
    out = []
    for flag in flags:
        start = min([flag.start] + [s for s, e, _ in placed if s < flag.end and flag.start < e])
        end = max([flag.end] + [e for s, e, _ in placed if s < flag.end and flag.start < e])
        new_start, new_end = moved(start), moved(end)
        out.append(replace(flag, start=new_start, end=new_end, text=redacted[new_start:new_end]))
    return redacted, out
