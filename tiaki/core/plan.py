"""The data plan of a programme, as plain data every service can read.

purpose_router owns plans and stores them; intake validates records against
them; the unit SDK and the command line read them. A plan travels between
services as the dict produced by `Plan.to_dict()` (JSON-safe), and over gRPC
as `tiaki.router.v1.Plan`. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from tiaki.core.periods import period_days
from tiaki.core.records import RESERVED_FIELDS  # a plan may not declare the fields tiaki adds

FORMS = ("unit_level", "aggregate")
FIELD_TYPES = ("string", "integer", "decimal", "date", "enum", "boolean")
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


CORRECTION_WINDOW_DAYS = 30  # a plan's default, as DEX
MAX_CORRECTION_WINDOW_DAYS = 366


class PlanInvalid(ValueError):
    """A plan that cannot be used, with every problem found."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Unit:
    unit_id: str
    name: str


@dataclass(frozen=True)
class Purpose:
    purpose_id: str
    name: str
    unit_id: str
    form: str
    description: str = ""
    dimensions: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    suppress_below: int = 6
    include_slk581: bool = False
    # Why this purpose needs to tell who a person is ("" when it does not):
    # co-design refuses identifying items or linkage keys without it.
    identifiable_need: str = ""


@dataclass(frozen=True)
class ItemUse:
    purpose_id: str
    retention: str = ""
    legal_basis: str = ""
    explanation: str = ""
    # Who will NOT see it (DPUP's template): unit ids of this plan or plain words.
    not_seen_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleItem:
    name: str
    type: str
    description: str = ""
    required: bool = False
    allowed_values: tuple[str, ...] = ()
    # An enum item's other spellings a provider's system may use, each to an
    # allowed value: (("Maori", "Māori"),) reads "Maori" as "Māori".
    aliases: tuple[tuple[str, str], ...] = ()
    # A date item's window: never after the end of the reporting period; not
    # before `not_before` (YYYY-MM-DD) when set; within the period when `in_period`.
    not_before: str = ""
    in_period: bool = False
    has_range: bool = False
    min: int = 0
    max: int = 0
    pattern: str = ""
    uses: tuple[ItemUse, ...] = ()
    # The family's choice about this item, in plain words (DPUP's template).
    choice: str = ""
    # The value alone could point to one person (exact date of birth, address,
    # free text): only a purpose with an identifiable_need may get it unit-level.
    identifying: bool = False

    def purposes(self) -> tuple[str, ...]:
        return tuple(use.purpose_id for use in self.uses)


@dataclass(frozen=True)
class Plan:
    programme_id: str
    name: str
    version: int
    units: tuple[Unit, ...]
    purposes: tuple[Purpose, ...]
    items: tuple[ScheduleItem, ...]
    # Days after a period ends in which a provider may replace its sealed
    # submission of the period with a corrected one (DEX allows 30).
    correction_window_days: int = CORRECTION_WINDOW_DAYS
    _by_name: dict = field(default=None, compare=False, repr=False)

    # -- reading ---------------------------------------------------------------

    def item(self, name: str) -> ScheduleItem | None:
        if self._by_name is None:
            object.__setattr__(self, "_by_name", {i.name: i for i in self.items})
        return self._by_name.get(name)

    def purpose(self, purpose_id: str) -> Purpose:
        for p in self.purposes:
            if p.purpose_id == purpose_id:
                return p
        raise KeyError(purpose_id)

    def fields_for_purpose(self, purpose_id: str) -> tuple[str, ...]:
        """The allow-list: the schedule items declared for this purpose, in plan order."""
        return tuple(i.name for i in self.items if purpose_id in i.purposes())

    def purposes_in_force(self, withheld=()) -> tuple[Purpose, ...]:
        """The purposes left when the items in `withheld` are not collected (what
        a provider's agreement does not accept): those with an item still collected."""
        held = set(withheld)
        kept = {pid for i in self.items if i.name not in held for pid in i.purposes()}
        return tuple(p for p in self.purposes if p.purpose_id in kept)

    def needs_slk581(self, withheld=()) -> bool:
        """A purpose in force asks for the SLK-581 linkage key (so for a person's
        name, date of birth and sex, from which intake computes it)."""
        return any(p.include_slk581 for p in self.purposes_in_force(withheld))

    # -- conversion ------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: dict, version: int | None = None) -> "Plan":
        """Builds and checks a plan from its dict (YAML file, RPC payload)."""
        problems: list[str] = []
        try:
            plan = cls(
                programme_id=str(data.get("programme_id", "")),
                name=str(data.get("name", "")),
                version=int(version if version is not None else data.get("version", 0) or 0),
                units=tuple(Unit(str(u["unit_id"]), str(u.get("name", ""))) for u in data.get("units", [])),
                purposes=tuple(_purpose(p) for p in data.get("purposes", [])),
                items=tuple(_item(i) for i in data.get("items", [])),
                # 0 or absent (the proto's default, plans made before it): the default.
                correction_window_days=int(data.get("correction_window_days") or
                                           CORRECTION_WINDOW_DAYS),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanInvalid([f"malformed plan: {exc!r}"]) from None
        problems.extend(check_plan(plan))
        if problems:
            raise PlanInvalid(problems)
        return plan

    def to_dict(self) -> dict:
        return {
            "programme_id": self.programme_id,
            "name": self.name,
            "version": self.version,
            "units": [{"unit_id": u.unit_id, "name": u.name} for u in self.units],
            "purposes": [
                {
                    "purpose_id": p.purpose_id,
                    "name": p.name,
                    "description": p.description,
                    "unit_id": p.unit_id,
                    "form": p.form,
                    "dimensions": list(p.dimensions),
                    "measures": list(p.measures),
                    "suppress_below": p.suppress_below,
                    "include_slk581": p.include_slk581,
                    "identifiable_need": p.identifiable_need,
                }
                for p in self.purposes
            ],
            "items": [item_to_dict(i) for i in self.items],
            "correction_window_days": self.correction_window_days,
        }


def item_from_dict(i: dict) -> ScheduleItem:
    """One schedule item from its dict (unchecked: check it inside a plan)."""
    return _item(i)


def item_to_dict(i: ScheduleItem) -> dict:
    return {
        "name": i.name,
        "type": i.type,
        "description": i.description,
        "required": i.required,
        "allowed_values": list(i.allowed_values),
        "aliases": dict(i.aliases),
        "not_before": i.not_before,
        "in_period": i.in_period,
        "has_range": i.has_range,
        "min": i.min,
        "max": i.max,
        "pattern": i.pattern,
        "choice": i.choice,
        "identifying": i.identifying,
        "uses": [
            {
                "purpose_id": u.purpose_id,
                "retention": u.retention,
                "legal_basis": u.legal_basis,
                "explanation": u.explanation,
                "not_seen_by": list(u.not_seen_by),
            }
            for u in i.uses
        ],
    }


def _purpose(p: dict) -> Purpose:
    return Purpose(
        purpose_id=str(p["purpose_id"]),
        name=str(p.get("name", "")),
        description=str(p.get("description", "")),
        unit_id=str(p.get("unit_id", "")),
        form=str(p.get("form", "")),
        dimensions=tuple(str(d) for d in p.get("dimensions", []) or []),
        measures=tuple(str(m) for m in p.get("measures", []) or []),
        suppress_below=int(p.get("suppress_below", 6) or 0),
        include_slk581=bool(p.get("include_slk581", False)),
        identifiable_need=str(p.get("identifiable_need", "") or ""),
    )


def _item(i: dict) -> ScheduleItem:
    has_range = bool(i.get("has_range", "min" in i or "max" in i))
    return ScheduleItem(
        name=str(i["name"]),
        type=str(i.get("type", "")),
        description=str(i.get("description", "")),
        required=bool(i.get("required", False)),
        allowed_values=tuple(str(v) for v in i.get("allowed_values", []) or []),
        aliases=tuple((str(k), str(v)) for k, v in (i.get("aliases") or {}).items()),
        not_before=str(i.get("not_before", "") or ""),
        in_period=bool(i.get("in_period", False)),
        has_range=has_range,
        min=int(i.get("min", 0) or 0),
        max=int(i.get("max", 0) or 0),
        pattern=str(i.get("pattern", "") or ""),
        choice=str(i.get("choice", "") or ""),
        identifying=bool(i.get("identifying", False)),
        uses=tuple(
            ItemUse(
                purpose_id=str(u["purpose_id"]),
                retention=str(u.get("retention", "")),
                legal_basis=str(u.get("legal_basis", "")),
                explanation=str(u.get("explanation", "")),
                not_seen_by=_strings(u.get("not_seen_by")),
            )
            for u in i.get("uses", []) or []
        ),
    )


def _strings(value) -> tuple[str, ...]:
    """A list of words, or one string (a YAML author may write either)."""
    if not value:
        return ()
    if isinstance(value, str):
        return (value.strip(),)
    return tuple(str(v).strip() for v in value if str(v).strip())


def check_plan(plan: Plan) -> list[str]:
    """Everything that makes a plan unusable for routing, as readable problems."""
    problems = []
    if not 1 <= plan.correction_window_days <= MAX_CORRECTION_WINDOW_DAYS:
        problems.append(f"correction_window_days must be 1 to {MAX_CORRECTION_WINDOW_DAYS}, "
                        f"got {plan.correction_window_days}")
    if not _ID.match(plan.programme_id):
        problems.append(f"programme_id {plan.programme_id!r} must be lowercase letters, digits, '-' or '_'")
    unit_ids = [u.unit_id for u in plan.units]
    purpose_ids = [p.purpose_id for p in plan.purposes]
    item_names = [i.name for i in plan.items]
    for kind, ids in (("unit", unit_ids), ("purpose", purpose_ids), ("item", item_names)):
        dupes = sorted({x for x in ids if ids.count(x) > 1})
        if dupes:
            problems.append(f"duplicate {kind} ids: {', '.join(dupes)}")
    for uid in unit_ids:
        if not _ID.match(uid):
            problems.append(f"unit_id {uid!r} must be lowercase letters, digits, '-' or '_'")
    if not plan.purposes:
        problems.append("a plan needs at least one purpose")
    items = {i.name: i for i in plan.items}
    for p in plan.purposes:
        where = f"purpose {p.purpose_id!r}"
        if not _ID.match(p.purpose_id):
            problems.append(f"{where}: id must be lowercase letters, digits, '-' or '_'")
        if p.unit_id not in unit_ids:
            problems.append(f"{where}: receiving unit {p.unit_id!r} is not one of the plan's units")
        if p.form not in FORMS:
            problems.append(f"{where}: form {p.form!r} must be one of {', '.join(FORMS)}")
        declared = {i.name for i in plan.items if p.purpose_id in i.purposes()}
        if not declared:
            problems.append(f"{where}: no schedule item is declared for it")
        if p.form == "aggregate":
            if p.include_slk581:
                problems.append(f"{where}: an aggregate purpose cannot receive a linkage key")
            if p.suppress_below < 0:
                problems.append(f"{where}: suppress_below cannot be negative")
            for d in p.dimensions:
                if d not in declared:
                    problems.append(f"{where}: dimension {d!r} is not an item declared for it")
                elif items[d].type not in ("enum", "boolean"):
                    problems.append(f"{where}: dimension {d!r} must be an enum or boolean item")
            for m in p.measures:
                if m not in declared:
                    problems.append(f"{where}: measure {m!r} is not an item declared for it")
                elif items[m].type != "integer":
                    problems.append(f"{where}: measure {m!r} must be an integer item")
        elif p.dimensions or p.measures:
            problems.append(f"{where}: only aggregate purposes have dimensions and measures")
    for i in plan.items:
        where = f"item {i.name!r}"
        if not _FIELD.match(i.name) or i.name in RESERVED_FIELDS:
            problems.append(f"{where}: name must be lowercase letters, digits or '_' and not reserved")
        if i.type not in FIELD_TYPES:
            problems.append(f"{where}: type {i.type!r} must be one of {', '.join(FIELD_TYPES)}")
        if i.type == "enum" and not i.allowed_values:
            problems.append(f"{where}: an enum item needs allowed_values")
        if (i.not_before or i.in_period) and i.type != "date":
            problems.append(f"{where}: only a date item has not_before or in_period")
        if i.not_before and not _DATE.fullmatch(i.not_before):
            problems.append(f"{where}: not_before must be a date as YYYY-MM-DD")
        if i.aliases and i.type != "enum":
            problems.append(f"{where}: only an enum item has aliases")
        for alias, value in i.aliases:
            if not alias.strip() or value not in i.allowed_values:
                problems.append(f"{where}: alias {alias!r} must name one of its allowed values "
                                f"(not {value!r})")
        if i.has_range and i.min > i.max:
            problems.append(f"{where}: min is greater than max")
        if i.pattern:
            try:
                re.compile(i.pattern)
            except re.error as exc:
                problems.append(f"{where}: pattern does not compile: {exc}")
        if not i.uses:
            problems.append(f"{where}: declares no purpose (nothing is collected without one)")
        for u in i.uses:
            if u.purpose_id not in purpose_ids:
                problems.append(f"{where}: purpose {u.purpose_id!r} is not one of the plan's purposes")
    return problems


# -- records against a plan (intake applies these; `tiaki submit --check` too) ----------

# A validator turns the text a provider sent into the stored value, or raises
# Rejected with a reason a person can act on.
Validator = Callable[[str], object]
MAX_VALUE_LENGTH = 1000
MAX_REF_LENGTH = 200
UNDECLARED = "not declared in the plan (never stored or forwarded)"


# -- value formats: declared once, for intake, `tiaki submit --check` and the template --

_INTEGER = re.compile(r"[+-]?[0-9]+(\.0*)?")  # 4.0 is the whole number 4
_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")
FORMATS = {
    "integer": "a whole number (4, -4, 4.0)",
    "decimal": "a number with a point for decimals (12.5, no thousands separators)",
    "date": "a date as YYYY-MM-DD",
    "boolean": "true or false (yes/no, 1/0 too; any case)",
}


def parse_integer(text: str) -> int:
    if text.isdigit() and text.isascii():  # the usual case, without the expression
        return int(text)
    if not _INTEGER.fullmatch(text):
        raise Rejected(f"expected {FORMATS['integer']}, got {text[:40]!r}")
    return int(text.split(".", 1)[0])


def parse_decimal(text: str) -> str:
    """A decimal as its plain text ("12.50" and "+12.5" are "12.5"), never a
    float: it is sent, stored and hashed in the ledger as text (docs/ledger.md)."""
    if not _DECIMAL.fullmatch(text):
        raise Rejected(f"expected {FORMATS['decimal']}, got {text[:40]!r}")
    value = Decimal(text)
    return "0" if value == 0 else format(value.normalize(), "f")


def parse_date(text: str) -> str:
    try:
        if _DATE.fullmatch(text):
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise Rejected(f"expected {FORMATS['date']}, got {text[:40]!r}")


def parse_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in TRUE or lowered in FALSE:
        return lowered in TRUE
    raise Rejected(f"expected {FORMATS['boolean']}, got {text[:40]!r}")


PARSERS = {"integer": parse_integer, "decimal": parse_decimal, "date": parse_date,
           "boolean": parse_boolean}


def value_format(item: ScheduleItem) -> str:
    """What a cell of this item may hold, in words (the CSV template, `plan show`)."""
    if item.type in ("integer", "decimal") and item.has_range:
        return f"{FORMATS[item.type]} from {item.min} to {item.max}"
    if item.type in FORMATS:
        return FORMATS[item.type]
    if item.type == "enum":
        return "one of: " + ", ".join(item.allowed_values)
    return f"text matching {item.pattern}" if item.pattern else "text"


class Rejected(ValueError):
    """A value a record cannot hold, with a reason a person can act on."""


def _validator(item: ScheduleItem) -> Validator:
    """Reads a trimmed, non-empty cell as the item's value, or raises Rejected."""
    if item.type in PARSERS:
        parse = PARSERS[item.type]
        if not (item.has_range and item.type in ("integer", "decimal")):
            return parse

        def check(text: str):
            value = parse(text)
            if not item.min <= (Decimal(value) if isinstance(value, str) else value) <= item.max:
                raise Rejected(f"{text[:40]} is outside {item.min}..{item.max}")
            return value
    elif item.type == "enum":
        allowed = {**{v: v for v in item.allowed_values}, **dict(item.aliases)}

        def check(text: str) -> str:
            if text not in allowed:
                raise Rejected(f"{text[:40]!r} is not one of: {', '.join(item.allowed_values)}")
            return allowed[text]
    else:
        pattern = re.compile(item.pattern) if item.pattern else None

        def check(text: str) -> str:
            if pattern is not None and not pattern.fullmatch(text):
                raise Rejected(f"{text[:40]!r} does not match the pattern {item.pattern}")
            return text
    return check


def date_window(item: ScheduleItem, period: str) -> tuple[str, str]:
    """A date item's window for a reporting period: (first allowed day or "", last)."""
    first, last = period_days(period)
    lowest = first.isoformat() if item.in_period else ""
    return max(lowest, item.not_before), last.isoformat()


def outside_window(item: ScheduleItem, value: str | None, period: str) -> str:
    """Why a date (YYYY-MM-DD) is outside its item's window for the period; "" when in it."""
    if value is None:
        return ""
    return _outside(value, *date_window(item, period), period)


def _outside(value: str, first: str, last: str, period: str) -> str:
    if value > last:
        return f"{value} is outside the window for {period}: after its last day, {last}"
    if first and value < first:
        return f"{value} is outside the window for {period}: before {first}"
    return ""


class RecordRules:
    """A plan's schedule items compiled once into validators for fast checking."""

    def __init__(self, plan: Plan, declined: frozenset[str] = frozenset(),
                 reasons: dict[str, str] | None = None):
        self.plan = plan
        # Why a declined item is refused (the provider's agreement), by item.
        self.reasons = reasons or {}
        self.validators = {i.name: _validator(i) for i in plan.items if i.name not in declined}
        self.required = tuple(i.name for i in plan.items if i.required and i.name not in declined)
        # Only a purpose the agreement leaves in force may ask for identity details.
        self.needs_slk581 = plan.needs_slk581(declined)
        self.dates = tuple(i for i in plan.items if i.type == "date" and i.name in self.validators)
        self._windows: dict[str, tuple] = {}  # period -> ((item name, first, last), ...)

    def windows(self, period: str) -> tuple[tuple[str, str, str], ...]:
        """(item name, first allowed day or "", last) of each date item for the
        period, worked out once per period rather than once per record."""
        if period not in self._windows:
            self._windows[period] = tuple((i.name, *date_window(i, period)) for i in self.dates)
        return self._windows[period]

    def check(self, record_ref: str, client_ref: str, fields: dict[str, str], period: str = ""):
        """Returns (typed fields, problems); problems are (field, reason) pairs.
        With a reporting `period`, every date must fall in its item's window.

        Every problem of the record is reported, undeclared fields first, so a
        provider can fix a record in one go. A record with any problem is
        rejected whole: nothing of it is stored.
        """
        problems = []
        if not record_ref.strip() or len(record_ref) > MAX_REF_LENGTH:
            problems.append(("record_ref", f"required, at most {MAX_REF_LENGTH} characters"))
        if not client_ref.strip() or len(client_ref) > MAX_REF_LENGTH:
            problems.append(("client_ref", f"required, at most {MAX_REF_LENGTH} characters"))
        typed = {}
        validators = self.validators
        if not fields.keys() <= validators.keys():
            problems.extend((name, self.reasons.get(name, UNDECLARED))
                            for name in fields if name not in validators)
        for name, text in fields.items():
            check = validators.get(name)
            if check is None:
                continue
            text = text.strip()  # " Wellington " is Wellington
            if text == "":
                continue  # an empty CSV cell means "not recorded"
            if len(text) > MAX_VALUE_LENGTH:
                problems.append((name, f"longer than {MAX_VALUE_LENGTH} characters"))
                continue
            try:
                typed[name] = check(text)
            except Rejected as exc:
                problems.append((name, str(exc)))
        for name, first, last in self.windows(period) if period else ():
            why = name in typed and _outside(typed[name], first, last, period)
            if why:
                problems.append((name, why))
                del typed[name]
        for name in self.required:
            if name not in typed and not any(p[0] == name for p in problems):
                problems.append((name, "required by the plan"))
        return typed, problems


NOT_AGREED = {"declined": "you declined it", "queried": "you queried it and have not accepted it",
              "not decided": "you have not accepted it"}


def agreed_rules(plan: Plan, withheld: dict[str, str]) -> RecordRules:
    """The plan's rules without the items the provider's agreement does not accept."""
    return RecordRules(plan, frozenset(withheld), {
        name: f"not agreed: {NOT_AGREED.get(why, why)} in your agreement "
              "(never stored or forwarded)" for name, why in withheld.items()})


_SEX_CODES = {"male": "1", "m": "1", "1": "1", "female": "2", "f": "2", "2": "2",
              "other": "3", "x": "3", "3": "3", "not_stated": "9", "": "9", "9": "9"}


def slk581(family_name: str, given_name: str, date_of_birth: str, sex: str) -> str:
    """SLK-581 (DSS Data Exchange): family name letters 2, 3, 5; given name
    letters 2, 3; date of birth DDMMYYYY; sex code. Raises Rejected when the
    date of birth or sex cannot be read."""

    def letters(name: str, positions: tuple[int, ...], missing: str) -> str:
        # Macrons are the same letter (Tūhoe and Tuhoe are one person's name).
        plain = unicodedata.normalize("NFKD", name.upper())
        only = "".join(ch for ch in plain if "A" <= ch <= "Z")
        if not only:
            return missing
        return "".join(only[p - 1] if p <= len(only) else "2" for p in positions)

    try:
        born = dt.date.fromisoformat(date_of_birth.strip())
    except ValueError:
        raise Rejected(f"date of birth must be YYYY-MM-DD, got {date_of_birth[:40]!r}") from None
    code = _SEX_CODES.get(sex.strip().lower())
    if code is None:
        raise Rejected(f"sex must be male, female, other or not_stated, got {sex[:20]!r}")
    return (letters(family_name, (2, 3, 5), "999") + letters(given_name, (2, 3), "99")
            + born.strftime("%d%m%Y") + code)
