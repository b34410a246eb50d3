"""The Agency unit SDK: consume your own queue, keep what arrives in your own
store, acknowledge it to the ledger, and record who used it.

    unit = UnitClient("evaluation", amqp_uri, store_uri, router_address, token)
    unit.run()                                   # consume until stopped
    unit.record_access(delivery_id, "analyst j.smith", ["goals_met"], "Q3 evaluation")

A delivery is stored (keyed by its delivery id, so a redelivery changes
nothing) before the broker message is acknowledged, and acknowledged to
purpose_router's ledger from the store, so a crash at any point loses nothing.
Runs in a plain (not eventlet) process: it uses grpcio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import threading
import time
import zlib

import grpc
import pymongo
from bson import Binary
from kombu import Connection
from kombu.mixins import ConsumerMixin
from prometheus_client import Counter, start_http_server

from tiaki import messages
from tiaki.requests.v1 import requests_pb2
from tiaki.requests.v1.requests_pb2_grpc import UnitRequestsServiceStub
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.ledger_pb2_grpc import UnitServiceStub

log = logging.getLogger("tiaki.unit")

DELIVERIES_STORED = Counter("tiaki_unit_deliveries_stored_total", "Deliveries stored",
                            ["unit", "purpose", "kind"])
RECORDS_STORED = Counter("tiaki_unit_records_stored_total", "Records stored", ["unit", "purpose"])
DELIVERIES_REFUSED = Counter("tiaki_unit_deliveries_refused_total",
                             "Deliveries refused (not for this unit, or content hash mismatch)",
                             ["unit", "reason"])


def _pack(rows) -> Binary:
    return Binary(zlib.compress(json.dumps(rows, ensure_ascii=False).encode(), 1))


def _unpack(packed) -> list:
    return json.loads(zlib.decompress(packed))


def payload_hash(content) -> str:
    """The content hash purpose_router put in the ledger (canonical JSON, SHA-256)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


class UnitStore:
    """The unit's own database: one document per delivery."""

    def __init__(self, store_uri: str):
        self.client = pymongo.MongoClient(store_uri)
        db = self.client.get_default_database()
        self.deliveries = db["deliveries"]
        self.deliveries.create_index("acknowledged")
        # A delivery's records, in 16 documents by the pseudonym's first hex
        # digit: a family's request reads a sixteenth of each delivery.
        self.buckets = db["delivery_buckets"]
        # Corrections are kept beside the records they change, never written
        # over them: the record as received, and what changed it and why.
        self.corrections = db["corrections"]
        self.corrections.create_index("pseudonym")

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
            buckets: dict[str, list] = {}
            for record in body["records"]:
                buckets.setdefault(record["pseudonym"][:1], []).append(record)
            # The buckets first and the delivery last: a crash in between leaves
            # the delivery unstored, so its redelivery stores it whole.
            self._save_buckets([{"_id": f"{body['delivery_id']}:{key}", "rows": _pack(rows)}
                                for key, rows in buckets.items()])
        else:
            doc["content"] = _pack(body["cells"])
        try:
            self.deliveries.insert_one(doc)
        except pymongo.errors.DuplicateKeyError:
            return False
        return True

    def _save_buckets(self, docs: list[dict]):
        if not docs:
            return
        try:
            self.buckets.insert_many(docs, ordered=False)
        except pymongo.errors.BulkWriteError as exc:  # already there from a crashed save
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    def _rows(self, docs: list[dict], bucket: str | None) -> dict[str, list]:
        """delivery id -> its packed rows in `bucket` (all buckets when None), in
        bucket order; reads stores written before buckets were documents too."""
        keys = [bucket] if bucket else [f"{i:x}" for i in range(16)]
        found = {b["_id"]: b["rows"] for b in self.buckets.find(
            {"_id": {"$in": [f"{d['_id']}:{k}" for d in docs for k in keys]}})}
        out = {}
        for d in docs:
            old = d.get("buckets") or {}
            packs = [found.get(f"{d['_id']}:{k}") or old.get(k) for k in keys]
            out[d["_id"]] = [row for packed in packs if packed for row in _unpack(packed)]
        return out

    def content(self, delivery_id: str):
        """Everything a delivery carried: its records (in bucket order) or cells."""
        doc = self.deliveries.find_one({"_id": delivery_id})
        if doc is None:
            return None
        if doc["kind"] == "records":
            return self._rows([doc], None)[delivery_id]
        return _unpack(doc["content"])

    def held_about(self, delivery_ids: list[str], pseudonym: str) -> list[tuple[dict, dict, list]]:
        """(delivery, record, statements) for every record under this pseudonym
        in these deliveries, with applied corrections in the record and the
        statements of correction sought from refused ones beside it."""
        corrections = list(self.corrections.find({"pseudonym": pseudonym}).sort("recorded_at", 1))
        out = []
        docs = list(self.deliveries.find({"_id": {"$in": delivery_ids}, "kind": "records"},
                                         {"period": 1, "buckets": 1}))
        rows = self._rows(docs, pseudonym[:1])
        for doc in docs:
            for record in rows[doc["_id"]]:
                if record.get("pseudonym") != pseudonym:
                    continue
                statements = []
                for c in corrections:
                    if c["delivery_id"] != doc["_id"]:
                        continue
                    if c["status"] == "applied":
                        record[c["field"]] = c["corrected_value"]
                    else:
                        statements.append({k: c[k] for k in (
                            "field", "corrected_value", "reason", "refused_because")})
                out.append((doc, record, statements))
        return out

    def record_correction(self, request_id: str, delivery_id: str, pseudonym: str,
                          correction: dict, status: str, refused_because: str = ""):
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

    def mark_acknowledged(self, delivery_ids: list[str]):
        self.deliveries.update_many({"_id": {"$in": delivery_ids}},
                                    {"$set": {"acknowledged": True}})

    def record_count(self, kind: str = "records") -> int:
        rows = self.deliveries.aggregate([{"$match": {"kind": kind}}, {
            "$group": {"_id": None, "n": {"$sum": "$record_count"}}}])
        return next((int(r["n"]) for r in rows), 0)


def balanced_channel(address: str) -> grpc.Channel:
    """A channel to a service. An address naming several instances
    ("ipv4:host:port,host:port") sends each call to the next one that is up;
    one instance keeps grpc's default, which reconnects at once when it restarts."""
    if "," in address:
        return grpc.insecure_channel(address, options=[("grpc.lb_policy_name", "round_robin")])
    return grpc.insecure_channel(address)


class UnitClient(ConsumerMixin):
    def __init__(self, unit_id: str, amqp_uri: str, store_uri: str, router_address: str,
                 token: str, prefetch: int = 16, requests_address: str = "127.0.0.1:50053",
                 decide_correction=None):
        self.unit_id = unit_id
        self.connection = Connection(amqp_uri)
        self.store = UnitStore(store_uri)
        self.prefetch = prefetch
        self.metadata = (("authorization", f"Bearer {token}"),)
        self.channel = balanced_channel(router_address)
        self.router = UnitServiceStub(self.channel)
        self.requests = UnitRequestsServiceStub(balanced_channel(requests_address))
        self.decide_correction = decide_correction or correct_when_current_value_matches
        self._stopping = threading.Event()

    # -- consuming ---------------------------------------------------------------

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[messages.unit_queue(self.unit_id)], callbacks=[self.on_delivery],
                         accept=["json"], prefetch_count=self.prefetch)]

    def on_delivery(self, body: dict, message):
        if body.get("kind") == "query" and body.get("unit_id") == self.unit_id:
            self.on_query(body, message)
            return
        if body.get("unit_id") != self.unit_id:
            DELIVERIES_REFUSED.labels(self.unit_id, "wrong_unit").inc()
            log.error("delivery %s is addressed to %s; not stored", body.get("delivery_id"),
                      body.get("unit_id"))
            message.reject()
            return
        content = body.get("records", body.get("cells"))
        if payload_hash(content) != body["content_hash"]:
            DELIVERIES_REFUSED.labels(self.unit_id, "hash_mismatch").inc()
            log.error("delivery %s does not match its content hash; not stored",
                      body["delivery_id"])
            message.reject()
            return
        if not self.store.save(body):
            message.ack()
            return
        message.ack()
        DELIVERIES_STORED.labels(self.unit_id, body["purpose_id"], body["kind"]).inc()
        if body["kind"] == "records":
            RECORDS_STORED.labels(self.unit_id, body["purpose_id"]).inc(body["record_count"])

    def on_query(self, body: dict, message):
        """Answers a family's request with exactly what this unit holds about
        the person: the records under the person's pseudonym in the deliveries
        purpose_router named, without the pseudonym itself. A correction is
        applied to every such record, or refused as a whole with the reasons."""
        started = time.monotonic()
        outcome, refused_because = "", ""
        if body.get("request_kind") == "correction":
            outcome, refused_because = self._correct(body)
        held = []
        for purpose in body["purposes"]:
            for doc, record, statements in self.store.held_about(purpose["delivery_ids"],
                                                                 purpose["pseudonym"]):
                fields = {k: v for k, v in record.items() if k not in ("pseudonym", "slk581")}
                held.append(requests_pb2.HeldRecord(
                    delivery_id=doc["_id"], purpose_id=purpose["purpose_id"],
                    period=doc["period"], fields_json=json.dumps(fields, ensure_ascii=False),
                    statements_json=json.dumps(statements, ensure_ascii=False)))
        try:
            self.requests.AnswerQuery(requests_pb2.AnswerQueryRequest(
                request_id=body["request_id"], records=held, outcome=outcome,
                refusal_reason=refused_because), metadata=self.metadata, timeout=30)
        except grpc.RpcError as exc:
            log.warning("answering request %s later: %s", body["request_id"], exc.code().name)
            time.sleep(1)  # the requests service is down: try again, not in a hot loop
            message.requeue()
            return
        message.ack()
        log.info("answered %s request %s: %d records%s in %.0f ms", body.get("request_kind"),
                 body["request_id"], len(held), f", {outcome}" if outcome else "",
                 (time.monotonic() - started) * 1000)

    def _correct(self, body: dict) -> tuple[str, str]:
        correction = body["correction"]
        held = [(purpose["pseudonym"], doc, record)
                for purpose in body["purposes"]
                for doc, record, _ in self.store.held_about(purpose["delivery_ids"],
                                                            purpose["pseudonym"])]
        refusals = [reason for _, _, record in held
                    for ok, reason in [self.decide_correction(record, correction)] if not ok]
        status = "refused" if refusals else "applied"
        for pseudonym, doc, _ in held:
            self.store.record_correction(body["request_id"], doc["_id"], pseudonym, correction,
                                         status, refusals[0] if refusals else "")
        return status, refusals[0] if refusals else ""

    def run(self, _tokens=1, **kwargs):
        acker = threading.Thread(target=self._acknowledge_loop, daemon=True)
        acker.start()
        try:
            super().run(_tokens, **kwargs)
        finally:
            self._stopping.set()

    def stop(self):
        self.should_stop = True
        self._stopping.set()

    # -- the ledger ----------------------------------------------------------------

    def acknowledge_stored(self) -> int:
        """Acknowledges to the ledger every stored delivery not yet acknowledged."""
        total = 0
        while ids := self.store.unacknowledged():
            self.router.AcknowledgeDeliveries(
                ledger_pb2.AcknowledgeDeliveriesRequest(delivery_ids=ids),
                metadata=self.metadata, timeout=30)
            self.store.mark_acknowledged(ids)
            total += len(ids)
        return total

    def _acknowledge_loop(self):
        while not self._stopping.wait(0.5):
            try:
                self.acknowledge_stored()
            except (grpc.RpcError, pymongo.errors.PyMongoError) as exc:
                log.warning("acknowledging later: %s", exc)

    def record_access(self, delivery_id: str, accessor: str, fields: list[str],
                      reason: str) -> ledger_pb2.LedgerEntry:
        """Records in the provider's ledger that someone used these fields, and why."""
        response = self.router.RecordAccess(ledger_pb2.RecordAccessRequest(
            delivery_id=delivery_id, accessor=accessor, fields=fields, reason=reason),
            metadata=self.metadata, timeout=30)
        return response.entry


def correct_when_current_value_matches(record: dict, correction: dict) -> tuple[bool, str]:
    """The reference unit's rule: correct what the family says is wrong when
    the record says what they say it says; otherwise refuse, saying why. A
    real unit puts a person's decision here."""
    held = record.get(correction["field"])
    if correction["current_value"] and str(held) != correction["current_value"]:
        return False, (f"our record says {held!r}, not {correction['current_value']!r}; "
                       "please check with the provider")
    return True, ""


def main(argv=None):
    parser = argparse.ArgumentParser(description="A reference Agency unit: consume and store")
    parser.add_argument("--unit", required=True)
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--store-uri", required=True)
    parser.add_argument("--router", default="127.0.0.1:50052")
    parser.add_argument("--requests", default="127.0.0.1:50053")
    parser.add_argument("--token-file", required=True)
    parser.add_argument("--metrics-port", type=int, default=0)
    parser.add_argument("--metrics-addr", default="127.0.0.1",
                        help="address /metrics listens on (0.0.0.0 in a container)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s unit %(message)s")
    with open(args.token_file, encoding="utf-8") as fh:
        token = fh.read().strip()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_addr)
    unit = UnitClient(args.unit, args.amqp_uri, args.store_uri, args.router, token,
                      requests_address=args.requests)
    log.info("unit %s consuming %s", args.unit, messages.unit_queue(args.unit).name)
    unit.run()


if __name__ == "__main__":
    main()
