"""A feed: one subscription to a table's changes, a lazy never-ending stream of change
documents (whole table, one key, a between / get_all range). The hub (hub.py) hands it
committed changes; the cursor (cursor.py) reads it; order_by.limit feeds are in limit.py.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from greenlet import getcurrent as current_greenlet

from ... import datum
from ...errors import ReqlError
from ...proto.ql2 import ResponseNote
from ..runtime import values
from ..runtime.suspend import Pump
from .options import FeedOptions

if TYPE_CHECKING:
    from .hub import ChangefeedHub
    from .splice import SpliceRead

WAIT = object()  # a feed switched out: nothing to deliver yet


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

    splice: SpliceRead | None = None  # initial values read batch by batch (splice.py)
    initializing = False  # a splice read is under way

    def start(self) -> Feed:
        """Subscribe first, then read initial values: no change can fall in between."""
        self.hub.subscribe(self.store.id, self)
        # RethinkDB reports 'initializing' only while it sends initial values: without
        # include_initial a feed is ready at once and its only state is 'ready'.
        if self.opts.include_states and self.opts.include_initial:
            self.ready.append(self._typed({"state": "initializing"}, "state"))
        if self.opts.include_initial and self.splice is not None:
            self.initializing = True  # take() reads the batches
            return self
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
            if self.initializing:
                doc = self._splice_step()
                if doc is not None:
                    return doc
                continue
            if not self.pending:
                self.first_pending_at = None
                self.flushing = False
                return WAIT
            due = self.due_in()
            if due is not None and due > 0:
                return WAIT
            old, new = self._pop_pending()
            doc = self.change_doc(old, new)
            if doc is not None:
                return doc

    def _pop_pending(self) -> tuple[Any, Any]:
        """The oldest waiting change (squashed: the oldest key's), as (old, new)."""
        if self.opts.squash:
            _, (old, new) = self.pending.popitem(last=False)
        else:
            old, new = self.pending.popleft()
        if not self.pending:
            self.first_pending_at = None
        return old, new

    def _splice_step(self) -> dict | None:
        """splice_stream_t::next_stream_batch: the changes that came in first (each side
        kept only where it was already read), then the next batch of initial values."""
        splice = self.splice
        assert splice is not None
        if self.pending:
            old, new = self._pop_pending()
            drop_old = old is not None and splice.ahead(old)
            drop_new = new is not None and splice.ahead(new)
            old_t = None if drop_old else self.transform(old)
            new_t = None if drop_new else self.transform(new)
            if drop_old and not drop_new:
                return None if new_t is None else self._typed({"new_val": new_t}, "initial")
            if drop_new and not drop_old:
                return None if old_t is None else self._typed({"old_val": old_t}, "uninitial")
            if drop_old and drop_new:
                return None
            return self.change_doc(old, new)
        for row in splice.next_batch():
            t = self.transform(row, strict=True)
            if t is not None:
                self.ready.append(self._typed({"new_val": t}, "initial"))
        if splice.done:
            self.initializing = False
            if self.opts.include_states:
                self.ready.append(self._typed({"state": "ready"}, "state"))
        return None

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


def _key_of(store: Any, row: Any) -> Any:
    return datum.sort_key(row.get(store.primary_key))


def suspend() -> None:
    """Called by a feed with nothing to deliver: hand control back to the FeedCursor."""
    here = current_greenlet()
    if not isinstance(here, Pump):
        # Someone tried to consume a feed eagerly (order_by, count, coerce_to('array')...).
        raise values.infinite_error(Feed)
    here.parent.switch(WAIT)
