"""The changefeed hub: writes publish committed changes to it, and it hands each table's
changes to the feeds subscribed to that table.

Writes reach ``hub.publish(store, changes)`` once their transaction has committed (the
storage calls ``committed``, its commit listener: storage/outbox.py). Each subscribed feed
keeps only the changes it can see (by primary key, index range or key set: cheap checks made
on the writer's path) in a bounded queue; ReQL transforms (filter, map, pluck, ...) run later,
on the reader's path, so a slow or expensive feed never slows writers down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import ReqlOpFailedError
from ..runtime.stats import COUNTERS

if TYPE_CHECKING:
    from .feed import Feed

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
        listener, set by the engine): publish each table's changes, numbered. What
        ``publish`` does, without its subclass's check (on every write's path): these are
        always user tables' (a storage writer's), never a system table's."""
        wrote = COUNTERS.wrote
        for tc in tables:
            table_id = tc.table.id
            wrote(table_id, len(tc.changes))
            self.publish_to(table_id, tc.changes, tc.first_no)

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
