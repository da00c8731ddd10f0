"""The asyncio adapter: ``r.set_loop_type("asyncio")``; ``await r.connect(...)``, ``await
query.run(conn)``.

An ``asyncio.Protocol`` is the connection's single reader: the loop calls ``data_received``
and the core routes every frame, by token, to its query. Results are ``asyncio.Future``
objects; cancelling the task awaiting one STOPs the query on the server (see asyncbase).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

from ...errors import ReqlDriverError, ReqlTimeoutError
from ..asyncbase import FutureConnection, FutureCursor, connect_params, tls_context

__all__ = ["Connection", "Cursor", "connect"]


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


async def _result(future: asyncio.Future) -> Any:
    return await future


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
            self.conn._lost(f"Connection is closed.{detail}" if exc else "Connection is closed.")


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
        # A coroutine rather than the bare future, so create_task() and TaskGroups take it.
        return _result(handle.promise)

    # -- opening and closing -------------------------------------------------------------

    async def reconnect(self, noreply_wait: bool = True, timeout: float | None = None):
        """Close (optionally waiting for noreply writes) and open a fresh connection."""
        self._loop = loop = asyncio.get_running_loop()
        await self.close(noreply_wait)
        timeout = self.connect_timeout if timeout is None else timeout
        context = tls_context(self.ssl)
        try:
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
        except TimeoutError:
            self._lost()
            raise ReqlTimeoutError(
                f"Could not connect to {self.host}:{self.port}, operation timed out."
            ) from None
        except OSError as exc:
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

    def client_port(self) -> int | None:
        return self._transport.get_extra_info("sockname")[1] if self.is_open() else None

    def client_address(self) -> str | None:
        return self._transport.get_extra_info("sockname")[0] if self.is_open() else None


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
    """Open an asyncio connection: ``conn = await connect(host, port, db, user, password,
    timeout=20, ssl=None)``."""
    return _Connecting(Connection(connect_params(*args, **kwargs)))
