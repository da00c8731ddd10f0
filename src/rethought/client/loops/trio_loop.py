"""The trio adapter: ``r.set_loop_type("trio")``; ``await r.connect(...)``, ``await
query.run(conn)``, no nursery needed.

Trio has no futures and no background callbacks, so the waiting tasks share the reading:
whichever task awaits a result while nobody reads becomes the reader, feeds what it gets to
the core (which routes frames by token and settles every affected promise) and wakes the
others. Timers (per-query and ``next(wait=...)`` timeouts) are a heap the waiters honour.
A cancelled wait STOPs its query, sending the STOP inside a shielded scope.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Generator
from typing import Any

import trio

from ...errors import ReqlDriverError, ReqlTimeoutError
from ..asyncbase import FutureConnection, FutureCursor, connect_params, tls_context

__all__ = ["Connection", "Cursor", "connect"]

RECV_SIZE = 1 << 16


class Cursor(FutureCursor):
    """``await cursor.next()``, ``await cursor.fetch_next()``, ``async for row in cursor``."""


class Promise:
    """The awaitable result of one operation (the trio counterpart of a future)."""

    __slots__ = ("conn", "on_cancel", "done", "abandoned", "value", "error")

    def __init__(self, conn: Connection, on_cancel: Callable[[], None] | None) -> None:
        self.conn = conn
        self.on_cancel = on_cancel
        self.done = self.abandoned = False
        self.value: Any = None
        self.error: BaseException | None = None

    @property
    def promise(self) -> Promise:
        return self

    @property
    def pending(self) -> bool:
        return not (self.done or self.abandoned)

    def resolve(self, value: Any) -> None:
        if self.pending:
            self.done, self.value = True, value

    def reject(self, error: BaseException) -> None:
        if self.pending:
            self.done, self.error = True, error

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


class Connection(FutureConnection):
    """A trio connection; every query method returns an awaitable."""

    cursor_class = Cursor

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self._stream: trio.abc.Stream | None = None
        self._outbox = bytearray()
        self._send_lock = trio.Lock()
        self._reading = False
        self._changed = trio.Event()
        self._timers: list = []
        self._timer_ids = itertools.count()
        self._token: trio.lowlevel.TrioToken | None = None

    # -- loop primitives -----------------------------------------------------------------

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> Promise:
        return Promise(self, on_cancel)

    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        entry = [trio.current_time() + delay, next(self._timer_ids), fn]
        heapq.heappush(self._timers, entry)
        return lambda: entry.__setitem__(2, None)

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self._token.run_sync_soon(fn, *args)

    def _write(self, data: bytes) -> None:
        self._outbox += data  # sent by the next waiter (writes in trio are awaited)

    def _close_transport(self) -> None:
        stream = self._stream
        self._outbox.clear()
        if stream is not None:
            # Closing the socket synchronously wakes a reader blocked in receive_some.
            sock = getattr(getattr(stream, "transport_stream", stream), "socket", None)
            if sock is not None:
                sock.close()
        self._notify()

    # -- the shared reader ---------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _send_pending(self) -> None:
        async with self._send_lock:
            if not self._outbox or self._stream is None:
                return
            data = bytes(self._outbox)
            self._outbox.clear()
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self._lost(f"Connection interrupted sending to {self.host}:{self.port} - {exc}")

    def _run_timers(self) -> float:
        """Fire expired timers; the next deadline (inf if none)."""
        timers = self._timers
        now = trio.current_time()
        while timers and (timers[0][2] is None or timers[0][0] <= now):
            fn = heapq.heappop(timers)[2]
            if fn is not None:
                fn()
        return timers[0][0] if timers else math.inf

    async def _wait_for(self, promise: Promise) -> None:
        while not promise.done:
            await self._send_pending()
            deadline = self._run_timers()
            if promise.done:
                return
            with trio.move_on_at(deadline):
                if self._reading:
                    await self._changed.wait()
                else:
                    await self._read_once()

    async def _read_once(self) -> None:
        self._reading = True
        try:
            data = await self._stream.receive_some(RECV_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._lost(f"Connection interrupted receiving from {self.host}:{self.port} - {exc}")
            return
        finally:
            self._reading = False
            self._notify()
        if data:
            self._feed(data)
        else:
            self._lost("Connection is closed.")

    # -- opening and closing -------------------------------------------------------------

    async def reconnect(self, noreply_wait: bool = True, timeout: float | None = None):
        """Close (optionally waiting for noreply writes) and open a fresh connection."""
        await self.close(noreply_wait)
        self._token = trio.lowlevel.current_trio_token()
        timeout = self.connect_timeout if timeout is None else timeout
        context = tls_context(self.ssl)
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                stream: trio.abc.Stream = await trio.open_tcp_stream(self.host, self.port)
                if context is not None:
                    stream = trio.SSLStream(stream, context, server_hostname=self.host)
                    await stream.do_handshake()
                self._stream = stream
                await self._begin_handshake(None)
        except trio.TooSlowError:
            self._lost()
            raise ReqlTimeoutError(
                f"Could not connect to {self.host}:{self.port}, operation timed out."
            ) from None
        except (OSError, trio.BrokenResourceError) as exc:
            self._lost()
            raise ReqlDriverError(
                f"Could not connect to {self.host}:{self.port}. Error: {exc}"
            ) from None
        except BaseException:
            self._lost()
            raise
        return self

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close(noreply_wait=False)


class _Connecting:
    """What ``connect`` returns: ``await`` it, or use it as ``async with r.connect() as c``."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __await__(self) -> Generator[Any, None, Connection]:
        return self.conn.reconnect(noreply_wait=False).__await__()

    async def __aenter__(self) -> Connection:
        return await self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close(noreply_wait=False)


def connect(*args: Any, **kwargs: Any) -> _Connecting:
    """Open a trio connection: ``conn = await connect(host, port, db, user, password,
    timeout=20, ssl=None)``."""
    return _Connecting(Connection(connect_params(*args, **kwargs)))
