"""Thread-safe waiting for a connection shared by threads (the blocking loop's logic).

Many threads may run queries on one connection. A condition guards the core; one thread at a
time reads the transport (the "reader") and routes every frame it gets, by token, to
whichever query it belongs to, then wakes the others.

Handlers (``query.handle(conn, handler)``) need someone reading while nobody else is: a
"pump" thread reads while handler queries are open, and a callback thread runs the
handler's callbacks in order (this loop's ``_call_soon`` context). Both are daemon threads
started on demand; the callback thread exits after a short idle period.

An adapter subclasses :class:`ThreadedConnection` and supplies only the transport
(``self._transport``: ``send(data)``, ``recv(deadline)`` -> bytes or None at the deadline,
``close()``, each raising ReqlDriverError when the connection breaks) and opening it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import ReqlDriverError, ReqlError, ReqlTimeoutError
from .callbacks import CallbackQueue
from .core import CLOSED_MESSAGE, EMPTY, PENDING, ClientCore, Query, start_args
from .cursor import CursorBase, DefaultCursorEmpty, wait_to_timeout
from .params import BlockingContext, ConnectionBase

__all__ = ["ThreadedConnection", "ThreadedCursor", "CALLBACK_THREAD_IDLE"]

# Seconds the callback thread lingers without work before it exits (restarted on demand).
CALLBACK_THREAD_IDLE = 2.0


class ThreadedCursor(CursorBase):
    """A lazy, blocking cursor: ``for row in cursor``, ``next(cursor)``, ``cursor.next(wait)``."""

    def __iter__(self) -> Iterator[Any]:
        # A generator resumes faster than a __next__ call; it shares the core's buffer, so
        # mixing it with next(cursor) is fine. Rows that cannot change what the core does
        # next (a CONTINUE is in flight, the stream ended, or over a batch is buffered) are
        # popped without asking it.
        query = self.query
        items = query.items
        pop = items.popleft
        while True:
            if query.outstanding or query.done:
                free = len(items)
            else:
                free = len(items) - query.threshold
            try:
                for _ in range(free):
                    yield pop()
            except IndexError:  # another thread consumed the same cursor meanwhile
                pass
            try:
                yield self._next(None)
            except DefaultCursorEmpty:
                return

    def __next__(self) -> Any:
        query = self.query
        items = query.items
        # Fast path: popping cannot change what the core would do next (a CONTINUE is in
        # flight, the stream ended, or more than a batch is buffered); popleft is atomic.
        if items and (query.outstanding or query.done or len(items) > query.threshold):
            try:
                return items.popleft()
            except IndexError:
                pass
        return self._next(None)

    def next(self, wait: bool | float = True) -> Any:
        """The next row; ReqlTimeoutError if none arrives in time, ReqlCursorEmpty at the end."""
        return self._next(wait_to_timeout(wait))

    def close(self) -> None:
        """Stop the query on the server and drop what is still buffered."""
        self.conn._stop(self.query)

    def __enter__(self) -> ThreadedCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next(self, timeout: float | None) -> Any:
        query = self.query
        conn = self.conn
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with conn._cond:
                item = conn._core.next_item(query)
            conn._flush()
            if item is PENDING:
                conn._wait(lambda: query.can_advance, deadline)
            elif item is EMPTY:
                raise DefaultCursorEmpty()
            else:
                return item


class ThreadedConnection(BlockingContext, ConnectionBase):
    """A connection whose core threads share; the adapter supplies ``_transport``."""

    cursor_class: type[ThreadedCursor] = ThreadedCursor

    def __init__(self, params: dict) -> None:
        """``params`` as :func:`~rethought.client.params.connect_params` returns them."""
        super().__init__(params)
        self._transport: Any = None
        # Guards the core (shared by threads; the Handler layer takes it too).
        self._cond = self._core_lock = threading.Condition(threading.Lock())
        self._reading = False
        self._pumping = False
        self._callbacks = CallbackQueue()
        self._callbacks_cond = threading.Condition(threading.Lock())
        self._callbacks_running = False

    # -- opening and closing -------------------------------------------------------------

    def _open(self, timeout: float | None) -> None:
        """Open the transport and complete the handshake; set ``_core`` and ``_transport``
        (under the condition). The adapter's."""
        raise NotImplementedError

    def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> Any:
        """Close (optionally waiting for noreply writes) and open a fresh connection."""
        self.close(noreply_wait)
        self._open(self._connect_timeout(timeout))
        self._supervisor.reopen()
        self._supervisor.opened(self._core)
        return self

    def close(self, noreply_wait: bool = True) -> None:
        """Close the connection; pending queries fail with ReqlDriverError."""
        self._supervisor.close()
        if not self.is_open():
            return
        try:
            if noreply_wait:
                self.noreply_wait()
        finally:
            self._lost()

    def _lost(self, message: str = CLOSED_MESSAGE) -> None:
        failed: list[Query] = []
        core = self._core
        resume = False
        with self._cond:
            if core is not None and not core.closed:
                resume = self._supervisor.resumes(core)
                failed = core.connection_lost(message, keep_feeds=resume)
            if self._transport is not None:
                self._transport.close()
            self._cond.notify_all()
        self._wake(failed)  # outside the lock: a QueryHandle takes it itself
        if resume:
            self._supervisor.dropped(core, message)

    # -- reconnecting: the Supervisor's primitives on threads ----------------------------

    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        timer = threading.Timer(delay, fn)
        timer.daemon = True
        timer.name = "rethought-timer"
        timer.start()
        return timer.cancel

    def _open_then(self, timeout: float | None, done: Callable[[Any], None]) -> None:
        # Called on a timer thread: open right here.
        try:
            self._open(timeout)
        except Exception as exc:
            done(exc)
            return
        self._supervisor.opened(self._core)
        done(None)

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _between_beats(self, core: ClientCore, interval: float) -> float:
        # Nobody may be reading: read here until the next beat (or wait for whoever reads),
        # so that the answer to a ping is seen on an idle connection too.
        try:
            self._wait(lambda: core.closed or self._core is not core, time.monotonic() + interval)
        except ReqlError:
            pass
        return 0.0  # the interval passed here: beat again at once

    # -- queries -------------------------------------------------------------------------

    def _start(self, term: Any, global_optargs: dict) -> Any:
        """Run a query (called by ``RqlQuery.run``); the value, or a Cursor for sequences."""
        resumable = self._supervisor.policy is not None
        args = start_args(term, global_optargs, self.db, resumable)  # outside the lock
        return self._submit(lambda core: core.start(*args))

    def _submit(
        self, make: Callable[[ClientCore], Query | None], timeout: float | None = None
    ) -> Any:
        with self._cond:
            self.check_open()
            query = make(self._core)
        self._flush()
        if query is None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._wait(lambda: query.answered, deadline)
        except ReqlTimeoutError:
            self._stop(query)
            raise
        with self._cond:
            return self._core.outcome(query, lambda q: self.cursor_class(self, q))

    def _stop(self, query: Query) -> None:
        with self._cond:
            if self._core is not None:
                self._core.stop(query)
        self._flush()

    # -- moving bytes --------------------------------------------------------------------

    def _flush(self) -> None:
        core = self._core
        if core is None or not core._out:
            return
        with self._cond:
            data = core.data_to_send()
        if data:
            try:
                self._transport.send(data)
            except ReqlDriverError as exc:
                self._lost(str(exc))

    def _wait(self, ready: Callable[[], bool], deadline: float | None) -> None:
        """Block until ``ready()``, reading frames for everyone meanwhile."""
        cond = self._cond
        while True:
            with cond:
                if ready():
                    return
                remaining = None if deadline is None else deadline - time.monotonic()
                if self._core is None or self._core.closed:
                    if not self._supervisor.active:
                        raise self._supervisor.not_open_error()
                    if remaining is not None and remaining <= 0:
                        raise ReqlTimeoutError()
                    cond.wait(remaining)  # reconnecting: a new core or giving up wakes us
                    continue
                if remaining is not None and remaining <= 0:
                    raise ReqlTimeoutError()
                if self._reading:
                    cond.wait(remaining)
                    continue
                self._reading = True
                transport = self._transport
            try:
                data = transport.recv(deadline)
            except ReqlDriverError as exc:
                with cond:
                    self._reading = False
                self._lost(str(exc))
                continue
            except BaseException:
                with cond:
                    self._reading = False
                    cond.notify_all()
                raise
            updated: list[Query] = []
            with cond:
                self._reading = False
                try:
                    if data is not None and self._core is not None and not self._core.closed:
                        updated = self._core.receive_data(data)
                except ReqlDriverError as exc:
                    updated = self._core.connection_lost(str(exc))
                    transport.close()
                finally:
                    cond.notify_all()
            self._wake(updated)
            self._flush()

    # -- handlers ------------------------------------------------------------------------

    def _handlers_added(self) -> None:
        with self._cond:
            start = not self._pumping
            self._pumping = True
        if start:
            threading.Thread(target=self._pump, name="rethought-pump", daemon=True).start()

    def _pump(self) -> None:
        """Read for handler queries until none is open (or the connection closes)."""
        while True:
            try:
                self._wait(self._handlers_idle, None)
            except ReqlDriverError:
                pass  # closed: connection_lost already failed (and woke) every query
            with self._cond:
                if self._handlers_idle() or self._core is None or self._core.closed:
                    self._pumping = False
                    return

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` soon on this connection's callback thread, in call order."""
        with self._callbacks_cond:
            self._callbacks.push(fn, args)
            if self._callbacks_running:
                self._callbacks_cond.notify()
                return
            self._callbacks_running = True
        threading.Thread(
            target=self._run_callbacks, name="rethought-callbacks", daemon=True
        ).start()

    def _run_callbacks(self) -> None:
        cond = self._callbacks_cond
        while True:
            with cond:
                if not self._callbacks:
                    cond.wait(CALLBACK_THREAD_IDLE)
                    if not self._callbacks:
                        self._callbacks_running = False
                        return
            # A handler's error is kept on its QueryHandle: handle.wait() raises it.
            self._callbacks.run(_ignore)


def _ignore(exc: Exception) -> None:
    pass
