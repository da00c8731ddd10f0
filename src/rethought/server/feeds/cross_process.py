"""Changefeeds across server processes (``rethought serve --workers N``).

Every write appends its changes to its table's change log in its own LMDB transaction
(``storage/changelog.py``), numbered per table in commit order, whichever process made it.
So a process need not be sent other processes' changes: it is only told *that* something
was committed (a byte on its wakeup pipe, written by the committing process once per event
loop turn; a poll every ``POLL_SECONDS`` in case a byte was lost) and reads the log.

For each table that has feeds here, ``CrossProcessFeeds`` remembers the last change number
it handed to the hub (``delivered``), set from the log's end when the table's first feed
subscribes. Changes ``delivered + 1 ..`` are then published in number order, exactly once:
- on a wakeup, or when a query notices a foreign commit (``Coherence.refresh``), up to the
  log's end;
- before this process's own commit is published, the foreign changes numbered below it
  (``_own_commit`` runs ahead of the hub's commit listener).

Other processes' changes go to the feeds only (``publish_to``): the write counters of
``rethinkdb.stats`` stay this process's own.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

log = logging.getLogger("rethought.workers")

POLL_SECONDS = 0.5


class CrossProcessFeeds:
    """Delivers other processes' committed changes to this process's feeds."""

    def __init__(self, storage: Any, hub: Any, wake_read: int, wake_others: list[int]) -> None:
        self.storage = storage
        self.hub = hub
        self.delivered: dict[str, int] = {}  # table id -> last change number published here
        self._wake_read = wake_read
        self._wake_others = wake_others
        self._notify_pending = False
        self._poller: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        storage.commit_listeners.insert(0, self._own_commit)  # before the hub's
        storage.catalog_listeners.append(self._catalog_event)
        storage.coherence.foreign_listeners.append(self.catch_up)
        subscribe = hub.subscribe

        def subscribing(table_id: str, feed: Any) -> None:
            if table_id not in self.delivered:
                table = storage.table_by_id(table_id)
                if table is not None:
                    self.delivered[table_id] = self._log_end(table)
                    storage.changelog._ends.pop(table_id, None)  # positions: read afresh
            subscribe(table_id, feed)

        hub.subscribe = subscribing

    def start(self) -> None:
        """Listen for wakeups and poll, on the running loop."""
        loop = self._loop = asyncio.get_running_loop()
        os.set_blocking(self._wake_read, False)
        for fd in self._wake_others:
            os.set_blocking(fd, False)
        loop.add_reader(self._wake_read, self._on_wake)
        self._poller = loop.create_task(self._poll())

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._wake_read)
        if self._poller is not None:
            self._poller.cancel()

    # -- foreign changes ----------------------------------------------------------------

    def catch_up(self) -> None:
        """Publish every change committed since the last one delivered, per table."""
        if self.storage._open_txn is not None:
            return  # inside our own write: its commit publishes the gap first
        for tid in list(self.delivered):
            table = self.storage.table_by_id(tid)
            if table is None or table.dropped or not self.hub._by_table.get(tid):
                del self.delivered[tid]  # no feed left here: set again by the next subscribe
                continue
            end = self._log_end(table)
            if end > self.delivered[tid]:
                self._deliver(table, end)

    def _deliver(self, table: Any, upto: int) -> None:
        after = self.delivered[table.id]
        changelog = self.storage.changelog
        while after < upto:
            rows, first = changelog.read(table, after, upto)
            if not rows:
                # Trimmed before we read it (a tiny retention bound): never wait on a gap.
                log.warning(
                    "changes %d..%d of %s were trimmed before delivery", after + 1, upto, table.id
                )
                break
            self.hub.publish_to(table.id, [(old, new) for _, old, new in rows], rows[0][0])
            after = rows[-1][0]
        self.delivered[table.id] = upto

    def _log_end(self, table: Any) -> int:
        return self.storage.changelog.last_no_stored(table)

    # -- our own commits ------------------------------------------------------------------

    def _own_commit(self, tables: list[Any]) -> None:
        for tc in tables:
            tid = tc.table.id
            done = self.delivered.get(tid)
            if done is not None and tc.first_no is not None:
                if tc.first_no > done + 1:
                    self._deliver(tc.table, tc.first_no - 1)
                self.delivered[tid] = tc.first_no + len(tc.changes) - 1
        self._notify()

    def _catalog_event(self, event: str, table_id: str | None) -> None:
        if not self.storage.coherence.reconciling:
            self._notify()

    def _notify(self) -> None:
        """Wake the other processes, once per loop turn however many commits it made."""
        if self._notify_pending or self._loop is None:
            return
        self._notify_pending = True
        self._loop.call_soon(self._send)

    def _send(self) -> None:
        self._notify_pending = False
        for fd in self._wake_others:
            try:
                os.write(fd, b"!")
            except OSError:
                pass  # the pipe is full (a wakeup is pending anyway) or its reader is gone

    def _on_wake(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        self.storage.refresh()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                self.storage.refresh()
            except Exception:
                log.exception("looking for other workers' commits failed")
