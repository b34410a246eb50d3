"""Mutual TLS on the gRPC servers, and the client side of it.

Server: with TLS_CERT, TLS_KEY and TLS_CLIENT_CA in a service's config
(TIAKI_TLS_* in the environment; all empty = plaintext, as before) every
connection must present a client certificate signed by that CA. nameko-grpc
1.3's own TLS (GRPC_SSL) requests no client certificate, and it wraps the
listening socket, so eventlet does the handshake inside accept(): one client
with a bad certificate raised out of the accept loop, a nameko managed thread,
and the container was killed. Here the listening socket stays plain and each
accepted connection does its handshake in its own green thread, bounded in
time; a failed handshake closes that connection only.

The certificate names the caller as SAN URI `tiaki:<kind>:<id>`; it is put on
each request stream (`tiaki_peer`) for `Identities.require` to read.

Client: `client_channel(address)` gives a TLS channel with a client certificate
when TIAKI_TLS_CA, TIAKI_TLS_CERT and TIAKI_TLS_KEY are set, else a plaintext one.
"""

from __future__ import annotations

import logging
import ssl
import weakref
from dataclasses import dataclass

HANDSHAKE_SECONDS = 10.0  # a client that connects and never speaks holds a thread this long
SAN_SCHEME = "tiaki:"
SERVER_KEYS = ("TLS_CERT", "TLS_KEY", "TLS_CLIENT_CA")


@dataclass(frozen=True)
class Peer:
    """The verified client certificate of one connection."""

    caller: object | None  # identity.Caller, or None when the certificate names no one
    subject: str


def server_context(config) -> ssl.SSLContext | None:
    """The TLS context the config asks for; None when TLS is off."""
    values = {k: (config.get(k) or "").strip() for k in SERVER_KEYS}
    if not any(values.values()):
        return None
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise ValueError(f"mutual TLS needs {', '.join(SERVER_KEYS)}; missing {', '.join(missing)}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(values["TLS_CERT"], values["TLS_KEY"])
    context.load_verify_locations(cafile=values["TLS_CLIENT_CA"])
    context.set_alpn_protocols(["h2"])
    return context


def peer_from_certificate(cert: dict | None) -> Peer:
    """The tiaki identity a verified certificate names (exactly one SAN URI
    `tiaki:<kind>:<id>` of a known kind), else a Peer naming no one."""
    from tiaki.plumbing.identity import KINDS, Caller

    cert = cert or {}
    subject = ",".join("=".join(pair) for rdn in cert.get("subject", ()) for pair in rdn)
    named = []
    for kind, value in cert.get("subjectAltName", ()):
        if kind == "URI" and value.startswith(SAN_SCHEME):
            parts = value[len(SAN_SCHEME):].split(":", 1)
            if len(parts) == 2 and parts[0] in KINDS and parts[1]:
                named.append(Caller(parts[0], parts[1]))
    # A certificate naming two identities names none: which one would it act as?
    return Peer(named[0] if len(named) == 1 else None, subject)


def apply():
    """Call after eventlet.monkey_patch() (the ssl module must be eventlet's)."""
    import eventlet
    import nameko_grpc.channel as channel
    from nameko import config

    pool = channel.ServerConnectionPool
    if getattr(pool, "_tiaki_mtls", False):
        return
    original_listen, original_run = pool.listen, pool.run

    def listen(self):
        self.tiaki_tls = server_context(config)
        if self.tiaki_tls is None:
            return original_listen(self)
        sock = eventlet.listen((self.host, self.port))
        sock.settimeout(None)
        return sock

    def run(self):
        if getattr(self, "tiaki_tls", None) is None:
            return original_run(self)
        while self.is_accepting:
            sock, address = self.listening_socket.accept()
            self.spawn_thread(target=serve, args=(self, sock, address),
                              name=f"grpc tls connection [{address}]")

    pool.listen, pool.run = listen, run
    pool._tiaki_mtls = True


def serve(pool, sock, address):
    """One connection: the handshake, then nameko-grpc's connection loop. Never
    raises for a client's fault (a managed thread that raises kills the service)."""
    from nameko_grpc.connection import ServerConnectionManager

    try:
        sock.settimeout(HANDSHAKE_SECONDS)
        tls = pool.tiaki_tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False,
                                         suppress_ragged_eofs=True)
        tls.do_handshake()
        peer = peer_from_certificate(tls.getpeercert())
    except Exception as exc:  # noqa: BLE001  any client's fault ends this connection only
        # The logger is looked up here, not at import: nameko's dictConfig runs
        # later and disables every logger that existed before it.
        reason = getattr(exc, "reason", None) or type(exc).__name__
        logging.getLogger(__name__).warning("gRPC TLS handshake with %s refused: %s",
                                            address[0], reason)
        sock.close()
        return
    tls.settimeout(60)  # as nameko-grpc sets on its own connections
    handle_request = pool.handle_request

    def handle_with_peer(request_stream, response_stream):
        request_stream.tiaki_peer = peer
        handle_request(request_stream, response_stream)

    connection = ServerConnectionManager(tls, handle_with_peer)
    connection.tiaki_peer = peer  # whom its streams count against (bounds.py)
    pool.connections.put(weakref.ref(connection))
    connection.run_forever()


# -- clients --------------------------------------------------------------------
