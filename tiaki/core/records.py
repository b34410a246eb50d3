"""What tiaki adds to a unit's records, and how records are bucketed by pseudonym.

A unit-level delivery carries the purpose's own pseudonym (and the SLK-581
key where the purpose asks for it) beside the declared items; no schedule
item may take these names, nor the provider's own reference names."""

from __future__ import annotations

import zlib

PSEUDONYM = "pseudonym"
SLK581 = "slk581"
LINKAGE_FIELDS = (PSEUDONYM, SLK581)
RESERVED_FIELDS = LINKAGE_FIELDS + ("record_ref", "client_ref")
BUCKETS = 64


def bucket(pseudonym: str, buckets: int = BUCKETS) -> str:
    """The bucket ('00'..'63') a pseudonym's records are kept under, so a
    person's records are found by one keyed lookup, wherever they are kept."""
    return f"{zlib.crc32(pseudonym.encode()) % buckets:02d}"


def items_of(record: dict) -> dict:
    """A delivered record without what tiaki added: the provider's items only."""
    return {k: v for k, v in record.items() if k not in LINKAGE_FIELDS}
