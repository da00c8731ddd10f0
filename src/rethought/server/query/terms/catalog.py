"""Looking up databases and tables for terms, and the documents that describe them.

Shared by the table, write, index and admin term families: resolution of ``r.db`` /
``r.table`` against storage (and the special ``rethinkdb`` system database). Name validation
and the ``config()`` / ``status()`` documents live below, in ``server.system.names``.
"""

from __future__ import annotations

from typing import Any

from ....errors import ReqlError, ReqlOpFailedError
from ... import system
from ...runtime import values
from ...runtime.values import expected_val
from ...system.names import SYSTEM_DB, SYSTEM_DB_ID, check_name
from ..context import evaluate_global


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
    ctx: Any,
    db: values.Database,
    name: str,
    read_mode: str = "single",
    id_format: str = "name",
    checked: bool = False,
) -> Any:
    """A ``TableValue`` for ``db.name`` or RethinkDB's "does not exist" error.

    ``id_format`` ("name" / "uuid") only changes how system tables name dbs and tables;
    ``checked``: the name is known valid.
    """
    store = find_table(ctx, db, name, id_format, checked)
    if system is not None:
        store = system.guard(ctx, store)  # permission checks for users other than admin
    return values.TableValue(db, name, store, read_mode)


def find_table(
    ctx: Any, db: values.Database, name: str, id_format: str = "name", checked: bool = False
) -> Any:
    """``open_table``'s store before its permission guard, or "does not exist"."""
    if not checked:
        check_name(name, "Table")
    if db.name == SYSTEM_DB:
        store = system.open_table(ctx, db, name, id_format) if system else None
    else:
        store = ctx.storage.table_get(db.name, name)
    if store is None:
        raise ReqlOpFailedError(f"Table `{db.name}.{name}` does not exist.")
    return store


def system_module() -> Any:
    """``server.system`` (the system tables)."""
    return system


def db_config(db: values.Database) -> dict:
    return {"id": db.id, "name": db.name}


def user_tables(ctx: Any, db: values.Database) -> list[Any]:
    """Every table store of a (non-system) database, by name."""
    return [ctx.storage.table_get(db.name, n) for n in sorted(ctx.storage.table_list(db.name))]
