"""The gevent adapter: ``r.set_loop_type("gevent")``; a blocking-style API on gevent's own
sockets (no monkey-patching needed).

Calls block only the calling greenlet: a reader greenlet feeds the core and settles gevent
``AsyncResult`` promises (the rest is :mod:`rethought.client.asyncbase`), a writer greenlet
drains outgoing bytes. Killing a greenlet (or a ``gevent.Timeout``) while it waits on a query
or a cursor STOPs that query on the server.
"""

from __future__ import annotations

import socket as _socket
from collections.abc import Callable
from typing import Any

import gevent
import gevent.socket
import gevent.ssl
from gevent.event import AsyncResult

from ..asyncbase import BlockingFutureCursor, FutureConnection, connect_params, tls_context

__all__ = ["Connection", "Cursor", "connect"]

RECV_SIZE = 1 << 16


class Cursor(BlockingFutureCursor):
    """``for row in cursor``, ``cursor.next(wait=True)``, ``cursor.fetch_next()``; every
    method blocks the calling greenlet only (the connection's promises block)."""


class _Promise(AsyncResult):
    """An AsyncResult that is its own asyncbase Handle and knows how to cancel its query."""

    def __init__(self, on_cancel: Callable[[], None] | None) -> None:
        super().__init__()
        self.on_cancel = on_cancel

    @property
    def promise(self) -> _Promise:
        return self

    @property
    def pending(self) -> bool:
        return not self.ready()

    # Settling drops on_cancel: it refers back to the waiting query (no cycle outlives it).

    def resolve(self, value: Any) -> None:
        if not self.ready():
            self.on_cancel = None
            self.set(value)

    def reject(self, exc: BaseException) -> None:
        if not self.ready():
            self.on_cancel = None
            self.set_exception(exc)


class Connection(FutureConnection):
    """A gevent connection: methods block the calling greenlet only."""

    cursor_class = Cursor

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self._sock: Any = None
        self._out = bytearray()
        self._writer: gevent.Greenlet | None = None

    def _promise_of(self, promise: _Promise) -> Any:
        # The blocking API: wait here, in the calling greenlet, for what asyncbase promised.
        try:
            return promise.get()
        except BaseException:
            # Interrupted while waiting (killed, gevent.Timeout): abandon the query.
            if not promise.ready() and promise.on_cancel is not None:
                promise.on_cancel()
            raise

    # -- loop primitives -----------------------------------------------------------------

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> _Promise:
        return _Promise(on_cancel)

    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        timer = gevent.spawn_later(delay, fn)
        return lambda: timer.kill(block=False)

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        gevent.spawn(fn, *args)

    def _write(self, data: bytes) -> None:
        # Never block the caller (it may be the reader): a writer greenlet sends, in order.
        if self._sock is None:
            return
        self._out += data
        if self._writer is None:
            self._writer = gevent.spawn(self._drain, self._sock)

    def _drain(self, sock: Any) -> None:
        try:
            while self._out and self._sock is sock:
                data = bytes(self._out)
                self._out.clear()
                sock.sendall(data)
        except OSError as exc:
            self._lost(f"Connection is closed. - {exc}")
        finally:
            self._writer = None

    def _close_transport(self) -> None:
        sock, self._sock = self._sock, None
        self._out.clear()
        if sock is not None:
            sock.close()  # the reader's recv fails at once

    def _read(self, sock: Any) -> None:
        message = "Connection is closed."
        try:
            while True:
                data = sock.recv(RECV_SIZE)
                if not data:
                    break
                self._feed(data)
        except OSError as exc:
            message = f"Connection is closed. - {exc}"
        if self._sock is sock:
            self._lost(message)

    # -- the blocking API ----------------------------------------------------------------

    def _open(self, timeout: float | None) -> Connection:
        timeout = self.connect_timeout if timeout is None else timeout
        with self._opening((TimeoutError,), (OSError,)):
            sock = gevent.socket.create_connection((self.host, self.port), timeout)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            if self.ssl:
                # gevent.ssl.create_default_context is the stdlib's: its ssl.SSLContext makes
                # sockets that block the whole thread (the hub too); gevent's class does not.
                context = tls_context(self.ssl, gevent.ssl.SSLContext)
                sock = context.wrap_socket(sock, server_hostname=self.host)
            sock.settimeout(None)
        self._sock = sock
        gevent.spawn(self._read, sock)
        return self._begin_handshake(timeout)

    def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> Connection:
        """Close (optionally waiting for noreply writes) and open a fresh connection."""
        self.close(noreply_wait)
        return self._open(timeout)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(noreply_wait=False)

    def client_port(self) -> int | None:
        return self._sock.getsockname()[1] if self.is_open() else None

    def client_address(self) -> str | None:
        return self._sock.getsockname()[0] if self.is_open() else None


def connect(*args: Any, **kwargs: Any) -> Connection:
    """Open a gevent connection (same arguments as the blocking ``r.connect``)."""
    return Connection(connect_params(*args, **kwargs))._open(None)
