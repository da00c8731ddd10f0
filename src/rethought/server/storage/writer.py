"""``Writer``: one LMDB write transaction over one table, keeping its indexes current."""

from __future__ import annotations

import asyncio
from typing import Any

import lmdb
import orjson

from ...datum import canonical
from ...datum.jsonfmt import pretty
from ...datum.keys import check_index_key, encode_index_value, encode_primary
from ...errors import ReqlOpFailedError, ReqlQueryLogicError
from ..runtime.suspend import pin
from .catalog import Index, IndexFn
from .geo_cells import update_cells
from .group import CommitGroup, grouping_loop
from .outbox import Outbox, TableChanges
from .protocols import Table
from .scan import ENTRY_HEAD, TAG, TAGGED
from .space import commit, write_failure


def index_entries(idx: Index, fn: IndexFn, row: dict, pk_key: bytes) -> dict[bytes, bytes]:
    """The index entries ``row`` has in ``idx``: LMDB key -> entry value.

    As in RethinkDB, a row whose function raises is left out of the index, and so is each
    value that cannot be an index key (null, an object, ...). Every element of a multi
    index's array is an entry, equal ones too (RethinkDB tags each with its position), so
    ``order_by(index=)`` yields the row once per element. The first entry of a key keeps the
    plain ``value + primary key`` form; repeats get a tag suffix (see ``scan.TAGGED``).
    """
    try:
        values = fn(row)
    except Exception:  # any failure of the user's index function skips the row
        return {}
    entries: dict[bytes, bytes] = {}
    for v in values:
        try:
            check_index_key(v, idx.geo)
        except ReqlQueryLogicError:
            continue  # RethinkDB skips just this element (of a multi index's array)
        vpart, cut = encode_index_value(v)
        key = idx.prefix + vpart + pk_key
        flags = int(cut)
        if key in entries:
            n = 1
            while key + TAG.pack(n) in entries:
                n += 1
            key += TAG.pack(n)
            flags |= TAGGED
        entries[key] = ENTRY_HEAD.pack(flags, len(idx.prefix) + len(vpart)) + orjson.dumps(v)
    return entries


class Writer:
    """A context manager around one write transaction on ``table``.

    ``put(row)`` inserts or replaces by primary key, ``delete(key)`` removes; both keep every
    secondary index current and record ``(old_row, new_row)`` in ``changes``. Leaving the
    block commits (durable after ``Storage.sync()``), an exception aborts. The changes are
    logged and handed to ``Storage.commit_listeners`` only by the commit (outbox.py).
    """

    publishes_on_commit = True  # the write terms leave publishing to the commit
    # What only a nested or joined write sets (class defaults: a plain write pays nothing).
    _nested = False
    _parent: lmdb.Transaction | None = None
    _mark: dict[str, tuple[int, int]] | None = None
    _group: CommitGroup | None = None  # the open group this writer joined
    # Set when the write waits for its group's commit (group.py): answer after it.
    committed: asyncio.Future | None = None

    def __init__(self, table: Table) -> None:
        self.table = table
        self.changes: list[tuple[dict | None, dict | None]] = []
        self._txn: lmdb.Transaction | None = None
        self._ops: list[tuple[str, Any]] = []  # replayed if the map has to grow mid-write
        self._log: TableChanges | None = None  # the transaction's changes of this table

    def __enter__(self) -> Writer:
        table = self.table
        if table.dropped:
            raise KeyError(f"table {table.name} was dropped")
        storage = table._storage
        parent = storage._open_txn
        if parent is not None:
            # A write inside another write (a global optarg evaluated in the outer write's
            # function): LMDB has one writer, so it runs in a child transaction of the open
            # one, which commits or aborts both. Its own failure undoes only its rows.
            self._nested = True
            self._parent = parent
            outbox = storage._outbox
            self._mark = outbox.mark()
            storage._txn = self._txn = storage.env.begin(write=True, parent=parent)
            storage._nested_used = True
        elif storage._group is not None and storage.group_has_room():
            # Another write of this loop turn holds the open group (group.py): join it in a
            # child transaction, so that a failure here undoes only this write.
            group = self._group = storage._group
            group.members += 1
            storage.group_joins += 1
            outbox = storage._outbox = group.outbox
            self._mark = outbox.mark()
            storage._txn = self._txn = storage.env.begin(write=True, parent=group.txn)
            storage._nested_used = True
        else:
            txn = self._txn = storage.begin_write()  # commits an open group first
            storage._open_txn = txn  # what ``storage._txn = txn`` does, without the property
            pin(True)
            storage._nested_used = False
            outbox = storage._outbox = Outbox()
            if table.dropped:
                self._check_live()
        self._log = outbox.table(table)
        return self

    def _check_live(self) -> None:
        """The write transaction just began: with ``--workers`` its catalog check may have
        found the table dropped by another process since the query looked it up. Then
        nothing is written (rows under a dropped table's prefix would be orphans)."""
        table = self.table
        if table.dropped:
            storage = table._storage
            txn, self._txn = self._txn, None
            storage._txn = None
            storage._outbox = None
            txn.abort()
            raise ReqlOpFailedError(f"Table `{table.db.name}.{table.name}` does not exist.")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        txn, self._txn = self._txn, None
        if txn is None:
            return
        storage = self.table._storage
        if self._nested:
            self._exit_nested(txn, exc_type is None)
            return
        if self._group is not None:
            self._exit_joined(txn, exc_type is None)
            return
        try:
            if exc_type is not None:
                txn.abort()
                return
            loop = grouping_loop(storage.more_input)
            if loop is not None:
                # Others may write in this loop turn: keep the transaction open for them;
                # it commits at the end of the turn (Storage.flush_group).
                group = storage._group = CommitGroup(txn, storage._outbox, loop.create_future())
                loop.call_soon(storage.flush_group)
                self.committed = group.done
                return
            outbox = storage._outbox
            # No other writer shared the transaction: its outbox holds only this writer's
            # table (``_log``), logged and published here without the outbox's loops.
            sole = not storage._nested_used
            try:
                if sole:
                    log, table = self._log, self.table
                    if log.raws and not table.dropped:  # what ``outbox.log`` does for it
                        log.first_no = storage.changelog.record(txn, log)
                else:
                    outbox.log(txn, storage.changelog)  # log order is commit order
                txn.commit()
            except lmdb.MapFullError:
                txn.abort()
                txn = self._grow_and_replay()
                outbox = storage._outbox
                outbox.log(txn, storage.changelog)
                try:
                    commit(txn, storage.path)
                except lmdb.MapFullError as e:
                    raise write_failure(storage.path, e) from None
            except lmdb.Error as e:
                txn.abort()
                raise write_failure(storage.path, e) from None
            storage.changelog.committed(txn)  # the log's byte counts follow the commit
        finally:
            if storage._open_txn is not None:
                storage._open_txn = None
                pin(False)
            storage._outbox = None
        # Committed: published now, and in commit order.
        if sole:  # (a replay after a map growth left its own outbox of this table only)
            log = self._log
            if log.changes and not self.table.dropped:  # what ``outbox.publish`` does
                committed = [log]
                for listener in storage.commit_listeners:
                    listener(committed)
        else:
            outbox.publish(storage.commit_listeners)

    def _exit_joined(self, txn: lmdb.Transaction, ok: bool) -> None:
        storage = self.table._storage
        group = self._group
        try:
            if ok:
                txn.commit()  # into the group's transaction
                self.committed = group.done
                return
            txn.abort()
            group.outbox.rollback(self._mark)
        except BaseException:
            txn.abort()
            group.outbox.rollback(self._mark)
            raise
        finally:
            storage._txn = None
            storage._outbox = None

    def _exit_nested(self, txn: lmdb.Transaction, ok: bool) -> None:
        storage = self.table._storage
        try:
            if ok:
                txn.commit()  # into the parent: the outermost transaction commits both
                return
            txn.abort()
            storage._outbox.rollback(self._mark)
        except BaseException:
            txn.abort()
            storage._outbox.rollback(self._mark)
            raise
        finally:
            storage._txn = self._parent

    @property
    def log_first(self) -> int | None:
        """The change number of the transaction's first change to this table, once logged."""
        return None if self._log is None else self._log.first_no

    # -- operations ---------------------------------------------------------------------------

    def get(self, key: Any) -> dict | None:
        """The row with primary key ``key`` as this transaction sees it."""
        raw = self._txn.get(self.table._prefix + encode_primary(key), db=self.table._rows)
        return None if raw is None else orjson.loads(raw)

    def put(self, row: dict) -> dict | None:
        """Insert or replace ``row`` (keyed by its primary key field); returns the old row."""
        if self.table.primary_key not in row:
            raise ReqlQueryLogicError(
                f"Inserted object must have primary key `{self.table.primary_key}`:\n{pretty(row)}"
            )
        return self._run("put", row)

    def insert(self, row: dict, canonical_row: bool = False) -> dict | None:
        """Write ``row`` only if its primary key is new: None when written, else the row
        that has the key (nothing is written then). One B-tree lookup instead of a get
        then a put; ``canonical_row`` says the numbers in ``row`` are canonical already."""
        table, txn = self.table, self._txn
        if not canonical_row:
            row = canonical(row)
        key = table._prefix + encode_primary(row[table.primary_key])
        data = orjson.dumps(row)
        ops = self._ops
        ops.append(("put", row))  # a replay after a map growth writes it as a put
        try:
            # put(key, data, dupdata, overwrite=False, append, db): positional, py-lmdb
            # parses keywords slower.
            if not txn.put(key, data, True, False, False, table._rows):
                ops.pop()
                return orjson.loads(txn.get(key, None, table._rows))
            if table._indexes:
                self._update_indexes(txn, key[len(table._prefix) :], None, row)
        except lmdb.MapFullError:
            self._txn.abort()
            self._txn = self._grow_and_replay()
            return None
        log = self._log
        log.raws.append((None, data))
        log.rows += 1
        change = (None, row)
        log.changes.append(change)
        self.changes.append(change)
        return None

    def delete(self, key: Any) -> dict | None:
        """Delete the row with primary key ``key``; returns it (None if there was none)."""
        return self._run("delete", key)

    # -- internals ----------------------------------------------------------------------------

    def _run(self, op: str, arg: Any) -> dict | None:
        self._ops.append((op, arg))
        try:
            return self._apply(op, arg)
        except lmdb.MapFullError:
            self._txn.abort()
            self._txn = self._grow_and_replay()
            return self.changes[-1][0]

    def _apply(self, op: str, arg: Any) -> dict | None:
        table, txn = self.table, self._txn
        if op == "put":
            row = canonical(arg)
            pk = encode_primary(row[table.primary_key])
            data = orjson.dumps(row)
            raw_old = txn.replace(table._prefix + pk, data, db=table._rows)
        else:
            row = data = None
            pk = encode_primary(arg)
            raw_old = txn.pop(table._prefix + pk, db=table._rows)
        log = self._log
        log.raws.append((raw_old, data))
        if raw_old is None:
            log.rows += data is not None
        elif data is None:
            log.rows -= 1
        old = None if raw_old is None else orjson.loads(raw_old)
        if table._indexes and (old is not None or row is not None):
            self._update_indexes(txn, pk, old, row)
        log.changes.append((old, row))
        self.changes.append((old, row))
        return old

    def _update_indexes(self, txn: lmdb.Transaction, pk: bytes, old: Any, new: Any) -> None:
        table = self.table
        idb = table._storage.index_db
        for idx in table._indexes.values():
            fn = table._index_fn(idx)
            if fn is None:
                if not idx.stale:
                    idx.stale = True
                    table._save(txn)
                continue
            before = index_entries(idx, fn, old, pk) if old is not None else {}
            after = index_entries(idx, fn, new, pk) if new is not None else {}
            for key in before.keys() - after.keys():
                txn.delete(key, db=idb)
            table._storage.room -= len(after)  # a page each, counted generously
            for key, data in after.items():
                if before.get(key) != data:
                    txn.put(key, data, db=idb)
            if idx.geo:
                update_cells(txn, table._storage.geo_db, idx.prefix, before, after)

    def _grow_and_replay(self) -> lmdb.Transaction:
        storage = self.table._storage
        if self._nested or storage._nested_used or self._group is not None:
            raise lmdb.MapFullError("map full during a nested write")  # cannot replay others
        storage.grow()
        # Begun as any write (other processes' commits seen, the catalog re-checked): the
        # lock was let go while the map grew, and another worker may have dropped the table.
        storage._txn = self._txn = storage.begin_write()
        outbox = storage._outbox = Outbox()  # no other writer shared the transaction
        self._check_live()
        self._log = outbox.table(self.table)
        self.changes = []
        for op, arg in self._ops:
            self._apply(op, arg)
        return self._txn
