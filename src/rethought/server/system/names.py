"""Names in the catalog: validation with RethinkDB's message, this server's name and id, the
system database's name, and the ``config()`` / ``status()`` documents of a one-server
"cluster" (read by the terms and by the ``table_config`` / ``table_status`` system tables).
"""

from __future__ import annotations

import re
import socket
import uuid
from typing import Any

from ...errors import ReqlOpFailedError, ReqlQueryLogicError
from ..runtime import values
from .changelog_config import config_field  # the change log's own setting, if any

SYSTEM_DB = "rethinkdb"
# A stable id for the system database (RethinkDB derives it the same way: it never changes).
# RethinkDB's own: uuid_u::from_hash (a version-5 uuid) of this base and "rethinkdb"
# (artificial_reql_cluster_interface.cc), so rethinkdb.permissions rows and
# r.db("rethinkdb").config() show the ids RethinkDB shows.
SYSTEM_DB_ID = str(uuid.uuid5(uuid.UUID("39a24924-14ec-4deb-99f1-742eda7aba5e"), "rethinkdb"))
# The ids earlier versions of this server used: grants stored under them are read as the above.
OLD_SYSTEM_DB_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "rethought:system-db"))

_NAME_RE = re.compile(r"[A-Za-z0-9_-]+\Z")


def check_name(name: Any, kind: str) -> str:
    """A database, table or server-tag name, or RethinkDB's error (``kind`` is "Table" ...)."""
    if type(name) is not str:
        raise values.expected(name, "STRING")
    if not _NAME_RE.match(name):
        raise ReqlQueryLogicError(
            f"{kind} name `{name}` invalid (Use A-Z, a-z, 0-9, _ and - only)."
        )
    return name


def database_name(v: Any) -> str:
    """``check_name(v, "Database")``, for ``Term.datum_arg`` (its error blames the name)."""
    return check_name(v, "Database")


def table_name(v: Any) -> str:
    """``check_name(v, "Table")``, for ``Term.datum_arg`` (its error blames the name)."""
    return check_name(v, "Table")


# The serving process's stored identity (app.py sets it: --server-name, the id kept in the
# data directory), so the system tables name the server as the handshake's server() does.
_IDENTITY: dict[str, str] = {}


def set_identity(ident: dict[str, str]) -> None:
    _IDENTITY.clear()
    _IDENTITY.update(ident)


def server_name() -> str:
    """This server's name: its stored one, or RethinkDB's default, the host name made a
    valid name."""
    return _IDENTITY.get("name") or (
        re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "rethought"
    )


def server_id() -> str:
    return _IDENTITY.get("id") or str(
        uuid.uuid5(uuid.NAMESPACE_URL, "rethought:server:" + server_name())
    )


def special(action: str) -> ReqlOpFailedError:
    """``Database `rethinkdb` is special; you can't <action>.``"""
    return ReqlOpFailedError(f"Database `{SYSTEM_DB}` is special; {action}")


def table_config(store: Any, write_hook: Any = None, shards: int = 1) -> dict:
    """``table.config()``: RethinkDB's ``table_config`` row for a one-server cluster
    (``write_hook`` as ``get_write_hook`` shows it; ``shards`` from system/shards.py)."""
    server = server_name()
    return {
        **config_field(store),
        "db": store.db.name,
        "durability": store.durability,
        "id": store.id,
        "indexes": sorted(store.index_list()),
        "name": store.name,
        "primary_key": store.primary_key,
        "shards": [
            {"nonvoting_replicas": [], "primary_replica": server, "replicas": [server]}
            for _ in range(shards)
        ],
        "write_acks": "majority",
        "write_hook": write_hook,
    }


def table_status(store: Any, shards: int = 1) -> dict:
    """``table.status()``: every replica of each of the ``shards`` is this server, always
    ready."""
    server = server_name()
    return {
        "db": store.db.name,
        "id": store.id,
        "name": store.name,
        "raft_leader": server,
        "shards": [
            {"primary_replicas": [server], "replicas": [{"server": server, "state": "ready"}]}
            for _ in range(shards)
        ],
        "status": {
            "all_replicas_ready": True,
            "ready_for_outdated_reads": True,
            "ready_for_reads": True,
            "ready_for_writes": True,
        },
    }
