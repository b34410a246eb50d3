"""gRPC server reflection, served by every service, so a vendor's tools
(`buf curl --list-services`, grpcurl, Postman) find every service and message
without our protos at hand.

Both grpc.reflection.v1 and v1alpha are answered (their messages are the same
on the wire) from the process's generated descriptor pool, by grpcio-
reflection's own servicer. Like health, it runs in a green thread of its own
(bounds.py hands the calls to `answer`), outside nameko's workers. No token is
needed: it tells only what the published protos say."""

from __future__ import annotations

import logging

from google.protobuf.message import DecodeError
from grpc import StatusCode
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.reflection import ReflectionServicer
from nameko_grpc.errors import GrpcError

from tiaki.plumbing.grpc_errors import unreadable

STANDARD_SERVICES = ("grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                     "grpc.reflection.v1alpha.ServerReflection")
PATHS = tuple(f"/{service}/ServerReflectionInfo" for service in STANDARD_SERVICES[1:])


def served(server) -> set[str]:
    """The full names of the services this server answers."""
    return {path.split("/")[1] for path in server.entrypoints} | set(STANDARD_SERVICES)


def answer(server, request_stream, response_stream):
    """One ServerReflectionInfo stream. Runs as a container-managed thread: never raises."""
    try:
        servicer = ReflectionServicer(sorted(served(server)))
        requests = request_stream.consume(reflection_pb2.ServerReflectionRequest)
        response_stream.populate(servicer.ServerReflectionInfo(requests, None))
    except GrpcError as error:
        response_stream.close(error)
    except DecodeError as exc:
        response_stream.close(unreadable(exc))
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("reflection call failed", exc_info=True)
        response_stream.close(GrpcError(StatusCode.UNKNOWN, "reflection failed"))
