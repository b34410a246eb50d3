"""The store adapter: the one place services touch their database.

Each service declares its documents and indexes with mongoengine (the design's
choice) and reads and writes them through `Collection`, which speaks plain
dicts to storage classes (they turn them into the domain's dataclasses). Every
quirk of the embedded store (nx-27017, a MongoDB wire-protocol server on
SQLite that `make run` starts) is handled here and nowhere else, each in a
way that is also correct on MongoDB, which production uses:

- An upsert ignores the filter's `_id`: `put` repeats `_id` in the document,
  and `tally` (a counter) inserts it at 0, then adds with find-and-modify.
- `$setOnInsert` is ignored on upsert: `insert` inserts and reports a taken
  key instead; nothing here upserts with it.
- A document added with `$push` comes back as JSON text: `append` pushes
  JSON text on every store and `appended` reads it back as documents.
- A datetime written by `$set` comes back as text and a boolean as 0/1:
  `update` refuses a datetime (store epoch seconds or ISO text) and writes
  booleans as 0/1 on every store, so reads see the same on both.
- An array member is matched only with `$in`: `contains(value)` builds it.
- There is no `$or` we rely on: `find_any` runs each query and merges.
- Binary fields cannot be updated in place: documents holding bytes are
  written once (`insert`) and replaced whole (`put`).
- Write concern `w` above 1 (majority, `w: 3`, even an unknown tag), read
  concern and read preference are accepted and ignored, and a retried write (same
  session and txnNumber) is applied again rather than recognised: it is one
  server, so pymongo never retries a write there. The journal (`j: true`) is
  honoured: SQLite then syncs every commit to disk, and an insert of many
  documents commits (and syncs) each document on its own. `connect` gives a
  URI naming one host and no replica set only what one server honours
  (`SINGLE_SERVER`); a replica set gets all of `DURABILITY`.

On a replica set (docs/operations.md): every write waits for a majority of
members with the journal (`DURABILITY`, each a config key of every service), so
no acknowledged write is rolled back by a failover; pymongo retries a
single-document write once after a failover, and the server recognises a retry
it already applied. Writes are also safe to repeat from above (a message
redelivered, a gRPC call sent again): `insert` and `insert_new` are keyed and
report a taken key, `put` replaces whole, `swap` and version-guarded `update`s
are compare-and-swap, and `claim` re-claims only what ran out (the two
exceptions, which lose nothing, are in docs/operations.md). Reads go to the
primary with read concern majority: what a service reads cannot be rolled back,
and a compare-and-swap decided on it is checked again by the primary.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import mongoengine
import pymongo
from nameko import config
from nameko.extensions import DependencyProvider
from pymongo import ASCENDING, DESCENDING, ReturnDocument, uri_parser
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from tiaki.core.errors import Conflict
from tiaki.plumbing.secrets import KeyFileProblem, load_kek

log = logging.getLogger(__name__)
T = TypeVar("T")
DUPLICATE_KEY = 11000
CAS_TRIES = 20


# What a write must reach and what a read may see: {config key: (pymongo option, default)}.
# Each service's config names them all (config/<service>.yaml); these defaults serve when
# a config (a test's) does not. Every one is also a replica set's safe choice.
DURABILITY = {
    "STORE_WRITE_CONCERN": ("w", "majority"),
    "STORE_JOURNAL": ("journal", True),
    "STORE_WRITE_TIMEOUT_MS": ("wTimeoutMS", 10000),
    "STORE_RETRY_WRITES": ("retryWrites", True),
    "STORE_RETRY_READS": ("retryReads", True),
    "STORE_READ_CONCERN": ("readConcernLevel", "majority"),
    "STORE_READ_PREFERENCE": ("readPreference", "primary"),
}


def client_options(settings) -> dict:
    """pymongo's options from a service's config (`DURABILITY`'s keys)."""
    options = {}
    for key, (option, default) in DURABILITY.items():
        value = settings.get(key, default)
        if isinstance(default, bool) and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes")
        elif option in ("w", "wTimeoutMS") and str(value).isdigit():
            value = int(value)
        options[option] = value
    return options


# What one server on its own (the embedded store, a lone mongod) honours of `DURABILITY`:
# the journal (nx-27017 syncs each commit to disk with it, mongod waits for its journal) and
# pymongo's retry of a read. Majority and its timeout mean that one server, read concern
# majority is all it has anyway, pymongo never retries a write on it, and it is the primary.
SINGLE_SERVER = ("journal", "retryReads")


def one_server(uri: str) -> bool:
    """Whether `uri` names one host and no replica set (the embedded default). A
    replica set's URI names the set (`replicaSet`; tools/deploy_lint.py checks every
    rendered manifest), so it is never taken for one server."""
    if not uri.startswith("mongodb://"):
        return False  # mongodb+srv:// names a cluster
    parsed = uri_parser.parse_uri(uri)
    return len(parsed["nodelist"]) == 1 and "replicaSet" not in parsed["options"]


def connect(uri: str, alias: str = "default", settings=None):
    """The service's database, with `DURABILITY` from `settings` (its config): all of it
    for a replica set, `SINGLE_SERVER` of it for one server (`one_server`). Decided from
    the URI alone: nothing here waits on the network before the connection is registered."""
    options = client_options(settings or {})
    if one_server(uri):
        options = {k: v for k, v in options.items() if k in SINGLE_SERVER}
    # uuidRepresentation is explicit so ids read back the same on MongoDB and the embedded store.
    return mongoengine.connect(host=uri, alias=alias, uuidRepresentation="standard", tz_aware=True,
                               **options)


def contains(value) -> dict:
    """A query condition matching an array holding `value` (`{"tags": contains("x")}`)."""
    return {"$in": [value]}


def appended(values: Iterable) -> list[dict]:
    """The documents `append` added to a list, as documents on either store."""
    return [json.loads(v) if isinstance(v, str) else v for v in values or ()]


def _stored(updates: dict) -> dict:
    out = {}
    for key, value in updates.items():
        if isinstance(value, dt.datetime | dt.date):
            raise TypeError(f"{key}: store a time as epoch seconds or ISO text, not {value!r}")
        out[key] = int(value) if isinstance(value, bool) else value
    return out


class Collection:
    """One collection of a service's database, as plain dicts keyed by `_id`."""

    def __init__(self, document: type[mongoengine.Document]):
        self.document = document

    @property
    def _coll(self):
        # Looked up on each use: mongoengine reconnects after a disconnect.
        return self.document._get_collection()

    # -- reads -----------------------------------------------------------------------

    def get(self, key, fields: Iterable[str] | None = None) -> dict | None:
        return self._coll.find_one({"_id": key}, self._projection(fields))

    def find_one(self, query: dict, sort: list[tuple[str, int]] | None = None,
                 fields: Iterable[str] | None = None) -> dict | None:
        return self._coll.find_one(query, self._projection(fields), sort=sort)

    def latest(self, query: dict, by: str, fields: Iterable[str] | None = None) -> dict | None:
        """The document matching `query` with the highest `by`."""
        return self.find_one(query, sort=[(by, DESCENDING)], fields=fields)

    def find(self, query: dict | None = None, sort: list[tuple[str, int]] | str | None = None,
             limit: int = 0, skip: int = 0, fields: Iterable[str] | None = None) -> list[dict]:
        cursor = self._coll.find(query or {}, self._projection(fields))
        if sort:
            cursor = cursor.sort([(sort, ASCENDING)] if isinstance(sort, str) else sort)
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return list(cursor)

    def find_any(self, queries: Iterable[dict], fields: Iterable[str] | None = None) -> list[dict]:
        """Documents matching any of `queries` (each at most once), in `_id` order."""
        found = {}
        for query in queries:
            for doc in self.find(query, fields=None if fields is None else {*fields, "_id"}):
                found[doc["_id"]] = doc
        return [found[k] for k in sorted(found)]

    def count(self, query: dict | None = None) -> int:
        return self._coll.count_documents(query or {})

    def aggregate(self, pipeline: list[dict]) -> list[dict]:
        return list(self._coll.aggregate(pipeline))

    # -- writes ----------------------------------------------------------------------

    def insert(self, doc: dict) -> bool:
        """Inserts once; False when a document with its key (or a unique index value) exists."""
        try:
            self._coll.insert_one(dict(doc))
            return True
        except DuplicateKeyError:
            return False

    def insert_new(self, docs: list[dict]) -> None:
        """Inserts many, skipping those already there (a redelivery writes the same
        ones again); any other failure raises, so the caller's message is retried."""
        if not docs:
            return
        try:
            # pymongo adds an `_id` to a document without one: only those are copied.
            self._coll.insert_many([d if "_id" in d else dict(d) for d in docs], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    def put(self, key, doc: dict) -> None:
        """Writes the whole document under `key`, new or replacing."""
        self._coll.replace_one({"_id": key}, dict(doc, _id=key), upsert=True)

    def swap(self, doc: dict, field: str = "revision") -> dict:
        """Replaces `doc` if nobody changed it since it was read (its `field` is
        unchanged), counting `field` on; raises Conflict otherwise."""
        new = dict(doc, **{field: doc.get(field, 0) + 1})
        if self._coll.replace_one({"_id": doc["_id"], field: doc.get(field, 0)},
                                  new).matched_count != 1:
            raise Conflict(field, f"{self.document.__name__} {doc['_id']!r} changed meanwhile")
        return new

    def update(self, query: dict, set: dict | None = None, inc: dict | None = None,
               push: dict | None = None, many: bool = False) -> int:
        """Changes the fields named, of one document (or all, with many) matching
        `query`; how many matched. `push` appends documents to lists (see module)."""
        change = {}
        if set:
            change["$set"] = _stored(set)
        if inc:
            change["$inc"] = inc
        if push:
            change["$push"] = {k: json.dumps(v, separators=(",", ":"), ensure_ascii=False)
                               for k, v in push.items()}
        if many:
            return self._coll.update_many(query, change).matched_count
        return self._coll.update_one(query, change).matched_count

    def add(self, key, field: str, by: int = 1) -> dict | None:
        """Atomically adds `by` to the number `field` of the document under `key`; the
        document as it is after (None when there is none). Callers adding at once, in
        any process, each see their own total."""
        return self._coll.find_one_and_update({"_id": key}, {"$inc": {field: by}},
                                              return_document=ReturnDocument.AFTER)

    def tally(self, key, expires: str) -> int:
        """An atomic counter with an expiry: one more under `key`, and the total so far.
        A new counter starts at 0 and is kept until `expires` (ISO text, in its field
        `expires`; the owner deletes those past it with `delete_many`). Not an upsert
        (see module): inserted (a taken key is fine), then `add`."""
        for _ in range(3):
            self.insert({"_id": key, "count": 0, "expires": expires})
            doc = self.add(key, "count")
            if doc is not None:  # else deleted as expired in between: made again
                return int(doc["count"])
        raise Conflict("count", f"counter {key!r} keeps being deleted; is {expires} past?")

    def claim(self, query: dict, set: dict, sort: list[tuple[str, int]] | None = None) -> dict | None:
        """Atomically changes one document matching `query` and returns it as it was."""
        return self._coll.find_one_and_update(query, {"$set": _stored(set)}, sort=sort)

    def delete(self, key) -> bool:
        return self._coll.delete_one({"_id": key}).deleted_count == 1

    def delete_many(self, query: dict) -> int:
        return self._coll.delete_many(query).deleted_count

    @staticmethod
    def _projection(fields):
        return None if fields is None else {f: 1 for f in fields}


def retrying(attempt: Callable[[], T], tries: int = CAS_TRIES,
             field: str = "version", what: str = "it kept changing; try again") -> T:
    """Runs a read-decide-write `attempt` until it writes without a Conflict (each
    try reads afresh); after `tries`, Conflict naming `field`. The one
    compare-and-swap loop every service uses."""
    for _ in range(tries):
        try:
            return attempt()
        except Conflict:
            continue
    raise Conflict(field, what)


class Storage(DependencyProvider):
    """Opens the service's database in setup() and hands each worker the
    service's storage object (its small domain API). `sealed=True`: the storage
    keeps secrets sealed (tiaki/plumbing/secrets.py) and is made with the
    service's key-encryption key, read from its config's KEY_ENCRYPTION_KEY_FILE;
    the service does not start without a usable one."""

    def __init__(self, storage_class, sealed: bool = False):
        self.storage_class = storage_class
        self.sealed = sealed

    def setup(self):
        args = (service_kek(),) if self.sealed else ()
        connect(config["MONGO_URI"], settings=config)
        self.storage = self.storage_class(*args)
        self.storage.ensure_indexes()

    def stop(self):
        mongoengine.disconnect()

    def get_dependency(self, worker_ctx):
        return self.storage


def service_kek() -> bytes:
    """The running service's key-encryption key (KeyFileProblem, logged, when
    it is not configured, missing or readable by others)."""
    path = config.get("KEY_ENCRYPTION_KEY_FILE")
    try:
        if not path:
            raise KeyFileProblem("KEY_ENCRYPTION_KEY_FILE is not set in this service's config")
        return load_kek(path)
    except KeyFileProblem as exc:
        log.critical("refusing to start: %s", exc)
        raise
class Ping:
    """Whether the store answers, within `timeout` seconds (health checks).
    A client of its own: the services' client waits 30 s to find a server."""

    def __init__(self, uri: str, timeout: float = 1.0):
        ms = int(timeout * 1000)
        self.client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms,
                                          socketTimeoutMS=ms)

    def __call__(self) -> bool:
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def close(self):
        self.client.close()
