"""The standard gRPC health service (grpc.health.v1), served by every service."""

from grpc_health.v1 import health_pb2
from grpc_health.v1.health_pb2_grpc import HealthStub
from nameko_grpc.entrypoint import Grpc

health_grpc = Grpc.implementing(HealthStub)


class HealthMixin:
    """Mixed into a nameko service: SERVING while the container runs."""

    @health_grpc
    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)

    @health_grpc
    def Watch(self, request, context):
        yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
