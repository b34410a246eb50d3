"""Every kind of refusal reaches a caller with its gRPC status and structured
details: an ErrorInfo reason listed in tiaki.errors.v1.Reason and, for
INVALID_ARGUMENT, the field at fault as a BadRequest violation."""

from __future__ import annotations

from google.rpc import error_details_pb2
from grpc import StatusCode

from tiaki.core import errors
from tiaki.errors.v1.errors_pb2 import Reason
from tiaki.plumbing.grpc_errors import DOMAIN, STATUS, to_grpc


def details(error):
    out = {}
    for detail in error.status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if detail.Is(kind.DESCRIPTOR):
                out[kind] = kind()
                detail.Unpack(out[kind])
    return out


def test_every_kind_of_refusal_carries_its_reason_code():
    reasons = set()
    for kind, code in STATUS.items():
        error = to_grpc(kind("period", "not a period"))
        found = details(error)
        assert (error.code, error.status.code, error.status.message) == (
            code, code.value[0], "period: not a period")
        info = found[error_details_pb2.ErrorInfo]
        assert info.domain == DOMAIN and info.reason in Reason.keys()
        reasons.add(info.reason)
        if code is StatusCode.INVALID_ARGUMENT:
            [violation] = found[error_details_pb2.BadRequest].field_violations
            assert (violation.field, violation.description) == ("period", "not a period")
        else:
            assert error_details_pb2.BadRequest not in found
    assert len(reasons) == len(STATUS)  # one code per kind


def test_a_refusal_of_the_whole_request_names_no_field():
    [violation] = details(to_grpc(errors.Invalid("", "nothing to do")))[
        error_details_pb2.BadRequest].field_violations
    assert (violation.field, violation.description) == ("", "nothing to do")
