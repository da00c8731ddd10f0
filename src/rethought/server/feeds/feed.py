"""Changefeeds: the hub that writes publish to, and the feeds that queries read.

Writes reach ``hub.publish(store, changes)`` once their transaction has committed (the
storage calls ``committed``, its commit listener: storage/outbox.py). Each subscribed feed
keeps only the changes it can see (by primary key, index range or key set: cheap checks made
on the writer's path) in a bounded queue; ReQL transforms (filter, map, pluck, ...) run later,
on the reader's path, so a slow or expensive feed never slows writers down.

A feed is a lazy, infinite ``Sequence``. Terms chained after ``.changes()`` (filter, map,
limit, ...) iterate it like any stream; when it has nothing to give it suspends. That works
because ``FeedCursor`` runs the query's whole result pipeline inside a greenlet (a
``suspend.Pump``, the same bridge SQLAlchemy's asyncio support uses): the feed switches back
to the cursor with WAIT, the cursor awaits new data on the event loop, then switches back in.
No thread, no term needs to know it is reading a feed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import Any

from greenlet import getcurrent as current_greenlet

from ... import datum
from ...errors import ReqlError, ReqlOpFailedError, ReqlQueryLogicError
from ...proto.ql2 import ResponseNote
from ..runtime import values
from ..runtime.stats import COUNTERS
from ..runtime.suspend import END, Pump, resume

WAIT = object()  # a feed switched out: nothing to deliver yet

TABLE_UNAVAILABLE = "Changefeed aborted (table unavailable)."


class ChangefeedHub:
    """Routes committed changes to the feeds subscribed to each table."""

    def __init__(self) -> None:
        self._by_table: dict[str, set[Feed]] = {}

    def subscribe(self, table_id: str, feed: Feed) -> None:
        self._by_table.setdefault(table_id, set()).add(feed)

    def unsubscribe(self, table_id: str, feed: Feed) -> None:
        subs = self._by_table.get(table_id)
        if subs is not None:
            subs.discard(feed)
            if not subs:
                del self._by_table[table_id]

    def committed(self, tables: list[Any]) -> None:
        """A write transaction committed these ``outbox.TableChanges`` (the storage's commit
        listener, set by the engine): publish each table's changes, numbered."""
        for tc in tables:
            self.publish(tc.table, tc.changes, tc.first_no)

    def publish(self, store: Any, changes: list[tuple[Any, Any]], first_no: Any = None) -> None:
        """``first_no``: the change-log number of ``changes[0]`` (feeds/resume.py)."""
        COUNTERS.wrote(store.id, len(changes))
        self.publish_to(store.id, changes, first_no)

    def publish_to(
        self, table_id: str, changes: list[tuple[Any, Any]], first_no: Any = None
    ) -> None:
        """Changes of a table known by id (system tables publish their own rows this way)."""
        subs = self._by_table.get(table_id)
        if subs and changes:
            for feed in tuple(subs):
                feed.on_changes(changes, first_no)

    def table_dropped(self, table_id: str) -> None:
        for feed in tuple(self._by_table.pop(table_id, ())):
            feed.abort(ReqlOpFailedError(TABLE_UNAVAILABLE))


class FeedOptions:
    """The optargs of ``changes()``, validated as RethinkDB validates them."""

    __slots__ = (
        "squash",
        "queue_size",
        "include_initial",
        "include_states",
        "include_offsets",
        "include_types",
        "include_positions",
        "resume_from",
    )

    def __init__(self, opts: dict[str, Any]) -> None:
        squash = opts.get("squash", False)
        if type(squash) is bool:
            self.squash: float | bool = squash
        elif type(squash) in (int, float):
            if squash < 0:
                raise ReqlQueryLogicError(
                    "Expected BOOL or a positive NUMBER but found a negative NUMBER."
                )
            self.squash = float(squash)
        else:
            raise ReqlQueryLogicError(
                f"Expected BOOL or NUMBER but found {values.type_name(squash)}."
            )
        size = opts.get("changefeed_queue_size", 100_000)
        size = values.as_int(size)
        if size < 1:
            raise ReqlQueryLogicError(f"Changefeed queue size must be at least 1, got {size}.")
        self.queue_size = size
        self.include_initial = _flag(opts, "include_initial")
        self.include_states = _flag(opts, "include_states")
        self.include_offsets = _flag(opts, "include_offsets")
        self.include_types = _flag(opts, "include_types")
        # Ours (resumable feeds, feeds/resume.py): checked there.
        self.resume_from = opts.get("resume_from")
        self.include_positions = _flag(opts, "include_positions") or "resume_from" in opts


def _flag(opts: dict[str, Any], name: str) -> bool:
    v = opts.get(name, False)
    return values.as_bool(v)


Transform = Callable[[Any, bool], Any]  # (row, strict) -> transformed row, None if filtered out


class Feed(values.Sequence):
    """One subscription: a lazy, never-ending stream of change documents."""

    type_name = "STREAM"
    infinite = values.FEED
    note = ResponseNote.SEQUENCE_FEED

    def __init__(
        self, hub: ChangefeedHub, store: Any, opts: FeedOptions, transforms: list[Transform]
    ) -> None:
        self.hub = hub
        self.store = store
        self.opts = opts
        self.transforms = transforms
        self.ready: deque[Any] = deque()  # documents ready to deliver (states, initial values)
        self.pending: OrderedDict[Any, list] | deque = OrderedDict() if opts.squash else deque()
        self.first_pending_at: float | None = None
        self.skipped = 0
        self.error: ReqlError | None = None
        self.closed = False
        self.waker: Callable[[], None] | None = None

    # -- set-up ---------------------------------------------------------------------------

    def start(self) -> Feed:
        """Subscribe first, then read initial values: no change can fall in between."""
        self.hub.subscribe(self.store.id, self)
        # RethinkDB reports 'initializing' only while it sends initial values: without
        # include_initial a feed is ready at once and its only state is 'ready'.
        if self.opts.include_states and self.opts.include_initial:
            self.ready.append(self._typed({"state": "initializing"}, "state"))
        if self.opts.include_initial:
            for row in self.initial_rows():
                t = self.transform(row, strict=True)
                if t is not None or self.point:
                    self.ready.append(self._typed({"new_val": t}, "initial"))
        if self.opts.include_states:
            self.ready.append(self._typed({"state": "ready"}, "state"))
        return self

    point = False

    def initial_rows(self) -> Iterator[Any]:
        return iter(self.store.scan())

    def sees(self, row: Any) -> bool:
        """Whether a row is inside this feed's key range (before transforms)."""
        return True

    # -- writer side ----------------------------------------------------------------------

    def on_changes(self, changes: list[tuple[Any, Any]], first_no: Any = None) -> None:
        if self.closed:
            return
        for old, new in changes:
            if old is not None and not self.sees(old):
                old = None
            if new is not None and not self.sees(new):
                new = None
            if old is None and new is None:
                continue
            self._enqueue(old, new)
        self._wake()

    def _enqueue(self, old: Any, new: Any) -> None:
        if self.first_pending_at is None:
            self.first_pending_at = time.monotonic()
        if self.opts.squash:
            key = _key_of(self.store, new if new is not None else old)
            entry = self.pending.get(key)
            if entry is not None:
                entry[1] = new  # keep the oldest old_val, take the newest new_val
                return
            self.pending[key] = [old, new]
        else:
            self.pending.append((old, new))
        if len(self.pending) > self.opts.queue_size // 2:
            # Half full: stop waiting out the squash window (RethinkDB sends early too).
            self.flushing = True
        if len(self.pending) > self.opts.queue_size:
            if self.opts.squash:
                self.pending.popitem(last=False)
            else:
                self.pending.popleft()
            self.skipped += 1

    def abort(self, err: ReqlError) -> None:
        if self.error is None and not self.closed:
            err.frames = err.frames or []
            self.error = err
            self._wake()

    def _wake(self) -> None:
        if self.waker is not None:
            self.waker()

    # -- reader side ----------------------------------------------------------------------

    flushing = False  # the queue passed half full: deliver without waiting for the window

    def due_in(self) -> float | None:
        """Seconds until a squash window closes, when changes are held back by one."""
        if self.flushing:
            return 0.0
        if type(self.opts.squash) is float and self.pending and self.first_pending_at is not None:
            return max(0.0, self.first_pending_at + self.opts.squash - time.monotonic())
        return None

    def transform(self, row: Any, strict: bool = False) -> Any:
        """The row through the transforms written before changes(); None when filtered out
        or (unless ``strict``, for initial values) when a transform fails on it."""
        for t in self.transforms:
            if row is None:
                return None
            row = t(row, strict)
        return row

    def _typed(self, doc: dict, kind: str) -> dict:
        if self.opts.include_types:
            doc["type"] = kind
        return doc

    def change_doc(self, old: Any, new: Any) -> dict | None:
        old, new = self.transform(old), self.transform(new)
        if old is None and new is None:
            return None
        kind = "add" if old is None else "remove" if new is None else "change"
        return self._typed({"new_val": new, "old_val": old}, kind)

    def _urgent(self) -> Any:
        """What goes out before any change: the abort error, states / initial values, and
        the overflow notice. None when there is none."""
        if self.error is not None:
            raise self.error
        if self.ready:
            return self.ready.popleft()
        if self.skipped:
            n, self.skipped = self.skipped, 0
            return {"error": f"Changefeed cache over array size limit, skipped {n} elements."}
        return None

    def take(self) -> Any:
        """The next document to deliver, or WAIT."""
        while True:
            urgent = self._urgent()
            if urgent is not None:
                return urgent
            if not self.pending:
                self.first_pending_at = None
                self.flushing = False
                return WAIT
            due = self.due_in()
            if due is not None and due > 0:
                return WAIT
            if self.opts.squash:
                _, (old, new) = self.pending.popitem(last=False)
            else:
                old, new = self.pending.popleft()
            if not self.pending:
                self.first_pending_at = None
            doc = self.change_doc(old, new)
            if doc is not None:
                return doc

    def __iter__(self) -> Iterator[Any]:
        while True:
            doc = self.take()
            if doc is WAIT:
                suspend()
                continue
            yield doc

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub.unsubscribe(self.store.id, self)


class PointFeed(Feed):
    """``table.get(key).changes()``."""

    note = ResponseNote.ATOM_FEED
    point = True

    def __init__(self, hub, store, opts, transforms, key: Any) -> None:
        super().__init__(hub, store, opts, transforms)
        self.key = key
        self._sort_key = datum.sort_key(key)

    def initial_rows(self) -> Iterator[Any]:
        return iter([self.store.get(self.key)])

    def sees(self, row: Any) -> bool:
        return datum.sort_key(row.get(self.store.primary_key)) == self._sort_key


class RangeFeed(Feed):
    """``between`` / ``get_all`` feeds: rows whose key (or index value) passes ``accept``."""

    def __init__(
        self,
        hub,
        store,
        opts,
        transforms,
        accept: Callable[[Any], bool],
        initial: Callable[[], Iterator[Any]],
    ) -> None:
        super().__init__(hub, store, opts, transforms)
        self._accept = accept
        self._initial = initial

    def initial_rows(self) -> Iterator[Any]:
        return self._initial()

    def sees(self, row: Any) -> bool:
        return self._accept(row)


class OrderByLimitFeed(Feed):
    """``order_by(index=...).limit(n).changes()``: changes to the top-n set.

    Each commit recomputes the top n from the index and diffs it against what the reader
    was last told; with squash, the diff is taken when the reader asks, so intermediate states
    vanish (as RethinkDB does).
    """

    note = ResponseNote.ORDER_BY_LIMIT_FEED

    def __init__(self, hub, store, opts, transforms, top: Callable[[], list]) -> None:
        super().__init__(hub, store, opts, transforms)
        self._top = top
        self.sent: list = top()  # what the reader knows (before transforms)
        self.pending = deque()

    def initial_rows(self) -> Iterator[Any]:
        return iter(self.sent)

    def start(self) -> Feed:
        super().start()
        if self.opts.include_offsets and self.opts.include_initial:
            initial = [d for d in self.ready if "new_val" in d]
            for i, doc in enumerate(initial):
                doc["new_offset"] = i
        return self

    def on_changes(self, changes: list[tuple[Any, Any]], first_no: Any = None) -> None:
        if self.closed:
            return
        self.dirty = True
        if not self.opts.squash:
            self._diff_into_pending()
        elif self.first_pending_at is None:
            self.first_pending_at = time.monotonic()
        self._wake()

    dirty = False

    def _diff_into_pending(self) -> None:
        self.dirty = False
        new_top = self._top()
        pk = self.store.primary_key
        old_keys = {datum.sort_key(r[pk]): (i, r) for i, r in enumerate(self.sent)}
        new_keys = {datum.sort_key(r[pk]): (i, r) for i, r in enumerate(new_top)}
        removed = [(i, r) for k, (i, r) in old_keys.items() if k not in new_keys]
        added = [(i, r) for k, (i, r) in new_keys.items() if k not in old_keys]
        for k, (i, r) in new_keys.items():
            if k in old_keys and old_keys[k][1] != r:
                self.pending.append((old_keys[k], (i, r)))
        while removed or added:
            old = removed.pop(0) if removed else None
            new = added.pop(0) if added else None
            self.pending.append((old, new))
        self.sent = new_top
        if len(self.pending) > self.opts.queue_size:
            while len(self.pending) > self.opts.queue_size:
                self.pending.popleft()
                self.skipped += 1

    def take(self) -> Any:
        if self.dirty and self.opts.squash and not self.ready and self.error is None:
            due = self.due_in()
            if due is None or due <= 0:
                self._diff_into_pending()
                self.first_pending_at = None
        while True:
            urgent = self._urgent()
            if urgent is not None:
                return urgent
            if not self.pending:
                return WAIT
            old, new = self.pending.popleft()
            doc = self.change_doc(old and old[1], new and new[1])
            if doc is None:
                continue
            if self.opts.include_offsets:
                doc["old_offset"] = old[0] if old else None
                doc["new_offset"] = new[0] if new else None
            return doc

    def due_in(self) -> float | None:
        if type(self.opts.squash) is float and self.dirty and self.first_pending_at is not None:
            return max(0.0, self.first_pending_at + self.opts.squash - time.monotonic())
        return None


def _key_of(store: Any, row: Any) -> Any:
    return datum.sort_key(row.get(store.primary_key))


def suspend() -> None:
    """Called by a feed with nothing to deliver: hand control back to the FeedCursor."""
    here = current_greenlet()
    if not isinstance(here, Pump):
        # Someone tried to consume a feed eagerly (order_by, count, coerce_to('array')...).
        raise values.infinite_error(Feed)
    here.parent.switch(WAIT)


def interleave(sources: list[Iterator[Any]]) -> Iterator[Any]:
    """Merge streams of which some are feeds, fairly: ``r.union(feed_a, feed_b)``.

    Each input runs in a child pump, so an input whose feed has nothing to give suspends
    only itself; when every input is waiting, the union suspends as a whole.
    """
    children: list[Pump | None] = [Pump(src) for src in sources]
    while any(c is not None for c in children):
        progressed = False
        for i, child in enumerate(children):
            if child is None:
                continue
            out = child.switch()
            if out is END:
                children[i] = None
            elif out is not WAIT:
                progressed = True
                yield out
        if not progressed and any(c is not None for c in children):
            suspend()


def _datums(value: values.Sequence) -> Iterator[Any]:
    for item in values.iterate(value):
        yield values.to_datum(item)


class FeedCursor:
    """What the server sends a feed query's batches from (see ``server.query.engine.Result``).

    The query's whole result pipeline runs in a ``suspend.Pump``, which hands back a row, or
    ``WAIT`` when its feeds have nothing to give, or ``END`` when a finite pipeline over them
    (``changes().limit(2)``) is done.
    """

    def __init__(self, value: values.Sequence, feeds: list[Feed]) -> None:
        self.feeds = feeds
        self.done = False
        self._event = asyncio.Event()
        for f in feeds:
            f.waker = self._event.set
        self._pump = Pump(_datums(value))
        notes = [ResponseNote.UNIONED_FEED] if len(feeds) > 1 else [feeds[0].note]
        if any(f.opts.include_states for f in feeds):
            notes.append(ResponseNote.INCLUDES_STATES)
        self.notes = notes

    async def next_batch(self, max_rows: int = 1000, wait: bool = True) -> list[Any]:
        """The next non-empty batch, waiting for changes; ``done`` turns true when it ends.

        With ``wait=False`` it returns at once, possibly empty: a feed's first response goes
        out immediately (with its initial values, if any), as RethinkDB's does.
        """
        rows: list[Any] = []
        while True:
            while len(rows) < max_rows and not self.done:
                # The pump may ask for I/O (block_on) before it hands back a row or WAIT.
                out = await resume(self._pump)
                if out is END:
                    self.close()
                    self.done = True
                elif out is WAIT:
                    break
                else:
                    rows.append(out)
            if rows or self.done or not wait:
                return rows
            self._event.clear()
            timeout = min((d for f in self.feeds if (d := f.due_in()) is not None), default=None)
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                pass

    def close(self) -> None:
        for f in self.feeds:
            f.close()
        self._event.set()
