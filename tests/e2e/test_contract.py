"""The contract a vendor builds on, seen from a plain grpcio client: refusals
carry the standard structured details (google.rpc.Status in the
grpc-status-details-bin trailer) that grpcio-status decodes, and every server
lists its services and their descriptors through server reflection, and
intake tells its limits before a client meets them."""

from __future__ import annotations

import importlib
import uuid

import grpc
import pytest
from google.protobuf import descriptor_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_status import rpc_status

from tests.e2e.test_bad_input import new_programme, open_sub, plan_dict
from tests.stack import ROOT
from tiaki.errors.v1.errors_pb2 import Reason
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1 import limits_pb2, limits_pb2_grpc

TIMEOUT = 60


def refusal(call, request, metadata):
    """The RpcError a call ends with, and its decoded details by type."""
    with pytest.raises(grpc.RpcError) as caught:
        call(request, metadata=metadata, timeout=TIMEOUT)
    status = rpc_status.from_call(caught.value)
    assert status is not None, "no grpc-status-details-bin trailer"
    assert status.code == caught.value.code().value[0]
    assert status.message == caught.value.details()
    details = {}
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if detail.Is(kind.DESCRIPTOR):
                details[kind] = kind()
                detail.Unpack(details[kind])
    return caught.value, details


def test_an_invalid_argument_names_its_field_and_reason(stack):
    error, details = refusal(stack.intake().OpenSubmission,
                             pb.OpenSubmissionRequest(programme_id="no-such-programme",
                                                      plan_version=1, period="2026-Q9"),
                             stack.metadata("provider", "ccss"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    info = details[error_details_pb2.ErrorInfo]
    assert (info.reason, info.domain) == (Reason.Name(Reason.REASON_INVALID), "tiaki.example.nz")
    [violation] = details[error_details_pb2.BadRequest].field_violations
    assert violation.field == "period"
    assert violation.description and violation.description in error.details()


def test_every_refusal_carries_a_reason_code(stack):
    error, details = refusal(stack.intake().GetSubmission,
                             pb.GetSubmissionRequest(submission_id=uuid.uuid4().hex),
                             stack.metadata("provider", "ccss"))
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert details[error_details_pb2.ErrorInfo].reason == "REASON_NOT_FOUND"
    assert error_details_pb2.BadRequest not in details

    error, details = refusal(stack.intake().GetSubmission,
                             pb.GetSubmissionRequest(submission_id=uuid.uuid4().hex),
                             (("authorization", "Bearer not-a-known-token"),))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert details[error_details_pb2.ErrorInfo].reason == "REASON_UNAUTHENTICATED"


def test_a_token_without_bearer_is_refused_saying_how_to_send_it(stack):
    token = stack.tokens[("provider", "ccss")]
    error, details = refusal(stack.intake().GetSubmission,
                             pb.GetSubmissionRequest(submission_id=uuid.uuid4().hex),
                             (("authorization", token),))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "authorization: Bearer <token>" in error.details()
    assert details[error_details_pb2.ErrorInfo].reason == "REASON_UNAUTHENTICATED"


PACKAGES = {"intake": "tiaki.intake.v1", "purpose_router": "tiaki.router.v1",
            "requests": "tiaki.requests.v1", "insights": "tiaki.insights.v1"}
STANDARD = {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection"}


def reflect(stack, server, version, *requests):
    """The responses to one ServerReflectionInfo stream (v1 and v1alpha share their messages)."""
    call = stack.channel(server).stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    return list(call(iter(requests), timeout=TIMEOUT))


def declared(package: str) -> set[str]:
    """Every service the protos of `package` declare (each is served by its area's server)."""
    folder = ROOT / "protos" / package.replace(".", "/")
    names = set()
    for proto in folder.glob("*.proto"):
        module = importlib.import_module(f"{package}.{proto.stem}_pb2")
        names |= {s.full_name for s in module.DESCRIPTOR.services_by_name.values()}
    return names


@pytest.mark.parametrize("server", sorted(PACKAGES))
@pytest.mark.parametrize("version", ["v1", "v1alpha"])
def test_reflection_lists_every_service_of_every_server(stack, server, version):
    [reply] = reflect(stack, server, version, reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = {s.name for s in reply.list_services_response.service}
    assert listed >= STANDARD
    assert listed - STANDARD == declared(PACKAGES[server])


def test_reflection_gives_a_service_s_descriptor_and_says_when_it_has_none(stack):
    found, missing = reflect(
        stack, "intake", "v1",
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="tiaki.intake.v1.IntakeService"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="tiaki.nothing.v1.Here"))
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
             for raw in found.file_descriptor_response.file_descriptor_proto]
    [service] = [s for f in files for s in f.service if s.name == "IntakeService"]
    assert {"OpenSubmission", "SubmitRecords", "SealSubmission"} <= {m.name for m in service.method}
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.parametrize("server", sorted(PACKAGES))
def test_health_as_published_lists_what_reflection_lists_and_refuses_the_unknown(stack, server):
    """The health service of protos/grpc/health/v1/health.proto, on every server."""
    stub = health_pb2_grpc.HealthStub(stack.channel(server))
    listed = stub.List(health_pb2.HealthListRequest(), timeout=TIMEOUT).statuses
    [reply] = reflect(stack, server, "v1", reflection_pb2.ServerReflectionRequest(list_services=""))
    assert set(listed) == {""} | {s.name for s in reply.list_services_response.service}
    assert {s.status for s in listed.values()} == {health_pb2.HealthCheckResponse.SERVING}
    with pytest.raises(grpc.RpcError) as caught:
        stub.Check(health_pb2.HealthCheckRequest(service="tiaki.nothing.v1.HereService"),
                   timeout=TIMEOUT)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(caught.value).details[0].Unpack(info)
    assert info.reason == "REASON_UNKNOWN_SERVICE"


def test_a_method_the_server_lacks_is_unimplemented_with_a_reason(stack):
    call = stack.channel("intake").unary_unary("/tiaki.intake.v1.IntakeService/NoSuchMethod")
    with pytest.raises(grpc.RpcError) as caught:
        call(b"", timeout=TIMEOUT)
    assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    status = rpc_status.from_call(caught.value)
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "REASON_UNKNOWN_SERVICE"


def test_get_limits_tells_the_limits_intake_enforces(stack):
    limits = limits_pb2_grpc.LimitsServiceStub(stack.channel("intake")).GetLimits(
        limits_pb2.GetLimitsRequest(), metadata=stack.metadata("provider", "ccss"), timeout=TIMEOUT)
    # The stack configures its own batch cap (tests/stack.py); the rest are the defaults.
    assert limits.max_records_per_batch == int(stack.env("intake")["MAX_BATCH_RECORDS"]) != 5000
    assert (limits.max_rejections_per_response, limits.max_message_bytes,
            limits.max_streams_per_caller, limits.stream_idle_seconds, limits.max_ref_chars,
            limits.max_value_chars, limits.max_rejections_per_page) == (
        1000, 8 * 1024 * 1024, 4, 30, 200, 1000, 1000)

    programme_id = new_programme("limits")
    sid = open_sub(stack, (programme_id, stack.create_plan(plan_dict(programme_id))))
    batch = pb.SubmitRecordsRequest(submission_id=sid,
                                    records=[pb.Record()] * (limits.max_records_per_batch + 1))
    error, details = refusal(stack.intake().SubmitRecords, iter([batch]),
                             stack.metadata("provider", "ccss"))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {limits.max_records_per_batch} records" in error.details()


def test_get_limits_needs_a_known_token(stack):
    with pytest.raises(grpc.RpcError) as caught:
        limits_pb2_grpc.LimitsServiceStub(stack.channel("intake")).GetLimits(
            limits_pb2.GetLimitsRequest(), timeout=TIMEOUT)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_malformed_reflection_call_is_refused_as_unreadable(stack):
    call = stack.channel("purpose_router").stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    with pytest.raises(grpc.RpcError) as caught:
        list(call(iter([b"\xff\xff\xff"]), timeout=TIMEOUT))
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(caught.value).details[0].Unpack(info)
    assert info.reason == "REASON_UNREADABLE"
