"""``Outbox``: the changes of one write transaction, held back until it commits.

Every write runs in one LMDB write transaction; a write evaluated while another write's
transaction is open (a global optarg the outer write's function asks for first) shares it,
since LMDB has one writer. So a change is committed only when the outermost transaction
commits, and only then may it be logged for positions and reach a feed: the outbox collects
the changes of every writer in the transaction, per table *in the order they were applied*
(a nested writer may change a row the outer writer already wrote), and when the outermost
transaction is about to commit it writes one change-log entry per table (``log``); after the
commit the storage hands the tables' changes, numbered, to its ``commit_listeners`` (the
changefeed hub). An aborted transaction's outbox is dropped: it publishes nothing and, its
log entries never committed, takes no change number.

A nested writer runs in an LMDB child transaction, so one that fails undoes its own rows and
nothing else (as a failed top-level write does); ``mark`` / ``rollback`` drop its changes
from the outbox with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lmdb

from .protocols import Table


class TableChanges:
    """One table's changes in one transaction, in the order they were applied."""

    __slots__ = ("table", "raws", "changes", "first_no", "rows")

    def __init__(self, table: Table) -> None:
        self.table = table
        self.raws: list[tuple[bytes | None, bytes | None]] = []  # stored bytes, for the log
        self.changes: list[tuple[Any, Any]] = []  # (old row, new row)
        self.first_no: int | None = None  # the change number of changes[0], once logged
        self.rows = 0  # rows added less rows deleted (the log keeps the table's row count)


Listener = Callable[[list[TableChanges]], None]


class Outbox:
    """What one outermost write transaction publishes once it commits."""

    __slots__ = ("tables",)

    def __init__(self) -> None:
        self.tables: dict[str, TableChanges] = {}

    def table(self, table: Table) -> TableChanges:
        """The changes of ``table`` (a writer appends to them as it applies rows)."""
        tc = self.tables.get(table.id)
        if tc is None:
            tc = self.tables[table.id] = TableChanges(table)
        return tc

    def mark(self) -> dict[str, tuple[int, int]]:
        """Where each table's changes end now, and its row delta (a nested writer begins)."""
        return {tid: (len(tc.changes), tc.rows) for tid, tc in self.tables.items()}

    def rollback(self, mark: dict[str, tuple[int, int]]) -> None:
        """Forget the changes made since ``mark`` (that nested writer aborted)."""
        for tid in list(self.tables):
            at = mark.get(tid)
            if at is None:
                del self.tables[tid]
            else:
                tc = self.tables[tid]
                n, tc.rows = at
                del tc.changes[n:], tc.raws[n:]

    def log(self, txn: lmdb.Transaction, changelog: Any) -> None:
        """Append each table's changes to its change log, inside ``txn`` (just before the
        commit: log order is commit order, and the numbers are taken only by a commit)."""
        for tc in self.tables.values():
            if tc.raws and not tc.table.dropped:  # a table dropped in this transaction
                tc.first_no = changelog.record(txn, tc)

    def publish(self, listeners: list[Listener]) -> None:
        """The transaction committed: hand its changes to ``listeners``."""
        tables = self.tables
        if len(tables) == 1:  # the usual write: one table
            (tc,) = tables.values()
            committed = [tc] if tc.changes and not tc.table.dropped else None
        else:
            committed = [tc for tc in tables.values() if tc.changes and not tc.table.dropped]
        if committed:
            for listener in listeners:
                listener(committed)
