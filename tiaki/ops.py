"""Small operations helpers for scripts: `python -m tiaki.ops wait-healthy HOST:PORT ...`."""

from __future__ import annotations

import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def healthy(address: str, timeout: float = 1.0) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def wait_healthy(addresses: list[str], within: float = 60.0) -> list[str]:
    """Waits until every address serves gRPC health; returns those that never did."""
    deadline = time.monotonic() + within
    pending = list(addresses)
    while pending and time.monotonic() < deadline:
        pending = [a for a in pending if not healthy(a)]
        if pending:
            time.sleep(0.3)
    return pending


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "wait-healthy":
        raise SystemExit("usage: python -m tiaki.ops wait-healthy HOST:PORT ...")
    missing = wait_healthy(argv[1:])
    if missing:
        raise SystemExit(f"tiaki: not healthy after 60s: {', '.join(missing)}")
    print(f"tiaki: healthy: {', '.join(argv[1:])}")


if __name__ == "__main__":
    main()
