"""Several server processes on one LMDB environment (``rethought serve --workers N``).

LMDB itself is multi-process safe (one writer at a time across processes through its lock
file, readers see committed snapshots), but ``Storage`` keeps things in memory: the catalog
(databases, tables, indexes as objects the queries and feeds hold) and the change log's
cached ends (the next change number, which ``ChangeLog.record`` uses to key each entry).
``Coherence`` keeps them true when another process commits:

- A *write* transaction sees every earlier commit, so ``write_began`` (called by
  ``Storage.begin_write``) is where it matters most: LMDB gives a write transaction the id
  ``last committed + 1``, so an id that is not ``our last write's id + 1`` means another
  process committed since. Then the change log's cached figures are dropped (its next number
  is read again from the log) and, if the catalog version changed, the catalog is reloaded
  from inside that transaction before anything is written: a row is never written without an
  index another process just created, nor a table record saved over another process's
  change.
- Every catalog transaction (``Storage.transaction``) bumps the catalog version
  (``bump``), a key in the ``catalog`` sub-database.
- ``refresh`` (called by the catalog lookups every query makes, ``table_get`` / ``db_get``
  ...) compares LMDB's last transaction id with the last one seen (one C call), and on a
  foreign commit reloads the catalog if its version changed and tells ``foreign_listeners``
  (the changefeed tail, ``feeds/cross_process.py``).

Index builds have one owner, the primary worker (worker 0): an index created in another
worker is recorded not ready (``ForeignBuild``) and the primary builds it as soon as it sees
it; a build interrupted by the primary's death is redone by its replacement.

The reload keeps the objects already handed out (a ``TableStore`` keeps its identity, its
indexes keep their compiled functions) and updates them in place; a table gone from the
catalog is marked dropped and its feeds end, as after a local drop. A catalog change is
prepared in memory before its transaction begins (``index_create`` adds the index, then
saves the table), so the reload is a three-way merge against the catalog as this process
last knew it committed: what differs in memory from that is this process's pending change
and stays, the rest comes from disk (``_apply``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import lmdb
import orjson

from .build import IndexBuild
from .catalog import DB_PREFIX, TABLE_PREFIX, DbInfo, Index
from .protocols import Table

VERSION_KEY = b"version\x00catalog"  # in the catalog sub-database: bumped by every catalog txn
FOREIGN_BUILD_POLL = 0.02  # seconds between looks while another worker builds an index


class ForeignBuild:
    """An index being built by the primary worker, as seen from another worker."""

    progress = 0.0
    finished = False
    task = None

    def __init__(self, coherence: Coherence, idx: Index) -> None:
        self.coherence = coherence
        self.idx = idx

    def start(self) -> None:
        """Nothing to do here: the primary starts the build when it sees the index."""

    def cancel(self) -> None:
        self.finished = True

    async def wait(self) -> None:
        """Until the primary has recorded the index ready (or it was dropped)."""
        while self.idx.build is self and not self.finished:
            await asyncio.sleep(FOREIGN_BUILD_POLL)
            self.coherence.refresh()


class Coherence:
    """Keeps one process's ``Storage`` coherent with the other processes' commits."""

    def __init__(self, storage: Any, primary: bool) -> None:
        self.storage = storage
        self.primary = primary
        self.reconciling = False  # catalog events re-emitted from a reload (not ours)
        #: Called (no arguments) after a foreign commit was noticed by ``refresh``.
        self.foreign_listeners: list[Callable[[], None]] = []
        # The last transaction id whose effects this process has applied (its own commits,
        # and others' once caught up with); None: none yet.
        self._known: int | None = None
        self._open: tuple[lmdb.Transaction, int] | None = None  # our write being made
        # The catalog as last committed that this process knows of (the base of the
        # three-way merge in ``_apply``): table id -> record, database id -> name.
        self._records: dict[str, bytes] = {}
        self._db_names: dict[str, str] = {}
        storage.env.reader_check()  # a killed worker's reader slots
        with storage.env.begin(db=storage.catalog_db) as txn:
            self._version = txn.get(VERSION_KEY)
            self._snapshot(txn)
        for table in list(storage._tables.values()):
            for idx in table._indexes.values():
                if idx.stale and idx.build is None:
                    self._pending_build(table, idx)

    # -- hooks called by Storage --------------------------------------------------------

    def write_began(self, txn: lmdb.Transaction) -> None:
        """A top-level write transaction began: catch up with other processes' commits."""
        tid = txn.id()
        foreign = tid - 1 != self._known
        self._known = tid - 1
        self._open = (txn, tid)
        if foreign:
            self.forget_log_ends()
            version = txn.get(VERSION_KEY, db=self.storage.catalog_db)
            if version != self._version:
                self._reconcile(txn, version)

    def committed(self, txn: lmdb.Transaction) -> None:
        """Our write transaction ``txn`` committed (``ChangeLog.committed`` tells)."""
        if self._open is not None and self._open[0] is txn:
            self._known = self._open[1]
            self._open = None

    def bump(self, txn: lmdb.Transaction) -> None:
        """A catalog transaction is about to commit: other processes must reload."""
        cdb = self.storage.catalog_db
        raw = txn.get(VERSION_KEY, db=cdb)
        version = str((int(raw) if raw else 0) + 1).encode()
        txn.put(VERSION_KEY, version, db=cdb)
        self._version = version  # if the commit fails, the next look reloads (harmless)
        self._snapshot(txn)

    def _snapshot(self, txn: lmdb.Transaction) -> None:
        cdb = self.storage.catalog_db
        self._records = {
            key[len(TABLE_PREFIX) :].decode(): bytes(raw)
            for key, raw in _prefixed(txn.cursor(db=cdb), TABLE_PREFIX)
        }
        self._db_names = {
            (d := orjson.loads(raw))["id"]: d["name"]
            for _, raw in _prefixed(txn.cursor(db=cdb), DB_PREFIX)
        }

    def refresh(self) -> None:
        """Before a query uses the catalog: apply what other processes committed since."""
        storage = self.storage
        if storage._open_txn is not None or storage.env is None:
            return  # inside a write: its begin caught up already
        last = storage.env.info()["last_txnid"]
        if last == self._known:
            return
        self._known = last  # read before the snapshot below: it sees at least that much
        self.forget_log_ends()
        with storage.env.begin(db=storage.catalog_db) as txn:
            version = txn.get(VERSION_KEY)
            if version != self._version:
                self._reconcile(txn, version)
        for listener in self.foreign_listeners:
            listener()

    def new_build(self, table: Table, idx: Index, clear: bool = False) -> Any:
        """The build of a new or stale index: here in the primary, else the primary's."""
        if self.primary:
            return IndexBuild(table, idx, clear=clear)
        return ForeignBuild(self, idx)

    # -- internals ----------------------------------------------------------------------

    def forget_log_ends(self) -> None:
        """Drop the change log's cached figures: read again from the log when next used."""
        log = self.storage.changelog
        log._ends.clear()
        log._bytes.clear()
        log._settings.clear()
        log._triggers.clear()

    def _pending_build(self, table: Any, idx: Index) -> None:
        """A not-ready index with no build here: the primary (re)builds it, others wait."""
        if not self.primary:
            idx.build = ForeignBuild(self, idx)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # TableStore._refresh starts it on first use
        loop.call_soon(table._refresh, idx)  # never inside the write transaction open now

    def _reconcile(self, txn: lmdb.Transaction, version: bytes | None) -> None:
        """Reload the catalog from ``txn``, updating the objects already handed out."""
        storage = self.storage
        self._version = version
        events: list[tuple[str, str | None]] = [("meta", None)]  # users, permissions, hooks
        cdb = storage.catalog_db
        disk = {
            (d := orjson.loads(raw))["id"]: d["name"]
            for _, raw in _prefixed(txn.cursor(db=cdb), DB_PREFIX)
        }
        base = self._db_names
        dbs: dict[str, DbInfo] = {}
        for key, db in storage._dbs.items():  # keys kept: a rename here re-keys after commit
            if db.id not in disk:
                if db.id in base:
                    events.append(("db_drop", None))  # dropped elsewhere
                    continue
            elif db.name == base.get(db.id, db.name) and db.name != disk[db.id]:
                db.name = key = disk[db.id]  # renamed elsewhere (not here, pending)
                events.append(("db_rename", None))
            dbs[key] = db
        known = {db.id for db in dbs.values()}
        for ident, name in disk.items():
            if ident not in known:  # created elsewhere
                dbs[name] = DbInfo(name, ident)
                events.append(("db_create", None))
        storage._dbs = dbs
        self._db_names = disk
        ids = {db.id: db for db in dbs.values()}
        seen: dict[str, bytes] = {}
        dropped = []
        for key, raw in _prefixed(txn.cursor(db=cdb), TABLE_PREFIX):
            tid = key[len(TABLE_PREFIX) :].decode()
            raw = seen[tid] = bytes(raw)
            if self._records.get(tid) == raw and tid in storage._tables:
                continue
            rec = orjson.loads(raw)
            table = storage._tables.get(tid)
            if table is None:
                table = self._new_table(rec, ids)
                events.append(("table_create", tid))
            else:
                was = self._records.get(tid)
                self._apply(table, rec, None if was is None else orjson.loads(was), ids)
                events.append(("table_save", tid))
        for tid in list(storage._tables):
            if tid not in seen:
                table = storage._tables.pop(tid)
                for idx in table._indexes.values():
                    if idx.build is not None:
                        idx.build.cancel()
                        idx.build = None
                table.dropped = True
                dropped.append(tid)
        self._records = seen
        self._emit(dropped, events)

    def _new_table(self, rec: dict, ids: dict[str, DbInfo]) -> Any:
        from .table import TableStore  # the face's class: a lower module names it at run time

        storage = self.storage
        indexes = {n: Index.from_json(n, d) for n, d in rec["indexes"].items()}
        table = TableStore(
            storage,
            rec["id"],
            ids[rec["db_id"]],
            rec["name"],
            rec["primary_key"],
            rec["durability"],
            indexes,
        )
        storage._tables[table.id] = table
        for idx in indexes.values():
            if idx.stale:
                self._pending_build(table, idx)
        return table

    def _apply(self, table: Any, rec: dict, base: dict | None, ids: dict[str, DbInfo]) -> None:
        """A three-way merge: what differs in memory from ``base`` (the record as last
        committed that we knew) was changed here and is not committed yet (a rename, an
        index created or dropped: prepared before their transaction begins), so it stays;
        everything else is taken from ``rec`` (committed elsewhere)."""
        base = base or rec

        def pick(local: Any, field: str) -> Any:
            return local if local != base[field] else rec[field]

        table.name = pick(table.name, "name")
        table.durability = pick(table.durability, "durability")
        table.db = ids.get(pick(table.db.id, "db_id"), table.db)
        base_ids = {d["id"]: n for n, d in base["indexes"].items()}
        local = {idx.id: idx for idx in table._indexes.values()}
        indexes: dict[str, Index] = {}
        for name, d in rec["indexes"].items():
            idx = local.pop(d["id"], None)
            stale = d.get("stale", False)
            if idx is None:
                if d["id"] in base_ids:
                    continue  # dropped here, not committed yet
                idx = Index.from_json(name, d)  # created elsewhere
                if stale:
                    self._pending_build(table, idx)
            else:
                if idx.name == base_ids.get(idx.id, idx.name):
                    idx.name = name
                idx.cells = d.get("cells", idx.cells)
                if not stale:
                    if isinstance(idx.build, ForeignBuild):
                        idx.build = None  # the primary finished it
                    if not isinstance(idx.build, IndexBuild):
                        idx.stale = False
                elif idx.build is None:
                    idx.stale = True  # marked stale elsewhere: rebuilt by the primary
                    self._pending_build(table, idx)
            indexes[idx.name] = idx
        for idx in local.values():
            if idx.id not in base_ids:
                indexes[idx.name] = idx  # created here, not committed yet
            elif idx.build is not None:  # dropped elsewhere
                idx.build.cancel()
                idx.build = None
        table._indexes = indexes

    def _emit(self, dropped: list[str], events: list[tuple[str, str | None]]) -> None:
        """Tell the listeners, after the transaction open now (they may read or write)."""
        storage = self.storage

        def emit() -> None:
            self.reconciling = True
            try:
                for tid in dropped:
                    storage._dropped(tid)
                for event, tid in events:
                    storage.catalog_changed(event, tid)
            finally:
                self.reconciling = False

        try:
            asyncio.get_running_loop().call_soon(emit)
        except RuntimeError:
            emit()


def _prefixed(cur: lmdb.Cursor, prefix: bytes) -> Any:
    if cur.set_range(prefix):
        for key, raw in cur.iternext():
            if not key.startswith(prefix):
                return
            yield key, raw
