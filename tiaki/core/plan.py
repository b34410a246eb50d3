"""The data plan of a programme, as plain data every service can read.

purpose_router owns plans and stores them; intake validates records against
them; the unit SDK and the command line read them. A plan travels between
services as the dict produced by `Plan.to_dict()` (JSON-safe), and over gRPC
as `tiaki.router.v1.Plan`. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tiaki.core.records import RESERVED_FIELDS  # a plan may not declare the fields tiaki adds

FORMS = ("unit_level", "aggregate")
FIELD_TYPES = ("string", "integer", "date", "enum", "boolean")
_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


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
