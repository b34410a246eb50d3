"""Intake's limits, told to any known caller (`GetLimits`), read from the same
place the rules enforcing them read them."""

from __future__ import annotations

from nameko import config
from nameko_grpc.entrypoint import Grpc

from services.intake.domain import MAX_REF_LENGTH, MAX_VALUE_LENGTH
from tiaki.intake.v1 import limits_pb2 as pb
from tiaki.intake.v1.limits_pb2_grpc import LimitsServiceStub
from tiaki.plumbing import bounds
from tiaki.plumbing.identity import KINDS

limits_grpc = Grpc.implementing(LimitsServiceStub)


def max_batch_records() -> int:
    return int(config.get("MAX_BATCH_RECORDS", 5000))


def max_rejections_returned() -> int:
    return int(config.get("MAX_REJECTIONS_RETURNED", 1000))


def max_rejections_page() -> int:
    return int(config.get("MAX_REJECTIONS_PAGE", 1000))


class LimitsMixin:
    """The limits' gRPC entrypoint. Uses the host service's `identities`, nothing else of it."""

    @limits_grpc
    def GetLimits(self, request, context):
        self.identities.require(context, *KINDS)
        return pb.GetLimitsResponse(
            max_records_per_batch=max_batch_records(),
            max_rejections_per_response=max_rejections_returned(),
            max_rejections_per_page=max_rejections_page(),
            max_message_bytes=bounds.limit("GRPC_MAX_MESSAGE_BYTES"),
            max_streams_per_caller=bounds.limit("GRPC_MAX_STREAMS_PER_CALLER"),
            stream_idle_seconds=bounds.limit("GRPC_STREAM_IDLE_SECONDS"),
            max_ref_chars=MAX_REF_LENGTH,
            max_value_chars=MAX_VALUE_LENGTH)
