"""What every promise-based loop adapter shares (asyncio, trio, tornado, twisted, gevent).

Queries, cursors, per-query timeouts, cancellation and closing are written once here, on top
of a handful of loop primitives that an adapter's :class:`FutureConnection` subclass supplies:

- ``_new_handle(on_cancel)`` -> a :class:`Handle`: the loop's native promise plus the means to
  settle it. The adapter calls ``on_cancel()`` when the consumer cancels the promise (a
  cancelled task or cancel scope) before it settled.
- ``_call_later(delay, fn)`` -> a zero-argument function that cancels the timer.
- ``_call_soon(fn, *args)``: run ``fn`` in the loop's own context soon.
- ``_write(data)``: hand bytes to the transport without blocking.
- ``_close_transport()``: close the transport (idempotent).

The adapter feeds the bytes it reads to :meth:`FutureConnection._feed` and reports a closed
or broken transport with :meth:`FutureConnection._lost`. Both wake every waiter of every
query whose state changed (``Query.waiter.wake(query)``), so a Handler's sink works too.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Generator, Iterator
from typing import Any, Protocol

from ..errors import ReqlCursorEmpty, ReqlDriverError, ReqlTimeoutError
from .core import CLOSED_MESSAGE, EMPTY, PENDING, ClientCore, Query, start_args
from .cursor import CursorBase, wait_to_timeout
from .params import (
    ConnectionBase,
    connect_error,
    connect_params,
    connect_timeout_error,
    tls_context,
)

__all__ = [
    "Handle",
    "Outcome",
    "Wait",
    "Watchers",
    "FutureConnection",
    "FutureCursor",
    "Connecting",
    "connect_params",
    "tls_context",
]


class Handle(Protocol):
    """A native promise and the means to settle it (settling twice is a no-op)."""

    promise: Any

    @property
    def pending(self) -> bool:
        """Neither settled here nor by its consumer (cancelled, resolved elsewhere)."""

    def resolve(self, value: Any) -> None: ...

    def reject(self, error: BaseException) -> None: ...


class Watchers(list):
    """``Query.waiter`` for promise-based loops while two or more :class:`Wait` objects wait
    on a query (a lone one is the waiter itself): each is re-checked on every state change,
    and a finished one removes itself."""

    __slots__ = ()

    def wake(self, query: Query) -> None:
        for wait in self[:]:
            wait.check()


class Wait:
    """One promise waiting on a query: settled by the first ``attempt()`` that is not
    PENDING (or by its exception). Cancelling the promise STOPs the query; ``expire`` (the
    optional timer) rejects it with ReqlTimeoutError.

    No reference cycle outlives it: a finished Wait leaves its query's Watchers and its timer,
    so a query's objects are freed by reference counting, without the cyclic collector.
    """

    __slots__ = ("conn", "query", "attempt", "handle", "cancel_timer", "stop_on_timeout")

    def __init__(
        self, conn: FutureConnection, query: Query, attempt: Callable[[], Any], stop: bool
    ) -> None:
        self.conn = conn
        self.query = query
        self.attempt = attempt
        self.stop_on_timeout = stop
        self.cancel_timer: Callable[[], None] | None = None
        self.handle = conn._new_handle(self.cancelled)

    def check(self) -> bool:
        """Try to settle; True once finished with the query."""
        handle = self.handle
        if not handle.pending:  # settled from outside: leave the rows for the next call
            self.finish()
            return True
        try:
            value = self.attempt()
        except BaseException as exc:
            self.finish()
            handle.reject(exc)
            return True
        if value is PENDING:
            return False
        self.finish()
        handle.resolve(value)
        return True

    def wake(self, query: Query) -> None:
        """As ``Query.waiter`` (the query's only Wait): re-check."""
        self.check()

    def finish(self) -> None:
        query = self.query
        waiter = query.waiter
        if waiter is self:
            query.waiter = None
        elif type(waiter) is Watchers:
            try:
                waiter.remove(self)
            except ValueError:  # settled at once, never listed
                pass
        if self.cancel_timer is not None:
            cancel, self.cancel_timer = self.cancel_timer, None
            cancel()

    def cancelled(self) -> None:
        """The consumer cancelled the promise before it settled."""
        self.finish()
        self.conn._stop(self.query)

    def expire(self) -> None:
        self.cancel_timer = None
        if self.handle.pending:
            self.finish()
            if self.stop_on_timeout:
                self.conn._stop(self.query)
            self.handle.reject(ReqlTimeoutError())


class Outcome(Wait):
    """The Wait of what ``run()`` returns: the query's value or cursor once answered.

    Its ``check`` does the attempt itself: a closure or a bound method of its own as
    ``attempt`` would cost a call per check, and the bound method a reference cycle per query
    (measured: +15% instructions per query, the cyclic collector's work included)."""

    __slots__ = ()

    def __init__(self, conn: FutureConnection, query: Query) -> None:
        self.conn = conn
        self.query = query
        self.stop_on_timeout = True
        self.cancel_timer = None
        self.handle = conn._new_handle(self.cancelled)

    def check(self) -> bool:
        handle = self.handle
        query = self.query
        if handle.pending:
            if query.response_type is None and query.error is None:  # not query.answered
                return False
            self.finish()
            try:
                value = self.conn._core.outcome(query, self.conn._make_cursor)
            except BaseException as exc:
                handle.reject(exc)
                return True
            handle.resolve(value)
            return True
        self.finish()
        return True


class FutureConnection(ConnectionBase):
    """The loop-independent half of an asynchronous connection (see the module docstring)."""

    cursor_class: type[FutureCursor]

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self._ready: Handle | None = None
        self._cancel_connect_timer: Callable[[], None] | None = None

    # -- loop primitives (the adapter's part; also ``_call_soon``) -----------------------

    @abc.abstractmethod
    def _new_handle(self, on_cancel: Callable[[], None] | None) -> Handle: ...

    @abc.abstractmethod
    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]: ...

    @abc.abstractmethod
    def _write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def _close_transport(self) -> None: ...

    def _promise_of(self, handle: Handle) -> Any:
        """What the public methods return for ``handle`` (an adapter may wrap it)."""
        return handle.promise

    # -- bytes in and out ----------------------------------------------------------------

    def _begin_handshake(self, timeout: float | None) -> Any:
        """Start the handshake on a fresh transport; a promise of ``self`` once ready.

        ``timeout`` (None: the adapter enforces its own) rejects it with ReqlTimeoutError.
        """
        self._core = ClientCore(self.user, self._password, self.host, self.port)
        self._ready = handle = self._new_handle(None)
        cancel_timer = None
        if timeout is not None:

            def expire() -> None:
                if handle.pending:
                    handle.reject(connect_timeout_error(self.host, self.port))
                    self._lost()

            cancel_timer = self._call_later(timeout, expire)
        self._cancel_connect_timer = cancel_timer
        self._flush()
        return self._promise_of(handle)

    def _flush(self) -> None:
        """Write whatever the core has queued."""
        core = self._core
        if core is not None and core._out:
            self._write(core.data_to_send())

    def _feed(self, data: bytes) -> None:
        """Bytes read from the transport: route frames by token and wake their waiters."""
        core = self._core
        if core is None or core.closed:
            return
        try:
            updated = core.receive_data(data)
        except ReqlDriverError as exc:  # auth failure, malformed frame
            ready, self._ready = self._ready, None
            if ready is not None:
                ready.reject(exc)  # as raised: a ReqlAuthError stays one
            self._lost(str(exc))
            return
        if core._out:  # CONTINUEs, handshake replies (self._flush(), inline)
            self._write(core.data_to_send())
        ready = self._ready
        if ready is not None and core.ready:
            self._ready = None
            if self._cancel_connect_timer is not None:
                self._cancel_connect_timer()
            ready.resolve(self)
        for query in updated:  # self._wake(updated), inline
            if query.waiter is not None:
                query.waiter.wake(query)

    def _lost(self, message: str = CLOSED_MESSAGE) -> None:
        """The transport closed or broke: fail everything pending, at once."""
        core = self._core
        self._close_transport()
        if core is None or core.closed:
            return
        failed = core.connection_lost(message)
        ready = self._ready
        if ready is not None and ready.pending:
            self._ready = None
            ready.reject(ReqlDriverError(message))
        self._wake(failed)

    @contextlib.contextmanager
    def _opening(
        self,
        timeout_errors: tuple[type[BaseException], ...],
        io_errors: tuple[type[BaseException], ...],
    ) -> Iterator[None]:
        """Around opening a transport: drop it on any failure and translate the loop's
        timeout and I/O errors into the driver's (the messages of the blocking driver)."""
        try:
            yield
        except timeout_errors:
            self._lost()
            raise connect_timeout_error(self.host, self.port) from None
        except io_errors as exc:
            self._lost()
            raise connect_error(self.host, self.port, exc) from None
        except BaseException:
            self._lost()
            raise

    # -- waiting on a query --------------------------------------------------------------

    def _resolved(self, value: Any) -> Any:
        handle = self._new_handle(None)
        handle.resolve(value)
        return self._promise_of(handle)

    def _failed(self, error: BaseException) -> Any:
        handle = self._new_handle(None)
        handle.reject(error)
        return self._promise_of(handle)

    def _when(
        self,
        query: Query,
        attempt: Callable[[], Any],
        timeout: float | None = None,
        stop_on_timeout: bool = False,
    ) -> Any:
        """A promise of ``attempt()``'s first result that is not PENDING (or its exception).

        ``attempt`` runs now and again whenever the query changes. Cancelling the promise
        STOPs the query; ``timeout`` rejects it with ReqlTimeoutError (and STOPs if asked).
        """
        wait = Wait(self, query, attempt, stop_on_timeout)
        if not wait.check():
            self._enlist(wait, timeout)
        return self._promise_of(wait.handle)

    def _enlist(self, wait: Wait, timeout: float | None) -> None:
        """Make ``wait`` a waiter of its query (re-checked on every change), with its timer."""
        query = wait.query
        waiter = query.waiter
        if waiter is None:
            query.waiter = wait
        elif type(waiter) is Watchers:
            waiter.append(wait)
        else:  # a second waiter (fetch_next while next waits...)
            query.waiter = Watchers((waiter, wait))
        if timeout is not None:
            wait.cancel_timer = self._call_later(timeout, wait.expire)

    def _make_cursor(self, query: Query) -> FutureCursor:
        return self.cursor_class(self, query)

    def _submit(self, make: Callable[[ClientCore], Query | None], timeout: float | None = None):
        core = self._core
        try:
            if core is None or core.closed or not core.handshake.done:  # check_open()
                raise ReqlDriverError(CLOSED_MESSAGE)
            query = make(core)
        except Exception as exc:
            return self._failed(exc)
        self._flush()
        if query is None:
            return self._resolved(None)
        return self._outcome(query, timeout)

    def _outcome(self, query: Query, timeout: float | None = None) -> Any:
        """The promise of a query just sent: its value or cursor (STOPped on timeout)."""
        wait = Outcome(self, query)
        # Answered already when the transport failed while it was being written: settle
        # now, nothing would wake the wait later.
        if query.answered:
            wait.check()
        elif query.waiter is None and timeout is None:  # the hot path of _enlist
            query.waiter = wait
        else:
            self._enlist(wait, timeout)
        return self._promise_of(wait.handle)

    def _stop(self, query: Query) -> None:
        core = self._core
        if core is not None:
            core.stop(query)
            self._flush()
        self._wake((query,))  # a pending fetch_next() / next() of it ends too

    # -- the public API ------------------------------------------------------------------

    def _start(self, term: Any, global_optargs: dict) -> Any:
        """Run a query (called by ``RqlQuery.run``): a promise of a value or a cursor.

        ``timeout`` is the driver's own option (the server never sees it).
        """
        if not global_optargs:  # most queries: _submit's steps inline (4% of their cost)
            core = self._core
            try:
                if core is None or core.closed or not core.handshake.done:  # check_open()
                    raise ReqlDriverError(CLOSED_MESSAGE)
                query = core.start_plain(term, self.db)
            except Exception as exc:
                return self._failed(exc)
            self._write(core.data_to_send())
            return self._outcome(query)
        timeout = None
        optargs = global_optargs
        if "timeout" in optargs:
            optargs = dict(optargs)
            timeout = optargs.pop("timeout")
            if timeout is not None:
                timeout = float(timeout)
        try:
            args = start_args(term, optargs, self.db)
        except Exception as exc:
            return self._failed(exc)
        return self._submit(lambda core: core.start(*args), timeout)

    def close(self, noreply_wait: bool = True) -> Any:
        """Close; pending queries and cursors fail with ReqlDriverError. Returns a promise."""
        if not self.is_open():
            return self._resolved(None)
        if not noreply_wait:
            self._lost()
            return self._resolved(None)
        query = self._core.noreply_wait()
        self._flush()

        def attempt() -> Any:
            if not query.answered:
                return PENDING
            self._lost()
            return None

        return self._when(query, attempt)

    # ``async with conn:`` where the promises are awaitable (asyncio, trio, tornado).

    async def __aenter__(self) -> FutureConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close(noreply_wait=False)


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


FutureConnection.cursor_class = FutureCursor


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
