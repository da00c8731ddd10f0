"""``order_by(index=...).limit(n).changes()``: the feed of a top-n set.

It follows RethinkDB's limit_manager_t (changefeed.cc) and its subscriber:

- What is committed as one step: with a secondary index, each row change on its own
  (btree.cc commits the limit managers once per row modification of the index); with the
  primary index, a whole write batch (``rdb_modification_report_cb_t::finish`` after the
  batched replace), so a row inserted and deleted by one batch never shows in a primary-key
  top n, but shows twice (in, then out) in an index top n.
- A step: rows of the set that were deleted or changed leave it; added rows join when they
  are not worse than the set's worst row (the "active boundary"); the set is cut to n; when
  it has fewer than n rows and something may be on disk, the rows after the boundary are read.
- Messages: a row that left and came back is a change of that row, then each row that left
  is paired with a row that came in (worst first), then the rows that only came in.
- The reader is sent ``{old_val, new_val}`` of the rows through the transforms written
  between ``order_by`` and ``limit`` (``.pluck('id')``); a message whose two sides are then
  equal, at the same offset, is not sent (note_change_impl).
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ... import datum
from ...proto.ql2 import ResponseNote
from .feed import WAIT, Feed

Item = tuple[int, Any]  # (offset in the set, row before transforms)


class TopSpec:
    """How a top-n feed reads its set: ``rows()`` the rows in feed order (only those that
    pass the filters), ``key(row)`` a row's place in that order (None for a row not in it),
    ``per_change`` whether each row change is its own step (a secondary index), ``reread``
    whether each batch re-reads the whole set instead (a multi index: a row at several places
    of the order, which one key cannot say)."""

    __slots__ = ("n", "rows", "key", "desc", "per_change", "reread")

    def __init__(
        self,
        n: int,
        rows: Callable[[], Iterator[Any]],
        key: Callable[[Any], Any],
        desc: bool,
        per_change: bool,
        reread: bool = False,
    ) -> None:
        self.reread = reread
        self.n = n
        self.rows = rows
        self.key = key
        self.desc = desc
        self.per_change = per_change

    def top(self) -> list:
        out = []
        if self.n > 0:
            for row in self.rows():
                out.append(row)
                if len(out) >= self.n:
                    break
        return out


class OrderByLimitFeed(Feed):
    """``order_by(index=...).limit(n).changes()``: changes to the top-n set."""

    note = ResponseNote.ORDER_BY_LIMIT_FEED

    def __init__(self, hub, store, opts, transforms, spec: TopSpec) -> None:
        super().__init__(hub, store, opts, transforms)
        self.spec = spec
        self.sent: list = spec.top()  # the set, best first (rows before transforms)
        self.pending = deque()

    def _top(self) -> list:
        return self.spec.top()

    def initial_rows(self) -> Iterator[Any]:
        return iter(self.sent)

    def start(self) -> Feed:
        super().start()
        if self.opts.include_offsets and self.opts.include_initial:
            initial = [d for d in self.ready if "new_val" in d]
            for i, doc in enumerate(initial):
                doc["new_offset"] = i
        return self

    # -- the set ----------------------------------------------------------------------------

    def _pk(self, row: Any) -> Any:
        return datum.sort_key(row.get(self.store.primary_key))

    def _worse(self, a: Any, b: Any) -> bool:
        """Whether row ``a`` comes after row ``b`` in the feed's order."""
        ka, kb = self.spec.key(a), self.spec.key(b)
        return ka < kb if self.spec.desc else ka > kb

    def _sort(self, rows: list) -> None:
        rows.sort(key=self.spec.key, reverse=self.spec.desc)

    def apply_changes(
        self, changes: list[tuple[Any, Any]]
    ) -> list[tuple[Item | None, Item | None]]:
        """The messages that a commit of ``changes`` sends (old and new items)."""
        if self.spec.reread:
            return self._reread()
        if not self.spec.per_change:
            return self._step(changes)
        out: list = []
        for change in changes:
            out.extend(self._step([change]))
        return out

    def _step(self, changes: list[tuple[Any, Any]]) -> list[tuple[Item | None, Item | None]]:
        spec = self.spec
        deleted: dict[Any, None] = {}
        added: dict[Any, Any] = {}
        for old, new in changes:  # limit_manager_t::del then ::add, per modification
            if old is not None:
                k = self._pk(old)
                if added.pop(k, None) is None:
                    deleted[k] = None
            if new is not None and spec.key(new) is not None:
                added[self._pk(new)] = new
        if not deleted and not added:
            return []
        before = list(self.sent)
        now = list(self.sent)
        boundary = now[-1] if now else None
        real_deleted = [k for k in deleted if any(self._pk(r) == k for r in now)]
        gone = set(real_deleted)
        now = [r for r in now if self._pk(r) not in gone]
        real_added: dict[Any, Any] = {}
        on_disk = False
        for k, row in added.items():
            if boundary is None or not self._worse(row, boundary):
                now.append(row)
                real_added[k] = row
            else:
                on_disk = True
        self._sort(now)
        self._truncate(now, real_added, real_deleted)
        if len(now) < spec.n and (real_deleted or on_disk):
            have = {self._pk(r) for r in now}
            for row in spec.rows():  # read_more: the rows after the boundary
                if len(now) >= spec.n:
                    break
                k = self._pk(row)
                if k in have or (boundary is not None and not self._worse(row, boundary)):
                    continue
                have.add(k)
                now.append(row)
                real_added[k] = row
            self._sort(now)
            self._truncate(now, real_added, real_deleted)
        self.sent = now
        return self._messages(before, real_deleted, real_added)

    def _truncate(self, now: list, real_added: dict, real_deleted: list) -> None:
        while len(now) > self.spec.n:
            k = self._pk(now.pop())
            if real_added.pop(k, None) is None:
                real_deleted.append(k)

    def _messages(self, before: list, real_deleted: list, real_added: dict) -> list:
        """Pair what left with what came in as limit_manager_t::commit does, then replay the
        messages on what the reader knows to give each its offsets."""
        pairs: list[tuple[Any, Any]] = []
        remaining = []
        for k in sorted(real_deleted):
            if k in real_added:
                pairs.append((k, real_added.pop(k)))
            else:
                remaining.append(k)
        came = list(real_added.values())
        self._sort(came)
        came.reverse()  # worst first, as item_queue_t iterates
        for k in remaining:
            pairs.append((k, came.pop(0) if came else None))
        pairs.extend((None, row) for row in came)

        shown = list(before)
        out: list[tuple[Item | None, Item | None]] = []
        for k, row in pairs:
            old_item = None
            if k is not None:
                i = next((i for i, r in enumerate(shown) if self._pk(r) == k), None)
                if i is not None:
                    old_item = (i, shown.pop(i))
            new_item = None
            if row is not None:
                shown.append(row)
                self._sort(shown)
                new_item = (shown.index(row), row)
            out.append((old_item, new_item))
        return out

    # -- writer side -----------------------------------------------------------------------

    def on_changes(self, changes: list[tuple[Any, Any]], first_no: Any = None) -> None:
        if self.closed:
            return
        if self.opts.squash:
            # RethinkDB's squashing limit subscriber holds the changes until its timer is up
            # and applies them then: intermediate states vanish.
            self.dirty = True
            if self.first_pending_at is None:
                self.first_pending_at = time.monotonic()
        else:
            self.pending.extend(self.apply_changes(changes))
            self._bound_pending()
        self._wake()

    dirty = False

    def _bound_pending(self) -> None:
        while len(self.pending) > self.opts.queue_size:
            self.pending.popleft()
            self.skipped += 1

    def _diff_into_pending(self) -> None:
        """Squash: one step from what the reader knows to the set as it is now."""
        self.dirty = False
        self.pending.extend(self._reread())
        self._bound_pending()

    def _reread(self) -> list:
        """The set read again as a whole: every old row leaves, every new one comes in (a
        row in both is a change, dropped when its sides are equal)."""
        before = list(self.sent)
        new_rows = self.spec.top()
        real_deleted = [self._pk(r) for r in before]
        real_added = {self._pk(r): r for r in new_rows}
        self.sent = new_rows
        return self._messages(before, real_deleted, real_added)

    # -- reader side -----------------------------------------------------------------------

    def item_doc(self, old: Item | None, new: Item | None) -> dict | None:
        """The change document of one message, None when it says nothing."""
        old_t = self.transform(old[1]) if old else None
        new_t = self.transform(new[1]) if new else None
        if old is not None and new is not None and old_t == new_t and old[0] == new[0]:
            return None
        if old_t is None and new_t is None:
            return None
        kind = "add" if old_t is None else "remove" if new_t is None else "change"
        doc = self._typed({"new_val": new_t, "old_val": old_t}, kind)
        if self.opts.include_offsets:
            doc["old_offset"] = old[0] if old else None
            doc["new_offset"] = new[0] if new else None
        return doc

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
            doc = self.item_doc(old, new)
            if doc is not None:
                return doc

    def due_in(self) -> float | None:
        if type(self.opts.squash) is float and self.dirty and self.first_pending_at is not None:
            return max(0.0, self.first_pending_at + self.opts.squash - time.monotonic())
        return None


def order_key(index_value: Callable[[Any], Any], pk: str) -> Callable[[Any], Any]:
    """A row's place in an index order: its index value then its primary key, as ReQL
    orders them (``datum.sort_key``); None for a row with no value in the index."""

    @functools.wraps(index_value)
    def key(row: Any) -> Any:
        v = index_value(row)
        if v is None:
            return None
        return (datum.sort_key(v), datum.sort_key(row.get(pk)))

    return key
