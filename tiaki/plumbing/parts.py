"""A service run as two processes: one taking its bulk work, one answering calls.

An eventlet hub runs one greenlet at a time, so in one process an RPC from an
access request waits while a greenlet validates or routes a batch (pacing.py
shortens the wait, it cannot remove it). Run as two processes, the operating
system shares the CPU between them instead, and favours the idle one when a
call wakes it (docs/capacity.md, "Where it breaks first", M8).

The part a process runs is its config's ROLE (`ROLE: ${ROLE:all}` in
config/intake.yaml and config/purpose_router.yaml, which name this container as
SERVICE_CONTAINER_CLS); it is read here and nowhere else. `all`, the default,
runs every entrypoint, as one process always did.

| entrypoint     | part        | intake                     | purpose_router               |
|----------------|-------------|----------------------------|------------------------------|
| gRPC (its one  | bulk        | SubmitRecords streams,     | AcknowledgeDeliveries,       |
| port)          |             | SealSubmission, the rest   | RecordAccess, plans, ledger, |
|                |             |                            | co-design, directory         |
| event handlers | bulk        | (none)                     | route_batch, seal_submission |
| timers         | bulk        | publish_outbox (batches,   | (none)                       |
|                |             | seals), tell_agency_of_... |                              |
| nameko RPC     | interactive | pseudonyms                 | holders, get_plan, accesses, |
|                |             |                            | provenance, collection_terms,|
|                |             |                            | deliveries_received,         |
|                |             |                            | directory_entries            |

gRPC stays whole in the bulk part: clients (providers' submissions, the units'
acknowledgements, the portal) know one address per service, and a method cannot
be sent to another process without a router that reads each call's path. The
interactive part still listens on a gRPC port of its own, answering health and
reflection only, so it is probed as every service is; its other methods are
UNIMPLEMENTED there. The nameko RPCs are what requests and insights call while
a family waits; they reach the interactive part only, since only it consumes
the service's RPC queue. Both parts share the service's store, broker user and
key-encryption key as two instances of a service do (SCALE=2)."""

from __future__ import annotations

from nameko import config
from nameko.containers import ServiceContainer
from nameko.events import EventHandler
from nameko.exceptions import ConfigurationError
from nameko.extensions import iter_extensions
from nameko.rpc import Rpc
from nameko.timer import Timer
from nameko_grpc.entrypoint import Grpc, GrpcServer

ROLES = ("all", "bulk", "interactive")
PARTS = {Grpc: "bulk", EventHandler: "bulk", Timer: "bulk", Rpc: "interactive"}


def role() -> str:
    value = config.get("ROLE") or "all"
    if value not in ROLES:
        raise ConfigurationError(f"ROLE must be one of {', '.join(ROLES)}, not {value!r}")
    return value


def part_of(entrypoint) -> str:
    """The part an entrypoint belongs to (PARTS, by its kind)."""
    for kind, part in PARTS.items():
        if isinstance(entrypoint, kind):
            return part
    raise ConfigurationError(f"{type(entrypoint).__name__} ({entrypoint.method_name}) is in "
                             "no part: add its kind to tiaki.plumbing.parts.PARTS")


class PartContainer(ServiceContainer):
    """nameko's container, starting only the entrypoints of this process's ROLE."""

    def __init__(self, service_cls):
        super().__init__(service_cls)
        self.role = role()
        if self.role == "all":
            return
        dropped = {e for e in self.entrypoints if part_of(e) != self.role}
        self.entrypoints.difference_update(dropped)
        kept = set()
        for extension in (*self.dependencies, *self.entrypoints):
            kept.update(iter_extensions(extension))
        # The gRPC server stays for health and reflection (bounds.py answers them).
        kept.update(s for e in dropped for s in iter_extensions(e) if isinstance(s, GrpcServer))
        self.subextensions.intersection_update(kept)
