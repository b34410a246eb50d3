"""A unit's own store: one document per delivery, a records delivery's records
in pseudonym buckets beside it (DELIVERY_BUCKETS of them, the count kept on
the delivery), and corrections kept beside the records they
change. The unit's database, not the services': plain pymongo."""

from __future__ import annotations

import datetime as dt
import time
import zlib

import pymongo
from bson import Binary

from tiaki.core import fastjson
from tiaki.core.records import BUCKETS, PSEUDONYM, bucket

# Buckets a records delivery is kept in: a family's request reads one of them
# per delivery (a sixteenth of it), and a delivery costs the store 16 documents,
# not 64 (each document costs the embedded store about 0.1 ms beyond its bytes;
# make bench). Deliveries stored before the count was kept on them have BUCKETS.
DELIVERY_BUCKETS = 16


def _pack(rows) -> Binary:
    return Binary(zlib.compress(fastjson.dumps(rows), 1))


def _unpack(packed) -> list:
    return fastjson.loads(zlib.decompress(packed))


class UnitStore:
    """The unit's own database: one document per delivery."""

    def __init__(self, store_uri: str):
        self.client = pymongo.MongoClient(store_uri)
        db = self.client.get_default_database()
        self.deliveries = db["deliveries"]
        self.deliveries.create_index("acknowledged")
        # A delivery's records, in DELIVERY_BUCKETS documents by pseudonym: a family's
        # request reads one small document per delivery.
        self.buckets = db["delivery_buckets"]
        # Corrections are kept beside the records they change, never written
        # over them: the record as received, and what changed it and why.
        self.corrections = db["corrections"]
        self.corrections.create_index("pseudonym")
        # Access queries kept for a person's review (a unit answering after
        # review): the query, the records its answer would give, and once
        # approved the answer, who approved it and when. Kept after sending.
        self.reviews = db["reviews"]
        self.reviews.create_index("state")
        # How the unit answers (auto or review) and since when.
        self.mode = db["answer_mode"]

    def save(self, body: dict) -> bool:
        """Stores a delivery once; False when it was already stored (a
        redelivery: same id, same content hash, so nothing to change)."""
        doc = {
            "_id": body["delivery_id"], "kind": body["kind"], "provider_id": body["provider_id"],
            "programme_id": body["programme_id"], "submission_id": body["submission_id"],
            "period": body["period"], "purpose_id": body["purpose_id"],
            "fields": body["fields"], "record_count": body["record_count"],
            "content_hash": body["content_hash"],
            "received_at": dt.datetime.now(dt.timezone.utc), "acknowledged": False,
        }
        if body["kind"] == "records":
            doc["buckets"] = DELIVERY_BUCKETS
            buckets: dict[str, list] = {}
            for record in body["records"]:
                buckets.setdefault(bucket(record[PSEUDONYM], DELIVERY_BUCKETS), []).append(record)
            # The buckets first and the delivery last: a crash in between leaves
            # the delivery unstored, so its redelivery stores it whole.
            self._save_buckets([{"_id": f"{body['delivery_id']}:{key}",
                                 "delivery_id": body["delivery_id"], "period": body["period"],
                                 "rows": _pack(rows)} for key, rows in sorted(buckets.items())])
        else:
            doc["content"] = _pack(body["cells"])
        try:
            self.deliveries.insert_one(doc)
        except pymongo.errors.DuplicateKeyError:
            return False
        return True

    def _save_buckets(self, docs: list[dict]) -> None:
        if not docs:
            return
        try:
            self.buckets.insert_many(docs, ordered=False)
        except pymongo.errors.BulkWriteError as exc:  # already there from a crashed save
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    def content(self, delivery_id: str) -> list | None:
        """Everything a delivery carried: its records (in bucket order) or its cells."""
        doc = self.deliveries.find_one({"_id": delivery_id})
        if doc is None:
            return None
        if doc["kind"] != "records":
            return _unpack(doc["content"])
        ids = [f"{delivery_id}:{b:02d}" for b in range(doc.get("buckets", BUCKETS))]
        return [row for b in sorted(self.buckets.find({"_id": {"$in": ids}}), key=lambda b: b["_id"])
                for row in _unpack(b["rows"])]

    def supersede(self, delivery_ids: list[str], by: str) -> int:
        """Marks these deliveries superseded by the submission `by` (records
        and cells stay, as received); how many there are."""
        return self.deliveries.update_many({"_id": {"$in": list(delivery_ids)}},
                                           {"$set": {"superseded_by": by}}).matched_count

    def held_about(self, delivery_ids: list[str],
                   pseudonyms: list[str]) -> list[tuple[dict, dict, list]]:
        """(delivery, record, statements) for every record under these
        pseudonyms (one person's, one per key generation) in these deliveries,
        with applied corrections in the record and the statements of
        correction sought from refused ones beside it. Superseded deliveries
        are not current, and one not stored whole has not been received:
        nothing of them is given."""
        # Each delivery's bucket count, of those stored whole and still current.
        counts = {d["_id"]: d.get("buckets", BUCKETS) for d in self.deliveries.find(
            {"_id": {"$in": list(delivery_ids)}}, {"buckets": 1, "superseded_by": 1})
            if not d.get("superseded_by")}
        delivery_ids = [d for d in delivery_ids if d in counts]
        wanted = list(pseudonyms)
        ids = [f"{d}:{bucket(p, counts[d])}" for d in delivery_ids for p in wanted]
        parts: dict[str, list[dict]] = {}
        for b in self.buckets.find({"_id": {"$in": ids}}):
            parts.setdefault(b["delivery_id"], []).append(b)
        corrections = list(self.corrections.find({"pseudonym": {"$in": wanted}})
                           .sort("recorded_at", 1))
        out = []
        for delivery_id in delivery_ids:
            for part in parts.get(delivery_id, ()):
                delivery = {"_id": delivery_id, "period": part["period"]}
                for record in _unpack(part["rows"]):
                    if record.get(PSEUDONYM) not in wanted:
                        continue
                    statements = []
                    for c in corrections:
                        if c["delivery_id"] != delivery_id:
                            continue
                        if c["status"] == "applied":
                            record[c["field"]] = c["corrected_value"]
                        else:
                            statements.append({k: c[k] for k in (
                                "field", "corrected_value", "reason", "refused_because")})
                    out.append((delivery, record, statements))
        return out

    def record_correction(self, request_id: str, delivery_id: str, pseudonym: str,
                          correction: dict, status: str, refused_because: str = "") -> None:
        try:
            self.corrections.insert_one({
                "_id": f"{request_id}:{delivery_id}", "request_id": request_id,
                "delivery_id": delivery_id, "pseudonym": pseudonym,
                "field": correction["field"], "corrected_value": correction["corrected_value"],
                "reason": correction["reason"], "status": status,
                "refused_because": refused_because, "recorded_at": time.time()})
        except pymongo.errors.DuplicateKeyError:
            pass  # the same request answered again after a redelivery

    def unacknowledged(self, limit: int = 500) -> list[str]:
        return [d["_id"] for d in self.deliveries.find({"acknowledged": False}, {"_id": 1})
                .limit(limit)]

    def mark_acknowledged(self, delivery_ids: list[str]) -> None:
        self.deliveries.update_many({"_id": {"$in": delivery_ids}},
                                    {"$set": {"acknowledged": True}})

    def record_count(self, kind: str = "records") -> int:
        rows = self.deliveries.aggregate([{"$match": {"kind": kind}}, {
            "$group": {"_id": None, "n": {"$sum": "$record_count"}}}])
        return next((int(r["n"]) for r in rows), 0)

    # -- queries kept for review -------------------------------------------------

    def hold(self, query: dict, draft: list[dict]) -> bool:
        """Keeps a query for review with the records its answer would give;
        False when it is already kept (the requests service asks again while
        it waits: the first arrival stands)."""
        try:
            self.reviews.insert_one({"_id": query["request_id"], "query": query,
                                     "draft": draft, "state": "waiting",
                                     "received_at": time.time()})
        except pymongo.errors.DuplicateKeyError:
            return False
        return True

    def held(self, request_id: str) -> dict | None:
        return self.reviews.find_one({"_id": request_id})

    def not_sent(self) -> list[dict]:
        """Queries waiting for review or approved and not yet sent, oldest first."""
        return list(self.reviews.find({"state": {"$in": ["waiting", "approved"]}})
                    .sort("received_at", 1))

    def approved(self, request_id: str, answer: list[dict], person: str) -> bool:
        """Records the approved answer; False when the query was no longer
        waiting (another person approved it first)."""
        return self.reviews.update_one(
            {"_id": request_id, "state": "waiting"},
            {"$set": {"state": "approved", "answer": answer, "approved_by": person,
                      "approved_at": time.time()}}).modified_count == 1

    def sent(self, request_id: str) -> None:
        self.reviews.update_one({"_id": request_id, "state": "approved"},
                                {"$set": {"state": "sent", "sent_at": time.time()}})

    # -- how the unit answers ----------------------------------------------------

    def answering(self, mode: str) -> float:
        """When the unit began answering `mode` ("auto" or "review"): kept
        across restarts, and set anew (now) when the unit starts in another mode."""
        doc = self.mode.find_one({"_id": "answer"})
        if doc is None or doc.get("mode") != mode:
            doc = {"_id": "answer", "mode": mode, "since": time.time()}
            self.mode.replace_one({"_id": "answer"}, doc, upsert=True)
        return float(doc["since"])
