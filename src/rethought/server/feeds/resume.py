"""Resumable changefeeds: positions on change documents and ``changes(resume_from=P)``.

Every write logs its changes in the table's change log (``storage/changelog.py``), numbered
per table in commit order. A feed opened with ``include_positions=True`` gives each document
a ``position``: the table and the number of the last change the feed has delivered (or
passed over: a change its filters drop moves the position on too). ``resume_from=P`` starts a
feed that first replays, from the log, every change after P through the same key checks and
transforms as a live feed, then goes on live.

The seam between replay and live: the feed subscribes to the hub first, then reads the number
``S`` of the last committed change. Changes ``<= S`` come from the log, live ones arrive
numbered ``> S`` (a live change numbered ``<= S`` is a duplicate and dropped). Nothing can be
lost between the two, and nothing is sent twice. The same mechanism backs a positioned feed
whose queue overflows: instead of skipping changes it drops its queue and reads them from the
log again.

A position is opaque to clients: ``base64url(version, then per input feed: table id, change
number, flags)``; a union feed's position has one part per input. The ``INITIAL`` flag marks
the positions of initial values: resuming from one starts the feed afresh (with its initial
values again), since the initial values were not all delivered.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ...errors import ReqlOpFailedError, ReqlQueryLogicError
from ..runtime import values
from ..storage.catalog import id_bytes
from ..storage.table import TableStore
from . import cursor, limit, options
from . import feed as feeds
from .hub import ChangefeedHub

VERSION = 1
PART = struct.Struct(">16sQB")  # table id, change number, flags
INITIAL = 1

SQUASH = "Cannot include positions in a squashed changefeed."
SYSTEM = "Cannot include positions in a changefeed on system table `{}`."
MALFORMED = "Cannot resume changefeed: `{}` is not a changefeed position."
SHAPE = (
    "Cannot resume changefeed: position `{}` is of a changefeed on {} table(s), this one is on {}."
)
OTHER_TABLE = "Cannot resume changefeed: position `{}` is not a position of table `{}`."
TOO_OLD = (
    "Cannot resume changefeed: position `{}` is older than the oldest retained change of "
    "table `{}` (the change log keeps {}); open the changefeed again without `resume_from`."
)
AHEAD = (
    "Cannot resume changefeed: position `{}` is ahead of the change log of table `{}` "
    "(its last change is number {})."
)


@dataclass(frozen=True)
class Part:
    """One input feed's place: the last change number of ``table`` it has delivered."""

    table: bytes
    no: int
    initial: bool = False


def encode(parts: list[Part]) -> str:
    raw = bytes([VERSION]) + b"".join(
        PART.pack(p.table, p.no, INITIAL if p.initial else 0) for p in parts
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(text: Any) -> list[Part]:
    """The parts of a position string; RethinkDB-style errors for anything else."""
    if type(text) is not str:
        raise ReqlQueryLogicError(f"Expected type STRING but found {values.type_name(text)}.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ReqlQueryLogicError(MALFORMED.format(text)) from None
    body = raw[1:]
    if not raw or raw[0] != VERSION or not body or len(body) % PART.size:
        raise ReqlQueryLogicError(MALFORMED.format(text))
    parts = []
    for off in range(0, len(body), PART.size):
        table, no, flags = PART.unpack_from(body, off)
        if flags & ~INITIAL:
            raise ReqlQueryLogicError(MALFORMED.format(text))
        parts.append(Part(table, no, bool(flags & INITIAL)))
    return parts


def feed_class(base: type, opts: options.FeedOptions) -> type:
    """The class of a feed of kind ``base`` for these options (positioned when asked)."""
    if not opts.include_positions:
        return base
    if base is limit.OrderByLimitFeed:
        return PositionedTopFeed
    cls = _VARIANTS.get(base)
    if cls is None:
        cls = _VARIANTS[base] = type(f"Positioned{base.__name__}", (PositionedFeed, base), {})
    return cls


def prepare(made: list[feeds.Feed], opts: options.FeedOptions) -> None:
    """Check that these feeds can have positions and give each its resume point."""
    if opts.squash:
        raise ReqlQueryLogicError(SQUASH)
    for feed in made:
        if not isinstance(feed.store, TableStore):
            raise ReqlQueryLogicError(SYSTEM.format(_name(feed.store)))
    if opts.resume_from is None:
        return
    parts = decode(opts.resume_from)
    if len(parts) != len(made):
        raise ReqlQueryLogicError(SHAPE.format(opts.resume_from, len(parts), len(made)))
    for feed, part in zip(made, parts, strict=True):
        if part.table != id_bytes(feed.store.id):
            raise ReqlOpFailedError(OTHER_TABLE.format(opts.resume_from, _name(feed.store)))
        feed.resume = part
        feed.resume_text = opts.resume_from


def merged(made: list[feeds.Feed]) -> Iterator[Any]:
    """A union of positioned feeds: each document's position holds every input's part."""
    vector = [feed.start_part for feed in made]

    def tagged(i: int, feed: feeds.Feed) -> Iterator[tuple[int, Any]]:
        for doc in feed:
            yield i, doc

    for i, doc in cursor.interleave([tagged(i, f) for i, f in enumerate(made)]):
        pos = doc.get("position") if type(doc) is dict else None
        if pos is not None:
            vector[i] = decode(pos)[0]
            doc["position"] = encode(vector)
        yield doc


def _name(store: Any) -> str:
    return f"{store.db.name}.{store.name}"


class _Positions:
    """What positioned feeds share: the seam set-up and the documents' positions."""

    resume: Part | None = None
    resume_text = ""
    store: Any
    opts: options.FeedOptions
    hub: ChangefeedHub

    def _open(self) -> int:
        """Trim the log, subscribe, then read ``S``; checks the resume point against the
        log. Returns ``S`` (changes up to it are read from the log, later ones arrive live)."""
        log = self.store._storage.changelog
        resuming = self.resume is not None and not self.resume.initial
        if resuming:
            log.trim(self.store)  # an age bound counts from now, writes or not
        self.hub.subscribe(self.store.id, self)
        state = log.state(self.store)
        last = state.last_no
        if resuming:
            no = self.resume.no
            try:
                if no > last:
                    raise ReqlOpFailedError(AHEAD.format(self.resume_text, _name(self.store), last))
                if no + 1 < state.first_no:
                    raise self._too_old()
            except ReqlOpFailedError:
                self.hub.unsubscribe(self.store.id, self)
                raise
        self.table_bytes = id_bytes(self.store.id)
        return last

    def _too_old(self) -> ReqlOpFailedError:
        limits = self.store._storage.changelog.limits(self.store)
        kept = []
        if limits.max_changes is not None:
            n = limits.max_changes
            kept.append(f"at most {n} change{'s' if n != 1 else ''}")
        if limits.max_age_seconds is not None:
            kept.append(f"changes of the last {limits.max_age_seconds:g} seconds")
        return ReqlOpFailedError(
            TOO_OLD.format(self.resume_text, _name(self.store), " and ".join(kept) or "all")
        )

    def _pos(self, no: int, initial: bool = False) -> str:
        return encode([Part(self.table_bytes, no, initial)])

    def _initial_docs(self, rows: Iterator[Any], last: int) -> None:
        """States and initial values, as ``Feed.start`` makes them, with positions."""
        if self.opts.include_states:
            self.ready.append(self._typed({"state": "initializing"}, "state"))
        at = self._pos(last, initial=True)
        for row in rows:
            t = self.transform(row, strict=True)
            if t is not None or self.point:
                self.ready.append(self._typed({"new_val": t, "position": at}, "initial"))

    def _ready_doc(self, last: int) -> dict:
        return self._typed({"state": "ready", "position": self._pos(last)}, "state")


class PositionedFeed(_Positions):
    """Mixed in before a ``Feed`` class: its documents carry positions, it can resume."""

    def start(self) -> feeds.Feed:
        last = self._open()
        self.upto = last  # changes <= upto come from the log
        self.done = last  # the last change consumed (delivered or passed over)
        self.buf: deque = deque()
        self.ready_after_replay = False
        fresh = self.resume is None or self.resume.initial
        if fresh:
            self.start_part = Part(self.table_bytes, last, self.opts.include_initial)
            if self.opts.include_initial:
                self._initial_docs(self.initial_rows(), last)
            if self.opts.include_states:
                self.ready.append(self._ready_doc(last))
        else:
            self.done = self.resume.no
            self.start_part = Part(self.table_bytes, self.done)
            self.ready_after_replay = self.opts.include_states
        return self

    # -- writer side ----------------------------------------------------------------------

    def on_changes(self, changes: list[tuple[Any, Any]], first_no: Any = None) -> None:
        if self.closed or first_no is None:
            return
        no = first_no - 1
        pending = self.pending
        for old, new in changes:
            no += 1
            if no <= self.upto:
                continue  # read from the log (the seam)
            if old is not None and not self.sees(old):
                old = None
            if new is not None and not self.sees(new):
                new = None
            if old is not None or new is not None:
                pending.append((no, old, new))
        if len(pending) > self.opts.queue_size:
            # Never skip: forget the queue, the log has it all (read again from `done`).
            self.upto = pending[-1][0]
            pending.clear()
        self._wake()

    # -- reader side ----------------------------------------------------------------------

    def take(self) -> Any:
        while True:
            urgent = self._urgent()
            if urgent is not None:
                return urgent
            if self.done < self.upto:
                doc = self._replay_one()
                if doc is not None:
                    return doc
                continue
            if self.ready_after_replay:
                self.ready_after_replay = False
                self.ready.append(self._ready_doc(self.upto))
                continue
            if not self.pending:
                return feeds.WAIT
            no, old, new = self.pending.popleft()
            self.done = no
            doc = self._doc(no, old, new)
            if doc is not None:
                return doc

    def _replay_one(self) -> Any:
        """The next replayed document, or None (a change this feed does not see)."""
        if not self.buf:
            rows, first = self.store._storage.changelog.read(self.store, self.done, self.upto)
            if self.done + 1 < first or (not rows and self.done < self.upto):
                # trimmed while we read: never a silent gap
                self.resume_text = self.resume_text or self._pos(self.done)
                self.abort(self._too_old())
                return None
            self.buf.extend(rows)
        no, old, new = self.buf.popleft()
        self.done = no
        if old is not None and not self.sees(old):
            old = None
        if new is not None and not self.sees(new):
            new = None
        if old is None and new is None:
            return None
        return self._doc(no, old, new)

    def _doc(self, no: int, old: Any, new: Any) -> dict | None:
        doc = self.change_doc(old, new)
        if doc is not None:
            doc["position"] = self._pos(no)
        return doc

    def due_in(self) -> float | None:
        return None  # squash is refused with positions


class PositionedTopFeed(_Positions, limit.OrderByLimitFeed):
    """``order_by(index=).limit(n).changes(include_positions=True)``.

    A top-n set is state, not a sequence of events to replay: resuming re-sends the current
    top n as initial values (positions flagged initial), then goes on live; each change
    document's position is the last change of the commit that caused it.
    """

    def start(self) -> feeds.Feed:
        last = self._open()
        self.upto = last
        self.sent = self._top()  # read after subscribing: no commit falls in between
        resumed = self.resume is not None
        self.start_part = Part(self.table_bytes, last, True)
        if self.opts.include_initial or resumed:
            self._initial_docs(iter(self.sent), last)
            if self.opts.include_offsets:
                initial = [d for d in self.ready if "new_val" in d]
                for i, doc in enumerate(initial):
                    doc["new_offset"] = i
        if self.opts.include_states:
            self.ready.append(self._ready_doc(last))
        return self

    def on_changes(self, changes: list[tuple[Any, Any]], first_no: Any = None) -> None:
        if self.closed or first_no is None:
            return
        no = first_no + len(changes) - 1
        if no <= self.upto:
            return
        for old, new in self.apply_changes(changes):
            self.pending.append((old, new, no))
        self._bound_pending()
        self._wake()

    def take(self) -> Any:
        while True:
            urgent = self._urgent()
            if urgent is not None:
                return urgent
            if not self.pending:
                return feeds.WAIT
            old, new, no = self.pending.popleft()
            doc = self.item_doc(old, new)
            if doc is None:
                continue
            doc["position"] = self._pos(no)
            return doc

    def due_in(self) -> float | None:
        return None


_VARIANTS: dict[type, type] = {}
