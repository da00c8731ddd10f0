"""The trio adapter: ``r.set_loop_type("trio")``; ``await r.connect(...)``, ``await
query.run(conn)``, no nursery needed.

Results are :class:`Promise` objects; how they get settled without a background reader (the
waiting tasks take turns reading; a pump runs Handlers) is :mod:`.trio_reader`. A cancelled
wait STOPs its query, sending the STOP inside a shielded scope.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import trio

from ..asyncbase import Connecting, FutureCursor, connect_params, tls_context
from ..waits import OnceHandle
from .trio_reader import SharedReader

__all__ = ["Connection", "Cursor", "Promise", "connect"]


class Cursor(FutureCursor):
    """``await cursor.next()``, ``await cursor.fetch_next()``, ``async for row in cursor``."""


class Promise(OnceHandle):
    """The awaitable result of one operation (the trio counterpart of a future)."""

    __slots__ = ("conn", "on_cancel", "done", "abandoned", "value", "error")

    def __init__(self, conn: Connection, on_cancel: Callable[[], None] | None) -> None:
        self.conn = conn
        self.on_cancel = on_cancel
        self.done = self.abandoned = False
        self.value: Any = None
        self.error: BaseException | None = None

    @property
    def pending(self) -> bool:
        return not (self.done or self.abandoned)

    def _settle(self, ok: bool, value: Any) -> None:
        self.done, self.on_cancel = True, None
        if ok:
            self.value = value
        else:
            self.error = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        try:
            await self.conn._wait_for(self)
        except trio.Cancelled:
            if not self.done:
                self.abandoned = True
                if self.on_cancel is not None:
                    self.on_cancel()
                with trio.CancelScope(shield=True):
                    await self.conn._send_pending()
            raise
        if self.error is not None:
            raise self.error
        return self.value


class Connection(SharedReader):
    """A trio connection; every query method returns an awaitable."""

    cursor_class = Cursor

    # -- loop primitives -----------------------------------------------------------------

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> Promise:
        return Promise(self, on_cancel)

    def _close_transport(self) -> None:
        stream, self._stream = self._stream, None  # waiters wait for a new one (_read_or_wait)
        self._outbox.clear()
        if stream is not None:
            # Closing the socket synchronously wakes a reader blocked in receive_some.
            sock = getattr(getattr(stream, "transport_stream", stream), "socket", None)
            if sock is not None:
                sock.close()
        self._notify()

    # -- opening ------------------------------------------------------------------------

    _timeout_errors = (trio.TooSlowError,)
    _io_errors = (OSError, trio.BrokenResourceError)

    async def _open_transport(self, timeout: float | None) -> None:
        context = tls_context(self.ssl)
        with trio.fail_after(math.inf if timeout is None else timeout):
            stream: trio.abc.Stream = await trio.open_tcp_stream(self.host, self.port)
            if context is not None:
                stream = trio.SSLStream(stream, context, server_hostname=self.host)
                try:
                    await stream.do_handshake()
                except trio.BrokenResourceError as exc:  # says nothing: its cause does
                    cause = exc.__cause__
                    raise (cause if isinstance(cause, OSError) else exc) from None
        self._stream = stream

    def _socket(self) -> Any:
        return getattr(self._stream, "transport_stream", self._stream).socket


def connect(*args: Any, nursery: trio.Nursery | None = None, **kwargs: Any) -> Connecting:
    """Open a trio connection: ``conn = await connect(host, port, db, user, password,
    timeout=20, ssl=None, nursery=None)``; ``nursery`` runs handler callbacks (see above)."""
    return Connecting(Connection(connect_params(*args, nursery=nursery, **kwargs)))
