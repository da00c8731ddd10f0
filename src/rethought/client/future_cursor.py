"""The cursor of promise-based loops, and what an awaitable loop's ``connect`` returns.

:class:`FutureCursor` returns the loop's promises (``conn._when``, :mod:`.asyncbase`);
:class:`BlockingFutureCursor` is the same cursor for a loop whose promises block the caller
(gevent): ``for row in cursor`` and ``with cursor``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from ..errors import ReqlCursorEmpty, ReqlDriverError
from .core import EMPTY, PENDING
from .cursor import CursorBase, DefaultCursorEmpty, wait_to_timeout

__all__ = ["FutureCursor", "BlockingFutureCursor", "Connecting"]


class FutureCursor(CursorBase):
    """A cursor whose methods return the loop's promises; ``async for`` works where the
    promises are awaitable (asyncio, trio, tornado)."""

    # What next() raises at the end: not DefaultCursorEmpty, whose StopIteration base breaks
    # coroutines and futures (a blocking-style cursor may choose it).
    empty_error: type[ReqlCursorEmpty] = ReqlCursorEmpty

    def fetch_next(self, wait: bool | float = True) -> Any:
        """A promise of True while rows (or an error to raise) remain, False at the end."""
        conn = self.conn
        query = self.query
        timeout = wait_to_timeout(wait)

        def attempt() -> Any:
            if query.items:
                return True
            if query.done:
                return query.error is not None
            conn._core.next_item(query)  # nothing buffered: only asks for more
            conn._flush()
            return PENDING

        return conn._when(query, attempt, timeout)

    def next(self, wait: bool | float = True) -> Any:
        """A promise of the next row; ReqlCursorEmpty at the end, ReqlTimeoutError if no
        row arrives within ``wait`` seconds."""
        conn = self.conn
        query = self.query
        try:
            timeout = wait_to_timeout(wait)
        except ReqlDriverError as exc:
            return conn._failed(exc)

        def attempt() -> Any:
            item = self._next_or_empty()
            if item is EMPTY:
                raise self.empty_error()
            return item

        return conn._when(query, attempt, timeout)

    def close(self) -> Any:
        """Stop the query on the server; a promise resolved at once."""
        self.conn._stop(self.query)
        return self.conn._resolved(None)

    def __aiter__(self) -> FutureCursor:
        return self

    async def __anext__(self) -> Any:
        query = self.query  # _row_now's hot path inline: one call less per row
        items = query.items
        if items and (query.outstanding or query.done):
            return items.popleft()
        row = self._next_or_empty()
        if row is PENDING:
            row = await self.conn._when(self.query, self._next_or_empty)
        if row is EMPTY:  # the end, without an exception through a promise (see Wait)
            raise StopAsyncIteration
        return row

    def _row_now(self) -> Any:
        """For iteration: the next row, EMPTY at the end or PENDING, without a promise
        (raises the stream's error)."""
        query = self.query
        items = query.items
        if items and (query.outstanding or query.done):  # the hot path of big reads
            return items.popleft()  # (no CONTINUE to consider either)
        return self._next_or_empty()

    def _next_or_empty(self) -> Any:
        conn = self.conn
        row = conn._core.next_item(self.query)
        conn._flush()
        return row

    async def __aenter__(self) -> FutureCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class BlockingFutureCursor(FutureCursor):
    """``for row in cursor``, ``cursor.next(wait=True)``, ``cursor.fetch_next()``, for a loop
    whose promises block the calling thread of control (greenlet) until settled."""

    empty_error = DefaultCursorEmpty  # also a StopIteration, as in the blocking API

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        row = self._row_now()
        if row is PENDING:
            row = self.conn._when(self.query, self._next_or_empty)  # blocks the caller
        if row is EMPTY:
            raise StopIteration
        return row

    def __enter__(self) -> BlockingFutureCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Connecting:
    """What an awaitable loop's ``connect`` returns: ``await`` it, or ``async with`` it.

    ``conn`` needs a coroutine method ``reconnect(noreply_wait)`` and ``close(noreply_wait)``.
    """

    __slots__ = ("conn",)

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __await__(self) -> Generator[Any, None, Any]:
        return self.conn.reconnect(noreply_wait=False).__await__()

    async def __aenter__(self) -> Any:
        return await self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close(noreply_wait=False)
