"""Looking up databases and tables for terms, and the documents that describe them.

Shared by the table, write, index and admin term families: name validation with
RethinkDB's message, resolution of ``r.db`` / ``r.table`` against storage (and the special
``rethinkdb`` system database), and the ``config()`` / ``status()`` documents of a
single-server "cluster".
"""

from __future__ import annotations

import re
import socket
import uuid
from typing import Any

from ...errors import ReqlError, ReqlOpFailedError, ReqlQueryLogicError
from .. import values
from .datum_print import expected_val

SYSTEM_DB = "rethinkdb"
# A stable id for the system database (RethinkDB derives it the same way: it never changes).
SYSTEM_DB_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "rethought:system-db"))

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


def server_name() -> str:
    """This server's name as RethinkDB would default it: the host name, made a valid name."""
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "rethought"


def server_id() -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "rethought:server:" + server_name()))


def special(action: str) -> ReqlOpFailedError:
    """``Database `rethinkdb` is special; you can't <action>.``"""
    return ReqlOpFailedError(f"Database `{SYSTEM_DB}` is special; {action}")


def get_db(ctx: Any, name: str) -> values.Database:
    """The database called ``name`` or RethinkDB's "does not exist" error."""
    check_name(name, "Database")
    if name == SYSTEM_DB:
        return values.Database(SYSTEM_DB, SYSTEM_DB_ID)
    info = ctx.storage.db_get(name)
    if info is None:
        raise ReqlOpFailedError(f"Database `{name}` does not exist.")
    return values.Database(info.name, info.id)


def as_db(v: Any) -> values.Database:
    if isinstance(v, values.Database):
        return v
    raise expected_val(v, "DATABASE")


def as_table(v: Any) -> values.TableValue:
    if isinstance(v, values.TableValue):
        return v
    raise expected_val(v, "TABLE")


def default_db(ctx: Any) -> values.Database:
    """The query's default database, for a term given no database: the ``db`` global optarg
    (``r.connect(db=)``, ``run(db=)``), evaluated now and only now, as RethinkDB does (so
    ``r.db_create("app")`` works on a connection whose default ``app`` does not exist yet),
    else ``test``. RethinkDB wants a DATABASE value (``Expected type DATABASE but found
    DATUM:...``, with no backtrace: global optargs have none); a plain string is taken as
    the database's name too (rethinkdb-ts sends ``{"db": "name"}``)."""
    given = getattr(ctx, "optargs", None)
    if not getattr(given, "has_db", False):  # no db optarg (or not a START's context)
        return get_db(ctx, ctx.db_name)
    db = given.db_value
    if db is None:
        from ..engine import evaluate_global  # the engine imports the terms

        v = evaluate_global(ctx, given.raw_db)
        try:
            if type(v) is str:
                v = get_db(ctx, v)
            elif not isinstance(v, values.Database):
                raise expected_val(v, "DATABASE")
        except ReqlError as e:
            if e.frames is None:
                e.frames = []
            raise
        db = given.db_value = v
    return db


def open_table(
    ctx: Any, db: values.Database, name: str, read_mode: str = "single", id_format: str = "name"
) -> Any:
    """A ``TableValue`` for ``db.name`` or RethinkDB's "does not exist" error.

    ``id_format`` ("name" / "uuid") only changes how system tables name dbs and tables.
    """
    check_name(name, "Table")
    system = system_module()
    if db.name == SYSTEM_DB:
        store = system.open_table(ctx, db, name, id_format) if system else None
    else:
        store = ctx.storage.table_get(db.name, name)
    if store is None:
        raise ReqlOpFailedError(f"Table `{db.name}.{name}` does not exist.")
    if system is not None:
        store = system.guard(ctx, store)  # permission checks for users other than admin
    return values.TableValue(db, name, store, read_mode)


def system_module() -> Any:
    """``server.system`` (the system tables), or None while this server has none."""
    try:
        from .. import system  # imported lazily: system tables read this module too
    except ImportError:
        return None
    return system


def db_config(db: values.Database) -> dict:
    return {"id": db.id, "name": db.name}


def table_config(store: Any, write_hook: Any = None) -> dict:
    """``table.config()``: RethinkDB's ``table_config`` row for a one-server cluster
    (``write_hook`` as ``get_write_hook`` shows it)."""
    from ..changelog_config import config_field  # the change log's own setting, if any

    server = server_name()
    return {
        **config_field(store),
        "db": store.db.name,
        "durability": store.durability,
        "id": store.id,
        "indexes": sorted(store.index_list()),
        "name": store.name,
        "primary_key": store.primary_key,
        "shards": [{"nonvoting_replicas": [], "primary_replica": server, "replicas": [server]}],
        "write_acks": "majority",
        "write_hook": write_hook,
    }


def table_status(store: Any) -> dict:
    """``table.status()``: every replica is this server, always ready."""
    server = server_name()
    return {
        "db": store.db.name,
        "id": store.id,
        "name": store.name,
        "raft_leader": server,
        "shards": [
            {"primary_replicas": [server], "replicas": [{"server": server, "state": "ready"}]}
        ],
        "status": {
            "all_replicas_ready": True,
            "ready_for_outdated_reads": True,
            "ready_for_reads": True,
            "ready_for_writes": True,
        },
    }


def user_tables(ctx: Any, db: values.Database) -> list[Any]:
    """Every table store of a (non-system) database, by name."""
    return [ctx.storage.table_get(db.name, n) for n in sorted(ctx.storage.table_list(db.name))]
