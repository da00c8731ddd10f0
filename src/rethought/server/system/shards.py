"""How many shards a table was given (``table_create(shards=)``, ``reconfigure(shards=)``).

This server keeps every table in one store, but RethinkDB reports the shards it was asked
for: on a one-server cluster each of the N shards has that server as its primary and only
replica (generate_config.cc; split_points.cc always makes N ranges, from the key
distribution or, with too few rows, uuid ranges), in ``table_config`` and ``table_status``.
The count is kept in storage meta; 1, the default, is not stored.
"""

from __future__ import annotations

from typing import Any

SHARDS_PREFIX = "table_shards/"


def shard_count(storage: Any, table_id: str) -> int:
    """The number of shards ``table_config`` shows for a table."""
    n = storage.meta_get(SHARDS_PREFIX + table_id)
    return n if type(n) is int and n > 0 else 1


def set_shard_count(storage: Any, table_id: str, n: int) -> None:
    if n == 1:
        if storage.meta_get(SHARDS_PREFIX + table_id) is not None:
            storage.meta_delete(SHARDS_PREFIX + table_id)
    else:
        storage.meta_put(SHARDS_PREFIX + table_id, n)
