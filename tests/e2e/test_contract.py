"""The contract a vendor builds on, seen from a plain grpcio client: refusals
carry the standard structured details (google.rpc.Status in the
grpc-status-details-bin trailer) that grpcio-status decodes."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tiaki.errors.v1.errors_pb2 import Reason
from tiaki.intake.v1 import intake_pb2 as pb

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
