"""The directory's store: one document per party, replaced whole."""

from __future__ import annotations

import dataclasses

import mongoengine as me

from services.purpose_router.directory.domain import Entry
from tiaki.plumbing import store

ENTRY_FIELDS = [f.name for f in dataclasses.fields(Entry)]


class DirectoryDoc(me.Document):
    meta = {"collection": "directory", "indexes": ["kind"]}
    key = me.StringField(primary_key=True)  # "<kind>:<id>"
    kind = me.StringField(required=True)


def _entry(doc: dict | None) -> Entry | None:
    return Entry(**{k: doc[k] for k in ENTRY_FIELDS}) if doc else None


class DirectoryStorage:
    def __init__(self):
        self._entries = store.Collection(DirectoryDoc)

    def ensure_indexes(self):
        DirectoryDoc.ensure_indexes()

    def put(self, entry: Entry) -> None:
        self._entries.put(entry.key, dataclasses.asdict(entry))

    def get(self, kind: str, id_: str) -> Entry | None:
        return _entry(self._entries.get(f"{kind}:{id_}"))

    def all(self) -> list[Entry]:
        return sorted((_entry(d) for d in self._entries.find()), key=lambda e: (e.kind, e.id))

    def by_key(self) -> dict[str, Entry]:
        """Every entry by "<kind>:<id>", for documents naming parties."""
        return {e.key: e for e in self.all()}
