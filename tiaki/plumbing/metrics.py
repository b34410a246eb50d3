"""Prometheus metrics: each service serves its own on METRICS_PORT.

Labels name programmes, purposes, units and reasons, never a person."""

from __future__ import annotations

import time

import eventlet
import eventlet.wsgi
from nameko import config
from nameko.extensions import DependencyProvider
from prometheus_client import Histogram, make_wsgi_app

WORKER_SECONDS = Histogram(
    "tiaki_worker_seconds",
    "Time spent handling one gRPC call, event or RPC, by service and entrypoint",
    ["service", "entrypoint", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class Metrics(DependencyProvider):
    """Serves /metrics and times every worker of the service."""

    def setup(self):
        self.started = {}
        self.port = int(config.get("METRICS_PORT", 0) or 0)

    def start(self):
        # prometheus_client's own server calls getaddrinfo in a way eventlet's
        # green version rejects, so serve its WSGI app with eventlet instead.
        if self.port:
            sock = eventlet.listen((config.get("METRICS_ADDR", "127.0.0.1"), self.port))
            self.container.spawn_managed_thread(
                lambda: eventlet.wsgi.server(sock, make_wsgi_app(), log_output=False))

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, None)
        if started is not None:
            WORKER_SECONDS.labels(
                worker_ctx.service_name,
                worker_ctx.entrypoint.method_name,
                "error" if exc_info else "ok",
            ).observe(time.perf_counter() - started)

    def get_dependency(self, worker_ctx):
        return None
