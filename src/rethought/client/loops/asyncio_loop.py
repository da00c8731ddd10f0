"""The asyncio adapter: ``r.set_loop_type("asyncio")``; ``await r.connect(...)``, ``await
query.run(conn)``.

An ``asyncio.BufferedProtocol`` is the connection's single reader: the loop reads into its
buffer and the core routes every frame, by token, to its query. Results are ``asyncio.Future``
objects; cancelling the task awaiting one STOPs the query on the server (see asyncbase).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from ..asyncbase import Connecting, FutureConnection, FutureCursor, connect_params, tls_context

__all__ = ["Connection", "Cursor", "Pending", "connect"]

# The read buffer of each connection (resident: bytearray() zeroes it): as the other
# adapters read; a 1 MB batch then takes 16 reads, each far cheaper than its rows' parse.
RECV_SIZE = 1 << 16


class Cursor(FutureCursor):
    """``await cursor.next()``, ``await cursor.fetch_next()``, ``async for row in cursor``."""


class Pending(asyncio.Future):
    """The result of a query or operation that already started (its bytes are on their way):
    an ``asyncio.Future`` that is also a ``Coroutine``.

    As a future it is awaited, gathered and waited on directly (``gather`` makes no task for
    it); as a coroutine ``create_task`` and TaskGroups accept it, like the official driver's
    coroutines, yet dropping it warns of nothing, so ``run(..., noreply=True)`` or
    ``close()`` may be fired and forgotten. Cancelling it (a cancelled task cancels the
    future it waits on) calls ``on_cancel`` at once, which STOPs the query. It is its own
    asyncbase Handle.
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

    # The coroutine protocol, for a Task that drives it (``create_task(query.run(conn))``).

    def _iter(self) -> Generator[Any, None, Any]:
        steps = getattr(self, "_steps", None)  # a slot set only once a Task drives it
        if steps is None:
            steps = self._steps = self.__await__()
        return steps

    def send(self, value: Any) -> Any:
        return self._iter().send(value)

    def throw(self, *exc: Any) -> Any:
        return self._iter().throw(*exc)

    def close(self) -> None:
        self._steps = None


Coroutine.register(Pending)


class _Protocol(asyncio.BufferedProtocol):
    """Reads into one buffer per connection (``recv_into``): a plain Protocol's every read
    allocates asyncio's ``max_size`` (256 KiB) bytes, which glibc serves with mmap, mremap
    and munmap: three system calls and a page fault per answer on top of the read itself."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.view = memoryview(bytearray(RECV_SIZE))

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
            detail = f" - {exc}" if exc else ""
            self.conn._lost(f"Connection is closed.{detail}")


class Connection(FutureConnection):
    """An asyncio connection; every query method returns an awaitable."""

    cursor_class = Cursor

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.Transport | None = None

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

    # -- opening and closing -------------------------------------------------------------

    async def reconnect(self, noreply_wait: bool = True, timeout: float | None = None):
        """Close (optionally waiting for noreply writes) and open a fresh connection."""
        self._loop = loop = asyncio.get_running_loop()
        await self.close(noreply_wait)
        timeout = self.connect_timeout if timeout is None else timeout
        context = tls_context(self.ssl)
        with self._opening((TimeoutError,), (OSError,)):
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(
                    lambda: _Protocol(self),
                    self.host,
                    self.port,
                    ssl=context,
                    server_hostname=self.host if context else None,
                )
                self._transport = transport
                await self._begin_handshake(None)
        return self

    def client_port(self) -> int | None:
        return self._transport.get_extra_info("sockname")[1] if self.is_open() else None

    def client_address(self) -> str | None:
        return self._transport.get_extra_info("sockname")[0] if self.is_open() else None


def connect(*args: Any, **kwargs: Any) -> Connecting:
    """Open an asyncio connection: ``conn = await connect(host, port, db, user, password,
    timeout=20, ssl=None)``."""
    return Connecting(Connection(connect_params(*args, **kwargs)))
