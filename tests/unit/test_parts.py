"""Which entrypoints each part of a split service starts (tiaki/plumbing/parts.py)."""

import pytest
from nameko import config
from nameko.exceptions import ConfigurationError
from nameko_grpc.entrypoint import GrpcServer

from services.intake.service import IntakeService
from services.purpose_router.service import PurposeRouterService
from tiaki.plumbing.parts import PartContainer


def started(service_cls, role: str) -> tuple[set[str], PartContainer]:
    settings = {"AMQP_URI": "memory://", **({"ROLE": role} if role else {})}
    with config.patch(settings, clear=True):
        container = PartContainer(service_cls)
    return {e.method_name for e in container.entrypoints}, container


@pytest.mark.parametrize("service_cls", [IntakeService, PurposeRouterService])
def test_the_two_parts_start_every_entrypoint_once_between_them(service_cls):
    every, _ = started(service_cls, "")  # no ROLE: all, as one process always ran
    bulk, _ = started(service_cls, "bulk")
    interactive, _ = started(service_cls, "interactive")
    assert bulk | interactive == every and not bulk & interactive
    assert started(service_cls, "all")[0] == every


def test_intake_streams_and_seals_in_bulk_pseudonyms_interactive():
    bulk, _ = started(IntakeService, "bulk")
    interactive, container = started(IntakeService, "interactive")
    assert {"SubmitRecords", "SealSubmission", "publish_outbox", "OpenSubmission"} <= bulk
    assert interactive == {"pseudonyms"}
    # No RPC consumer in the bulk part: calls never queue behind its batches.
    assert not any(type(s).__name__ == "RpcConsumer" for s in started(IntakeService, "bulk")[1]
                   .subextensions)
    # The interactive part keeps a gRPC server, for its health probes alone.
    assert [type(s) for s in container.subextensions if isinstance(s, GrpcServer)] == [GrpcServer]


def test_router_batches_in_bulk_holders_interactive():
    bulk, _ = started(PurposeRouterService, "bulk")
    interactive, _ = started(PurposeRouterService, "interactive")
    assert {"route_batch", "seal_submission", "AcknowledgeDeliveries", "CreatePlan"} <= bulk
    assert interactive == {"holders", "get_plan", "accesses", "provenance", "collection_terms",
                           "deliveries_received", "directory_entries"}


def test_an_unknown_role_is_refused():
    with pytest.raises(ConfigurationError, match="ROLE must be one of"):
        started(IntakeService, "rpc")
