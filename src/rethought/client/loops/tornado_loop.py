"""The Tornado adapter: ``r.set_loop_type("tornado")``; ``connect`` and ``run`` return
``tornado.concurrent.Future`` objects, for ``yield`` in ``gen.coroutine`` or ``await``.

Tornado (5+) runs on asyncio and its Future *is* ``asyncio.Future``, so this is the asyncio
adapter bound to ``IOLoop.current()`` with two differences: ``connect`` may be called before
the loop runs (as Tornado programs do at import time), and a pending ``next()`` /
``fetch_next()`` future that the caller settles itself (``chain_future(cancel, cursor.next())``)
or cancels means the consumer is gone, so the query is STOPped on the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tornado.concurrent import Future
from tornado.ioloop import IOLoop

from ..asyncbase import FutureCursor, connect_params
from . import asyncio_loop

__all__ = ["Connection", "Cursor", "connect"]


class Cursor(FutureCursor):
    """``while (yield cursor.fetch_next()): item = yield cursor.next()``; ``async for``."""

    def fetch_next(self, wait: bool | float = True) -> Future:
        """A Future of True while rows (or an error to raise) remain, False at the end.

        An open changefeed never ends by itself, so this is True at once and the waiting
        happens in ``next()``: a future chained into that ``next()`` (seed 000's
        ``ChangefeedNoticer``) then reaches the consumer and stops the feed.
        """
        query = self.query
        if query.is_feed and not query.done:
            return self.conn._resolved(True)
        return super().fetch_next(wait)


class _Handle(asyncio_loop.Pending):
    """A Tornado Future; settled or cancelled by anyone but us, it runs ``on_cancel``."""

    __slots__ = ("_ours",)

    @classmethod
    def new(cls, loop: asyncio.AbstractEventLoop, on_cancel: Callable[[], None] | None) -> Any:
        handle = super().new(loop, None)
        handle._ours = False
        if on_cancel is not None:
            handle.add_done_callback(lambda _f: handle._ours or on_cancel())
        return handle

    def resolve(self, value: Any) -> None:
        if self.pending:
            self._ours = True
            super().resolve(value)

    def reject(self, exc: BaseException) -> None:
        if self.pending:
            self._ours = True
            super().reject(exc)


class Connection(asyncio_loop.Connection):
    """A connection on Tornado's IOLoop; every query method returns a Tornado Future."""

    cursor_class = Cursor

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> _Handle:
        return _Handle.new(self._loop, on_cancel)

    def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> Future:
        """Close (optionally after noreply_wait) and open again; a Future of the connection."""
        loop = IOLoop.current().asyncio_loop
        self._loop = self._loop or loop
        return asyncio.ensure_future(super().reconnect(noreply_wait, timeout), loop=loop)


def connect(*args: Any, **kwargs: Any) -> Future:
    """Open a connection on ``IOLoop.current()``: a Future resolved with the
    :class:`Connection` (the loop need not be running yet)."""
    loop = IOLoop.current().asyncio_loop
    try:
        conn = Connection(connect_params(*args, **kwargs))
    except Exception as exc:
        failed = loop.create_future()
        failed.set_exception(exc)
        return failed
    conn._loop = loop
    return conn.reconnect(noreply_wait=False)
