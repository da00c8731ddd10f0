"""Durable storage on LMDB: the catalog (databases, tables, indexes) and table data.

The contract the rest of the server relies on (see ``lmdb_store.py`` for the implementation):

``Storage(path)``
    Opens or creates the environment in directory ``path``; creates database ``test`` on first
    start. ``close()``; ``sync()`` blocks until every committed write is on disk (fsync).
    Catalog: ``db_list() -> list[str]``, ``db_get(name) -> DbInfo | None``,
    ``db_create(name) -> DbInfo``, ``db_drop(name) -> (DbInfo, list[TableStore])``,
    ``table_list(db) -> list[str]``, ``table_get(db, name) -> TableStore | None``,
    ``table_create(db, name, primary_key="id", durability="hard") -> TableStore``,
    ``table_drop(db, name) -> TableStore``, ``table_by_id(id) -> TableStore | None``.
    Names are validated by the caller (terms/admin); storage raises KeyError / ValueError only
    for impossible states.

``TableStore``
    ``id`` (uuid str), ``db`` (DbInfo), ``name``, ``primary_key``, ``durability``.
    Reads (each opens its own short read transaction, so they can interleave with writes):
    ``get(key) -> dict | None``; ``count() -> int``;
    ``scan(lo=MINVAL, hi=MAXVAL, lo_open=False, hi_open=True, reverse=False)`` -> iterator of
    rows in primary-key order (ReQL order), lazily, chunk by chunk;
    ``index_scan(name, lo, hi, lo_open, hi_open, reverse)`` -> iterator of
    ``(index_value, row)`` in index order then primary key; ``index_get_all(name, value)``.
    Indexes: ``index_list()``, ``index_info(name) -> IndexInfo``
    (name, function: wire JSON, multi, geo, ready), ``index_create(name, function, multi, geo,
    fn)`` (``fn(row) -> list of index values``; it raises or returns [] to skip a row; builds
    over existing rows), ``index_drop(name)``, ``index_rename(old, new, overwrite)``.
    Builds run in the background (``build.py``) when an event loop is running: the index is
    not ready (``IndexInfo.progress``) until ``await index_wait(name)`` returns, and
    ``index_scan`` of it raises RethinkDB's ReqlOpFailedError meanwhile.
    ``write() -> Writer``: a context manager around one LMDB write transaction.

``Writer``
    ``get(key)``, ``put(row)`` (keyed by its primary key field; keeps every index current),
    ``delete(key)``; ``changes``: list of ``(old_row, new_row)`` in commit order. Leaving the
    block commits (or aborts on an exception).

Key encoding (``rethought.datum.keys``) makes LMDB's byte order equal ReQL's order.

Additions beyond the contract (all in the same modules): ``Storage(path, map_size=...,
index_compiler=...)`` and ``set_index_compiler``; ``tables()``, ``table_rename(table, name)``;
``meta_get`` / ``meta_put`` / ``meta_delete`` / ``meta_items(prefix)`` for system records;
``TableStore.index_scan`` / ``index_get_all`` also accept the primary key's name;
``TableStore.index_values(name, row)`` (the distinct values a row has in an index);
``index_create`` returns the ``IndexInfo``, ``index_drop`` the dropped one's;
``Writer.put`` / ``Writer.delete`` return the old row. ``TableStore.get`` and writes raise
RethinkDB's ReqlQueryLogicError for values that cannot be primary keys
(``rethought.datum.keys.check_primary_key``). An index function that raises, or yields a
value that cannot be a key (null, an object, ...), leaves the row out of that index.
"""

from .catalog import DbInfo, IndexInfo
from .lmdb_store import Storage
from .table import TableStore
from .writer import Writer

__all__ = ["Storage", "TableStore", "Writer", "DbInfo", "IndexInfo"]
