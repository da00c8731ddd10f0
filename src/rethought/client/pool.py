"""Connection pools: ``r.pool(host, port, ..., size=10)`` for the current loop type.

At most ``size`` connections are open (or opening) at once; a task, thread or greenlet that
finds none free waits in line, first come first served: a connection given back goes
straight to the longest waiter, and a newcomer never overtakes one. Health checks: a
connection given back closed is dropped (its slot opens a fresh one for the next in line),
one found closed when taken is dropped too, and one idle for over ``check_idle`` seconds is
pinged (a SERVER_INFO, ``ping_timeout`` seconds at most) before it is handed out. The pooled
connections get ``heartbeat=5.0`` unless told otherwise, so a dead or half-open one is noticed
while idle as well.

    pool = r.pool(host="localhost", size=10)            # blocking: threads share it
    with pool.connection() as conn:
        r.table("t").insert(doc).run(conn)

    pool = r.pool(loop_type="asyncio", size=10)         # asyncio, tornado, trio
    async with pool.connection() as conn:
        await r.table("t").insert(doc).run(conn)

    pool = r.pool(loop=my_loop, size=10)                # the integrator (your own loop)
    result = pool.acquire()                             # an AsyncResult of a connection
    result.callback, result.errback = use_it, report    # use_it calls pool.release(conn)

The decisions live in :class:`PoolCore` (sans-IO); :class:`BlockingPool` (threads, gevent),
:class:`AsyncPool` (asyncio, Tornado, trio; Twisted through ``defer.ensureDeferred``) and
:class:`CallbackPool` (the integrator) only wait and open.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from ..errors import ReqlDriverError, ReqlTimeoutError

__all__ = ["PoolCore", "BlockingPool", "AsyncPool", "CallbackPool", "pool"]

OPEN = object()  # what a waiter is handed instead of a connection: open one yourself
CLOSED_POOL = "The connection pool is closed."


class _Waiter:
    __slots__ = ("event", "value")

    def __init__(self, event: Any) -> None:
        self.event = event
        self.value: Any = None


class PoolCore:
    """The pool's state: idle connections (with the time they came back), how many are open
    or opening, and the line of waiters. Not thread-safe: callers hold their lock."""

    def __init__(self, size: int, check_idle: float | None) -> None:
        if not isinstance(size, int) or size < 1:
            raise ReqlDriverError(f"A pool needs a size of at least 1, got {size!r}.")
        self.size = size
        self.check_idle = check_idle
        self.idle: deque = deque()  # (connection, monotonic time it came back)
        self.count = 0  # open or opening
        self.waiters: deque[_Waiter] = deque()
        self.closed = False

    def acquire(self, now: float, make_event: Callable[[], Any]) -> tuple[str, Any]:
        """``("conn", c)`` (``("check", c)``: ping it first), ``("open", None)`` (a slot
        is reserved: open one) or ``("wait", waiter)``."""
        if self.closed:
            raise ReqlDriverError(CLOSED_POOL)
        if not self.waiters:
            while self.idle:
                conn, since = self.idle.pop()  # the most recently used: warm, least idle
                if not conn.is_open():
                    self.count -= 1
                    _close_quietly(conn)
                    continue
                stale = self.check_idle is not None and now - since > self.check_idle
                return ("check" if stale else "conn"), conn
            if self.count < self.size:
                self.count += 1
                return "open", None
        waiter = _Waiter(make_event())
        self.waiters.append(waiter)
        return "wait", waiter

    def release(self, conn: Any, now: float) -> _Waiter | None:
        """A connection comes back (or, closed, its slot does); the waiter to wake, whose
        ``value`` is then the connection or OPEN."""
        healthy = conn is not None and conn.is_open() and not self.closed
        if not healthy:
            self.count -= 1
            if conn is not None:
                _close_quietly(conn)
            return self.slot_freed()
        if self.waiters:
            waiter = self.waiters.popleft()
            waiter.value = conn
            return waiter
        self.idle.append((conn, now))
        return None

    def slot_freed(self) -> _Waiter | None:
        """A slot opened (a connection dropped, an open failed): the next waiter opens."""
        if self.waiters and not self.closed and self.count < self.size:
            self.count += 1
            waiter = self.waiters.popleft()
            waiter.value = OPEN
            return waiter
        return None

    def cancel(self, waiter: _Waiter) -> Any:
        """A waiter gave up (timeout, cancelled): None, or what it was handed meanwhile,
        which the caller must give back."""
        with contextlib.suppress(ValueError):
            self.waiters.remove(waiter)
        value, waiter.value = waiter.value, None
        return value

    def close(self) -> tuple[list, list[_Waiter]]:
        """Close: the idle connections to close and the waiters to wake (with nothing)."""
        self.closed = True
        idle = [conn for conn, _ in self.idle]
        self.count -= len(idle)
        self.idle.clear()
        waiters = list(self.waiters)
        self.waiters.clear()
        return idle, waiters

    def stats(self) -> dict:
        return {
            "size": self.size,
            "open": self.count,
            "idle": len(self.idle),
            "waiting": len(self.waiters),
        }


def _close_quietly(conn: Any) -> None:
    # Without noreply_wait every loop closes at once (an async loop's promise is settled).
    with contextlib.suppress(Exception):
        conn.close(noreply_wait=False)


class _PoolBase:
    def __init__(
        self, connect: Callable[[], Any], size: int, check_idle: float | None, ping_timeout: float
    ) -> None:
        self._connect = connect
        self._core = PoolCore(size, check_idle)
        self.ping_timeout = ping_timeout

    @property
    def size(self) -> int:
        return self._core.size

    def stats(self) -> dict:
        """``{"size", "open", "idle", "waiting"}`` right now."""
        return self._core.stats()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._core.stats()}>"


class BlockingPool(_PoolBase):
    """A pool for callers that block: threads (the default loop) or greenlets (gevent)."""

    def __init__(
        self,
        connect: Callable[[], Any],
        size: int = 10,
        check_idle: float | None = 30.0,
        ping_timeout: float = 5.0,
        event: Callable[[], Any] = threading.Event,
    ) -> None:
        super().__init__(connect, size, check_idle, ping_timeout)
        self._lock = threading.Lock()  # never held while blocking: fine under gevent too
        self._event = event

    def acquire(self, timeout: float | None = None) -> Any:
        """A connection of the pool (give it back with :meth:`release`); waits at most
        ``timeout`` seconds for one (ReqlTimeoutError), in line."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                kind, value = self._core.acquire(time.monotonic(), self._event)
            if kind == "wait":
                value = self._wait(value, deadline)
                kind = "open" if value is OPEN else "conn"  # just given back: fresh
            if kind == "open":
                return self._open()
            if kind == "conn" or self._healthy(value):
                return value
            self.release(value, broken=True)

    def _wait(self, waiter: _Waiter, deadline: float | None) -> Any:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not waiter.event.wait(remaining) or waiter.value is None:
            with self._lock:
                value = self._core.cancel(waiter)
            if value is not None:  # handed over just as the wait ended: give it back
                self.release(None if value is OPEN else value, broken=value is OPEN)
            if self._core.closed:
                raise ReqlDriverError(CLOSED_POOL)
            raise ReqlTimeoutError(f"No connection of the pool became free within {remaining} s.")
        return waiter.value

    def _open(self) -> Any:
        try:
            return self._connect()
        except BaseException:
            with self._lock:
                self._core.count -= 1
                waiter = self._core.slot_freed()
            if waiter is not None:
                waiter.event.set()
            raise

    def _healthy(self, conn: Any) -> bool:
        try:
            conn._ping(self.ping_timeout)
        except Exception:
            return False
        return True

    def release(self, conn: Any, broken: bool = False) -> None:
        """Give a connection back (``broken``: drop it, e.g. after an error you distrust)."""
        if broken and conn is not None:
            _close_quietly(conn)
        with self._lock:
            waiter = self._core.release(conn, time.monotonic())
        if waiter is not None:
            waiter.event.set()

    @contextlib.contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Any]:
        """``with pool.connection() as conn:``: acquire, and give back afterwards."""
        conn = self.acquire(timeout)
        try:
            yield conn
        finally:
            self.release(conn)

    def close(self) -> None:
        """Close the idle connections; the ones in use close when given back."""
        with self._lock:
            idle, waiters = self._core.close()
        for conn in idle:
            _close_quietly(conn)
        for waiter in waiters:
            waiter.event.set()

    def __enter__(self) -> BlockingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncPool(_PoolBase):
    """A pool for coroutines: asyncio, Tornado, trio (and Twisted's ``ensureDeferred``).

    ``event`` makes the loop's event (``set()``, awaitable ``wait()``); ``timeout(seconds)``
    the loop's deadline context manager raising its own timeout error.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        size: int,
        check_idle: float | None,
        ping_timeout: float,
        event: Callable[[], Any],
    ) -> None:
        super().__init__(connect, size, check_idle, ping_timeout)
        self._event = event

    async def acquire(self) -> Any:
        """A connection of the pool (give it back with :meth:`release`), waiting in line;
        cancel the task (or put a deadline around it) to stop waiting."""
        while True:
            kind, value = self._core.acquire(time.monotonic(), self._event)
            if kind == "wait":
                value = await self._wait(value)
                kind = "open" if value is OPEN else "conn"  # just given back: fresh
            if kind == "open":
                return await self._open()
            if kind == "conn" or await self._healthy(value):
                return value
            self.release(value, broken=True)

    async def _wait(self, waiter: _Waiter) -> Any:
        try:
            await waiter.event.wait()
        except BaseException:  # cancelled: leave the line, give back what came meanwhile
            value = self._core.cancel(waiter)
            if value is not None:
                self.release(None if value is OPEN else value, broken=value is OPEN)
            raise
        if waiter.value is None:
            raise ReqlDriverError(CLOSED_POOL)
        return waiter.value

    async def _open(self) -> Any:
        try:
            return await self._connect()
        except BaseException:
            self._core.count -= 1
            waiter = self._core.slot_freed()
            if waiter is not None:
                waiter.event.set()
            raise

    async def _healthy(self, conn: Any) -> bool:
        try:
            await conn._ping(self.ping_timeout)
        except Exception:
            return False
        return True

    def release(self, conn: Any, broken: bool = False) -> None:
        """Give a connection back (``broken``: drop it)."""
        if broken and conn is not None:
            _close_quietly(conn)
        waiter = self._core.release(conn, time.monotonic())
        if waiter is not None:
            waiter.event.set()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """``async with pool.connection() as conn:``: acquire, and give back afterwards."""
        conn = await self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)

    async def close(self) -> None:
        """Close the idle connections; the ones in use close when given back."""
        idle, waiters = self._core.close()
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.close(noreply_wait=False)
        for waiter in waiters:
            waiter.event.set()

    async def __aenter__(self) -> AsyncPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Settles:
    """The integrator's waiter event: once set, settle the AsyncResult of its acquire()."""

    __slots__ = ("pool", "handle", "waiter")

    def __init__(self, pool: CallbackPool, handle: Any) -> None:
        self.pool, self.handle, self.waiter = pool, handle, None

    def set(self) -> None:
        value = self.waiter.value
        if value is None:
            self.handle.reject(ReqlDriverError(CLOSED_POOL))
        elif value is OPEN:
            self.pool._open(self.handle)
        else:
            self.handle.resolve(value)


class CallbackPool(_PoolBase):
    """A pool for the integrator (client/integrator.py): ``acquire()`` is an AsyncResult of
    a connection (set its ``callback`` and ``errback``), ``release(conn)`` gives it back.
    AsyncResults cannot be cancelled: a waiter stays in line until served."""

    def __init__(
        self,
        loop: Any,
        connect: Callable[[], Any],
        size: int,
        check_idle: float | None,
        ping_timeout: float,
    ) -> None:
        super().__init__(connect, size, check_idle, ping_timeout)
        self.loop = loop

    def acquire(self) -> Any:
        from .integrator import _Handle

        handle = _Handle(self.loop)
        self._serve(handle)
        return handle.promise

    def _serve(self, handle: Any) -> None:
        try:
            kind, value = self._core.acquire(time.monotonic(), lambda: _Settles(self, handle))
        except ReqlDriverError as exc:
            handle.reject(exc)
            return
        if kind == "wait":
            value.event.waiter = value  # its set() settles the handle
        elif kind == "open":
            self._open(handle)
        elif kind == "conn":
            handle.resolve(value)
        else:  # stale: ping first, else drop it and serve this caller again
            ping = value._ping(self.ping_timeout)
            ping.callback = lambda _info: handle.resolve(value)
            ping.errback = lambda _exc: (self.release(value, broken=True), self._serve(handle))

    def _open(self, handle: Any) -> None:
        try:
            opening = self._connect()
        except Exception as exc:
            self._open_failed(handle, exc)
            return
        opening.callback = handle.resolve
        opening.errback = lambda exc: self._open_failed(handle, exc)

    def _open_failed(self, handle: Any, exc: BaseException) -> None:
        self._core.count -= 1
        waiter = self._core.slot_freed()
        if waiter is not None:
            waiter.event.set()
        handle.reject(exc)

    def release(self, conn: Any, broken: bool = False) -> None:
        """Give a connection back (``broken``: drop it)."""
        if broken and conn is not None:
            _close_quietly(conn)
        waiter = self._core.release(conn, time.monotonic())
        if waiter is not None:
            waiter.event.set()

    def close(self) -> None:
        """Close the idle connections; the ones in use close when given back."""
        idle, waiters = self._core.close()
        for conn in idle:
            _close_quietly(conn)
        for waiter in waiters:
            waiter.event.set()


class _DeferredEvent:
    """``set()`` and an awaitable ``wait()`` on Twisted (inside ``defer.ensureDeferred``)."""

    def __init__(self) -> None:
        from twisted.internet import defer

        self._deferred = defer.Deferred()

    def set(self) -> None:
        if not self._deferred.called:
            self._deferred.callback(None)

    def wait(self) -> Any:
        return self._deferred


def _async_event(loop_type: str) -> Callable[[], Any]:
    if loop_type == "trio":
        import trio

        return trio.Event
    if loop_type == "twisted":
        return _DeferredEvent
    import asyncio

    return asyncio.Event


def pool(
    *args: Any,
    size: int = 10,
    loop_type: str | None = None,
    check_idle: float | None = 30.0,
    ping_timeout: float = 5.0,
    loop: Any = None,
    **kwargs: Any,
) -> BlockingPool | AsyncPool | CallbackPool:
    """A pool of connections made by ``r.connect(*args, loop_type=loop_type, **kwargs)``
    (``heartbeat=5.0`` unless given). The blocking and gevent loops get a
    :class:`BlockingPool`; asyncio, Tornado, trio and Twisted an :class:`AsyncPool`; with
    ``loop=`` (an integrator EventLoop) a :class:`CallbackPool` of integrator connections."""
    from . import _known, connect, get_loop_type

    kwargs.setdefault("heartbeat", 5.0)
    if loop is not None:
        from . import integrator

        def open_on_loop() -> Any:
            return integrator.connect(loop, *args, **kwargs)

        return CallbackPool(loop, open_on_loop, size, check_idle, ping_timeout)
    loop_type = _known(get_loop_type() if loop_type is None else loop_type)

    def open_one() -> Any:
        return connect(*args, loop_type=loop_type, **kwargs)

    if loop_type == "sync":
        return BlockingPool(open_one, size, check_idle, ping_timeout)
    if loop_type == "gevent":
        import gevent.event

        return BlockingPool(open_one, size, check_idle, ping_timeout, gevent.event.Event)
    if loop_type in ("asyncio", "tornado", "trio", "twisted"):
        return AsyncPool(open_one, size, check_idle, ping_timeout, _async_event(loop_type))
    raise ReqlDriverError(f"No connection pool for the {loop_type!r} loop type.")
