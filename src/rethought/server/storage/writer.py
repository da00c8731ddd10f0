"""``Writer``: one LMDB write transaction over one table, keeping its indexes current."""

from __future__ import annotations

import struct
from typing import Any

import lmdb
import orjson

from ...datum import canonical
from ...datum.jsonfmt import pretty
from ...datum.keys import check_index_key, encode_index_value, encode_primary
from ...errors import ReqlQueryLogicError
from .catalog import COUNT_PREFIX, Index, IndexFn
from .geo_cells import update_cells
from .protocols import Table
from .scan import ENTRY_HEAD, TAG, TAGGED
from .space import commit, write_failure

COUNT = struct.Struct(">q")


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
    block commits (durable after ``Storage.sync()``), an exception aborts.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.changes: list[tuple[dict | None, dict | None]] = []
        self._txn: lmdb.Transaction | None = None
        self._ops: list[tuple[str, Any]] = []  # replayed if the map has to grow mid-write
        # (old, new) row bytes of each change, for the change log (changelog.py)
        self._raws: list[tuple[bytes | None, bytes | None]] = []
        self.log_first: int | None = None  # the change number of changes[0], once logged
        self._delta = 0
        self._nested = False

    def __enter__(self) -> Writer:
        if self.table.dropped:
            raise KeyError(f"table {self.table.name} was dropped")
        storage = self.table._storage
        if storage._txn is not None:
            # A write inside another write (for_each over an insert...): share its transaction,
            # since a second LMDB write transaction in this thread would deadlock.
            self._nested = True
            self._txn = storage._txn
            storage._nested_used = True
        else:
            storage._txn = self._txn = storage.begin_write()
            storage._nested_used = False
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        txn, self._txn = self._txn, None
        if txn is None:
            return
        if self._nested:
            if exc_type is None:
                self._finish(txn)  # the outermost block commits (or aborts)
            return
        storage = self.table._storage
        try:
            if exc_type is not None:
                txn.abort()
                return
            try:
                self._finish(txn)
                commit(txn, storage.path)
            except lmdb.MapFullError:
                txn.abort()
                txn = self._grow_and_replay()
                self._finish(txn)
                try:
                    commit(txn, storage.path)
                except lmdb.MapFullError as e:
                    raise write_failure(storage.path, e) from None
            storage.changelog.committed(txn)  # the log's byte counts follow the commit
        finally:
            storage._txn = None

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
        self._raws.append((raw_old, data))
        old = None if raw_old is None else orjson.loads(raw_old)
        if old is None:
            self._delta += row is not None
        elif row is None:
            self._delta -= 1
        if table._indexes and (old is not None or row is not None):
            self._update_indexes(txn, pk, old, row)
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
            for key, data in after.items():
                if before.get(key) != data:
                    txn.put(key, data, db=idb)
            if idx.geo:
                update_cells(txn, table._storage.geo_db, idx.prefix, before, after)

    def _finish(self, txn: lmdb.Transaction) -> None:
        if self._raws:  # logged in this same transaction: log order is commit order
            self.log_first = self.table._storage.changelog.record(txn, self.table, self._raws)
        if self._delta:
            table = self.table
            cdb = table._storage.catalog_db
            ckey = COUNT_PREFIX + table._prefix
            raw = txn.get(ckey, db=cdb)
            count = (COUNT.unpack(raw)[0] if raw else 0) + self._delta
            txn.put(ckey, COUNT.pack(count), db=cdb)

    def _grow_and_replay(self) -> lmdb.Transaction:
        storage = self.table._storage
        if self._nested or storage._nested_used:
            raise lmdb.MapFullError("map full during a nested write")  # cannot replay others
        storage.grow()
        storage._txn = self._txn = storage.env.begin(write=True)
        self.changes, self._raws, self._delta = [], [], 0
        for op, arg in self._ops:
            self._apply(op, arg)
        return self._txn
