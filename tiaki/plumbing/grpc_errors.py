"""One map from tiaki's error kinds (tiaki/core/errors.py) to gRPC statuses,
registered with nameko-grpc for every service by `python -m
tiaki.plumbing.nameko`: entrypoints raise (or let through) what the rules
raise, and never build a GrpcError by hand.

It also answers a request nameko-grpc cannot parse (corrupt bytes, a string
field that is not UTF-8): nameko-grpc would say INTERNAL, as if the service
had failed; it is the caller's bad input, so it gets INVALID_ARGUMENT."""

from google.protobuf.message import DecodeError
from grpc import StatusCode
from nameko_grpc.errors import GrpcError, register_exception_handler

from tiaki.core import errors

STATUS = {
    errors.Invalid: StatusCode.INVALID_ARGUMENT,
    errors.NotFound: StatusCode.NOT_FOUND,
    errors.NotNow: StatusCode.FAILED_PRECONDITION,
    errors.Forbidden: StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: StatusCode.UNAUTHENTICATED,
    errors.Conflict: StatusCode.ABORTED,
    errors.Exhausted: StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: StatusCode.UNAVAILABLE,
}


def to_grpc(exc: errors.Refused) -> GrpcError:
    """The GrpcError a caller receives for a refusal."""
    return GrpcError(STATUS.get(type(exc), StatusCode.INVALID_ARGUMENT), str(exc))


def _refused(exc_info, code=None, message=None) -> GrpcError:
    return to_grpc(exc_info[1])


def _unparseable(exc_info, code=None, message=None) -> GrpcError:
    # protobuf names the message type and the fault ("String field had bad UTF-8").
    return GrpcError(StatusCode.INVALID_ARGUMENT, f"the request cannot be read: {exc_info[1]}")


def register() -> None:
    # nameko-grpc looks handlers up by the exact type, so each kind is registered.
    for kind in STATUS:
        register_exception_handler(kind, _refused)
    register_exception_handler(errors.Refused, _refused)
    register_exception_handler(DecodeError, _unparseable)
