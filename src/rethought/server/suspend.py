"""Let synchronous term code wait for asynchronous I/O without blocking the event loop.

Terms are plain synchronous Python (fast, simple, easy to test). A few must wait for I/O:
``r.http`` fetches a URL, ``r.js`` may run for a while. The server runs each evaluation step
inside a greenlet (``run_sync``); a term calls ``block_on(make_awaitable)``, which switches
back to the event loop's coroutine, awaits the I/O there, and resumes the term with the
result. Outside a query greenlet (unit tests calling ``Engine.execute`` directly)
``block_on`` runs the awaitable to completion on a private loop instead (on a helper thread
when the calling thread already runs an event loop, which cannot be re-entered).

SQLAlchemy's asyncio support bridges sync and async code the same way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from greenlet import GreenletExit, getcurrent, greenlet


class _Request:
    """What a suspended greenlet (``origin``) asks its driver to await."""

    __slots__ = ("make", "origin")

    def __init__(self, make: Callable[[], Awaitable[Any]], origin: greenlet) -> None:
        self.make = make
        self.origin = origin


class QueryGreenlet(greenlet):
    """A greenlet evaluating (part of) a query; ``block_on`` may suspend it."""


def in_query_greenlet() -> bool:
    return isinstance(getcurrent(), QueryGreenlet)


def block_on(make_awaitable: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``make_awaitable()`` from synchronous term code and return its result."""
    g = getcurrent()
    if isinstance(g, QueryGreenlet):
        # Query greenlets may nest (a changefeed union runs each input in a child greenlet):
        # the request goes to the outermost one's parent, the coroutine driving them all,
        # which resumes this greenlet directly with the result.
        driver = g.parent
        while isinstance(driver, QueryGreenlet):
            driver = driver.parent
        return driver.switch(_Request(make_awaitable, g))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(make_awaitable))
    return _run_on_helper_thread(make_awaitable)


def _run_on_helper_thread(make: Callable[[], Awaitable[Any]]) -> Any:
    """Last resort for code on a loop's thread but outside a query greenlet: correct, but it
    holds that loop up until the I/O is done (session.py keeps every evaluation in greenlets)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(_await(make))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=work, name="rethought-block-on", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _await(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()


async def drive(g: QueryGreenlet, first: Any) -> Any:
    """Service the I/O requests of ``g`` (or of query greenlets nested in it), starting from
    the value its first switch returned; returns the first value that is not a request."""
    out = first
    while isinstance(out, _Request):
        origin = out.origin
        try:
            result = await out.make()
        except BaseException as exc:  # the term sees the failure where it waited
            out = origin.throw(exc)
        else:
            out = origin.switch(result)
    return out


# Starting a fresh greenlet costs ~10 us (its first switch sets up a stack); switching into a
# parked one costs ~1 us. Every query and every batch runs through run_sync, so finished
# workers are parked per thread (greenlets are bound to their thread) and reused.
_MAX_IDLE_WORKERS = 64
_idle = threading.local()


class _Failed:
    """A worker's job raised: carried back to run_sync, which re-raises it."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Done:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _work_loop(job: tuple[Callable[..., Any], tuple]) -> None:
    """A reusable query greenlet: run each job it is switched in with, report, park."""
    while True:
        fn, args = job
        try:
            out: Any = _Done(fn(*args))
        except GreenletExit:
            raise  # the worker itself is being discarded
        except BaseException as exc:
            out = _Failed(exc)
        del fn, args
        job = getcurrent().parent.switch(out)


def _worker() -> QueryGreenlet:
    pool = getattr(_idle, "workers", None)
    if pool is None:
        pool = _idle.workers = []
    if pool:
        w = pool.pop()
        here = getcurrent()
        if w.parent is not here:
            w.parent = here
        return w
    return QueryGreenlet(_work_loop)


async def run_sync(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a query greenlet; it may ``block_on`` I/O. Returns its result."""
    w = _worker()
    out = await drive(w, w.switch((fn, args)))
    pool = _idle.workers
    if len(pool) < _MAX_IDLE_WORKERS:
        pool.append(w)
    if type(out) is _Done:
        return out.value
    raise out.exc
