"""Who acts: a person's staff id, as the `tiaki-person` call metadata carries
it (for example "aroha.ngata"). The organisation's credential vouches for it;
a missing one means no person was named."""

from __future__ import annotations

import re

from tiaki.core.errors import Invalid

METADATA_KEY = "tiaki-person"
PERSON = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def person_id(value: str | None, field: str = METADATA_KEY) -> str:
    """The staff id in `value` ("" when none is named); Invalid when malformed."""
    if not value:
        return ""
    if not PERSON.fullmatch(value):
        raise Invalid(field, "a person is named by a staff id: lower-case letters, "
                                    "digits, '.', '_' or '-', at most 64 characters")
    return value
