"""Intake's pseudonym-key rotation, for the Agency (`tiaki keys rotate`).

Rotation starts a programme's next key generation: batches accepted from then
on carry pseudonyms under the new keys, while `pseudonyms` still gives a
person's pseudonym under every generation, so an access or correction request
finds records sent before and after. The keys never leave intake."""

from __future__ import annotations

import logging
import time

from nameko_grpc.entrypoint import Grpc
from prometheus_client import Counter

from tiaki.core.errors import Invalid, NotFound
from tiaki.intake.v1 import keys_pb2 as pb
from tiaki.intake.v1.keys_pb2_grpc import KeysServiceStub

log = logging.getLogger(__name__)
keys_grpc = Grpc.implementing(KeysServiceStub)

KEY_ROTATIONS = Counter("tiaki_intake_key_rotations_total", "Pseudonym key rotations",
                        ["programme"])


class KeysMixin:
    """The keys' gRPC entrypoint. Uses the host service's declared dependencies
    `identities`, `storage` (IntakeStorage) and `purpose_router`, nothing else of it."""

    @keys_grpc
    def RotatePseudonymKeys(self, request, context):
        agency = self.identities.require(context, "agency")
        programme_id = request.programme_id.strip()
        if not programme_id:
            raise Invalid("programme_id", "required")
        plan = self.purpose_router.get_plan(programme_id, 0)
        if plan is None:
            raise NotFound("", f"no programme {programme_id!r}")
        # Every purpose of the latest plan, and any older one that still has keys.
        purposes = sorted({p["purpose_id"] for p in plan["purposes"]}
                          | set(self.storage.programme_keys(programme_id)))
        generation = self.storage.rotate_keys(programme_id, purposes)
        KEY_ROTATIONS.labels(programme_id).inc()
        log.info("pseudonym keys of %s rotated to generation %d by agency:%s (%d purposes)",
                 programme_id, generation, agency.id, len(purposes))
        reply = pb.RotatePseudonymKeysResponse(programme_id=programme_id, generation=generation,
                                               purpose_ids=purposes)
        reply.rotated_at.FromNanoseconds(time.time_ns())
        return reply
