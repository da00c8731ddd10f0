"""What the adapters of loops whose promises are awaited share (asyncio, trio; Tornado is
asyncio's): opening is a coroutine, written once here.

The adapter supplies ``_open_transport(timeout)``, a coroutine that opens the socket (and
TLS) and makes it the connection's transport, raising its loop's own errors, named by
``_timeout_errors`` and ``_io_errors`` so that they read as the blocking driver's, and
``_spawn(fn, *args)``, which runs a coroutine function in the background (a reconnect).
"""

from __future__ import annotations

import abc
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .asyncbase import FutureConnection

__all__ = ["AwaitableConnection"]


class AwaitableConnection(FutureConnection):
    """A :class:`FutureConnection` opened by ``await conn.reconnect()``."""

    _timeout_errors: tuple[type[BaseException], ...] = (TimeoutError,)
    _io_errors: tuple[type[BaseException], ...] = (OSError,)

    @abc.abstractmethod
    async def _open_transport(self, timeout: float | None) -> None:
        """Open the socket within ``timeout`` seconds and make it the transport."""

    @abc.abstractmethod
    def _spawn(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``fn(*args)`` as a background task of the loop (reconnecting)."""

    async def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> Any:
        """Close (optionally waiting for noreply writes) and open a fresh connection; the
        timeout covers the socket, TLS and the handshake together."""
        await self.close(noreply_wait)
        await self._open(self._connect_timeout(timeout))
        return self

    async def _open(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._opening(self._timeout_errors, self._io_errors):
            await self._open_transport(timeout)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            await self._begin_handshake(remaining)

    def _open_then(self, timeout: float | None, done: Callable[[Any], None]) -> None:
        self._spawn(self._open_reporting, timeout, done)

    async def _open_reporting(self, timeout: float | None, done: Callable[[Any], None]) -> None:
        try:
            await self._open(timeout)
        except Exception as exc:
            done(exc)
            return
        done(None)
