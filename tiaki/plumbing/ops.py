"""Small operations helpers for scripts: `python -m tiaki.ops wait-healthy HOST:PORT ...`
and `python -m tiaki.ops healthy HOST:PORT` (one check; exit status 0 or 1)."""

from __future__ import annotations

import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tiaki.connect.channel import client_channel


def healthy(address: str, timeout: float = 1.0, tls=None) -> bool:
    # TLS with a client certificate when TIAKI_TLS_CA/CERT/KEY are set (mtls.py)
    with client_channel(address, tls) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def wait_healthy(addresses: list[str], within: float = 60.0, tls=None) -> list[str]:
    """Waits until every address serves gRPC health; returns those that never did."""
    deadline = time.monotonic() + within
    pending = list(addresses)
    while pending and time.monotonic() < deadline:
        pending = [a for a in pending if not healthy(a, tls=tls)]
        if pending:
            time.sleep(0.3)
    return pending


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "healthy":
        # One check, exit status 0 or 1: the Kubernetes exec probe when mutual TLS
        # is on (its built-in gRPC probe cannot present a client certificate).
        raise SystemExit(0 if healthy(argv[1], timeout=3.0) else 1)
    if not argv or argv[0] != "wait-healthy":
        raise SystemExit("usage: python -m tiaki.ops wait-healthy HOST:PORT ... | healthy HOST:PORT")
    missing = wait_healthy(argv[1:])
    if missing:
        raise SystemExit(f"tiaki: not healthy after 60s: {', '.join(missing)}")
    print(f"tiaki: healthy: {', '.join(argv[1:])}")


if __name__ == "__main__":
    main()
