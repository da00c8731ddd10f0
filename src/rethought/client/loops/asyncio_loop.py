"""The asyncio adapter: ``r.set_loop_type("asyncio")``; ``await r.connect(...)``, ``await
query.run(conn)``.

An ``asyncio.Protocol`` is the connection's single reader: the loop calls ``data_received``
and the core routes every frame, by token, to its query. Results are ``asyncio.Future``
objects; cancelling the task awaiting one STOPs the query on the server (see asyncbase).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from ..asyncbase import Connecting, FutureConnection, FutureCursor, connect_params, tls_context

__all__ = ["Connection", "Cursor", "Pending", "connect"]


class Cursor(FutureCursor):
    """``await cursor.next()``, ``await cursor.fetch_next()``, ``async for row in cursor``."""


class _Handle:
    __slots__ = ("promise",)

    def __init__(self, loop: asyncio.AbstractEventLoop, on_cancel: Callable[[], None] | None):
        self.promise = loop.create_future()
        if on_cancel is not None:
            self.promise.add_done_callback(lambda f: f.cancelled() and on_cancel())

    @property
    def pending(self) -> bool:
        return not self.promise.done()

    def resolve(self, value: Any) -> None:
        if not self.promise.done():
            self.promise.set_result(value)

    def reject(self, error: BaseException) -> None:
        if not self.promise.done():
            self.promise.set_exception(error)


class Pending(Coroutine):
    """The awaitable result of an operation that already started (its bytes are sent).

    Unlike a coroutine it warns of nothing when dropped, so ``run(..., noreply=True)`` or
    ``close()`` may be fired and forgotten; yet it is a ``Coroutine``, which ``create_task``,
    ``gather`` and TaskGroups accept. ``future`` is the underlying ``asyncio.Future``.
    """

    __slots__ = ("future", "_steps")

    def __init__(self, future: asyncio.Future) -> None:
        self.future = future
        self._steps: Generator[Any, None, Any] | None = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self.future.__await__()

    def _iter(self) -> Generator[Any, None, Any]:
        if self._steps is None:
            self._steps = self.future.__await__()
        return self._steps

    def send(self, value: Any) -> Any:
        return self._iter().send(value)

    def throw(self, *exc: Any) -> Any:
        return self._iter().throw(*exc)

    def close(self) -> None:
        self._steps = None


class _Protocol(asyncio.Protocol):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.conn._transport is self.transport:  # ignore a transport replaced by reconnect
            self.conn._feed(data)

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

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> _Handle:
        return _Handle(self._loop, on_cancel)

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

    def _promise_of(self, handle: _Handle) -> Any:
        return Pending(handle.promise)

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
