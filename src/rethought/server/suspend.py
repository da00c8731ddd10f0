"""Let synchronous term code wait for asynchronous I/O without blocking the event loop.

Terms are plain synchronous Python (fast, simple, easy to test). A few must wait for I/O:
``r.http`` fetches a URL, ``r.js`` may run for a while. The server runs each evaluation step
inside a greenlet (``run_sync``); a term calls ``block_on(make_awaitable)``, which switches
back to the event loop's coroutine, awaits the I/O there, and resumes the term with the
result. Outside a query greenlet (unit tests calling ``Engine.execute`` directly)
``block_on`` runs the awaitable to completion on a private loop instead.

SQLAlchemy's asyncio support bridges sync and async code the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from greenlet import getcurrent, greenlet


class _Request:
    """What a suspended greenlet asks its driver to await."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Awaitable[Any]]) -> None:
        self.make = make


class QueryGreenlet(greenlet):
    """A greenlet evaluating (part of) a query; ``block_on`` may suspend it."""


def in_query_greenlet() -> bool:
    return isinstance(getcurrent(), QueryGreenlet)


def block_on(make_awaitable: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``make_awaitable()`` from synchronous term code and return its result."""
    g = getcurrent()
    if isinstance(g, QueryGreenlet):
        return g.parent.switch(_Request(make_awaitable))
    return asyncio.run(_await(make_awaitable))


async def _await(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()


async def drive(g: QueryGreenlet, first: Any) -> Any:
    """Service ``g``'s I/O requests, starting from the value its first switch returned."""
    out = first
    while isinstance(out, _Request):
        try:
            result = await out.make()
        except BaseException as exc:  # the term sees the failure where it waited
            out = g.throw(exc)
        else:
            out = g.switch(result)
    return out


async def run_sync(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a query greenlet; it may ``block_on`` I/O. Returns its result."""
    g = QueryGreenlet(fn)
    return await drive(g, g.switch(*args))
