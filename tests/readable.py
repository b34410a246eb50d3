"""Stored documents as searchable text, for tests that prove something never
reached a store: binary fields that are zlib-compressed (intake's batches, a
unit's delivered rows) are opened, so a search sees what they hold."""

from __future__ import annotations

import json
import zlib


def _open(value):
    if isinstance(value, bytes):
        try:
            return zlib.decompress(value).decode("utf-8", errors="replace")
        except zlib.error:
            return value.hex()
    if isinstance(value, dict):
        return {k: _open(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_open(v) for v in value]
    return value


def readable(doc) -> str:
    """One document (a dict from pymongo) as text, compressed parts opened."""
    return json.dumps(_open(doc), default=str, ensure_ascii=False)


def database_text(db) -> list[str]:
    """Every document of every collection of a pymongo database, readable."""
    return [readable(doc) for name in db.list_collection_names() for doc in db[name].find()]
