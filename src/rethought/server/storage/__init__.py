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
    ``write() -> Writer``: a context manager around one LMDB write transaction.

``Writer``
    ``get(key)``, ``put(row)`` (keyed by its primary key field; keeps every index current),
    ``delete(key)``; ``changes``: list of ``(old_row, new_row)`` in commit order. Leaving the
    block commits (or aborts on an exception).

Key encoding (``rethought.datum.keys``) makes LMDB's byte order equal ReQL's order.
"""
