"""What a connection does about drops, written once for every loop: reconnect with backoff,
resume the kept feeds, give up, and the heartbeat.

A :class:`Supervisor` belongs to one connection and drives it through a few primitives that
both connection families supply (the promise-based :class:`~.asyncbase.FutureConnection`
and the thread-shared :class:`~.threaded.ThreadedConnection`):

- ``_call_later(delay, fn)`` -> cancel function: the adapter's sleep;
- ``_open_then(timeout, done)``: open a fresh transport and handshake (a new core), then call
  ``done(None)`` or ``done(error)``: the adapter's "open a socket";
- ``_resume(kept)``: re-open the kept feeds on the new core and write;
- ``_gave_up(kept)``: wake the feeds that now carry an error;
- ``_between_beats(core, interval)`` -> seconds until the next beat (a loop that reads only
  for a waiter reads there meanwhile, so that a ping's answer is seen with nobody waiting);
- ``_lost(message)``, ``_flush()``, ``_core``, ``_core_lock``, ``host``, ``port``,
  ``connect_timeout``.

The decisions themselves (delays, which feeds survive, ping or dead) are sans-IO:
:mod:`.resume` and :class:`~.core.ClientCore`.
"""

from __future__ import annotations

import weakref
from typing import Any

from ..errors import ReqlDriverError
from .core import CLOSED_MESSAGE, ClientCore, Query
from .resume import Reconnect, reconnect_policy

__all__ = ["Supervisor"]


class Supervisor:
    """Reconnects and heartbeats of one connection (``conn._supervisor``)."""

    def __init__(self, conn: Any, reconnect: Any = None, heartbeat: float | None = None) -> None:
        # Weak: no reference cycle with the connection (a dropped connection is freed by
        # reference counting), and nobody is left to reconnect for once it is gone.
        self._conn = weakref.ref(conn)
        self.policy: Reconnect | None = reconnect_policy(reconnect)
        if heartbeat is not None and (not isinstance(heartbeat, int | float) or heartbeat <= 0):
            raise ReqlDriverError(f"heartbeat must be a positive number of seconds: {heartbeat!r}")
        self.heartbeat: float | None = float(heartbeat) if heartbeat else None
        self.kept: list[Query] = []
        self.active = False  # between a drop and the next connection (or giving up)
        self.closed = False  # the user closed the connection: no more reconnects
        self.attempting = False
        self.attempt = 0
        self.reconnects = 0  # successful reconnects so far
        self.last_error: Any = None
        self._timer: Any = None

    @property
    def conn(self) -> Any:
        """The connection (None once it was freed)."""
        return self._conn()

    @property
    def resumes_feeds(self) -> bool:
        """Changefeeds on this connection are resumable by default."""
        return self.policy is not None

    # -- drops and reconnects ------------------------------------------------------------

    def resumes(self, core: ClientCore) -> bool:
        """Whether losing ``core`` now starts a reconnect (it was open, and not closed by
        the user); then ``connection_lost(keep_feeds=True)`` keeps the resumable feeds."""
        return (
            self.policy is not None
            and not self.closed
            and not self.active
            and core.handshake.done
            and not core.closed
        )

    def dropped(self, core: ClientCore, message: str) -> None:
        """``core`` was lost after ``resumes(core)``: keep its feeds, start reconnecting."""
        self.active = True
        self.attempt = 0
        self.kept = core.kept
        core.kept = []
        self.last_error = message
        self._next()

    def _next(self) -> None:
        delay = self.policy.delay(self.attempt) if self.policy is not None else None
        self.attempt += 1
        conn = self.conn
        if delay is None or self.closed or conn is None:
            self._give_up()
            return
        self._timer = conn._call_later(delay, self._attempt_now)

    def _attempt_now(self) -> None:
        self._timer = None
        conn = self.conn
        if self.closed or not self.active or conn is None:
            return
        self.attempting = True
        try:
            conn._open_then(conn.connect_timeout, self._attempted)
        except Exception as exc:  # could not even start (an adapter refusing at once)
            self._attempted(exc)

    def _attempted(self, error: BaseException | None) -> None:
        self.attempting = False
        conn = self.conn
        if conn is None:
            return
        if self.closed or not self.active:
            if error is None:  # closed by the user while this attempt was opening
                conn._lost(CLOSED_MESSAGE)
            return
        if error is not None:
            self.last_error = error
            self._next()
            return
        self.active = False
        self.reconnects += 1
        kept, self.kept = [q for q in self.kept if not q.done], []
        conn._resume(kept)

    def _give_up(self) -> None:
        self.active = False
        kept, self.kept = self.kept, []
        conn = self.conn
        if self.closed or conn is None:
            error = ReqlDriverError(CLOSED_MESSAGE)
        else:
            error = ReqlDriverError(
                f"Could not reconnect to {conn.host}:{conn.port} after "
                f"{self.attempt - 1} attempts; the connection is closed. "
                f"Last error: {self.last_error}"
            )
        for query in kept:
            if not query.done:
                query.error = error
                query.done = True
                query.outstanding = False
        if conn is not None:
            conn._gave_up(kept)

    def reopen(self) -> None:
        """The user opens the connection (again): reconnect after later drops."""
        self.closed = False

    def close(self) -> None:
        """The user closes the connection: stop reconnecting; kept feeds fail."""
        self.closed = True
        if self._timer is not None:
            cancel, self._timer = self._timer, None
            cancel()
        if self.active:
            self._give_up()

    def not_open_error(self) -> ReqlDriverError:
        """What a query gets while the connection is not open."""
        conn = self.conn
        if self.active and conn is not None:
            return ReqlDriverError(
                f"Connection to {conn.host}:{conn.port} was lost and is "
                f"reconnecting (attempt {self.attempt}); the query was not sent."
            )
        return ReqlDriverError(CLOSED_MESSAGE)

    # -- heartbeat -----------------------------------------------------------------------

    def opened(self, core: ClientCore) -> None:
        """A handshake completed on ``core``: start its heartbeat."""
        conn = self.conn
        if self.heartbeat is not None and conn is not None:
            conn._call_later(self.heartbeat, lambda: self._beat(core))

    def _beat(self, core: ClientCore) -> None:
        conn = self.conn
        if conn is None or conn._core is not core or core.closed:
            return  # that connection is gone (a new one has its own heartbeat)
        interval = self.heartbeat
        with conn._core_lock:
            action = core.heartbeat_tick()
        if action == "dead":
            conn._lost(
                f"Connection to {conn.host}:{conn.port} lost: nothing received for "
                f"{2 * interval:g} s, a heartbeat ping included (heartbeat={interval:g})."
            )
            return
        if action == "ping":
            conn._flush()
        delay = conn._between_beats(core, interval)
        conn._call_later(delay, lambda: self._beat(core))
