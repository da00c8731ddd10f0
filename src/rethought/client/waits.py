"""What waits on a query for a promise-based loop: a :class:`Wait` settles one native promise
(the adapter's :class:`Handle`) from the query's state, :class:`Outcome` is the Wait of what
``run()`` returns, and :class:`Watchers` lets several Waits share one query.

A Wait is the query's ``Query.waiter``: the connection (:mod:`.asyncbase`) calls its
``wake`` whenever the core reports a change of that query.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import Any, Protocol

from ..errors import ReqlTimeoutError
from .core import PENDING, Query

__all__ = ["Handle", "OnceHandle", "Outcome", "Wait", "Watchers", "CoroutineHandle"]


class Handle(Protocol):
    """A native promise and the means to settle it (settling twice is a no-op)."""

    promise: Any

    @property
    def pending(self) -> bool:
        """Neither settled here nor by its consumer (cancelled, resolved elsewhere)."""

    def resolve(self, value: Any) -> None: ...

    def reject(self, error: BaseException) -> None: ...


class OnceHandle:
    """Base of a Handle settled at most once: ``resolve`` and ``reject`` do nothing once it
    is settled (here, or by its consumer). A subclass supplies ``pending`` and
    ``_settle(ok, value)``, which forgets any ``on_cancel`` it keeps: that refers back to the
    waiting query, and no cycle may outlive the settling. By default it is its own promise.
    """

    __slots__ = ()

    @property
    def promise(self) -> Any:
        return self

    @property
    def pending(self) -> bool:
        raise NotImplementedError

    def _settle(self, ok: bool, value: Any) -> None:
        raise NotImplementedError

    def resolve(self, value: Any) -> None:
        if self.pending:
            self._settle(True, value)

    def reject(self, error: BaseException) -> None:
        if self.pending:
            self._settle(False, error)


class CoroutineHandle:
    """Mixin making an awaitable Handle a ``Coroutine`` too: ``create_task`` and TaskGroups
    accept it like the official driver's coroutines, yet dropping it un-awaited warns of
    nothing (so ``run(..., noreply=True)`` or ``close()`` may be fired and forgotten).

    The subclass declares a ``_steps`` slot: the ``__await__`` iterator a Task drives.
    """

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Coroutine.register(cls)

    def _iter(self) -> Generator[Any, None, Any]:
        steps = getattr(self, "_steps", None)  # set only once a Task drives it
        if steps is None:
            steps = self._steps = self.__await__()  # type: ignore[attr-defined]
        return steps

    def send(self, value: Any) -> Any:
        return self._iter().send(value)

    def throw(self, *exc: Any) -> Any:
        return self._iter().throw(*exc)

    def close(self) -> None:
        self._steps = None


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

    def __init__(self, conn: Any, query: Query, attempt: Callable[[], Any], stop: bool) -> None:
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

    def __init__(self, conn: Any, query: Query) -> None:
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
