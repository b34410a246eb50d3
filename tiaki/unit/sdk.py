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
import os
import threading
import time
import zlib

import grpc
import pymongo
from amqp.exceptions import ChannelError
from bson import Binary
from kombu import Connection
from kombu.mixins import ConsumerMixin
from prometheus_client import Counter, start_http_server

from tiaki.connect import queues
from tiaki.connect.channel import ClientTls, client_channel
from tiaki.core.messages import is_text
from tiaki.insights.v1 import outcomes_pb2
from tiaki.insights.v1.outcomes_pb2_grpc import UnitOutcomesServiceStub
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


RECORD_BUCKETS = 64


def record_bucket(pseudonym: str) -> str:
    return f"{zlib.crc32(pseudonym.encode()) % RECORD_BUCKETS:02d}"


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
        # A delivery's records, in RECORD_BUCKETS documents by pseudonym: a
        # family's request reads one small document per delivery.
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
                buckets.setdefault(record_bucket(record["pseudonym"]), []).append(record)
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

    def _save_buckets(self, docs: list[dict]):
        if not docs:
            return
        try:
            self.buckets.insert_many(docs, ordered=False)
        except pymongo.errors.BulkWriteError as exc:  # already there from a crashed save
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise

    def content(self, delivery_id: str):
        """Everything a delivery carried: its records (in bucket order) or cells."""
        doc = self.deliveries.find_one({"_id": delivery_id})
        if doc is None:
            return None
        if "content" in doc:  # cells; or records stored before they were in buckets
            return _unpack(doc["content"])
        if "buckets" in doc:  # stored before buckets were documents of their own
            return [row for key in sorted(doc["buckets"]) for row in _unpack(doc["buckets"][key])]
        ids = [f"{delivery_id}:{b:02d}" for b in range(RECORD_BUCKETS)]
        return [row for b in sorted(self.buckets.find({"_id": {"$in": ids}}), key=lambda b: b["_id"])
                for row in _unpack(b["rows"])]

    def held_about(self, delivery_ids: list[str],
                   pseudonyms: str | list[str]) -> list[tuple[dict, dict, list]]:
        """(delivery, record, statements) for every record under these
        pseudonyms (one person's, one per key generation) in these deliveries,
        with applied corrections in the record and the statements of
        correction sought from refused ones beside it."""
        wanted = [pseudonyms] if isinstance(pseudonyms, str) else list(pseudonyms)
        ids = [f"{d}:{record_bucket(p)}" for d in delivery_ids for p in wanted]
        parts: dict[str, list[dict]] = {}
        for b in self.buckets.find({"_id": {"$in": ids}}):
            parts.setdefault(b["delivery_id"], []).append(b)
        # Deliveries stored before buckets were documents keep their records
        # inside: in 16 buckets by first hex digit, or earlier all in `content`.
        older = [d for d in delivery_ids if d not in parts]
        for doc in self.deliveries.find({"_id": {"$in": older}, "kind": "records"},
                                        {"period": 1, "buckets": 1, "content": 1}) if older else ():
            inside = doc.get("buckets") or {}
            packs = ([doc["content"]] if "content" in doc else
                     [inside[key] for key in sorted({p[:1] for p in wanted}) if key in inside])
            parts[doc["_id"]] = [{"period": doc["period"], "rows": packed} for packed in packs]
        corrections = list(self.corrections.find({"pseudonym": {"$in": wanted}})
                           .sort("recorded_at", 1))
        out = []
        for delivery_id in delivery_ids:
            for part in parts.get(delivery_id, ()):
                delivery = {"_id": delivery_id, "period": part["period"]}
                for record in _unpack(part["rows"]):
                    if record.get("pseudonym") not in wanted:
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


def balanced_channel(address: str, tls: ClientTls | None = None) -> grpc.Channel:
    """A channel to a service. An address naming several instances
    ("ipv4:host:port,host:port") sends each call to the next one that is up;
    one instance keeps grpc's default, which reconnects at once when it restarts."""
    several = [("grpc.lb_policy_name", "round_robin")] if "," in address else None
    return client_channel(address, tls, options=several)


class UnitClient(ConsumerMixin):
    def __init__(self, unit_id: str, amqp_uri: str, store_uri: str, router_address: str,
                 token: str, prefetch: int = 16, requests_address: str = "127.0.0.1:50053",
                 decide_correction=None, declare_queue: bool = True,
                 tls: ClientTls | None = None):
        self.unit_id = unit_id
        self.connection = Connection(amqp_uri)
        self.store = UnitStore(store_uri)
        self.prefetch = prefetch
        # With mutual TLS (tls, or TIAKI_TLS_* set) the certificate names the unit
        # and the token may be empty.
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.tls = tls
        self.channel = balanced_channel(router_address, tls)
        self.router = UnitServiceStub(self.channel)
        self.requests = UnitRequestsServiceStub(balanced_channel(requests_address, tls))
        self.decide_correction = decide_correction or correct_when_current_value_matches
        self._stopping = threading.Event()
        # False for a broker user that may only read its queue (tiaki broker-users):
        # the services declare and bind it; the unit waits for it and consumes.
        self.declare_queue = declare_queue

    # -- consuming ---------------------------------------------------------------

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[queues.unit_queue(self.unit_id)], callbacks=[self.on_message],
                         accept=["json"], prefetch_count=self.prefetch,
                         auto_declare=self.declare_queue)]

    def wait_for_queue(self, every: float = 1.0) -> None:
        """Until the unit's queue exists: a passive declare needs no permission."""
        name = queues.unit_queue(self.unit_id).name
        while not self._stopping.is_set():
            try:
                with self.connection.clone() as conn:
                    conn.default_channel.queue_declare(queue=name, passive=True)
                return
            except ChannelError:
                log.info("waiting for queue %s (the services declare it with the plan)", name)
                self._stopping.wait(every)

    def on_message(self, body, message):
        """Stores a delivery or answers a query; parks (dead-letters) a message
        that is not one, and returns one whose handling failed in a way that
        may pass after a pause (the queue's delivery limit bounds the tries)."""
        queue = queues.unit_queue(self.unit_id).name
        try:
            problem = message_problem(body)
            if problem:
                raise queues.Poison(problem)
            if body["kind"] == "query" and body["unit_id"] == self.unit_id:
                self.on_query(body, message)
            else:
                self.on_delivery(body, message)
        except Exception as exc:
            if message.acknowledged:
                raise
            if queues.is_poison(exc):
                DELIVERIES_REFUSED.labels(self.unit_id, "malformed").inc()
                queues.PARKED.labels(queue, "cannot_handle").inc()
                log.error("parked a message in %s: %s: %s", queues.dlq_name(queue),
                          type(exc).__name__, str(exc)[:300])
                message.reject(requeue=False)
                return
            delay = queues.retry_delay(message.headers,
                                            message.delivery_info.get("redelivered", False))
            log.warning("handling a message failed (%s: %s); returning it in %.0f s",
                        type(exc).__name__, str(exc)[:200], delay)
            time.sleep(delay)
            message.requeue()

    def on_decode_error(self, message, exc):
        queue = queues.unit_queue(self.unit_id).name
        DELIVERIES_REFUSED.labels(self.unit_id, "malformed").inc()
        queues.PARKED.labels(queue, "undecodable").inc()
        log.error("parked an undecodable message (%s, %d bytes) in %s: %s", message.content_type,
                  len(message.body or b""), queues.dlq_name(queue), str(exc)[:200])
        message.reject(requeue=False)

    def on_delivery(self, body: dict, message):
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
                                                                 person(purpose)):
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
            delay = queues.retry_delay(message.headers,
                                            message.delivery_info.get("redelivered", False))
            log.warning("answering request %s in %.0f s: %s", body["request_id"], delay,
                        exc.code().name)
            time.sleep(delay)  # the requests service is down: try again, not in a hot loop
            message.requeue()
            return
        message.ack()
        log.info("answered %s request %s: %d records%s in %.0f ms", body.get("request_kind"),
                 body["request_id"], len(held), f", {outcome}" if outcome else "",
                 (time.monotonic() - started) * 1000)

    def _correct(self, body: dict) -> tuple[str, str]:
        correction = body["correction"]
        held = [(record["pseudonym"], doc, record)
                for purpose in body["purposes"]
                for doc, record, _ in self.store.held_about(purpose["delivery_ids"],
                                                            person(purpose))]
        refusals = [reason for _, _, record in held
                    for ok, reason in [self.decide_correction(record, correction)] if not ok]
        status = "refused" if refusals else "applied"
        for pseudonym, doc, _ in held:
            self.store.record_correction(body["request_id"], doc["_id"], pseudonym, correction,
                                         status, refusals[0] if refusals else "")
        return status, refusals[0] if refusals else ""

    def run(self, _tokens=1, **kwargs):
        if not self.declare_queue:  # a least-privilege unit user: the services declare it
            self.wait_for_queue()
        else:
            with self.connection.clone() as conn:  # kombu would retry a refused declaration forever
                queues.declare(conn, queues.unit_queue(self.unit_id))
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

    # -- outcomes of use (insights) -------------------------------------------------

    insights_address = "127.0.0.1:50054"  # set on the client before the first call to change

    def _insights(self):
        if getattr(self, "_insights_stub", None) is None:
            self._insights_stub = UnitOutcomesServiceStub(
                client_channel(self.insights_address, self.tls))
        return self._insights_stub

    def record_outcome(self, kind: str, title: str, summary: str, date: str, audience: str,
                       delivery_ids=(), submission_ids=(), measure_ids=(),
                       outcome_ref: str = ""):
        """Tells the providers whose data informed it what it informed: kind is
        decision, advice, report, evaluation_finding or policy_or_service_change;
        cite deliveries (or submissions) this unit received. Give your own
        outcome_ref and a retry never records it twice. An evaluation finding
        names agreed measures and starts as a draft for the providers' reply."""
        response = self._insights().RecordOutcome(outcomes_pb2.RecordOutcomeRequest(
            kind=outcomes_pb2.OutcomeKind.Value(f"OUTCOME_KIND_{kind.upper()}"), title=title,
            summary=summary, date=date, audience=audience, delivery_ids=list(delivery_ids),
            submission_ids=list(submission_ids), measure_ids=list(measure_ids),
            outcome_ref=outcome_ref), metadata=self.metadata, timeout=30)
        return response.outcome

    def publish_finding(self, outcome_id: str):
        """Publishes a draft finding once every provider replied or its window closed."""
        return self._insights().PublishFinding(outcomes_pb2.PublishFindingRequest(
            outcome_id=outcome_id), metadata=self.metadata, timeout=30).outcome


def person(purpose: dict) -> list[str]:
    """A query's pseudonyms for the person under one purpose: one per key
    generation (`pseudonyms`), or the one a service from before key rotation sent."""
    return list(purpose.get("pseudonyms") or [purpose["pseudonym"]])


DELIVERY_TEXT = ("delivery_id", "provider_id", "programme_id", "submission_id", "period",
                 "purpose_id", "unit_id", "content_hash")
CORRECTION_TEXT = ("field", "current_value", "corrected_value", "reason")


def message_problem(body) -> str | None:
    """Why `body` is not a delivery or a query this SDK can keep or answer
    (None when it is one); checked before anything is stored, so a malformed
    message leaves nothing half-written."""
    if not isinstance(body, dict):
        return f"a message is a JSON object, not {type(body).__name__}"
    kind = body.get("kind")
    if kind == "query":
        if not is_text(body.get("request_id")) or not is_text(body.get("unit_id")):
            return "a query needs request_id and unit_id"
        if body.get("request_kind") not in ("access", "correction"):
            return f"unknown request_kind {str(body.get('request_kind'))[:40]!r}"
        purposes = body.get("purposes")
        if not isinstance(purposes, list) or not all(
                isinstance(p, dict) and is_text(p.get("purpose_id")) and is_text(p.get("pseudonym"))
                and isinstance(p.get("delivery_ids"), list)
                and all(is_text(d) for d in p["delivery_ids"]) for p in purposes):
            return "purposes must be [{purpose_id, pseudonym, delivery_ids: [text]}]"
        correction = body.get("correction")
        if body["request_kind"] == "correction" and not (
                isinstance(correction, dict)
                and all(is_text(correction.get(k), k == "current_value") for k in CORRECTION_TEXT)):
            return f"a correction query needs correction {{{', '.join(CORRECTION_TEXT)}}}"
        return None
    if kind not in ("records", "aggregate"):
        return f"unknown kind {str(kind)[:40]!r}"
    missing = [name for name in DELIVERY_TEXT if not is_text(body.get(name))]
    if missing:
        return f"a delivery needs text in {', '.join(missing)}"
    fields = body.get("fields")
    if not isinstance(fields, list) or not all(is_text(f) for f in fields):
        return "fields must be a list of field names"
    count = body.get("record_count")
    if type(count) is not int or not 0 <= count < 2 ** 63:
        return "record_count must be a whole number"
    if kind == "records":
        records = body.get("records")
        if not isinstance(records, list) or not all(
                isinstance(r, dict) and is_text(r.get("pseudonym")) for r in records):
            return "records must be a list of records, each with a pseudonym"
    elif not isinstance(body.get("cells"), list):
        return "cells must be a list"
    return None


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
    parser.add_argument("--token-file", help="the unit's API token (not needed with --tls-*)")
    parser.add_argument("--tls-ca", default=os.environ.get("TIAKI_TLS_CA", ""),
                        help="mutual TLS: the CA of the servers' certificates (or TIAKI_TLS_CA)")
    parser.add_argument("--tls-cert", default=os.environ.get("TIAKI_TLS_CERT", ""),
                        help="mutual TLS: this unit's client certificate (or TIAKI_TLS_CERT)")
    parser.add_argument("--tls-key", default=os.environ.get("TIAKI_TLS_KEY", ""),
                        help="mutual TLS: its key (or TIAKI_TLS_KEY)")
    parser.add_argument("--metrics-port", type=int, default=0)
    parser.add_argument("--passive-queue", action="store_true",
                        help="do not declare the queue (a broker user that may only read it)")
    parser.add_argument("--metrics-addr", default="127.0.0.1",
                        help="address /metrics listens on (0.0.0.0 in a container)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s unit %(message)s")
    tls = ClientTls.from_env({"TIAKI_TLS_CA": args.tls_ca, "TIAKI_TLS_CERT": args.tls_cert,
                              "TIAKI_TLS_KEY": args.tls_key})
    if not args.token_file and tls is None:
        parser.error("give --token-file, or --tls-ca, --tls-cert and --tls-key")
    token = ""
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as fh:
            token = fh.read().strip()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_addr)
    unit = UnitClient(args.unit, args.amqp_uri, args.store_uri, args.router, token,
                      requests_address=args.requests, declare_queue=not args.passive_queue,
                      tls=tls)
    log.info("unit %s consuming %s", args.unit, queues.unit_queue(args.unit).name)
    unit.run()


if __name__ == "__main__":
    main()
