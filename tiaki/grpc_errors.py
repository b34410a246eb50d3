"""gRPC statuses for requests that never reach our code. nameko-grpc answers a
request it cannot parse (corrupt bytes, a string field that is not UTF-8) with
INTERNAL, as if the service had failed; it is the caller's bad input, so it
gets INVALID_ARGUMENT saying why. Registered by `python -m tiaki.nameko`."""

from google.protobuf.message import DecodeError
from grpc import StatusCode
from nameko_grpc.errors import GrpcError, register_exception_handler


def _unparseable(exc_info, code=None, message=None) -> GrpcError:
    # protobuf names the message type and the fault ("String field had bad UTF-8").
    return GrpcError(StatusCode.INVALID_ARGUMENT, f"the request cannot be read: {exc_info[1]}")


def register() -> None:
    register_exception_handler(DecodeError, _unparseable)
