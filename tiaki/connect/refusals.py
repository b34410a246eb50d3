"""The one map from tiaki's error kinds (tiaki/core/errors.py) to gRPC
statuses: the services' nameko handlers (tiaki/plumbing/grpc_errors.py) and
a unit's own grpcio server (tiaki/unit/review_server.py) both answer with it."""

from grpc import StatusCode

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


def status_of(exc: errors.Refused) -> StatusCode:
    return STATUS.get(type(exc), StatusCode.INVALID_ARGUMENT)
