"""What every promise-based loop adapter shares (asyncio, trio, tornado, twisted, gevent).

Queries, per-query timeouts, cancellation and closing are written once here (the waits on a
query are :mod:`.waits`, the cursors :mod:`.future_cursor`, reconnecting and heartbeats
:mod:`.supervisor`), on top of a handful of loop primitives that an adapter's
:class:`FutureConnection` subclass supplies:

- ``_new_handle(on_cancel)`` -> a :class:`Handle`: the loop's native promise plus the means to
  settle it. The adapter calls ``on_cancel()`` when the consumer cancels the promise (a
  cancelled task or cancel scope) before it settled.
- ``_call_later(delay, fn)`` -> a zero-argument function that cancels the timer.
- ``_call_soon(fn, *args)``: run ``fn`` in the loop's own context soon.
- ``_write(data)``: hand bytes to the transport without blocking.
- ``_close_transport()``: close the transport (idempotent).
- ``_open_then(timeout, done)``: open a fresh transport and handshake in the background (a
  reconnect attempt), then ``done(None)`` or ``done(error)``.
- ``_socket()``: the transport's socket (its address, keepalive options).

The adapter feeds the bytes it reads to :meth:`FutureConnection._feed` and reports a closed
or broken transport with :meth:`FutureConnection._lost`. Both wake every waiter of every
query whose state changed (``Query.waiter.wake(query)``), so a Handler's sink works too.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ReqlDriverError, ReqlError
from .core import CLOSED_MESSAGE, PENDING, ClientCore, Query, start_args
from .future_cursor import BlockingFutureCursor, Connecting, FutureCursor
from .params import (
    ConnectionBase,
    connect_error,
    connect_params,
    connect_timeout_error,
    tls_context,
)
from .sockets import tune_socket
from .waits import Handle, Outcome, Wait, Watchers

__all__ = [
    "Handle",
    "Outcome",
    "Wait",
    "Watchers",
    "FutureConnection",
    "FutureCursor",
    "BlockingFutureCursor",
    "Connecting",
    "connect_params",
    "tls_context",
]


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

    @abc.abstractmethod
    def _open_then(self, timeout: float | None, done: Callable[[Any], None]) -> None:
        """Open a fresh transport and handshake (reconnecting); then ``done(None)`` or
        ``done(error)``."""

    def _promise_of(self, handle: Handle) -> Any:
        """What the public methods return for ``handle`` (an adapter may wrap it)."""
        return handle.promise

    # -- bytes in and out ----------------------------------------------------------------

    def _begin_handshake(self, timeout: float | None) -> Any:
        """Start the handshake on a fresh transport; a promise of ``self`` once ready.

        ``timeout`` (None: the adapter enforces its own) rejects it with ReqlTimeoutError.
        """
        self._core = self._new_core()
        supervisor = self._supervisor
        if not supervisor.attempting:
            supervisor.reopen()  # opened by the user: reconnect after later drops
        if supervisor.heartbeat is not None:
            tune_socket(self._socket(), supervisor.heartbeat)
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
            self._supervisor.opened(core)
            ready.resolve(self)
        for query in updated:  # self._wake(updated), inline
            if query.waiter is not None:
                query.waiter.wake(query)

    def _broken(self, detail: Any = None) -> None:
        """The transport closed (``detail``: why, if it broke): ``_lost`` with the message."""
        self._lost(f"{CLOSED_MESSAGE} - {detail}" if detail else CLOSED_MESSAGE)

    def _lost(self, message: str = CLOSED_MESSAGE) -> None:
        """The transport closed or broke: fail everything pending, at once."""
        core = self._core
        self._close_transport()
        if core is None or core.closed:
            return
        resume = self._supervisor.resumes(core)
        failed = core.connection_lost(message, keep_feeds=resume)
        ready = self._ready
        if ready is not None and ready.pending:
            self._ready = None
            ready.reject(ReqlDriverError(message))
        self._wake(failed)
        if resume:
            self._supervisor.dropped(core, message)

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
        except ReqlError:  # the driver's own (a handshake timeout is also a TimeoutError)
            self._lost()
            raise
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
                raise self._supervisor.not_open_error()
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
        resumable = self._supervisor.policy is not None
        if not global_optargs and not resumable:  # most queries: _submit's steps inline
            core = self._core
            try:
                if core is None or core.closed or not core.handshake.done:  # check_open()
                    raise self._supervisor.not_open_error()
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
            args = start_args(term, optargs, self.db, resumable)
        except Exception as exc:
            return self._failed(exc)
        return self._submit(lambda core: core.start(*args), timeout)

    def close(self, noreply_wait: bool = True) -> Any:
        """Close; pending queries and cursors fail with ReqlDriverError. Returns a promise."""
        self._supervisor.close()
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


FutureConnection.cursor_class = FutureCursor
