"""Handler dispatch, written once for every loop: ``query.handle(conn, handler)``.

A :class:`QueryHandle` is the query's ``Query.waiter``. Whenever the adapter reports a state
change (``wake``), the handle takes what the core received -- the whole buffer of rows, so a
stream never waits on the application -- asks for the next batch, and queues events. The
callbacks themselves run later, through ``conn._call_soon``, in the loop's own context (on
the blocking loop: the connection's callback thread). An exception escaping a callback stops
the handler and is raised into the loop, which reports it as it reports any callback error.

Every core call here holds ``conn._core_lock``: a real lock where threads share the core
(the blocking connection), a no-op elsewhere.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .core import Query, start_args
from .handler_base import CallbackHandler, Handler, as_handler, invoke, overrides

__all__ = ["Handler", "CallbackHandler", "QueryHandle", "start_handler"]

_OPEN, _ROWS, _ATOM, _ERROR, _CLOSE = range(5)


class QueryHandle:
    """One query run with a Handler: ``close()`` it to stop the query on the server.

    ``closed`` is true once nothing more will be delivered. ``error`` holds an exception that
    escaped a callback. ``add_done_callback(fn)`` calls ``fn(handle)`` once closed;
    ``wait(timeout)`` blocks until then and re-raises ``error`` (blocking loop only: on a
    single-threaded loop it would block the loop).
    """

    def __init__(self, conn: Any, handler: Handler) -> None:
        self.conn = conn
        self.handler = handler
        self.query: Query | None = None
        self.closed = False
        self.error: BaseException | None = None
        self._events: deque = deque()
        self._opened = False
        self._ended = False  # the core will report nothing more
        self._finished = threading.Event()
        self._done_callbacks: list[Callable[[QueryHandle], Any]] = []

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        token = self.query.token if self.query is not None else None
        return f"<QueryHandle token={token} {state}>"

    # -- public --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the query on the server; ``on_close`` follows (unless the handler stopped)."""
        if self.closed:
            return
        self.closed = True
        self._stop_query()
        self._events.append((_CLOSE,))
        self.conn._call_soon(self._deliver)

    def add_done_callback(self, fn: Callable[[QueryHandle], Any]) -> None:
        """Call ``fn(handle)`` once the handle is closed (at once if it already is)."""
        if self._finished.is_set():
            fn(self)
        else:
            self._done_callbacks.append(fn)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until closed (False on timeout); re-raise an error escaped from a callback."""
        done = self._finished.wait(timeout)
        if self.error is not None:
            raise self.error
        return done

    # -- the waiter side (adapter context) -----------------------------------------------

    def wake(self, query: Query) -> None:
        """The core changed ``query``: collect what arrived, deliver it soon."""
        with self.conn._core_lock:
            queued = self._collect(query)
        self.conn._flush()
        if queued:
            self.conn._call_soon(self._deliver)

    def _collect(self, query: Query) -> bool:
        if self._ended or not query.answered:
            return False
        if self.closed or self.handler.stopped:  # answered after close/stop: drop it
            self._ended = True
            self.conn._core.stop(query)
            return False
        events = self._events
        if not self._opened:
            self._opened = True
            events.append((_OPEN,))
        if query.is_sequence:
            if query.items:
                events.append((_ROWS, list(query.items), query.is_feed))
                query.items.clear()
            if not query.done:
                self.conn._core.next_item(query)  # nothing buffered: ask for the next batch
                return True
        elif query.error is None:
            events.append((_ATOM, query.value))
        if query.error is not None:
            events.append((_ERROR, query.error))
        self._ended = True
        events.append((_CLOSE,))
        return True

    def _stop_query(self) -> None:
        query = self.query
        if query is not None and not query.done and query.answered:
            with self.conn._core_lock:
                self.conn._core.stop(query)
            self.conn._flush()

    def _halt(self) -> None:
        """The handler stopped: close quietly; a query not yet answered completes first."""
        self.closed = True
        self._stop_query()
        self._finish()

    def _finish(self) -> None:
        self.closed = True
        self.handler._unregister(self)
        if self._finished.is_set():
            return
        self._finished.set()
        callbacks, self._done_callbacks = self._done_callbacks, []
        for fn in callbacks:
            fn(self)

    # -- delivery (loop context) ---------------------------------------------------------

    def _deliver(self) -> None:
        events = self._events
        handler = self.handler
        try:
            while events:
                event = events.popleft()
                if handler.stopped:
                    events.clear()
                    self._finish()
                    return
                kind = event[0]
                if kind == _CLOSE:
                    if not self._finished.is_set():
                        self.closed = True
                        self._call("on_close")
                        self._finish()
                    events.clear()
                    return
                if self.closed:
                    continue
                if kind == _OPEN:
                    self._call("on_open")
                elif kind == _ROWS:
                    self._rows(event[1], event[2])
                elif kind == _ATOM:
                    self._atom(event[1])
                else:
                    self._call("on_error", event[1])
        except BaseException as exc:
            self.error = exc
            events.clear()
            handler.stop()
            self._finish()
            raise

    def _call(self, name: str, *args: Any) -> None:
        invoke(self.handler, name, args, self)

    def _rows(self, rows: list, is_feed: bool) -> None:
        handler = self.handler
        if overrides(handler, "on_batch"):
            self._call("on_batch", rows)
            return
        for row in rows:
            if self.closed or handler.stopped:
                return
            if is_feed and type(row) is dict:
                self._feed_row(row)
            else:
                self._stream_val(row)

    def _stream_val(self, val: Any) -> None:
        name = "on_stream_val" if overrides(self.handler, "on_stream_val") else "on_val"
        self._call(name, val)

    def _feed_row(self, row: dict) -> None:
        handler = self.handler
        if "new_val" in row and "old_val" in row and overrides(handler, "on_change"):
            self._call("on_change", row["old_val"], row["new_val"])
        elif "new_val" in row and "old_val" not in row and overrides(handler, "on_initial_val"):
            self._call("on_initial_val", row["new_val"])
        elif "old_val" in row and "new_val" not in row and overrides(handler, "on_uninitial_val"):
            self._call("on_uninitial_val", row["old_val"])
        elif "error" in row and overrides(handler, "on_change_error"):
            self._call("on_change_error", row["error"])
        elif "state" in row and overrides(handler, "on_state"):
            self._call("on_state", row["state"])
        else:
            self._stream_val(row)

    def _atom(self, value: Any) -> None:
        handler = self.handler
        if type(value) is not list:
            self._call("on_atom" if overrides(handler, "on_atom") else "on_val", value)
        elif overrides(handler, "on_array"):
            self._call("on_array", value)
        elif overrides(handler, "on_atom"):
            self._call("on_atom", value)
        else:
            for item in value:
                if self.closed or handler.stopped:
                    return
                self._stream_val(item)


def start_handler(conn: Any, query: Any, handler: Any) -> QueryHandle:
    """Run ``query`` on ``conn`` with ``handler``'s callbacks; the handle is returned at once.

    ``handler`` is a Handler subclass or instance, or a callable (see CallbackHandler). A
    stopped handler closes the handle without running the query.
    """
    handler = as_handler(handler)
    handle = QueryHandle(conn, handler)
    if handler.stopped:
        handle._finish()
        return handle
    args = start_args(query, {}, conn.db, conn._supervisor.policy is not None)
    with conn._core_lock:
        conn.check_open()
        core_query = conn._core.start(*args)
        core_query.waiter = handle
        handle.query = core_query
    handler._register(handle)
    conn._flush()
    return handle
