"""The Agency unit's client: consume your own queue, keep what arrives in your
own store, acknowledge it to the ledger, answer families' requests, and record
who used it and what it informed.

    unit = UnitClient("evaluation", amqp_uri, store_uri, router_address, token)
    unit.run()                                   # consume until stopped
    unit.record_access(delivery_id, "analyst j.smith", ["goals_met"], "Q3 evaluation")

A delivery is stored (keyed by its delivery id, so a redelivery changes
nothing) before the broker message is acknowledged, and acknowledged to
purpose_router's ledger from the store, so a crash at any point loses nothing.
Runs in a plain (not eventlet) process: it uses grpcio.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import grpc
import pymongo
from amqp.exceptions import ChannelError
from kombu import Connection
from kombu.mixins import ConsumerMixin
from prometheus_client import Counter

from tiaki.connect import codec, heads, queues  # noqa: F401 (codec: registers the JSON codec)
from tiaki.connect.channel import ClientTls, client_channel
from tiaki.core import merkle
from tiaki.core.errors import Conflict, NotFound
from tiaki.core.ledger import content_hash
from tiaki.core.person import METADATA_KEY
from tiaki.core.records import PSEUDONYM, items_of
from tiaki.core.tree_heads import HeadCheck
from tiaki.insights.v1 import outcomes_pb2
from tiaki.insights.v1.outcomes_pb2_grpc import UnitOutcomesServiceStub
from tiaki.requests.v1 import requests_pb2
from tiaki.requests.v1.requests_pb2_grpc import UnitRequestsServiceStub
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.ledger_pb2_grpc import LedgerServiceStub, UnitServiceStub
from tiaki.unit import review
from tiaki.unit.checks import correct_when_current_value_matches, message_problem, person
from tiaki.unit.store import UnitStore

log = logging.getLogger("tiaki.unit")

DELIVERIES_STORED = Counter("tiaki_unit_deliveries_stored_total", "Deliveries stored",
                            ["unit", "purpose", "kind"])
RECORDS_STORED = Counter("tiaki_unit_records_stored_total", "Records stored", ["unit", "purpose"])
DELIVERIES_REFUSED = Counter("tiaki_unit_deliveries_refused_total",
                             "Deliveries refused (not for this unit, or content hash mismatch)",
                             ["unit", "reason"])
SEND_AGAIN_AFTER = 5.0  # seconds between tries to send approved answers not yet sent


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
                 tls: ClientTls | None = None, heads_file: str = "", answer: str = "auto",
                 person: str = ""):
        self.unit_id = unit_id
        # "auto": answer access queries at once; "review": keep them for a person (approve).
        self.answer_mode = review.answer_mode(answer)
        self._since: float | None = None  # when it began answering so (answering_since)
        self.connection = Connection(amqp_uri)
        self.store = UnitStore(store_uri)
        self.prefetch = prefetch
        # With mutual TLS (tls, or TIAKI_TLS_* set) the certificate names the unit
        # and the token may be empty.
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()
        # The unit's person who acts (a staff id), recorded with its acknowledgements,
        # accesses and answers; empty for a unit acting as a system.
        if person:
            self.metadata += (("tiaki-person", person),)
        self.tls = tls
        self.channel = balanced_channel(router_address, tls)
        self.router = UnitServiceStub(self.channel)
        self.router_address = router_address
        # The last verified signed head of each provider's ledger (check_ledger).
        self.heads = heads.RememberedHeads(
            heads_file or heads.state_dir() / f"unit-{unit_id}-ledger-heads.json")
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
            elif body["kind"] == "supersession" and body["unit_id"] == self.unit_id:
                self.on_supersession(body, message)
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
        if content_hash(content) != body["content_hash"]:
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

    def on_supersession(self, body: dict, message):
        """A replacement of a sealed period was sealed: the deliveries of the
        earlier submission are kept, marked superseded, and no longer given
        in any answer about a person."""
        marked = self.store.supersede(body["delivery_ids"], body["submission_id"])
        message.ack()
        log.info("submission %s replaced %s: %d deliveries marked superseded",
                 body["submission_id"], body["supersedes_submission_id"], marked)

    def on_query(self, body: dict, message):
        """Answers a family's request with exactly what this unit holds about
        the person: the records under the person's pseudonym in the deliveries
        purpose_router named, without the pseudonym itself. A correction is
        applied to every such record, or refused as a whole with the reasons.
        A unit answering after review keeps an access query, with the records
        its answer would give, for a person to approve (approve)."""
        started = time.monotonic()
        if body.get("request_kind") == "access" and self.answer_mode == "review":
            if self.store.hold(body, review.numbered(self._held(body))):
                log.info("request %s waits for review", body["request_id"])
            message.ack()  # kept in the store: a restart loses nothing
            return
        outcome, refused_because = "", ""
        if body.get("request_kind") == "correction":
            outcome, refused_because = self._correct(body)
        held = self._held(body)
        try:
            self._answer(body["request_id"], held, outcome, refused_because)
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

    def _held(self, body: dict) -> list[dict]:
        """The records under the person's pseudonyms in the deliveries the query names."""
        return [{"delivery_id": doc["_id"], "purpose_id": purpose["purpose_id"],
                 "period": doc["period"], "fields": items_of(record), "statements": statements}
                for purpose in body["purposes"]
                for doc, record, statements in self.store.held_about(purpose["delivery_ids"],
                                                                     person(purpose))]

    def _answer(self, request_id: str, held: list[dict], outcome: str = "",
                refused_because: str = "", by: str = ""):
        """Sends the unit's answer to the requests service (`by`: the person
        who approved it, as tiaki-person)."""
        records = [requests_pb2.HeldRecord(
            delivery_id=r["delivery_id"], purpose_id=r["purpose_id"], period=r["period"],
            fields_json=json.dumps(r["fields"], ensure_ascii=False),
            statements_json=json.dumps(r["statements"], ensure_ascii=False),
            withheld=[requests_pb2.WithheldItem(item=w["item"], ground=w["ground"])
                      for w in r.get("withheld", ())]) for r in held]
        metadata = self.metadata + (((METADATA_KEY, by),) if by else ())
        return self.requests.AnswerQuery(requests_pb2.AnswerQueryRequest(
            request_id=request_id, records=records,
            unit_outcome=requests_pb2.UnitOutcome.Value(f"UNIT_OUTCOME_{outcome.upper()}")
            if outcome else requests_pb2.UNIT_OUTCOME_UNSPECIFIED,
            refusal_reason=refused_because, reviewed_by=by), metadata=metadata, timeout=30)

    # -- review ------------------------------------------------------------------------

    def answering_since(self) -> float:
        """When this unit began answering the way it answers now (its store keeps it)."""
        if self._since is None:
            self._since = self.store.answering(self.answer_mode)
        return self._since

    def approve(self, request_id: str, withholdings: list[review.Withholding],
                by: str) -> dict:
        """A person (`by`, their staff id) approves a held query's answer,
        withholding items under stated grounds; the answer is recorded, then
        sent (and sent again by the background loop until the requests
        service has it). The held query as it is now."""
        held = self.store.held(request_id)
        if held is None:
            raise NotFound("request_id", f"no query about request {request_id!r} is held")
        answer = review.approve(held["draft"], withholdings, by, held["state"])
        if not self.store.approved(request_id, answer, by):
            raise Conflict("request_id", f"request {request_id} was approved meanwhile")
        self.send_approved(request_id)
        return self.store.held(request_id)

    def send_approved(self, only: str = "") -> int:
        """Sends every approved answer not yet sent (or only request `only`'s);
        one the requests service cannot take now stays approved for the next try."""
        sent = 0
        for held in self.store.not_sent():
            if held["state"] != review.APPROVED or (only and held["_id"] != only):
                continue
            try:
                self._answer(held["_id"], held["answer"], by=held["approved_by"])
            except grpc.RpcError as exc:
                log.warning("approved answer to %s not sent yet: %s", held["_id"],
                            exc.code().name)
                continue
            self.store.sent(held["_id"])
            sent += 1
            log.info("sent the approved answer to request %s", held["_id"])
        return sent

    def _correct(self, body: dict) -> tuple[str, str]:
        correction = body["correction"]
        held = [(record[PSEUDONYM], doc, record)
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
        send_after = 0.0
        while not self._stopping.wait(0.5):
            try:
                self.acknowledge_stored()
                # Approved answers not sent (the requests service was down) are
                # tried again every few seconds, not at every turn.
                if self.answer_mode == "review" and time.monotonic() >= send_after:
                    send_after = time.monotonic() + SEND_AGAIN_AFTER
                    self.send_approved()
            except (grpc.RpcError, pymongo.errors.PyMongoError) as exc:
                log.warning("acknowledging later: %s", exc)

    def record_access(self, delivery_id: str, accessor: str, fields: list[str],
                      reason: str) -> ledger_pb2.LedgerEntry:
        """Records in the provider's ledger that someone used these fields, and why."""
        response = self.router.RecordAccess(ledger_pb2.RecordAccessRequest(
            delivery_id=delivery_id, accessor=accessor, fields=fields, reason=reason),
            metadata=self.metadata, timeout=30)
        return response.entry

    def check_ledger(self, provider_id: str,
                     entries: list[ledger_pb2.LedgerEntry] = ()) -> HeadCheck:
        """Checks the provider's signed tree head against the last one this
        unit verified (remembered in its heads file; the key is pinned the first
        time), and that each of `entries` (the unit's own, e.g. from
        record_access) is in it. The problem, if any, is in the result's
        `problem` (and logged); the head is remembered when it is signed with
        the pinned key and consistent with the one before."""
        stub = LedgerServiceStub(self.channel)
        served = heads.fetch(stub, self.metadata, provider_id)
        result = heads.check(stub, self.metadata, self.heads, self.router_address, served,
                             provider_id=provider_id)
        head = served.head
        for entry in [] if result.problem else entries:
            if not self._included(stub, provider_id, head, entry):
                result = HeadCheck(f"entry {entry.sequence} ({entry.entry_hash}) is not in "
                                   f"{provider_id}'s signed tree of {head.tree_size} entries")
                break
        for note in result.notes:
            log.info("ledger of %s: %s", provider_id, note)
        if result.problem:
            log.warning("ledger of %s: %s", provider_id, result.problem)
        return result

    def _included(self, stub, provider_id: str, head, entry: ledger_pb2.LedgerEntry) -> bool:
        if not 1 <= entry.sequence <= head.tree_size:
            return False
        proof = stub.GetInclusionProof(ledger_pb2.GetInclusionProofRequest(
            provider_id=provider_id, sequence=entry.sequence, tree_size=head.tree_size),
            metadata=self.metadata, timeout=30)
        return merkle.verify_inclusion(merkle.leaf_hash(entry.entry_hash), entry.sequence - 1,
                                       head.tree_size, list(proof.hashes),
                                       bytes.fromhex(head.root_hash))

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
        """Publishes a draft finding once each provider's window closed (or it said
        the finding may go early) and every correction of fact has a response."""
        return self._insights().PublishFinding(outcomes_pb2.PublishFindingRequest(
            outcome_id=outcome_id), metadata=self.metadata, timeout=30).outcome

    def respond_to_correction(self, outcome_id: str, provider_id: str, response_number: int,
                              accept: bool, reason: str = "", revised_summary: str = "",
                              revised_title: str = ""):
        """Accepts a provider's correction of fact (with the summary as revised)
        or declines it (with reasons, shown beside it): needed before publishing."""
        return self._insights().RespondToCorrection(outcomes_pb2.RespondToCorrectionRequest(
            outcome_id=outcome_id, provider_id=provider_id, response_number=response_number,
            accept=accept, reason=reason, revised_summary=revised_summary,
            revised_title=revised_title), metadata=self.metadata, timeout=30).outcome
