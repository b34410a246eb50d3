"""gRPC channels to tiaki's servers, for every client (the CLI, the Agency
units, the portal, ops probes): TLS with a client certificate when
TIAKI_TLS_CA, TIAKI_TLS_CERT and TIAKI_TLS_KEY are set, else plaintext. The
server side of mutual TLS is tiaki/plumbing/mtls.py."""

from __future__ import annotations

import os
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class ClientTls:
    ca: str    # the CA that signed the servers' certificates
    cert: str  # this client's certificate (names its identity)
    key: str

    @classmethod
    def from_env(cls, env=None) -> ClientTls | None:
        env = os.environ if env is None else env
        values = [env.get(f"TIAKI_TLS_{k}", "").strip() for k in ("CA", "CERT", "KEY")]
        if not any(values):
            return None
        if not all(values):
            raise ValueError("TLS to tiaki needs TIAKI_TLS_CA, TIAKI_TLS_CERT and TIAKI_TLS_KEY")
        return cls(*values)

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path):
            with open(path, "rb") as fh:
                return fh.read()

        return grpc.ssl_channel_credentials(read(self.ca), read(self.key), read(self.cert))


def client_channel(address: str, tls: ClientTls | None = None,
                   options: list | None = None) -> grpc.Channel:
    """A channel to a tiaki server: TLS with a client certificate when `tls` is
    given or TIAKI_TLS_* are set, else plaintext."""
    tls = tls or ClientTls.from_env()
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    return grpc.secure_channel(address, tls.credentials(), options=options)
