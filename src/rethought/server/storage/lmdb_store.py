"""``Storage``: the LMDB environment, the catalog of databases and tables, and meta records.

One environment holds five named sub-databases:

- ``catalog``: ``db\\0<name>`` -> {id, name}; ``table\\0<id>`` -> {id, db_id, name,
  primary_key, durability, indexes} (the row count is the change log's; data written
  before it moved there has ``count\\0<table id bytes>`` here, read until the next write);
- ``rows``: ``<table id, 16 bytes><encode_key(primary key)>`` -> orjson row;
- ``index``: ``<index id, 16 bytes><index value part><encoded primary key>`` -> entry;
- ``meta``: ``<utf-8 key>`` -> orjson value (users, permissions, other system records);
- ``geo`` (dupsort): ``<index id><level><cell code>`` -> index key suffixes of the geo index
  entries filed in that grid cell (``geo_cells``);
- ``changelog``: every table's change log (``changelog.py``), written by each write.

Commits do not fsync (the environment is opened with ``sync=False``): ``sync()`` does, so
the server can acknowledge several hard-durability writes with one fsync, and soft writes
skip it. A crash of the process alone loses nothing either way (the OS has the pages).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import lmdb
import orjson

from ..runtime import suspend
from . import space
from .build import IndexBuild
from .catalog import (
    DB_PREFIX,
    TABLE_PREFIX,
    DbInfo,
    Index,
    IndexCompiler,
    new_id,
)
from .changelog import ChangeLog
from .group import CommitGroup, no_more_input, settle
from .outbox import Listener, Outbox
from .table import TableStore

DEFAULT_MAP_SIZE = 1 << 34  # 16 GiB of address space; the file grows only as data does


def _db_name(db: Any) -> str:
    return db if type(db) is str else db.name


class Storage:
    """Durable storage in directory ``path`` (created if missing).

    ``index_compiler(function_json, multi, geo) -> fn`` turns a stored index function back
    into the row function after a restart; without one, indexes are kept but marked not ready
    (and rebuilt once a compiler is set with :meth:`set_index_compiler`).
    """

    def __init__(
        self,
        path: str,
        map_size: int = DEFAULT_MAP_SIZE,
        index_compiler: IndexCompiler | None = None,
    ) -> None:
        os.makedirs(path, mode=0o700, exist_ok=True)
        self.path = path
        self.index_compiler = index_compiler
        self.env = lmdb.open(
            path,
            map_size=map_size,
            max_dbs=8,
            sync=False,
            metasync=False,
            readahead=False,
            mode=0o600,  # owner-only files, as the directory (app.py)
        )
        self.catalog_db = self.env.open_db(b"catalog")
        self.rows_db = self.env.open_db(b"rows")
        self.index_db = self.env.open_db(b"index")
        self.meta_db = self.env.open_db(b"meta")
        self.geo_db = self.env.open_db(b"geo", dupsort=True)
        self.changelog = ChangeLog(self)  # per-table change logs (sub-database ``changelog``)
        self._page_size = self.env.stat()["psize"]
        # Pages writes may still add before the map's fill is looked at again (env.info()
        # costs more than a small write's own LMDB calls): see ``_room_left``.
        self.room = 0
        self._open_txn: lmdb.Transaction | None = None  # the open write transaction, if any
        self._nested_used = False
        self._outbox: Outbox | None = None  # the open transaction's changes (outbox.py)
        self._group: CommitGroup | None = None  # writes waiting to commit together (group.py)
        self.group_joins = 0  # writes that joined another's open group (tests, benchmarks)
        # Meta records (users, grants, write hooks) written by this process: ``meta_stamp``.
        self._meta_writes = 0
        self._meta_pending = False  # one was written inside a transaction still open
        # Whether another query may be read in this loop turn (set by the driver port).
        self.more_input: Callable[[], bool] = no_more_input
        # Called with each committed transaction's changes, per table (the changefeed hub).
        self.commit_listeners: list[Listener] = []
        self._dbs: dict[str, DbInfo] = {}
        self._tables: dict[str, TableStore] = {}
        # Called with a table id after the table is dropped (changefeeds end on it).
        self.drop_listeners: list[Callable[[str], None]] = []
        # Called with (event, table id or None) after a catalog change commits: the system
        # tables' changefeeds (system/live.py) and the server log (system/server_log.py).
        self.catalog_listeners: list[Callable[[str, str | None], None]] = []
        # Other processes on this environment (``coherence.py``; set by ``rethought serve
        # --workers``): None in a single process.
        self.coherence: Any = None
        self._load()
        for table in self._tables.values():
            table._file_geo_cells()
        if not self._dbs:
            self.db_create("test")

    @property
    def _txn(self) -> lmdb.Transaction | None:
        return self._open_txn

    @_txn.setter
    def _txn(self, txn: lmdb.Transaction | None) -> None:
        # Writers set this directly (writer.py). While a write transaction is open no query
        # greenlet may switch out at a checkpoint, or another query's write would join it.
        was_open = self._open_txn is not None
        self._open_txn = txn
        if was_open != (txn is not None):
            suspend.pin(txn is not None)

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush to disk and close the environment."""
        if self.env is not None:
            self.flush_group()
            self.env.sync(True)
            self.env.close()
            self.env = None

    def sync(self) -> None:
        """Block until every committed write is on disk (one fsync for all of them). Runs
        in a thread (app.SyncCoalescer): an open group of writes is not touched here; its
        members' answers wait for its commit, then for their fsync."""
        try:
            self.env.sync(True)
        except lmdb.Error as e:
            raise space.write_failure(self.path, e) from None

    def grow(self) -> None:
        """Double the memory map (no transaction may be open; callers retry their write)."""
        size = self.env.info()["map_size"]
        # LMDB unmaps the old map before mapping the new one: if that fails the environment
        # is left without a map. So first make sure the address space is there.
        space.check_map_room(self.path, size * 2 - size)
        try:
            self.env.set_mapsize(size * 2)
        except lmdb.Error as e:
            raise space.write_failure(self.path, e) from None
        if self.coherence is not None:
            # The writer's replay begins its transaction directly: another process may
            # commit first, so its change numbers are read again from the log.
            self.coherence.forget_log_ends()

    def flush_group(self) -> None:
        """Commit the open group of writes (group.py), if any, and publish its changes."""
        group = self._group
        if group is None:
            return
        self._group = None
        txn = group.txn
        try:
            group.outbox.log(txn, self.changelog)
            space.commit(txn, self.path)
        except BaseException as e:
            txn.abort()
            settle(group.done, e)
            return
        self.changelog.committed(txn)
        settle(group.done, None)
        group.outbox.publish(self.commit_listeners)

    def group_has_room(self) -> bool:
        """Whether a write may still join the open group: the map is not half full (past
        that, the group commits first and the map grows, as ``begin_write`` does)."""
        return self.room > 0 and self.coherence is None or self._room_left() > 0

    def _room_left(self) -> int:
        """Look at the map's fill: sets and returns ``room``, a quarter of the pages left
        below half the map (<= 0 when the map is half full or more).

        Writes charge what they may have added (``ChangeLog.record``: a generous count of
        pages per change and per logged byte), and the fill is read again only once the
        charges use the room up: a write transaction rarely meets MapFullError, without an
        ``env.info()`` per write. Other processes' writes are not charged here, so with
        ``--workers`` the fill is read at every write as before."""
        info = self.env.info()
        half = info["map_size"] // (2 * self._page_size)
        self.room = (half - info["last_pgno"] - 1) // 4
        return self.room

    def begin_write(self) -> lmdb.Transaction:
        """Begin a write transaction, first growing the map when it is half full (so a
        transaction rarely meets MapFullError). An open group of writes commits first."""
        if self._group is not None:
            self.flush_group()
        if (self.room <= 0 or self.coherence is not None) and self._room_left() <= 0:
            self.grow()
            self._room_left()
        try:
            txn = self.env.begin(None, None, True)  # write=True, positional: parsed faster
        except lmdb.MapResizedError:  # another process grew the map: adopt its size
            self.env.set_mapsize(0)
            txn = self.env.begin(write=True)
        if self.coherence is not None:
            self.coherence.write_began(txn)
        return txn

    @contextmanager
    def transaction(self) -> Iterator[lmdb.Transaction]:
        """A write transaction for catalog changes; joins the open one if there is one."""
        if self._txn is not None:
            yield self._txn
            return
        txn = self._txn = self.begin_write()
        outbox = self._outbox = Outbox()  # a write nested in here (writer.py) fills it
        try:
            yield txn
        except BaseException:
            txn.abort()
            raise
        else:
            outbox.log(txn, self.changelog)
            if self.coherence is not None:
                self.coherence.bump(txn)
            space.commit(txn, self.path)
            self.changelog.committed(txn)
        finally:
            self._txn = None
            self._outbox = None
            self.room = 0  # index builds, drops...: not charged, so look at the map again
        outbox.publish(self.commit_listeners)

    def new_build(self, table: TableStore, idx: Index, clear: bool = False) -> Any:
        """The background build of a new or stale index (the primary's, with workers)."""
        if self.coherence is not None:
            return self.coherence.new_build(table, idx, clear)
        return IndexBuild(table, idx, clear=clear)

    def refresh(self) -> None:
        """See what other processes committed (catalog, changes); nothing in one process."""
        if self.coherence is not None:
            self.coherence.refresh()

    def set_index_compiler(self, compiler: IndexCompiler | None) -> None:
        """Set how stored index functions are turned back into row functions."""
        self.index_compiler = compiler

    def _load(self) -> None:
        with self.env.begin(db=self.catalog_db) as txn:
            for _, raw in _prefixed(txn.cursor(), DB_PREFIX):
                d = orjson.loads(raw)
                self._dbs[d["name"]] = DbInfo(d["name"], d["id"])
            by_id = {db.id: db for db in self._dbs.values()}
            for _, raw in _prefixed(txn.cursor(), TABLE_PREFIX):
                t = orjson.loads(raw)
                indexes = {n: Index.from_json(n, d) for n, d in t["indexes"].items()}
                self._tables[t["id"]] = TableStore(
                    self,
                    t["id"],
                    by_id[t["db_id"]],
                    t["name"],
                    t["primary_key"],
                    t["durability"],
                    indexes,
                )

    # -- databases ----------------------------------------------------------------------------

    def db_list(self) -> list[str]:
        self.refresh()
        return sorted(self._dbs)

    def db_get(self, name: str) -> DbInfo | None:
        self.refresh()
        return self._dbs.get(name)

    def db_create(self, name: str, ident: str | None = None) -> DbInfo:
        """``ident``: the new database's id (an insert into ``db_config`` names it)."""
        if name in self._dbs:
            raise ValueError(f"database {name} exists")
        db = DbInfo(name, ident or new_id())
        with self.transaction() as txn:
            txn.put(DB_PREFIX + name.encode(), db.record(), db=self.catalog_db)
        self._dbs[name] = db
        self.sync()
        self.catalog_changed("db_create")
        return db

    def db_rename(self, old: str, new: str) -> DbInfo:
        """Rename a database (``rethinkdb.db_config`` name changes); tables follow by id."""
        if new in self._dbs:
            raise ValueError(f"database {new} exists")
        db = self._dbs[old]
        db.name = new  # the same object every TableStore of it refers to
        try:
            with self.transaction() as txn:
                txn.delete(DB_PREFIX + old.encode(), db=self.catalog_db)
                txn.put(DB_PREFIX + new.encode(), db.record(), db=self.catalog_db)
        except BaseException:
            db.name = old  # the commit failed (disk full): memory stays as the disk is
            raise
        del self._dbs[old]
        self._dbs[new] = db
        self.sync()
        self.catalog_changed("db_rename")
        return db

    def table_save(self, table: TableStore) -> None:
        """Persist a table's changed settings (durability from ``table_config``)."""
        with self.transaction() as txn:
            table._save(txn)
        self.sync()
        self.catalog_changed("table_save", table.id)

    def db_drop(self, name: str) -> tuple[DbInfo, list[TableStore]]:
        """Drop a database with its tables (their rows and indexes); returns what was dropped."""
        db = self._dbs[name]
        tables = [t for t in self._tables.values() if t.db is db]
        tables.sort(key=lambda t: t.name)
        with self.transaction() as txn:
            for t in tables:
                t._drop_data(txn)
            txn.delete(DB_PREFIX + name.encode(), db=self.catalog_db)
        for t in tables:
            del self._tables[t.id]
        del self._dbs[name]
        self.sync()
        for t in tables:
            self._dropped(t.id)
        self.catalog_changed("db_drop")
        return db, tables

    # -- tables -------------------------------------------------------------------------------

    def table_list(self, db: Any) -> list[str]:
        name = _db_name(db)
        self.refresh()
        return sorted(t.name for t in self._tables.values() if t.db.name == name)

    def table_get(self, db: Any, name: str) -> TableStore | None:
        dbname = _db_name(db)
        self.refresh()
        for t in self._tables.values():
            if t.name == name and t.db.name == dbname:
                return t
        return None

    def table_named(self, table: TableStore, db_name: str, name: str) -> bool:
        """Whether ``table`` is what ``db_get(db_name)`` and ``table_get(db_name, name)``
        find now: a cheap check of a lookup remembered by a compiled plan (names are
        unique within a database, so if ``table`` is still there under them it is the one;
        a drop, rename, move, or another process's change read by ``refresh`` fails it)."""
        if self.coherence is not None:  # ``refresh``, inline: a check made every query
            self.coherence.refresh()
        db = table.db
        return (
            self._tables.get(table.id) is table
            and table.name == name
            and db.name == db_name
            and self._dbs.get(db_name) is db
        )

    def table_by_id(self, ident: str) -> TableStore | None:
        return self._tables.get(ident)

    def tables(self) -> list[TableStore]:
        """Every table of every database (for the system tables)."""
        self.refresh()
        return sorted(self._tables.values(), key=lambda t: (t.db.name, t.name))

    def table_create(
        self,
        db: Any,
        name: str,
        primary_key: str = "id",
        durability: str = "hard",
        ident: str | None = None,
    ) -> TableStore:
        """``ident``: the new table's id (an insert into ``table_config`` names it)."""
        info = self._dbs[_db_name(db)]
        if self.table_get(info.name, name) is not None:
            raise ValueError(f"table {info.name}.{name} exists")
        table = TableStore(self, ident or new_id(), info, name, primary_key, durability)
        with self.transaction() as txn:
            table._save(txn)
        self._tables[table.id] = table
        self.sync()
        self.catalog_changed("table_create", table.id)
        return table

    def table_drop(self, db: Any, name: str) -> TableStore:
        """Drop a table with its rows and indexes; returns the (now dropped) table."""
        table = self.table_get(db, name)
        if table is None:
            raise KeyError(f"no table {_db_name(db)}.{name}")
        with self.transaction() as txn:
            table._drop_data(txn)
        del self._tables[table.id]
        self.sync()
        self._dropped(table.id)
        return table

    def _dropped(self, table_id: str) -> None:
        for listener in self.drop_listeners:
            listener(table_id)
        self.catalog_changed("table_drop", table_id)

    def catalog_changed(self, event: str, table_id: str | None = None) -> None:
        """Tell ``catalog_listeners`` (``TableStore`` calls it for index changes too)."""
        for listener in self.catalog_listeners:
            listener(event, table_id)

    def table_rename(self, table: TableStore, new_name: str) -> None:
        """Rename a table within its database (``config().update({"name": ...})``)."""
        if self.table_get(table.db, new_name) not in (None, table):
            raise ValueError(f"table {table.db.name}.{new_name} exists")
        old, table.name = table.name, new_name
        try:
            with self.transaction() as txn:
                table._save(txn)
        except BaseException:
            table.name = old  # the commit failed (disk full): memory stays as the disk is
            raise
        self.sync()
        self.catalog_changed("table_rename", table.id)

    # -- meta records -------------------------------------------------------------------------

    def meta_get(self, key: str) -> Any:
        """The JSON value stored under ``key``, or None."""
        with self.env.begin(db=self.meta_db) as txn:
            raw = txn.get(key.encode())
        return None if raw is None else orjson.loads(raw)

    def meta_put(self, key: str, value: Any) -> None:
        """Store a JSON value (committed; durable after the next ``sync()``)."""
        joined = self._open_txn is not None
        with self.transaction() as txn:
            txn.put(key.encode(), orjson.dumps(value), db=self.meta_db)
        self._meta_written(joined)
        self.catalog_changed("meta")  # users, permissions, write hooks

    def meta_delete(self, key: str) -> bool:
        """Remove ``key``; whether it existed."""
        joined = self._open_txn is not None
        with self.transaction() as txn:
            found = txn.delete(key.encode(), db=self.meta_db)
        self._meta_written(joined)
        self.catalog_changed("meta")
        return found

    def _meta_written(self, joined: bool) -> None:
        if joined:  # committed (or not) with the open transaction: see meta_stamp
            self._meta_pending = True
        else:
            self._meta_writes += 1

    def meta_stamp(self) -> int:
        """A number that differs from every earlier one once a meta record may have changed
        since (a record read after taking the stamp stays true while it is the same).

        With other processes on the environment (``coherence``), LMDB's last transaction
        id: any commit moves it. Alone, this process's own meta writes counted, without
        asking LMDB (``env.info()`` costs about a microsecond per query): one written inside
        a transaction still open counts once that transaction has ended, whatever its end,
        and the committed records stay as they were until then."""
        if self.coherence is not None:
            return self.env.info()["last_txnid"]
        if self._meta_pending and self._open_txn is None:
            self._meta_pending = False
            self._meta_writes += 1
        return -1 - self._meta_writes  # never an LMDB transaction id

    def meta_items(self, prefix: str = "") -> list[tuple[str, Any]]:
        """Every ``(key, value)`` whose key starts with ``prefix``, in key order."""
        with self.env.begin(db=self.meta_db) as txn:
            return [
                (key.decode(), orjson.loads(raw))
                for key, raw in _prefixed(txn.cursor(), prefix.encode())
            ]


def _prefixed(cur: lmdb.Cursor, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The ``(key, value)`` pairs under ``cur`` whose key starts with ``prefix``, in order."""
    if cur.set_range(prefix):
        for key, raw in cur.iternext():
            if not key.startswith(prefix):
                return
            yield key, raw
