"""The gevent adapter: ``r.set_loop_type("gevent")``; a blocking-style API on gevent's own
sockets (no monkey-patching needed).

Calls block only the calling greenlet: a reader greenlet feeds the core and settles gevent
``AsyncResult`` promises (the rest is :mod:`rethought.client.asyncbase`), a writer greenlet
drains outgoing bytes. Killing a greenlet (or a ``gevent.Timeout``) while it waits on a query
or a cursor STOPs that query on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent
import gevent.socket
import gevent.ssl
from gevent.event import AsyncResult

from ..asyncbase import BlockingFutureCursor, FutureConnection, connect_params
from ..core import RECV_SIZE
from ..params import BlockingContext
from ..sockets import open_socket
from ..waits import OnceHandle

__all__ = ["Connection", "Cursor", "connect"]


class Cursor(BlockingFutureCursor):
    """``for row in cursor``, ``cursor.next(wait=True)``, ``cursor.fetch_next()``; every
    method blocks the calling greenlet only (the connection's promises block)."""


class _Promise(OnceHandle, AsyncResult):
    """An AsyncResult that is its own asyncbase Handle and knows how to cancel its query."""

    def __init__(self, on_cancel: Callable[[], None] | None) -> None:
        super().__init__()
        self.on_cancel = on_cancel

    @property
    def pending(self) -> bool:
        return not self.ready()

    def _settle(self, ok: bool, value: Any) -> None:
        self.on_cancel = None
        (self.set if ok else self.set_exception)(value)


class Connection(BlockingContext, FutureConnection):
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
            self._broken(exc)
        finally:
            self._writer = None

    def _close_transport(self) -> None:
        sock, self._sock = self._sock, None
        self._out.clear()
        if sock is not None:
            sock.close()  # the reader's recv fails at once

    def _read(self, sock: Any) -> None:
        error = None
        try:
            while data := sock.recv(RECV_SIZE):
                self._feed(data)
        except OSError as exc:
            error = exc
        if self._sock is sock:
            self._broken(error)

    # -- the blocking API ----------------------------------------------------------------

    def _open(self, timeout: float | None) -> Connection:
        timeout = self._connect_timeout(timeout)
        with self._opening((TimeoutError,), (OSError,)):
            # gevent.ssl.create_default_context is the stdlib's: its ssl.SSLContext makes
            # sockets that block the whole thread (the hub too); gevent's class does not.
            create, context_class = gevent.socket.create_connection, gevent.ssl.SSLContext
            sock = open_socket(create, self.host, self.port, timeout, self.ssl, context_class)
            sock.settimeout(None)
        self._sock = sock
        gevent.spawn(self._read, sock)
        return self._begin_handshake(timeout)

    def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> Connection:
        """Close (optionally waiting for noreply writes) and open a fresh connection."""
        self.close(noreply_wait)
        return self._open(timeout)

    def _open_then(self, timeout: float | None, done: Callable[[Any], None]) -> None:
        gevent.spawn(self._open, timeout).link(lambda opening: done(opening.exception))

    def _socket(self) -> Any:
        return self._sock


def connect(*args: Any, **kwargs: Any) -> Connection:
    """Open a gevent connection (same arguments as the blocking ``r.connect``)."""
    return Connection(connect_params(*args, **kwargs))._open(None)
