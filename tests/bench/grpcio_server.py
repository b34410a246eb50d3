"""Plain grpcio servers for the latency baseline of `python -m tests.bench.pipeline`.

    python -m tests.bench.grpcio_server PORT
        GetSubmission with the same protobuf work as intake's, returning a fixed
        Submission: no store, no auth (the framework's share alone).
    python -m tests.bench.grpcio_server PORT STORE_URI IDENTITIES_FILE
        GetSubmission doing exactly intake's work: the token checked against the
        identities file, the submission and its counts read from intake's
        database, the reply built by intake's own function.

Prints "ready" once serving.
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


class SameWorkIntake(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, store_uri: str, identities_file: str):
        from services.intake.storage import IntakeStorage
        from tiaki.plumbing.identity import load_identities
        from tiaki.plumbing.store import connect

        connect(store_uri)
        self.storage = IntakeStorage(kek=bytes(32))  # GetSubmission opens no pseudonym key
        self.callers = load_identities(identities_file)

    def GetSubmission(self, request, context):
        from services.intake.service import submission_message
        from tiaki.plumbing.identity import bearer_token, token_hash

        caller = self.callers.get(token_hash(bearer_token(context.invocation_metadata()) or ""))
        if caller is None or caller.kind != "provider":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown API token")
        sub = self.storage.submission(request.submission_id)
        if sub.provider_id != caller.id:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such submission")
        return pb.GetSubmissionResponse(submission=submission_message(self.storage, sub))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    port = int(argv[0])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = SameWorkIntake(argv[1], argv[2]) if len(argv) == 3 else Intake()
    intake_pb2_grpc.add_IntakeServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
