"""One map from tiaki's error kinds (tiaki/core/errors.py) to gRPC statuses,
registered with nameko-grpc for every service by `python -m
tiaki.plumbing.nameko`: entrypoints raise (or let through) what the rules
raise, and never build a GrpcError by hand.

Every refusal also carries a `google.rpc.Status` in the standard
`grpc-status-details-bin` trailer: an `ErrorInfo` whose reason is a
`tiaki.errors.v1.Reason` name (protos/tiaki/errors/v1/errors.proto lists
them) and, for INVALID_ARGUMENT, a `BadRequest` naming the field at fault.

It also answers a request nameko-grpc cannot parse (corrupt bytes, a string
field that is not UTF-8): nameko-grpc would say INTERNAL, as if the service
had failed; it is the caller's bad input, so it gets INVALID_ARGUMENT."""

from google.protobuf.any_pb2 import Any
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc import StatusCode
from nameko_grpc.errors import GrpcError, register_exception_handler

from tiaki.connect.refusals import STATUS, status_of
from tiaki.core import errors
from tiaki.errors.v1.errors_pb2 import Reason

DOMAIN = "tiaki.example.nz"


def refusal(code: StatusCode, reason: int, message: str, field: str = "",
            description: str = "") -> GrpcError:
    """The GrpcError for a refusal, with its structured details: `reason` is a
    `Reason` value; `field` and `description` make the BadRequest violation
    of an INVALID_ARGUMENT."""
    status = status_pb2.Status(code=code.value[0], message=message)
    info = Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=Reason.Name(reason), domain=DOMAIN))
    status.details.append(info)
    if code is StatusCode.INVALID_ARGUMENT:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=field, description=description or message)
        bad = Any()
        bad.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
        status.details.append(bad)
    return GrpcError(code, message, status)


def to_grpc(exc: errors.Refused) -> GrpcError:
    """The GrpcError a caller receives for a refusal."""
    reason = Reason.Value("REASON_" + exc.kind.upper())
    return refusal(status_of(exc), reason, str(exc),
                   exc.field, exc.reason)


def _refused(exc_info, code=None, message=None) -> GrpcError:
    return to_grpc(exc_info[1])


def unreadable(exc: DecodeError) -> GrpcError:
    # protobuf names the message type and the fault ("String field had bad UTF-8").
    return refusal(StatusCode.INVALID_ARGUMENT, Reason.REASON_UNREADABLE,
                   f"the request cannot be read: {exc}")


def _unparseable(exc_info, code=None, message=None) -> GrpcError:
    return unreadable(exc_info[1])


def register() -> None:
    # nameko-grpc looks handlers up by the exact type, so each kind is registered.
    for kind in STATUS:
        register_exception_handler(kind, _refused)
    register_exception_handler(errors.Refused, _refused)
    register_exception_handler(DecodeError, _unparseable)
