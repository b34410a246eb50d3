"""The standard health service as published with our protos: the vendored
protos/grpc/health/v1/health.proto is the very service the servers answer
(grpcio-health-checking's generated code), and Check of a service a server
does not serve is NOT_FOUND, as the spec says."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.protobuf import descriptor_pb2
from grpc import StatusCode
from grpc_health.v1 import health_pb2
from nameko_grpc.errors import GrpcError

from tiaki.plumbing import health
from tools.api_reference import descriptors


def _shape(f: descriptor_pb2.FileDescriptorProto) -> dict:
    """What a client sees of a proto file: every message, enum and RPC, by name."""
    def message(m):
        return ({x.name: (x.number, x.type, x.type_name, x.label) for x in m.field},
                {n.name: message(n) for n in m.nested_type},
                {e.name: [(v.name, v.number) for v in e.value] for e in m.enum_type})
    return {"package": f.package,
            "messages": {m.name: message(m) for m in f.message_type},
            "services": {s.name: {m.name: (m.input_type, m.output_type, m.client_streaming,
                                           m.server_streaming) for m in s.method}
                         for s in f.service}}


def test_the_vendored_health_proto_is_the_service_the_servers_answer():
    [vendored] = [f for f in descriptors() if f.name == "grpc/health/v1/health.proto"]
    served = descriptor_pb2.FileDescriptorProto()
    health_pb2.DESCRIPTOR.CopyToProto(served)
    assert _shape(vendored) == _shape(served)
    assert set(_shape(vendored)["services"]["Health"]) == {"Check", "Watch", "List"}


@pytest.fixture
def server():
    """A server that serves intake's IntakeService, its store and broker answering."""
    return SimpleNamespace(
        entrypoints={"/tiaki.intake.v1.IntakeService/OpenSubmission": object()},
        container=SimpleNamespace(tiaki_health=SimpleNamespace(status=health.SERVING)))


def test_check_answers_for_the_server_and_what_it_serves(server):
    assert health.status_of(server, "") == health.SERVING
    assert health.status_of(server, "tiaki.intake.v1.IntakeService") == health.SERVING
    assert health.status_of(server, "grpc.health.v1.Health") == health.SERVING
    server.container.tiaki_health.status = health.NOT_SERVING
    assert health.status_of(server, "tiaki.intake.v1.IntakeService") == health.NOT_SERVING


@pytest.mark.parametrize("name", ["tiaki.requests.v1.RequestsService", "no.such.Service",
                                  "tiaki.intake.v1.IntakeService/OpenSubmission"])
def test_check_of_a_service_the_server_does_not_serve_is_not_found(server, name):
    with pytest.raises(GrpcError) as caught:
        health.status_of(server, name)
    assert caught.value.code == StatusCode.NOT_FOUND


def test_list_names_every_service_served_and_the_server(server):
    listed = health.listing(server).statuses
    assert set(listed) == {"", "tiaki.intake.v1.IntakeService", "grpc.health.v1.Health",
                           "grpc.reflection.v1.ServerReflection",
                           "grpc.reflection.v1alpha.ServerReflection"}
    assert {s.status for s in listed.values()} == {health.SERVING}
