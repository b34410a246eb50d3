"""The standard gRPC health service (grpc.health.v1), served by every service.

Answered outside the worker pool (bounds.py hands health calls to `answer` in
a green thread of their own), so a probe answers however busy the workers
are. The status reflects what the service needs: SERVING while its store and
its broker answer (probed every PROBE_SECONDS), NOT_SERVING while either does
not. A service name the server does not serve is NOT_FOUND, as the spec says.
The service is the one published in protos/grpc/health/v1/health.proto (Check,
Watch and List); its Python code is grpcio-health-checking's, made from that file."""

from __future__ import annotations

import logging

import eventlet
from grpc import StatusCode
from grpc_health.v1 import health_pb2
from nameko import config
from nameko.extensions import DependencyProvider
from nameko_grpc.errors import GrpcError

from tiaki.errors.v1.errors_pb2 import Reason
from tiaki.plumbing import broker, store
from tiaki.plumbing.grpc_errors import refusal
from tiaki.plumbing.logs import RequestIds
from tiaki.plumbing.reflection import served

PROBE_SECONDS = 2.0
PROBE_TIMEOUT = 1.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Health(DependencyProvider):
    """Probes the service's store and broker in the background; the container's
    health calls read the last result (`container.tiaki_health`)."""

    def setup(self):
        self.container.tiaki_health = self
        self.store_ok = self.broker_ok = False
        self.ping = store.Ping(config["MONGO_URI"], PROBE_TIMEOUT) if config.get("MONGO_URI") else None
        self.running = False

    def start(self):
        self.running = True
        self.container.spawn_managed_thread(self.probe_forever, identifier="health probes")

    def stop(self):
        self.running = False
        if self.ping is not None:
            self.ping.close()

    def probe_forever(self):
        while self.running:
            try:
                self.probe()
            except Exception:  # noqa: BLE001  a managed thread that raises kills the service
                logging.getLogger(__name__).warning("health probe failed", exc_info=True)
            eventlet.sleep(PROBE_SECONDS)

    def probe(self):
        store_ok = self.ping() if self.ping is not None else True
        uri = config.get("AMQP_URI")
        broker_ok = broker.reachable(uri, PROBE_TIMEOUT) if uri else True
        if (store_ok, broker_ok) != (self.store_ok, self.broker_ok):
            logging.getLogger(__name__).info("health: store %s, broker %s",
                                             "up" if store_ok else "UNREACHABLE",
                                             "up" if broker_ok else "UNREACHABLE")
        self.store_ok, self.broker_ok = store_ok, broker_ok

    @property
    def status(self):
        return SERVING if self.store_ok and self.broker_ok else NOT_SERVING


class HealthMixin:
    """Mixed into every service: its health, as its store and broker find it,
    and the request id on its log lines (logs.py)."""

    health = Health()
    request_ids = RequestIds()


def status_of(server, service_name: str):
    """The status for `service_name` ("" = the server as a whole)."""
    if service_name and service_name not in served(server):
        raise refusal(StatusCode.NOT_FOUND, Reason.REASON_UNKNOWN_SERVICE,
                      "this server does not serve that service")
    health = getattr(server.container, "tiaki_health", None)
    return health.status if health is not None else SERVING


def listing(server) -> health_pb2.HealthListResponse:
    """Every service the server serves, and the server as a whole (""), with its status."""
    out = health_pb2.HealthListResponse()
    for name in ("", *sorted(served(server))):
        out.statuses[name].status = status_of(server, name)
    return out


def answer(server, request_stream, response_stream):
    """One Check or Watch call. Runs as a container-managed thread: never raises."""
    try:
        path = request_stream.headers.get(":path")
        if path.endswith("/List"):
            next(request_stream.consume(health_pb2.HealthListRequest))
            response_stream.populate([listing(server)])
            return
        request = next(request_stream.consume(health_pb2.HealthCheckRequest))
        status = status_of(server, request.service)
        if path.endswith("/Check"):
            response_stream.populate([health_pb2.HealthCheckResponse(status=status)])
            return
        sent = None
        while not response_stream.closed:  # Watch: a message each time it changes
            status = status_of(server, request.service)
            if status != sent:
                response_stream.queue.put(health_pb2.HealthCheckResponse(status=status))
                sent = status
            eventlet.sleep(PROBE_SECONDS / 2)
    except GrpcError as error:
        response_stream.close(error)
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("health call failed", exc_info=True)
        response_stream.close(GrpcError(StatusCode.UNKNOWN, "health check failed"))
