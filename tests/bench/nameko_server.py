"""A nameko-grpc server with the same fixed GetSubmission as
tests/bench/grpcio_server.py (no store, no auth): the framework's own share of
intake's unary latency in `python -m tests.bench.pipeline`. It runs nameko-grpc
as the services do (`python -m tiaki.plumbing.nameko` applies tiaki.grpc_tuning).

    python -m tests.bench.nameko_server PORT      # prints "ready" once serving
"""

import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

from nameko import config  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from nameko_grpc.entrypoint import Grpc  # noqa: E402

from tests.bench.grpcio_server import fixed_submission  # noqa: E402
from tiaki.intake.v1 import intake_pb2 as pb  # noqa: E402
from tiaki.intake.v1.intake_pb2_grpc import IntakeServiceStub  # noqa: E402
from tiaki.plumbing import grpc_tuning  # noqa: E402

grpc = Grpc.implementing(IntakeServiceStub)


class FixedIntake:
    name = "bench_fixed_intake"

    @grpc
    def GetSubmission(self, request, context):
        return pb.GetSubmissionResponse(submission=fixed_submission(request.submission_id))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    grpc_tuning.apply()  # as `python -m tiaki.plumbing.nameko` does for every service
    with config.patch({"GRPC_BIND_HOST": "127.0.0.1", "GRPC_BIND_PORT": int(argv[0]),
                       "AMQP_URI": "memory://"}):
        container = ServiceContainer(FixedIntake)
        container.start()
        print("ready", flush=True)
        container.wait()


if __name__ == "__main__":
    main()
