"""purpose_router's routing and ledger entrypoints: PlanService,
LedgerService, UnitService, the routing event handlers and the RPCs other
services ask (plans, who holds what, accesses, deliveries received).

A unit-level purpose gets a projection built from its allow-list, in batches,
on the unit's own queue; an aggregate purpose gets protected counts when the
submission is sealed. Every delivery, acknowledgement and access is a link in
the provider's hash chain."""

from __future__ import annotations

import logging
import uuid

import eventlet
from nameko_grpc.entrypoint import Grpc
from prometheus_client import Counter

from services.purpose_router.codesign import CodesignStorage
from services.purpose_router.plans import PlanRepository
from services.purpose_router.routing import domain, signing
from services.purpose_router.routing.ledger import Ledger
from services.purpose_router.routing.storage import HOLDING_LAYOUTS, RoutingStorage
from tiaki.core import messages, tree_heads
from tiaki.core.errors import Invalid, NotFound, NotNow
from tiaki.core.ledger import GENESIS, verify_chain
from tiaki.core.plan import Plan, PlanInvalid
from tiaki.plumbing import broker, pacing, plan_proto
from tiaki.plumbing.dead_letter import Poison, event_handler, rpc
from tiaki.plumbing.identity import Identities
from tiaki.plumbing.store import Storage
from tiaki.router.v1 import ledger_pb2, plan_pb2
from tiaki.router.v1.ledger_pb2_grpc import LedgerServiceStub, UnitServiceStub
from tiaki.router.v1.plan_pb2_grpc import PlanServiceStub

log = logging.getLogger(__name__)
plan_grpc = Grpc.implementing(PlanServiceStub)
ledger_grpc = Grpc.implementing(LedgerServiceStub)
unit_grpc = Grpc.implementing(UnitServiceStub)

RECORDS_ROUTED = Counter("tiaki_router_records_routed_total",
                         "Records delivered to a unit", ["programme", "purpose", "unit"])
DELIVERIES = Counter("tiaki_router_deliveries_total", "Deliveries published to unit queues",
                     ["programme", "purpose", "unit", "kind"])

MAX_ACKNOWLEDGED = 1000  # delivery ids in one AcknowledgeDeliveries call (the SDK sends 500)

ENTRY_KINDS = {"delivery": ledger_pb2.ENTRY_KIND_DELIVERY,
               "acknowledgement": ledger_pb2.ENTRY_KIND_ACKNOWLEDGEMENT,
               "access": ledger_pb2.ENTRY_KIND_ACCESS,
               "supersession": ledger_pb2.ENTRY_KIND_SUPERSESSION}


class RoutingEntrypoints:
    """Routing, the ledger and plan versions, over the plan repository, the
    agreements' terms (from co-design), routing's storage and the ledger."""

    plans = Storage(PlanRepository)
    codesign_store = Storage(CodesignStorage)
    storage = Storage(RoutingStorage, sealed=True)
    ledger = Storage(Ledger)
    signer = Storage(signing.LedgerSigner, sealed=True)
    identities = Identities()
    unit_queues = broker.UnitQueues()
    calls_first = pacing.CallsFirst()  # other services' calls (holders, plans) before batches

    # -- plans ------------------------------------------------------------------

    @rpc
    def get_plan(self, programme_id: str, version: int) -> dict | None:
        plan = self.plans.plan(programme_id, version)
        return plan.to_dict() if plan else None

    @rpc
    def holders(self, provider_id: str, programme_id: str, pseudonyms: dict) -> list[dict]:
        """The units holding records about one person, from their per-purpose
        pseudonyms, {purpose_id: [one per key generation]}: [{unit_id,
        purpose_id, delivery_ids}], never anyone else. Each purpose is tried as
        the anchor its batches were indexed under, with every pseudonym."""
        found: dict[tuple[str, str], set[str]] = {}
        # All looked up at once: each waits its turn at the store while records stream.
        lookups = eventlet.GreenPile()
        for purpose_id, per_generation in sorted(pseudonyms.items()):
            for pseudonym in per_generation:
                for buckets in HOLDING_LAYOUTS:
                    lookups.spawn(self.storage.holdings, provider_id, programme_id, purpose_id,
                                  pseudonym, buckets)
        for held in lookups:
            for delivery_id, unit_id, held_for in held:
                found.setdefault((unit_id, held_for), set()).add(delivery_id)
        # Only what is current: a delivery a sealed replacement superseded is not held for answers.
        gone = self.ledger.superseded(sorted({d for ids in found.values() for d in ids}))
        return [{"unit_id": unit, "purpose_id": purpose, "delivery_ids": sorted(ids - gone)}
                for (unit, purpose), ids in sorted(found.items()) if ids - gone]

    @rpc
    def accesses(self, delivery_ids: list[str]) -> list[dict]:
        """Who used these deliveries, and why (the ledger's access entries)."""
        return [{k: e[k] for k in ("delivery_id", "accessor", "fields", "reason", "recorded_at")}
                for e in self.ledger.accesses(delivery_ids)]

    @rpc
    def provenance(self, delivery_ids: list[str]) -> list[dict]:
        """What the ledger recorded of these deliveries: who got them, which
        items, and the period, plan, agreement and notice versions and IPP 3A
        basis they were collected and routed under. What a family is told
        about its information is made from this, never from today's plan."""
        return [{k: e[k] for k in domain.DELIVERY_FIELDS if k != "content_hash"}
                for e in self.ledger.deliveries(sorted(set(delivery_ids)))]

    @rpc
    def deliveries_received(self, unit_id: str, delivery_ids: list[str],
                            submission_ids: list[str]) -> list[dict]:
        """Which of these deliveries (or deliveries of these submissions) the
        unit actually received, from the ledger: what insights lets it cite."""
        return [{k: e[k] for k in ("delivery_id", "provider_id", "programme_id",
                                   "submission_id", "purpose_id", "unit_id", "period")}
                for e in self.ledger.deliveries_to_unit(unit_id, delivery_ids, submission_ids)]

    @plan_grpc
    def CreatePlan(self, request, context):
        agency = self.identities.require(context, "agency")
        programme_id = request.plan.programme_id
        if programme_id and self.plans.codesigned(programme_id):
            # A version made here would carry no agreements, so every item a
            # provider declined would be collected again.
            raise NotNow("plan.programme_id", f"{programme_id} is co-designed; its next "
                         "version is made through co-design (OpenDraft, PublishDraft): "
                         "use co-design")
        try:
            plan = self.plans.create(plan_proto.from_proto(request.plan), agency.id)
        except PlanInvalid as exc:
            raise Invalid("", f"the plan cannot be used: {exc}") from None
        for unit in plan.units:
            self.unit_queues.declare(unit.unit_id)
        return plan_pb2.CreatePlanResponse(plan=plan_proto.to_proto(plan.to_dict()))

    @plan_grpc
    def GetPlan(self, request, context):
        self.identities.require(context, "provider", "unit", "agency")
        plan = self.plans.plan(request.programme_id, request.version)
        if plan is None:
            raise NotFound("", f"no plan for {request.programme_id!r} version {request.version}")
        return plan_pb2.GetPlanResponse(plan=plan_proto.to_proto(plan.to_dict()))

    # -- routing --------------------------------------------------------------------

    @event_handler(messages.INTAKE, messages.RECORDS_ACCEPTED, bulk=True)
    def route_batch(self, batch: dict):
        """Delivers one accepted batch to every purpose. Safe to repeat: a
        redelivered batch is delivered again under the same delivery id (units
        store by it) and its ledger entries are found, not appended twice."""
        problem = domain.batch_problem(batch)
        plan = self.plans.plan(batch["programme_id"], batch["plan_version"]) if not problem else None
        if plan is None:
            raise Poison(problem or f"no plan {batch['programme_id']!r} version "
                                    f"{batch['plan_version']}")
        # The items of the agreement the submission was opened under, for its batches and its seal alike.
        plan = self._as_agreed(plan, batch)
        records = batch["records"]
        unit_purposes = [p for p in plan.purposes if p.form != "aggregate"]
        if problem := domain.pseudonyms_problem(unit_purposes, records):
            raise Poison(problem)
        # Everything is worked out before anything is written or sent, so a
        # batch that cannot be routed leaves nothing behind (and is parked).
        holdings = domain.batch_holdings(batch["batch_id"], unit_purposes, records)
        partials, deliveries = {}, []
        for purpose in plan.purposes:
            pacing.give_way()  # a call waits for one purpose's work, not the batch's (pacing.py)
            if purpose.form == "aggregate":
                partials[purpose.purpose_id] = domain.partial_aggregate(purpose, records)
                continue
            payload = domain.project(plan, purpose, records)
            deliveries.append((plan, purpose, domain.delivery_body(
                batch, plan, purpose, f"{batch['batch_id']}:{purpose.purpose_id}",
                kind="records", content=payload, record_count=len(payload),
                said=self._notice_said(batch))))
        if problem := domain.partials_problem(partials):
            raise Poison(problem)
        self.storage.save_holdings(batch["batch_id"], batch["provider_id"], plan.programme_id,
                                   holdings)
        for purpose_id, cells in partials.items():
            self.storage.save_partial(batch["batch_id"], batch["submission_id"], purpose_id, cells)
        for delivery in deliveries:
            pacing.give_way()
            self._deliver(*delivery)
        self._complete_aggregates(batch["submission_id"], plan)

    @event_handler(messages.INTAKE, messages.SUBMISSION_SEALED)
    def seal_submission(self, seal: dict):
        problem = domain.seal_problem(seal)
        plan = self.plans.plan(seal["programme_id"], seal["plan_version"]) if not problem else None
        if plan is None:
            raise Poison(problem or f"no plan {seal['programme_id']!r} version "
                                    f"{seal['plan_version']}")
        self.storage.save_seal(seal)
        self._complete_aggregates(seal["submission_id"], self._as_agreed(plan, seal))
        if seal.get("replaces_submission_id"):
            self._supersede(seal)

    def _supersede(self, seal: dict):
        """A sealed replacement supersedes every delivery of the submission it
        replaces: the ledger records each, and each unit is told which of its
        deliveries are no longer current. Safe to repeat."""
        by_unit: dict[str, list[str]] = {}
        for entry in self.ledger.entries(seal["provider_id"], seal["replaces_submission_id"]):
            if entry["kind"] != "delivery":
                continue
            self.ledger.append(f"supersession:{entry['delivery_id']}",
                               domain.supersession_entry(entry, seal["submission_id"]))
            by_unit.setdefault(entry["unit_id"], []).append(entry["delivery_id"])
        for unit_id, delivery_ids in sorted(by_unit.items()):
            self.unit_queues.deliver(unit_id, domain.supersession_body(seal, unit_id,
                                                                       delivery_ids))

    def _as_agreed(self, plan: Plan, event: dict) -> Plan:
        """The plan as it applies to the event's submission: on an agreed plan,
        without the items the agreement it was opened under does not accept.
        Raises LookupError when that agreement cannot be found, so the message
        is requeued rather than routed to nobody."""
        if not self.plans.is_agreed(plan.programme_id, plan.version):
            return plan
        return self.codesign_store.terms(plan, event["provider_id"],
                                         event.get("agreement_version") or 0).plan

    def _notice_said(self, event: dict) -> dict | None:
        """What the families' notice the event's submission opened under tells
        families (None for an event from before notices were versioned)."""
        found = self.codesign_store.notice(event["provider_id"], event["programme_id"],
                                           event.get("notice_version") or 0)
        return found["said"] if found else None

    def _complete_aggregates(self, submission_id: str, plan: Plan):
        """Sends aggregates once the submission is sealed and every batch is in."""
        seal = self.storage.seal(submission_id)
        if seal is None:
            return
        seed = self.storage.secret("rounding-seed")
        for purpose in plan.purposes:
            if purpose.form != "aggregate":
                continue
            partials = self.storage.partials(submission_id, purpose.purpose_id)
            if set(seal["batch_ids"]) - set(partials):
                return  # a batch is still on its way; its own handling comes back here
            cells = domain.add_partials([partials[b] for b in seal["batch_ids"]])
            protected = domain.protect(purpose, cells, seed)
            total = sum(count for count, _ in cells.values())
            self._deliver(plan, purpose, domain.delivery_body(
                seal, plan, purpose, f"{submission_id}:{purpose.purpose_id}",
                kind="aggregate", content=protected, record_count=total))

    def _deliver(self, plan, purpose, body):
        self.unit_queues.deliver(purpose.unit_id, body)
        self.ledger.append(f"delivery:{body['delivery_id']}", domain.delivery_entry(body))
        if body["basis"] == "agency_notice":
            # No notice of the provider's named this unit: the Agency's own is owed.
            self.codesign_store.record_agency_notice(body)
        DELIVERIES.labels(plan.programme_id, purpose.purpose_id, purpose.unit_id,
                          body["kind"]).inc()
        if body["kind"] == "records":
            RECORDS_ROUTED.labels(plan.programme_id, purpose.purpose_id,
                                  purpose.unit_id).inc(body["record_count"])

    # -- units ----------------------------------------------------------------------

    @unit_grpc
    def AcknowledgeDeliveries(self, request, context):
        unit = self.identities.require(context, "unit")
        if len(request.delivery_ids) > MAX_ACKNOWLEDGED:
            raise Invalid("", f"acknowledge at most {MAX_ACKNOWLEDGED} deliveries in one call, "
                              f"not {len(request.delivery_ids)}")
        # All found before any is acknowledged: one unknown id refuses the call whole.
        deliveries = [self._unit_delivery(unit, delivery_id)
                      for delivery_id in dict.fromkeys(request.delivery_ids)]
        for delivery in deliveries:
            pacing.give_way()  # units' acknowledgements are bulk work too: calls first (pacing.py)
            self.ledger.append(f"ack:{delivery['delivery_id']}",
                               domain.acknowledgement_entry(delivery, unit.person))
        return ledger_pb2.AcknowledgeDeliveriesResponse(
            acknowledged_count=len(request.delivery_ids))

    @unit_grpc
    def RecordAccess(self, request, context):
        unit = self.identities.require(context, "unit")
        delivery = self._unit_delivery(unit, request.delivery_id)
        entry = self.ledger.append(f"access:{uuid.uuid4()}", domain.access_entry(
            delivery, list(request.fields), request.accessor, request.reason, unit.person))
        return ledger_pb2.RecordAccessResponse(entry=entry_message(entry))

    def _unit_delivery(self, unit, delivery_id: str) -> dict:
        delivery = self.ledger.delivery(delivery_id)
        if delivery is None or delivery["unit_id"] != unit.id:
            raise NotFound("", f"no delivery {delivery_id!r} to unit {unit.id}")
        return delivery

    # -- providers ------------------------------------------------------------------

    @ledger_grpc
    def ListFlows(self, request, context):
        provider = self.identities.require(context, "provider")
        if request.page_size < 0:
            raise Invalid("", f"page_size must be 0 (the default) or more, got {request.page_size}")
        size = min(request.page_size or 500, 1000)
        try:
            after = int(request.page_token or 0)
            if not 0 <= after < 2 ** 63:
                raise ValueError(after)
        except ValueError:
            raise Invalid("", "page_token is not one we gave out") from None
        entries = self.ledger.entries(provider.id, request.submission_id, after, size + 1)
        response = ledger_pb2.ListFlowsResponse(
            entries=[entry_message(e) for e in entries[:size]])
        if len(entries) > size:
            response.next_page_token = str(entries[size - 1]["sequence"])
        return response

    @ledger_grpc
    def VerifyLedger(self, request, context):
        provider = self.identities.require(context, "provider")
        if request.kept_sequence < 0 or (request.kept_sequence and len(request.kept_hash) != 64):
            raise Invalid("", "a kept head is a sequence from 1 and its 64-character entry_hash")
        entries = self.ledger.entries(provider.id)
        verdict = verify_chain(entries, (request.kept_sequence, request.kept_hash.lower()))
        return ledger_pb2.VerifyLedgerResponse(
            intact=verdict.intact, entry_count=len(entries),
            head_hash=entries[-1]["entry_hash"] if entries else GENESIS,
            first_broken_sequence=verdict.first_broken, problem=verdict.problem)

    @ledger_grpc
    def GetChainHead(self, request, context):
        provider = self.identities.require(context, "provider")
        head = self.ledger.head(provider.id)
        response = ledger_pb2.GetChainHeadResponse(sequence=0, entry_hash=GENESIS)
        if head is not None:
            response.sequence, response.entry_hash = head["sequence"], head["entry_hash"]
            response.recorded_at.FromJsonString(head["recorded_at"].replace("+00:00", "Z"))
        return response

    # -- signed tree heads and proofs (docs/ledger.md) ------------------------------

    def _tree_entries(self, context, provider_id: str) -> tuple[str, list[dict]]:
        """The provider's entries for a tree RPC: a provider's own; a unit's
        only of a provider that has delivered to it."""
        caller = self.identities.require(context, "provider", "unit")
        if caller.kind == "provider":
            if provider_id not in ("", caller.id):
                raise NotFound("provider_id", f"no ledger of {provider_id!r} for {caller.id}")
            return caller.id, self.ledger.entries(caller.id)
        entries = self.ledger.entries(provider_id) if provider_id else []
        if not any(e["unit_id"] == caller.id and e["kind"] == "delivery" for e in entries):
            raise NotFound("provider_id", f"no deliveries from {provider_id!r} to unit {caller.id}")
        return provider_id, entries

    @ledger_grpc
    def GetSignedTreeHead(self, request, context):
        provider_id, entries = self._tree_entries(context, request.provider_id)
        head = self.signer.signed_head(provider_id, entries)
        return ledger_pb2.GetSignedTreeHeadResponse(head=ledger_pb2.SignedTreeHead(
            provider_id=head.provider_id, tree_size=head.tree_size, root_hash=head.root_hash,
            timestamp=head.timestamp, signature=bytes.fromhex(head.signature)))

    @ledger_grpc
    def GetInclusionProof(self, request, context):
        _, entries = self._tree_entries(context, request.provider_id)
        proof = signing.inclusion_proof(entries, request.sequence, request.tree_size)
        return ledger_pb2.GetInclusionProofResponse(
            hashes=proof, entry_hash=entries[request.sequence - 1]["entry_hash"])

    @ledger_grpc
    def GetConsistencyProof(self, request, context):
        _, entries = self._tree_entries(context, request.provider_id)
        return ledger_pb2.GetConsistencyProofResponse(hashes=signing.consistency_proof(
            entries, request.first_size, request.second_size))

    @ledger_grpc
    def GetLedgerKey(self, request, context):
        self.identities.require(context, "provider", "unit", "agency")
        public = self.signer.public_key()
        return ledger_pb2.GetLedgerKeyResponse(public_key=public,
                                               fingerprint=tree_heads.fingerprint(public))


def entry_message(entry: dict) -> ledger_pb2.LedgerEntry:
    msg = ledger_pb2.LedgerEntry(
        sequence=entry["sequence"], kind=ENTRY_KINDS[entry["kind"]],
        **{k: entry[k] for k in ("delivery_id", "provider_id", "programme_id", "submission_id",
                                 "purpose_id", "unit_id", "fields", "record_count",
                                 "content_hash", "accessor", "reason", "period",
                                 "plan_version", "agreement_version", "notice_version",
                                 "basis", "previous_hash", "entry_hash")})
    msg.recorded_at.FromJsonString(entry["recorded_at"].replace("+00:00", "Z"))
    msg.person = entry.get("person", "")
    return msg
