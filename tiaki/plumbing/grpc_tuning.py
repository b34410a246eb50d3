"""Tunes nameko-grpc 1.3's server connections; applied by `python -m tiaki.nameko`
before any service starts.

Measured here (`make bench`): a unary call took 13 ms against 0.7 ms for plain
grpcio. nameko-grpc's connection loop sends what a worker produced only on its
next pass, and a pass waits in select() for incoming data or a 10 ms timeout:
every reply waited for the timeout. Here a worker that queues response data
wakes the loop through a socketpair. Large record batches also crawled through
HTTP/2's default 64 KiB flow-control windows, one round trip at a time, and
small frames waited on Nagle without TCP_NODELAY.
"""

from __future__ import annotations

import socket

import nameko_grpc.connection as connection
from h2.settings import SettingCodes

# Big enough that a 2,000-record batch needs no window round trip; small enough
# to bound what one stream can park in a service's memory.
WINDOW_BYTES = 2 * 1024 * 1024

_select = None  # the (green) select.select, taken when apply() runs
_wakers: dict = {}  # connection socket -> read end of its wake-up socketpair


class _WakeableSelect:
    """Stands in for the `select` module inside nameko_grpc.connection."""

    @staticmethod
    def select(rlist, wlist, xlist, timeout=None):
        waker = _wakers.get(rlist[0]) if len(rlist) == 1 else None
        if waker is None:
            return _select(rlist, wlist, xlist, timeout)
        ready, w, x = _select([rlist[0], waker], wlist, xlist, timeout)
        if waker in ready:
            try:
                waker.recv(4096)
            except OSError:
                pass
        return [s for s in ready if s is not waker], w, x


def apply():
    """Call after eventlet.monkey_patch(): the loop must wait in green select."""
    global _select
    server = connection.ServerConnectionManager
    if getattr(server, "_tiaki_tuned", False):
        return
    import select

    _select = select.select
    original_init = server.__init__
    original_request_received = server.request_received
    original_run_forever = server.run_forever

    def __init__(self, sock, handle_request):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket
            pass
        original_init(self, sock, handle_request)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        _wakers[sock] = self._wake_r

    def request_received(self, event):
        original_request_received(self, event)
        stream = self.send_streams.get(event.stream_id)
        if stream is None:
            return
        put, wake = stream.queue.put, self._wake_w

        def put_and_wake(item, *args, **kwargs):
            put(item, *args, **kwargs)
            try:
                wake.send(b"\0")
            except OSError:
                pass  # already awake (buffer full) or closing

        stream.queue.put = put_and_wake

    def run_forever(self):
        initiate = self.conn.initiate_connection

        def initiate_with_large_windows():
            initiate()  # the preface first, then the larger windows
            self.conn.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: WINDOW_BYTES})
            self.conn.increment_flow_control_window(WINDOW_BYTES - 65535)

        self.conn.initiate_connection = initiate_with_large_windows
        try:
            original_run_forever(self)
        finally:
            _wakers.pop(self.sock, None)
            self._wake_r.close()
            self._wake_w.close()

    connection.select = _WakeableSelect
    server.__init__ = __init__
    server.request_received = request_received
    server.run_forever = run_forever
    server._tiaki_tuned = True
