"""Bounds on what one caller can take from a gRPC server (nameko-grpc 1.3),
applied by `python -m tiaki.plumbing.nameko` before any service starts.

- A message longer than GRPC_MAX_MESSAGE_BYTES is refused with
  RESOURCE_EXHAUSTED as soon as its 5-byte gRPC prefix announces the length,
  before it is buffered whole or parsed.
- A caller (the identity its client certificate names, else its token, else
  "anonymous") holds at most GRPC_MAX_STREAMS_PER_CALLER streams at once, on
  any number of connections; more are refused with RESOURCE_EXHAUSTED. Set
  below the worker pool (max_workers), so one caller cannot take every worker.
- A stream whose caller sends nothing for GRPC_STREAM_IDLE_SECONDS while its
  request is still open is ended with RESOURCE_EXHAUSTED.
- Health checks (grpc.health.v1) are answered in a green thread of their own,
  never in the worker pool, so they answer under load (see health.py).
"""

from __future__ import annotations

import hashlib
import logging
import struct
import time
from functools import partial

from grpc import StatusCode
from h2.errors import ErrorCodes
from h2.exceptions import StreamClosedError
from nameko_grpc.errors import GrpcError
from nameko_grpc.streams import HEADER_LENGTH

from tiaki.errors.v1.errors_pb2 import Reason
from tiaki.plumbing import reflection
from tiaki.plumbing.grpc_errors import refusal

HEALTH_CHECK = "/grpc.health.v1.Health/Check"  # never counted against a caller: probes must answer
HEALTH_PATHS = (HEALTH_CHECK, "/grpc.health.v1.Health/Watch", "/grpc.health.v1.Health/List")
CONTENT_TYPE = "application/grpc+proto"
DEFAULTS = {
    # The largest legitimate message, a 5,000-record batch, is under 2 MiB.
    "GRPC_MAX_MESSAGE_BYTES": 8 * 1024 * 1024,
    "GRPC_MAX_STREAMS_PER_CALLER": 4,
    "GRPC_STREAM_IDLE_SECONDS": 30,
}
IDLE_CHECK_SECONDS = 1.0

held: dict[str, int] = {}  # caller -> streams open now, in this process


def limit(name: str):
    from nameko import config

    value = config.get(name)
    return type(DEFAULTS[name])(value) if value not in (None, "") else DEFAULTS[name]


def caller_key(headers, peer=None) -> str:
    """Who a stream counts against: never the token itself, only a digest."""
    if peer is not None and peer.caller is not None:
        return f"{peer.caller.kind}:{peer.caller.id}"
    token = headers.get("authorization") or ""
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    return "anonymous"


def exhausted(reason: int, message: str) -> GrpcError:
    return refusal(StatusCode.RESOURCE_EXHAUSTED, reason, message)


def apply():
    """Call after eventlet.monkey_patch()."""
    from nameko_grpc.connection import ServerConnectionManager as server
    from nameko_grpc.entrypoint import GrpcServer

    if getattr(server, "_tiaki_bounded", False):
        return
    original_init = server.__init__
    original_data_received = server.data_received
    original_end_stream = server.end_stream
    original_stream_reset = server.stream_reset
    original_on_iteration = server.on_iteration
    original_run_forever = server.run_forever
    original_handle_request = GrpcServer.handle_request

    def __init__(self, sock, handle_request):
        original_init(self, sock, partial(counted, self, handle_request))
        self.tiaki_held: dict[int, str] = {}  # stream id -> caller
        self.tiaki_seen: dict[int, float] = {}  # stream id -> when its caller last sent
        self.tiaki_idle_checked = time.monotonic()
        self.tiaki_max_message = limit("GRPC_MAX_MESSAGE_BYTES")

    def counted(self, handle_request, request_stream, response_stream):
        stream_id = request_stream.stream_id
        self.tiaki_seen[stream_id] = time.monotonic()
        try:
            admit(self, request_stream)
            handle_request(request_stream, response_stream)
        except GrpcError as error:
            # nameko-grpc would answer with trailers alone and no content-type,
            # which the gRPC spec (and so buf curl) calls malformed.
            response_stream.trailers.set((":status", "200"), ("content-type", CONTENT_TYPE),
                                         *error.as_headers())
            self.end_stream(stream_id)

    def admit(self, request_stream):
        stream_id = request_stream.stream_id
        path = request_stream.headers.get(":path")
        if path != HEALTH_CHECK:
            caller = caller_key(request_stream.headers, getattr(self, "tiaki_peer", None))
            most = limit("GRPC_MAX_STREAMS_PER_CALLER")
            if held.get(caller, 0) >= most:
                logging.getLogger(__name__).info(
                    "refused %s: RESOURCE_EXHAUSTED (%s streams open, GRPC_MAX_STREAMS_PER_CALLER)",
                    path, most)
                raise exhausted(Reason.REASON_TOO_MANY_STREAMS,
                                f"at most {most} calls at once per caller "
                                "(GRPC_MAX_STREAMS_PER_CALLER); wait for one to finish")
            held[caller] = held.get(caller, 0) + 1
            self.tiaki_held[stream_id] = caller

    def release(self, stream_id):
        self.tiaki_seen.pop(stream_id, None)
        caller = self.tiaki_held.pop(stream_id, None)
        if caller is not None:
            held[caller] -= 1
            if not held[caller]:
                del held[caller]

    def refuse(self, stream_id, error: GrpcError):
        """Ends a stream now with `error`: the handler reading it stops, the
        caller gets the status before anything else is said on the stream."""
        logging.getLogger(__name__).info("refused stream %s: %s (%s)", stream_id,
                                         error.code.name, error.message)
        request = self.receive_streams.pop(stream_id, None)
        if request is not None:
            request.close(error)
        response = self.send_streams.get(stream_id)
        if response is not None:
            response.close(error)
            self.send_headers(stream_id)  # as on_iteration does, but now: then the trailers
            self.send_data(stream_id)
        try:
            self.conn.reset_stream(stream_id, error_code=ErrorCodes.NO_ERROR)
        except StreamClosedError:
            pass
        release(self, stream_id)

    def data_received(self, event):
        if event.stream_id in self.tiaki_seen:
            self.tiaki_seen[event.stream_id] = time.monotonic()
        original_data_received(self, event)
        stream = self.receive_streams.get(event.stream_id)
        if stream is None or len(stream.buffer) < HEADER_LENGTH:
            return
        length = struct.unpack(">I", stream.buffer.peek(slice(1, HEADER_LENGTH)))[0]
        if length > self.tiaki_max_message:
            refuse(self, event.stream_id, exhausted(Reason.REASON_MESSAGE_TOO_LARGE,
                f"a message may be at most {self.tiaki_max_message} bytes "
                f"(GRPC_MAX_MESSAGE_BYTES); this one is {length}"))

    def end_stream(self, stream_id):
        original_end_stream(self, stream_id)
        release(self, stream_id)

    def stream_reset(self, event):
        original_stream_reset(self, event)
        release(self, event.stream_id)

    def on_iteration(self):
        now = time.monotonic()
        if now - self.tiaki_idle_checked >= IDLE_CHECK_SECONDS:
            self.tiaki_idle_checked = now
            idle = limit("GRPC_STREAM_IDLE_SECONDS")
            for stream_id in [s for s, seen in self.tiaki_seen.items()
                              if s in self.receive_streams and now - seen > idle]:
                refuse(self, stream_id, exhausted(Reason.REASON_STREAM_IDLE,
                    f"nothing sent on this call for {idle} s (GRPC_STREAM_IDLE_SECONDS)"))
        original_on_iteration(self)

    def run_forever(self):
        try:
            original_run_forever(self)
        finally:
            for stream_id in list(self.tiaki_held):
                release(self, stream_id)

    def handle_request(self, request_stream, response_stream):
        path = request_stream.headers.get(":path")
        if path in HEALTH_PATHS or path in reflection.PATHS:
            from tiaki.plumbing import health

            answer = health.answer if path in HEALTH_PATHS else reflection.answer
            self.container.spawn_managed_thread(
                partial(answer, self, request_stream, response_stream), identifier=path)
            return
        if path not in self.entrypoints:
            raise refusal(StatusCode.UNIMPLEMENTED, Reason.REASON_UNKNOWN_SERVICE,
                          f"this server has no method {path} (server reflection lists them)")
        original_handle_request(self, request_stream, response_stream)

    server.__init__ = __init__
    server.data_received = data_received
    server.end_stream = end_stream
    server.stream_reset = stream_reset
    server.on_iteration = on_iteration
    server.run_forever = run_forever
    GrpcServer.handle_request = handle_request
    server._tiaki_bounded = True
