"""Directory entries as plain rules (no I/O): who a provider, the Agency or
one of its units is, as a family reads it. Every document tiaki makes names
parties from here, never by id."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tiaki.core.errors import Invalid

KINDS = ("provider", "agency", "unit")
AGENCY_ID = "agency"
FIELDS = ("display_name", "postal_address", "phone", "privacy_email")
WORDS = {"display_name": "a display name", "postal_address": "a postal address",
         "phone": "a phone number", "privacy_email": "an email for privacy questions"}
ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,24}")
MAX_TEXT = 300


@dataclass(frozen=True)
class Entry:
    kind: str
    id: str
    display_name: str
    postal_address: str
    phone: str
    privacy_email: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def address_lines(self) -> list[str]:
        return [line.strip() for line in re.split(r"[\n,]", self.postal_address) if line.strip()]


def checked(kind: str, id_: str, **fields: str) -> Entry:
    """An entry as given, or Invalid naming the first field that is missing or wrong."""
    if kind not in KINDS:
        raise Invalid("entry.kind", "must be provider, agency or unit")
    id_ = (id_ or "").strip()
    if kind == "agency":
        id_ = id_ or AGENCY_ID
        if id_ != AGENCY_ID:
            raise Invalid("entry.id", f"the Agency's entry has the id {AGENCY_ID!r}")
    elif not ID.fullmatch(id_):
        raise Invalid("entry.id", f"a {kind} id is lower-case letters, digits, '.', '_' or '-'")
    values = {}
    for name in FIELDS:
        value = (fields.get(name) or "").strip()
        if not value:
            raise Invalid(f"entry.{name}", f"the {kind} {id_} needs {WORDS[name]}")
        if len(value) > MAX_TEXT:
            raise Invalid(f"entry.{name}", f"is longer than {MAX_TEXT} characters")
        values[name] = value
    if len([line for line in re.split(r"[\n,]", values["postal_address"]) if line.strip()]) < 2:
        raise Invalid("entry.postal_address", f"the {kind} {id_} needs a full postal address: "
                      "a street or PO Box and a town, on separate lines or after commas")
    if not PHONE.fullmatch(values["phone"]):
        raise Invalid("entry.phone", f"{values['phone']!r} is not a phone number")
    if not EMAIL.fullmatch(values["privacy_email"]):
        raise Invalid("entry.privacy_email", f"{values['privacy_email']!r} is not an email address")
    return Entry(kind, id_, **values)


def name_of(entries: dict[str, Entry], kind: str, id_: str, fallback: str = "") -> str:
    """What a document calls a party: its directory name, else `fallback`, else
    words that never show an id ("your provider", "the Agency", "a team in the Agency")."""
    found = entries.get(f"{kind}:{id_}")
    if found is not None:
        return found.display_name
    return fallback or {"provider": "your provider", "agency": "the Agency"}.get(
        kind, "a team in the Agency")
