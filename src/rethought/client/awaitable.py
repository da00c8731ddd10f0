"""What the adapters of loops whose promises are awaited share (asyncio, trio; Tornado is
asyncio's): opening is a coroutine, written once here.

The adapter supplies ``_open_transport(timeout)``, a coroutine that opens the socket (and
TLS) and makes it the connection's transport, raising its loop's own errors, named by
``_timeout_errors`` and ``_io_errors`` so that they read as the blocking driver's.
"""

from __future__ import annotations

import abc
import time
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

    def _enter_loop(self) -> None:  # noqa: B027 (a hook: trio needs nothing)
        """Called first by ``reconnect``, inside the loop: bind to it if need be."""

    async def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> Any:
        """Close (optionally waiting for noreply writes) and open a fresh connection; the
        timeout covers the socket, TLS and the handshake together."""
        self._enter_loop()
        await self.close(noreply_wait)
        timeout = self._connect_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._opening(self._timeout_errors, self._io_errors):
            await self._open_transport(timeout)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            await self._begin_handshake(remaining)
        return self
