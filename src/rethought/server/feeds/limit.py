"""``order_by(index=...).limit(n).changes()``: the feed of a top-n set."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ... import datum
from ...proto.ql2 import ResponseNote
from .feed import WAIT, Feed


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
