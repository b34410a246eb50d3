"""A plain grpcio server for the latency baseline of `python -m tests.bench.pipeline`:
IntakeService.GetSubmission doing the same protobuf work as intake's (parse the
request, build a Submission with its timestamp, serialise the reply) but
returning a fixed Submission, no store, no auth.

    python -m tests.bench.grpcio_server PORT      # prints "ready" once serving
"""

from __future__ import annotations

import sys
from concurrent import futures

import grpc

from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.intake.v1 import intake_pb2_grpc


def fixed_submission(request_id: str) -> pb.Submission:
    msg = pb.Submission(submission_id=request_id or "00000000-0000-0000-0000-000000000000",
                        provider_id="ccss", programme_id="best-foot-forward", plan_version=1,
                        period="2026Q3", state=pb.SUBMISSION_STATE_SEALED,
                        accepted_count=200_000, rejected_count=0)
    msg.opened_at.FromNanoseconds(1_790_000_000_000_000_000)
    msg.sealed_at.FromNanoseconds(1_790_000_060_000_000_000)
    return msg


class Intake(intake_pb2_grpc.IntakeServiceServicer):
    def GetSubmission(self, request, context):
        return pb.GetSubmissionResponse(submission=fixed_submission(request.submission_id))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(Intake(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
