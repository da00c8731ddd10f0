"""The ``rethinkdb`` system database: its public face for the query layer.

``base`` holds ``SystemTable`` and the registry, ``tables`` the catalog and server tables,
``access`` users, permissions and the checks made on every table a query opens; this
package fills the registry with all of them when it is first imported.
"""

from __future__ import annotations

from typing import Any

from . import access, server_log, tables
from .base import TABLE_NAMES, TABLES, DebugScratch, SystemTable, open_table, table_by_id, table_id

TABLES.update(
    {cls.name: cls for cls in [DebugScratch, *tables.TABLES, *access.TABLES, server_log.Logs]}
)


def guard(ctx: Any, store: Any) -> Any:
    """``store`` checked against the query user's permissions (see ``access``)."""
    return access.guard(ctx, store)


def require(ctx: Any, perm: str, db_id: str | None = None, tbl_id: str | None = None) -> None:
    """The query user's permission ``perm`` on a scope, or ReqlPermissionError."""
    access.require(ctx, perm, db_id, tbl_id)


def grant(ctx: Any, user: str, perms: Any, db_id: str | None, tbl_id: str | None) -> dict:
    """``r.grant`` at the global, database or table scope."""
    return access.grant(ctx, user, perms, db_id, tbl_id)


__all__ = [
    "TABLE_NAMES",
    "SystemTable",
    "guard",
    "grant",
    "open_table",
    "require",
    "table_by_id",
    "table_id",
]
