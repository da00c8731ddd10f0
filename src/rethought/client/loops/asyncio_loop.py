"""The asyncio adapter: ``r.set_loop_type("asyncio")``; ``await r.connect(...)``, ``await
query.run(conn)``.

An ``asyncio.BufferedProtocol`` is the connection's single reader: the loop reads into its
buffer and the core routes every frame, by token, to its query. Results are ``asyncio.Future``
objects; cancelling the task awaiting one STOPs the query on the server (see asyncbase).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..asyncbase import Connecting, FutureCursor, connect_params, tls_context
from ..awaitable import AwaitableConnection
from ..core import RECV_SIZE
from ..waits import CoroutineHandle

__all__ = ["Connection", "Cursor", "Pending", "connect"]


class Cursor(FutureCursor):
    """``await cursor.next()``, ``await cursor.fetch_next()``, ``async for row in cursor``."""


class Pending(CoroutineHandle, asyncio.Future):
    """The result of a query or operation that already started (its bytes are on their way):
    an ``asyncio.Future`` (awaited, gathered, waited on directly) that is also a ``Coroutine``
    (see CoroutineHandle). Cancelling it (a cancelled task cancels the future it waits on)
    calls ``on_cancel`` at once, which STOPs the query. It is its own asyncbase Handle.
    """

    __slots__ = ("_on_cancel", "_steps")

    @classmethod
    def new(cls, loop: asyncio.AbstractEventLoop, on_cancel: Callable[[], None] | None) -> Any:
        # No Python __init__: the C constructor alone, then one slot (half the cost).
        pending = cls(loop=loop)
        pending._on_cancel = on_cancel
        return pending

    @property
    def promise(self) -> Pending:
        return self

    @property
    def pending(self) -> bool:
        return not self.done()

    def resolve(self, value: Any) -> None:
        if not self.done():
            self._on_cancel = None
            self.set_result(value)

    def reject(self, error: BaseException) -> None:
        if not self.done():
            self._on_cancel = None
            self.set_exception(error)

    def cancel(self, msg: Any = None) -> bool:
        if not super().cancel(msg):
            return False
        on_cancel, self._on_cancel = self._on_cancel, None
        if on_cancel is not None:
            on_cancel()
        return True


class _Protocol(asyncio.BufferedProtocol):
    """Reads into one buffer per connection (``recv_into``): a plain Protocol's every read
    allocates asyncio's ``max_size`` (256 KiB) bytes, which glibc serves with mmap, mremap
    and munmap: three system calls and a page fault per answer on top of the read itself."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.view = memoryview(bytearray(RECV_SIZE))  # resident: bytearray() zeroes it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        conn = self.conn
        if conn._transport is self.transport:  # ignore a transport replaced by reconnect
            conn._feed(self.view[:nbytes])

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn._transport is self.transport:
            self.conn._broken(exc)


class Connection(AwaitableConnection):
    """An asyncio connection; every query method returns an awaitable."""

    cursor_class = Cursor
    _loop: asyncio.AbstractEventLoop | None = None
    _transport: asyncio.Transport | None = None

    # -- loop primitives -----------------------------------------------------------------

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> Pending:
        return Pending.new(self._loop, on_cancel)

    def _promise_of(self, handle: Pending) -> Pending:
        return handle  # its own promise (``handle.promise``, without the property call)

    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        return self._loop.call_later(delay, fn).cancel

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self._loop.call_soon(fn, *args)

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _close_transport(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- opening ------------------------------------------------------------------------

    async def _open_transport(self, timeout: float | None) -> None:
        context = tls_context(self.ssl)
        self._loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            self._transport, _ = await self._loop.create_connection(
                lambda: _Protocol(self),
                self.host,
                self.port,
                ssl=context,
                server_hostname=self.host if context else None,
            )

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        self._task = self._loop.create_task(fn(*args))  # referenced: a task is weakly held

    def _socket(self) -> Any:
        return self._transport.get_extra_info("socket")


def connect(*args: Any, **kwargs: Any) -> Connecting:
    """Open an asyncio connection: ``conn = await connect(host, port, db, user, password,
    timeout=20, ssl=None)``."""
    return Connecting(Connection(connect_params(*args, **kwargs)))
