"""Changefeeds on the ``rethinkdb`` tables, as RethinkDB's caching cfeed backends make them.

RethinkDB (``artificial_table/caching_cfeed_backend.cc``) keeps, while a table has feeds, a
copy of every row; when told that something may have changed it reads the rows again and
sends each difference as a change (``old_val`` the last copy, ``new_val`` the row now;
nothing when a row is unchanged). ``table_config``, ``table_status``, ``current_issues``
and ``jobs`` are also re-read every second (its ``timer_cfeed`` backends); the others only
when notified. ``logs`` sends each new entry as ``{old_val: null, new_val: entry}``
(``server_log``), ``stats`` is published by ``stats_sampler``.

Here every catalog change (``Storage.catalog_listeners``: databases, tables, indexes,
settings, users, permissions, write hooks) and every write through a system table marks the
copies dirty; they are diffed once the running query step yields (``call_soon``), so one
``config().update()`` touching name and durability gives one change. A feed opened while a
diff is pending gets it applied first, so it never sees a change older than itself.

Each ``identifier_format`` is its own table in RethinkDB (its rows name databases and
servers differently), so feeds are routed by table id plus format.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ... import datum
from ..feeds import ChangefeedHub
from .base import SystemTable

# Re-read every second while they have feeds (RethinkDB's timer_cfeed backends).
TIMED = frozenset({"table_config", "table_status", "current_issues", "jobs"})
# Published by their own machinery, not by diffs.
OWN_FEEDS = frozenset({"stats", "logs"})
TICK_SECONDS = 1.0


def route(table: SystemTable) -> str:
    """The hub key of ``table``'s feeds: its id, plus the format when not by name."""
    return table.id if table.id_format == "name" else f"{table.id}|{table.id_format}"


class _Copy:
    """The last rows of one system table (one format) seen by its feeds."""

    __slots__ = ("table", "route", "rows", "feeds")

    def __init__(self, table: SystemTable) -> None:
        self.table = table  # the first subscriber's table object reads the rows
        self.route = route(table)
        self.rows = self._read()
        self.feeds = 0

    def _read(self) -> dict[Any, dict]:
        pk = self.table.primary_key
        return {datum.sort_key(row[pk]): row for row in self.table.rows()}

    def diff(self) -> list[tuple[Any, Any]]:
        """The changes since the last read, in primary key order; the copy is updated."""
        new = self._read()
        old = self.rows
        changes = []
        for key in sorted(old.keys() | new.keys()):
            before, after = old.get(key), new.get(key)
            if before != after:
                changes.append((before, after))
        self.rows = new
        return changes


class SystemFeedsHub(ChangefeedHub):
    """The server's changefeed hub, with live copies of the system tables being watched."""

    def __init__(self, storage: Any = None) -> None:
        super().__init__()
        self._copies: dict[str, _Copy] = {}
        self._dirty = False
        self._loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        self._ticker: asyncio.Task | None = None
        self._own: dict[str, int] = {}  # feeds per route of the OWN_FEEDS tables
        if storage is not None:
            storage.catalog_listeners.append(self._catalog_changed)

    # -- subscriptions ------------------------------------------------------------------------

    def subscribe(self, table_id: str, feed: Any) -> None:
        table = getattr(feed, "store", None)
        if not isinstance(table, SystemTable):
            super().subscribe(table_id, feed)
            return
        key = route(table)
        if table.name not in OWN_FEEDS:
            self.flush()  # pending changes go to the feeds that were there before this one
            copy = self._copies.get(key)
            if copy is None:
                copy = self._copies[key] = _Copy(table)
                if table.name in TIMED:
                    self._start_ticker()
            copy.feeds += 1
        else:
            self._own[key] = self._own.get(key, 0) + 1
        super().subscribe(key, feed)

    def unsubscribe(self, table_id: str, feed: Any) -> None:
        table = getattr(feed, "store", None)
        if not isinstance(table, SystemTable):
            super().unsubscribe(table_id, feed)
            return
        key = route(table)
        super().unsubscribe(key, feed)
        if key in self._own:
            self._own[key] -= 1
            if self._own[key] <= 0:
                del self._own[key]
        copy = self._copies.get(key)
        if copy is not None:
            copy.feeds -= 1
            if copy.feeds <= 0:
                del self._copies[key]

    def watched(self, key: str) -> bool:
        """Whether feeds of ``stats`` / ``logs`` listen on route ``key``."""
        return key in self._own

    def publish(self, store: Any, changes: list[tuple[Any, Any]], first_no: Any = None) -> None:
        if isinstance(store, SystemTable):
            # A write through a system table: its rows are read again (a users write shows
            # the password as true, a table_config insert the created table's whole row).
            self.mark_dirty()
            return
        super().publish(store, changes, first_no)

    # -- diffs --------------------------------------------------------------------------------

    def _catalog_changed(self, event: str, table_id: str | None) -> None:
        self.mark_dirty()

    def mark_dirty(self) -> None:
        """Something may have changed: diff the copies soon (at once without a loop)."""
        if not self._copies or self._dirty:
            return
        self._dirty = True
        loop = self._loop
        if loop is None or loop.is_closed():
            self.flush()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.call_soon(self.flush)
        else:
            loop.call_soon_threadsafe(self.flush)

    def flush(self, names: frozenset[str] | None = None) -> None:
        """Diff the copies (those of ``names`` only, for the timer) and publish."""
        if names is None:
            if not self._dirty:
                return
            self._dirty = False
        for copy in tuple(self._copies.values()):
            if names is not None and copy.table.name not in names:
                continue
            try:
                changes = copy.diff()
            except Exception:  # a row that cannot be computed now: try again next time
                continue
            if changes:
                self.publish_to(copy.route, changes)

    def _start_ticker(self) -> None:
        if self._loop is None or (self._ticker is not None and not self._ticker.done()):
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if running is self._loop:
            self._ticker = self._loop.create_task(self._tick())

    async def _tick(self) -> None:
        while any(c.table.name in TIMED for c in self._copies.values()):
            await asyncio.sleep(TICK_SECONDS)
            self.flush(TIMED)

    def close(self) -> None:
        """Stop the timer (server shutdown)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
