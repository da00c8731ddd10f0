"""``TableStore``: one table's rows and secondary indexes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import lmdb
import orjson

from ...datum import MAXVAL, MINVAL
from ...datum.keys import encode_primary
from ...errors import ReqlOpFailedError
from ..geo.bounds import WORLD, Box
from .catalog import (
    COUNT_PREFIX,
    TABLE_PREFIX,
    DbInfo,
    Index,
    IndexFn,
    IndexInfo,
    id_bytes,
    new_id,
    table_record,
)
from .geo_cells import fill_cells, scan_cells
from .protocols import Env
from .scan import ENTRY_HEAD, scan_index, scan_rows
from .writer import Writer, index_entries


class TableStore:
    """A table: reads open their own short read transactions, writes go through ``write()``.

    Rows are stored under ``table id (16 bytes) + encode_key(primary key)``, so a scan of the
    key range is a scan in ReQL primary-key order.
    """

    RAW_SCAN = True  # scan(raw=True) gives the stored JSON (query.table_slices.raw_rows)

    def __init__(
        self,
        storage: Env,
        ident: str,
        db: DbInfo,
        name: str,
        primary_key: str = "id",
        durability: str = "hard",
        indexes: dict[str, Index] | None = None,
    ) -> None:
        self._storage = storage
        self.id = ident
        self.db = db
        self.name = name
        self.primary_key = primary_key
        self.durability = durability
        self.dropped = False
        self._indexes: dict[str, Index] = indexes or {}
        self._prefix = id_bytes(ident)
        self._rows = storage.rows_db

    def __repr__(self) -> str:
        return f"<TableStore {self.db.name}.{self.name} {self.id}>"

    # -- reads --------------------------------------------------------------------------------

    def get(self, key: Any) -> dict | None:
        """The row with primary key ``key``, or None.

        Raises RethinkDB's ReqlQueryLogicError when ``key`` cannot be a primary key.
        """
        k = self._prefix + encode_primary(key)
        with self._storage.env.begin(db=self._rows) as txn:
            raw = txn.get(k)
        return None if raw is None else orjson.loads(raw)

    def get_raw(self, key: Any) -> bytes | None:
        """``get``, the row as its stored JSON bytes (orjson's dump of it, which is what
        dumping ``get``'s row gives again), or None."""
        k = self._prefix + encode_primary(key)
        txn = self._storage.env.begin(self._rows)  # positional: py-lmdb parses it faster
        try:
            return txn.get(k)
        finally:
            txn.abort()  # a read: what ``with`` does at its end, without the protocol calls

    def count(self) -> int:
        """The number of rows (each write logs it with its change-log entry, so O(1))."""
        return self._storage.changelog.rows(self)

    def scan(
        self,
        lo: Any = MINVAL,
        hi: Any = MAXVAL,
        lo_open: bool = False,
        hi_open: bool = True,
        reverse: bool = False,
        raw: bool = False,
    ) -> Iterator[Any]:
        """Rows with primary key between ``lo`` and ``hi`` in ReQL order, lazily (``raw``:
        their stored JSON bytes)."""
        if self.dropped:
            return iter(())
        return scan_rows(
            self._storage.env,
            self._rows,
            self._prefix,
            lo,
            hi,
            lo_open,
            hi_open,
            reverse,
            raw,
        )

    def index_scan(
        self,
        name: str,
        lo: Any = MINVAL,
        hi: Any = MAXVAL,
        lo_open: bool = False,
        hi_open: bool = True,
        reverse: bool = False,
    ) -> Iterator[tuple[Any, dict]]:
        """``(index value, row)`` with the value between ``lo`` and ``hi``, in index order then
        primary-key order. ``name`` may be the primary key (then the value is the key)."""
        if name == self.primary_key:
            pk = self.primary_key
            rows = self.scan(lo, hi, lo_open, hi_open, reverse)
            return ((row[pk], row) for row in rows)
        idx = self._ready_index(name)
        return scan_index(
            self._storage.env,
            self._storage.index_db,
            self._rows,
            idx.prefix,
            self._prefix,
            lo,
            hi,
            lo_open,
            hi_open,
            reverse,
        )

    def geo_scan(self, name: str, box: Box) -> Iterator[tuple[Any, dict]]:
        """``(index value, row)`` of geo index ``name``, in index order, for at least every
        entry whose geometry can meet ``box`` (``geo_bounds``): entries filed in grid cells
        the box meets (``geo_cells``), or all of them when the box is the whole world."""
        idx = self._ready_index(name)
        if box == WORLD or not idx.cells:
            return self.index_scan(name)
        storage = self._storage
        return scan_cells(
            storage.env,
            storage.geo_db,
            storage.index_db,
            self._rows,
            idx.prefix,
            self._prefix,
            box,
        )

    def index_get_all(self, name: str, value: Any) -> Iterator[dict]:
        """Rows whose index ``name`` has ``value`` (a multi index matches any element)."""
        if name == self.primary_key:
            row = self.get(value)
            return iter(() if row is None else (row,))
        return (row for _, row in self.index_scan(name, value, value, False, False))

    # -- indexes ------------------------------------------------------------------------------

    def index_values(self, name: str, row: dict) -> list:
        """The distinct values ``row`` has in index ``name`` (what its entries hold); [] when
        the row is left out of the index or the index function is not known."""
        idx = self._index(name)
        fn = self._index_fn(idx)
        if fn is None:
            return []
        entries = index_entries(idx, fn, row, b"")
        # Repeated values of a multi index have one entry each; keep each value once.
        distinct = dict.fromkeys(data[ENTRY_HEAD.size :] for data in entries.values())
        return [orjson.loads(v) for v in distinct]

    def index_list(self) -> list[str]:
        return sorted(self._indexes)

    def index_info(self, name: str) -> IndexInfo | None:
        idx = self._indexes.get(name)
        if idx is None:
            return None
        self._refresh(idx)
        return idx.info()

    def index_create(
        self,
        name: str,
        function: Any,
        multi: bool = False,
        geo: bool = False,
        fn: IndexFn | None = None,
    ) -> IndexInfo:
        """Create index ``name``; it is built over the existing rows in the background
        (``build.IndexBuild``: not ready until then, unless the table is small).

        ``function`` (wire JSON) is stored; ``fn(row) -> list of values`` computes entries (or
        the storage's ``index_compiler`` makes it from ``function``).
        """
        if name in self._indexes or name == self.primary_key:
            raise ValueError(f"index {name} exists")
        idx = Index(new_id(), name, function, bool(multi), bool(geo))
        idx.fn = fn
        self._indexes[name] = idx
        if self._index_fn(idx) is None:
            idx.stale = True
        else:
            idx.build = self._storage.new_build(self, idx)
        try:
            with self._storage.transaction() as txn:
                self._save(txn)
        except BaseException:
            del self._indexes[name]  # the commit failed (disk full): no index, as on disk
            raise
        self._storage.sync()
        if idx.build is not None:
            idx.build.start()
        self._storage.catalog_changed("index_create", self.id)
        return idx.info()

    async def index_wait(self, name: str) -> None:
        """Until index ``name`` is built (returns at once when it is)."""
        idx = self._indexes.get(name)
        if idx is not None:
            self._refresh(idx)
            if idx.build is not None:
                await idx.build.wait()

    def index_drop(self, name: str) -> IndexInfo:
        idx = self._index(name)
        info = idx.info()
        del self._indexes[name]
        try:
            with self._storage.transaction() as txn:
                self._delete_index_entries(txn, idx)
                self._save(txn)
        except BaseException:
            self._indexes[name] = idx  # the commit failed (disk full): still there, as on disk
            raise
        if idx.build is not None:
            idx.build.cancel()
            idx.build = None
        self._storage.sync()
        self._storage.catalog_changed("index_drop", self.id)
        return info

    def index_rename(self, old: str, new: str, overwrite: bool = False) -> None:
        """Rename an index; with ``overwrite`` an existing index ``new`` is dropped first."""
        idx = self._index(old)
        if old == new:
            return
        replaced = self._indexes.get(new)
        if replaced is not None and not overwrite:
            raise ValueError(f"index {new} exists")
        # One transaction for the drop and the rename: a crash between them would lose both
        # the old index and the name (found by the crash trials, tests/crash_harness.py).
        before = dict(self._indexes)
        try:
            with self._storage.transaction() as txn:
                if replaced is not None:
                    self._delete_index_entries(txn, replaced)
                del self._indexes[old]
                idx.name = new
                self._indexes[new] = idx
                self._save(txn)
        except BaseException:
            idx.name = old  # the commit failed (disk full): memory stays as the disk is
            self._indexes = before
            raise
        if replaced is not None and replaced.build is not None:
            replaced.build.cancel()
            replaced.build = None
        self._storage.sync()
        self._storage.catalog_changed("index_rename", self.id)

    # -- writes -------------------------------------------------------------------------------

    def write(self) -> Writer:
        """A write transaction: ``with table.write() as w: w.put(row)``."""
        return Writer(self)

    # -- internals ----------------------------------------------------------------------------

    def _index(self, name: str) -> Index:
        idx = self._indexes.get(name)
        if idx is None:
            raise KeyError(f"no index {name} on {self.db.name}.{self.name}")
        return idx

    def _ready_index(self, name: str) -> Index:
        """Index ``name``, or RethinkDB's error while it is being built."""
        idx = self._index(name)
        self._refresh(idx)
        if idx.build is not None:
            raise ReqlOpFailedError(
                f"Index `{name}` on table `{self.db.name}.{self.name}` "
                "was accessed before its construction was finished."
            )
        return idx

    def _index_fn(self, idx: Index) -> IndexFn | None:
        if idx.fn is None:
            compiler = self._storage.index_compiler
            if compiler is not None:
                idx.fn = compiler(idx.function, idx.multi, idx.geo)
        return idx.fn

    def _refresh(self, idx: Index) -> None:
        """Rebuild a stale index (in the background) once its row function is known."""
        if idx.stale and idx.build is None and self._index_fn(idx) is not None:
            idx.build = self._storage.new_build(self, idx, clear=True)
            idx.build.start()

    def _index_built(self, txn: lmdb.Transaction, idx: Index) -> None:
        """``IndexBuild``'s last chunk: the index is ready (recorded in that transaction)."""
        idx.build = None
        idx.stale = False
        self._save(txn)

    def _delete_index_entries(self, txn: lmdb.Transaction, idx: Index) -> None:
        _delete_prefix(txn, self._storage.index_db, idx.prefix)
        _delete_prefix(txn, self._storage.geo_db, idx.prefix)

    def _file_geo_cells(self) -> None:
        """File the entries of geo indexes written before grid cells existed (at open)."""
        old = [idx for idx in self._indexes.values() if idx.geo and not idx.cells]
        if not old:
            return
        storage = self._storage
        with storage.transaction() as txn:
            for idx in old:
                _delete_prefix(txn, storage.geo_db, idx.prefix)
                fill_cells(txn, storage.geo_db, storage.index_db, idx.prefix)
                idx.cells = True
            self._save(txn)
        storage.sync()

    def _save(self, txn: lmdb.Transaction) -> None:
        record = table_record(
            self.id, self.db.id, self.name, self.primary_key, self.durability, self._indexes
        )
        txn.put(TABLE_PREFIX + self.id.encode(), record, db=self._storage.catalog_db)

    def _drop_data(self, txn: lmdb.Transaction) -> None:
        """Delete rows, index entries, count and catalog record (inside ``txn``)."""
        _delete_prefix(txn, self._rows, self._prefix)
        for idx in self._indexes.values():
            if idx.build is not None:
                idx.build.cancel()
                idx.build = None
            self._delete_index_entries(txn, idx)
        self._storage.changelog.drop(txn, self)
        cdb = self._storage.catalog_db
        txn.delete(COUNT_PREFIX + self._prefix, db=cdb)
        txn.delete(TABLE_PREFIX + self.id.encode(), db=cdb)
        self.dropped = True


def _delete_prefix(txn: lmdb.Transaction, db: Any, prefix: bytes) -> None:
    cur = txn.cursor(db=db)
    if not cur.set_range(prefix):
        return
    while cur.key()[: len(prefix)] == prefix:
        if not cur.delete():
            break
