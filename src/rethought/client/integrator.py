"""Bring your own event loop: the driver on a loop we do not ship (Qt, GLib, a game loop...).

The integrator implements :class:`EventLoop` -- six small methods: watch a socket for read or
write, stop watching, run a function soon, arm and cancel a timer. :func:`connect` then gives
a full connection on top of the sans-IO core (queries, cursors, feeds, ``query.handle`` with
Handlers) whose results are :class:`AsyncResult` objects: set their ``callback`` and
``errback`` attributes. A result whose callbacks were not both set before control returns to
the loop is reported right away, with the line that made the call -- not later, when (if
ever) its answer arrives.

Sockets are non-blocking; the only blocking step is the host name lookup. TLS is not
available here (use a shipped loop type for ``ssl=``).

    conn_result = integrator.connect(MyLoop(), host="localhost")
    conn_result.callback = on_connected
    conn_result.errback = on_error
"""

from __future__ import annotations

import abc
import errno
import socket
import sys
from collections.abc import Callable
from typing import Any

from ..errors import ReqlDriverError
from .asyncbase import FutureConnection, FutureCursor, connect_params
from .core import RECV_SIZE
from .params import connect_error, recv_error, send_error
from .sockets import tune_socket

__all__ = ["EventLoop", "AsyncResult", "Connection", "Cursor", "connect"]


class EventLoop(abc.ABC):
    """What the integrator supplies: the I/O readiness and timer primitives of a loop.

    Watches are persistent: a callback runs each time the socket is ready, until
    ``unwatch``. Every callback must run on the loop's own thread.
    """

    @abc.abstractmethod
    def watch_read(self, sock: socket.socket, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``sock`` is readable."""

    @abc.abstractmethod
    def watch_write(self, sock: socket.socket, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``sock`` is writable."""

    @abc.abstractmethod
    def unwatch(self, sock: socket.socket, read: bool = True, write: bool = True) -> None:
        """Stop the read and/or write watch of ``sock`` (either may be absent)."""

    @abc.abstractmethod
    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop soon, after the current callback returns."""

    @abc.abstractmethod
    def call_later(self, delay: float, fn: Callable[[], None]) -> Any:
        """Run ``fn()`` after ``delay`` seconds; return a timer for :meth:`cancel`."""

    @abc.abstractmethod
    def cancel(self, timer: Any) -> None:
        """Disarm a timer from :meth:`call_later` (it may already have fired)."""


class AsyncResult:
    """A pending result: ``callback(value)`` on success, ``errback(exception)`` on failure.

    Both must be set before control returns to the loop; otherwise a ReqlDriverError naming
    the call site is raised from the loop at once (the loop reports it as it reports any
    callback error).
    """

    __slots__ = ("callback", "errback", "_loop", "_site", "_outcome", "_checked")

    def __init__(self, loop: EventLoop) -> None:
        self.callback: Callable[[Any], Any] | None = None
        self.errback: Callable[[BaseException], Any] | None = None
        self._loop = loop
        frame = sys._getframe(1)
        while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
            "rethought."
        ):
            frame = frame.f_back  # name the application's line, not the driver's
        self._site = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        self._outcome: tuple[bool, Any] | None = None
        self._checked = False
        loop.call_soon(self._check)

    @property
    def done(self) -> bool:
        return self._outcome is not None

    def _check(self) -> None:
        self._checked = True
        if self.callback is None or self.errback is None:
            missing = "callback" if self.callback is None else "errback"
            raise ReqlDriverError(f"AsyncResult created at {self._site} has no {missing} set.")
        self._fire()

    def _settle(self, ok: bool, value: Any) -> None:
        if self._outcome is None:
            self._outcome = (ok, value)
            if self._checked:
                self._fire()

    def _fire(self) -> None:
        if self._outcome is not None:
            ok, value = self._outcome
            (self.callback if ok else self.errback)(value)


class _Handle:
    __slots__ = ("promise",)

    def __init__(self, loop: EventLoop) -> None:
        self.promise = AsyncResult(loop)

    @property
    def pending(self) -> bool:
        return not self.promise.done

    def resolve(self, value: Any) -> None:
        self.promise._settle(True, value)

    def reject(self, error: BaseException) -> None:
        self.promise._settle(False, error)


class Cursor(FutureCursor):
    """``cursor.next()`` / ``cursor.fetch_next()`` return AsyncResults."""


class Connection(FutureConnection):
    """A connection driven by an :class:`EventLoop`; query methods return AsyncResults."""

    cursor_class = Cursor

    def __init__(self, loop: EventLoop, params: dict) -> None:
        super().__init__(params)
        self.loop = loop
        self._sock: socket.socket | None = None
        self._out = bytearray()

    # -- loop primitives (asyncbase) -----------------------------------------------------

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> _Handle:
        return _Handle(self.loop)  # AsyncResults cannot be cancelled: close the cursor

    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        timer = self.loop.call_later(delay, fn)
        return lambda: self.loop.cancel(timer)

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon(fn, *args)

    def _write(self, data: bytes) -> None:
        if self._sock is None:
            return
        pending = bool(self._out)
        self._out += data
        if not pending:
            self._on_writable()

    def _close_transport(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            self.loop.unwatch(sock)
            sock.close()

    # -- moving bytes --------------------------------------------------------------------

    def _on_writable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sent = sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._lost(str(send_error(self.host, self.port, exc)))
            return
        del self._out[:sent]
        if self._out:
            self.loop.watch_write(sock, self._on_writable)
        else:
            self.loop.unwatch(sock, read=False)

    def _on_readable(self) -> None:
        while self._sock is not None:
            try:
                data = self._sock.recv(RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._lost(str(recv_error(self.host, self.port, exc)))
                return
            if not data:
                self._lost()
                return
            self._feed(data)

    # -- opening -------------------------------------------------------------------------

    def reconnect(self, noreply_wait: bool = False, timeout: float | None = None) -> AsyncResult:
        """Open a fresh connection (the current one is dropped); an AsyncResult of self."""
        if self._sock is not None:
            self._lost()
        if self.ssl:
            raise ReqlDriverError("TLS is not available on an integrated event loop.")
        timeout = self.connect_timeout if timeout is None else timeout
        handle = _Handle(self.loop)
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.setblocking(False)
            tune_socket(sock)
            code = sock.connect_ex(address)
        except OSError as exc:
            handle.reject(connect_error(self.host, self.port, exc))
            return handle.promise
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            handle.reject(connect_error(self.host, self.port, errno.errorcode.get(code, code)))
            return handle.promise
        self._sock, self._out = sock, bytearray()

        def connected() -> None:
            self.loop.unwatch(sock, read=False)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._close_transport()
                handle.reject(connect_error(self.host, self.port, errno.errorcode.get(code)))
                return
            self.loop.watch_read(sock, self._on_readable)
            ready = self._begin_handshake(timeout)
            ready.callback = handle.resolve
            ready.errback = handle.reject

        self.loop.watch_write(sock, connected)
        return handle.promise

    def _open_then(self, timeout: float | None, done: Callable[[Any], None]) -> None:
        opening = self.reconnect(timeout=timeout)
        opening.callback = lambda _conn: done(None)
        opening.errback = done

    def _socket(self) -> Any:
        return self._sock


def connect(loop: EventLoop, *args: Any, **kwargs: Any) -> AsyncResult:
    """Open a connection driven by ``loop``: an AsyncResult whose callback gets it.

    Takes ``r.connect``'s arguments (``host``, ``port``, ``db``, ``user``, ``password``,
    ``timeout``). ``register_loop_type("mine", functools.partial(connect, MyLoop()))`` makes
    it available to ``r.set_loop_type("mine")``.
    """
    return Connection(loop, connect_params(*args, **kwargs)).reconnect()
