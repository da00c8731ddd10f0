"""Connections and feeds that come back, sans-IO: the reconnect policy, the bookkeeping of a
resumable changefeed, and the heartbeat decision. No socket, clock or loop in here: each
adapter only opens a socket and sleeps when told to (see ``Reconnecting`` in
:mod:`.asyncbase` and :mod:`.threaded`).

A resumable feed (the ReQL shape: docs/changefeeds.md, "Surviving restarts") is opened with
``include_positions=True`` and ``include_states=True`` added to its ``changes()``; every
document then carries an opaque ``position``, which :class:`FeedResume` remembers and strips
(unless the user asked for positions), dropping the state documents the user did not ask
for. When the connection comes back, the same term runs again with ``resume_from=<last
position>``: the server replays every change after it, then goes on live, so the consumer
sees each change once and in order across the drop.
"""

from __future__ import annotations

import random
from typing import Any

from ..errors import ReqlDriverError, ReqlError
from ..proto.ql2 import QueryType, TermType

__all__ = [
    "Reconnect",
    "reconnect_policy",
    "FeedResume",
    "resumable_term",
    "heartbeat_action",
    "NOT_RESUMABLE",
]

_CHANGES = int(TermType.CHANGES)
_START = int(QueryType.START)
# RethinkDB 2.4 (op.cc) refuses an optarg it does not know with exactly this text.
_REFUSED = "Unrecognized optional argument `include_positions`"
# Ours, for feeds that have no positions (squash=True, system tables): feed_resume.py.
_NO_POSITIONS = "Cannot include positions in a"
NOT_RESUMABLE = (
    "Cannot open a resumable changefeed on {host}:{port}: the server refused "
    "`changes(include_positions=True)` ({reason}). RethinkDB itself has no change positions "
    "to resume from; run the feed with `run(conn, resumable=False)` for a plain feed (it then "
    "fails with ReqlDriverError when the connection drops)."
)


class Reconnect:
    """How a connection comes back after a drop: ``r.Reconnect(initial=0.1, maximum=5.0,
    factor=2.0, attempts=None, jitter=0.0)``.

    Attempt ``n`` (from 0) waits ``min(maximum, initial * factor**n)`` seconds before
    opening a fresh socket and handshake; ``jitter`` (0..1) shortens each wait by a random
    fraction up to that much, so many clients do not all come back at once. ``attempts``
    bounds the attempts of one outage (None: forever); after the last one fails, the
    connection is closed and the resumable feeds still open fail with ReqlDriverError.
    """

    __slots__ = ("initial", "maximum", "factor", "attempts", "jitter")

    def __init__(
        self,
        initial: float = 0.1,
        maximum: float = 5.0,
        factor: float = 2.0,
        attempts: int | None = None,
        jitter: float = 0.0,
    ) -> None:
        if initial < 0 or maximum < initial or factor < 1 or not 0 <= jitter <= 1:
            raise ReqlDriverError(
                "Reconnect needs 0 <= initial <= maximum, factor >= 1 and 0 <= jitter <= 1."
            )
        if attempts is not None and attempts < 1:
            raise ReqlDriverError("Reconnect attempts must be at least 1 (or None: no bound).")
        self.initial = float(initial)
        self.maximum = float(maximum)
        self.factor = float(factor)
        self.attempts = attempts
        self.jitter = float(jitter)

    def delay(self, attempt: int) -> float | None:
        """Seconds to wait before attempt ``attempt`` (0-based); None: give up."""
        if self.attempts is not None and attempt >= self.attempts:
            return None
        delay = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        if self.jitter:
            delay *= 1.0 - self.jitter * random.random()
        return delay

    def __repr__(self) -> str:
        return (
            f"Reconnect(initial={self.initial}, maximum={self.maximum}, factor={self.factor}, "
            f"attempts={self.attempts}, jitter={self.jitter})"
        )


def reconnect_policy(value: Any) -> Reconnect | None:
    """``r.connect(reconnect=...)``: None/False (no reconnecting), True (the defaults) or a
    :class:`Reconnect`."""
    if value is None or value is False:
        return None
    if value is True:
        return Reconnect()
    if isinstance(value, Reconnect):
        return value
    raise ReqlDriverError(f"reconnect must be True, False or an r.Reconnect(...), got {value!r}.")


def resumable_term(term_json: Any) -> bool:
    """Whether a built query is a changefeed a driver can resume: its outermost term is
    ``changes()`` (a transform after it could drop the positions)."""
    return type(term_json) is list and bool(term_json) and term_json[0] == _CHANGES


class FeedResume:
    """The resume state of one changefeed query (``Query.feed``).

    ``position`` is that of the last document received (buffered rows included: the resumed
    feed starts after them, and they are still delivered from the buffer).
    """

    __slots__ = ("term", "optargs", "positions", "states", "position", "resumes", "original")

    def __init__(self, term_json: list, optargs: dict | None, explicit: bool = True) -> None:
        # ``explicit``: run(conn, resumable=True); else the connection's default, which falls
        # back to a plain feed where the server cannot give positions (see ``error``).
        self.original = None if explicit else term_json
        opts = term_json[2] if len(term_json) > 2 and type(term_json[2]) is dict else {}
        self.positions = opts.get("include_positions") is True
        self.states = opts.get("include_states") is True
        self.term = [term_json[0], term_json[1], {**opts, "include_positions": True}]
        self.term[2]["include_states"] = True  # the ready state carries a position
        self.optargs = optargs
        self.position: str | None = opts.get("resume_from")
        self.resumes = 0

    def plain_message(self) -> list:
        """The START of the feed as the user wrote it (no positions)."""
        term = self.original
        return [_START, term, self.optargs] if self.optargs else [_START, term]

    def message(self) -> list:
        """The START that opens (or, once a position is known, resumes) the feed."""
        term = self.term
        if self.position is not None:
            term = [term[0], term[1], {**term[2], "resume_from": self.position}]
        return [_START, term, self.optargs] if self.optargs else [_START, term]

    def filter(self, rows: list) -> list:
        """Remember the last position of ``rows``; what the user asked to see of them."""
        out = []
        keep_positions, keep_states = self.positions, self.states
        for row in rows:
            if type(row) is dict:
                position = row.get("position")
                if position is not None:
                    self.position = position
                    if not keep_positions:
                        del row["position"]
                if "state" in row and not keep_states:
                    continue
            out.append(row)
        return out

    def reconnecting(self) -> list:
        """The documents to deliver when the connection drops: a ``{"state":
        "reconnecting"}`` if the user asked for states (a "ready" follows once resumed)."""
        self.resumes += 1
        return [{"state": "reconnecting"}] if self.states else []

    def error(self, error: ReqlError, host: str, port: int) -> ReqlError | None:
        """The error to give the consumer for ``error`` from the server; None: open it as a
        plain feed instead (a feed resumable by default that cannot have positions: squash,
        system tables; a ``resume_from`` never got this far)."""
        if self.original is not None and self.position is None and _NO_POSITIONS in error.message:
            return None
        if _REFUSED in error.message:
            reason = error.message.rstrip(".")
            return ReqlDriverError(NOT_RESUMABLE.format(host=host, port=port, reason=reason))
        return error


def heartbeat_action(received: int, seen: int, ping_pending: bool) -> str | None:
    """What a heartbeat tick decides: ``"dead"`` (silent since a ping was sent a whole
    interval ago), ``"ping"`` (silent for an interval: send one) or None (bytes arrived)."""
    if received != seen:
        return None
    return "dead" if ping_pending else "ping"
