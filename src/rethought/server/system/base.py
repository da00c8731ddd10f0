"""The ``rethinkdb`` system database: tables computed from the server's own state.

Every system table is a ``SystemTable``: it answers the same read and write protocol as
``storage.TableStore`` (``get``, ``scan``, ``index_scan``, ``write()`` ...), so every read
term, write term and changefeed works on it unchanged. Rows are computed when read, from
the catalog (``table_config``, ``db_config``, ...), from storage meta (``users``,
``permissions``) or from memory (``_debug_scratch``, RethinkDB's scratch table for tests).

Writes go row by row through ``SystemTable.apply(key, old, new)``, like RethinkDB's
artificial tables: each row is validated and applied on its own, a rejected row counts as
an error of the write and the others still apply. ``apply`` returns the row as the table
now shows it (``users`` turns a password string into ``true``).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Iterator
from typing import Any

from ... import datum
from ...errors import ReqlOpFailedError, ReqlPermissionError
from ..storage import DbInfo
from ..system.names import SYSTEM_DB, SYSTEM_DB_ID, special

_BASE_TABLE_ID = uuid.UUID("0eabef01-6deb-4069-9a2d-448db057ab1e")


def table_id(name: str) -> str:
    """The fixed uuid of system table ``name``: RethinkDB's (artificial_table/backend.cc
    ``uuid_u::from_hash(base_table_id, name)``, a version-5 uuid)."""
    return str(uuid.uuid5(_BASE_TABLE_ID, name))


def old_table_id(name: str) -> str:
    """The id earlier versions of this server gave system table ``name``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "rethought:system-table:" + name))


class SystemTable:
    """A table of the ``rethinkdb`` database; subclasses set ``name`` and give ``rows()``."""

    name = ""
    primary_key = "id"
    durability = "soft"  # nothing to fsync: system writes go to meta records or memory

    def __init__(self, ctx: Any, id_format: str = "name") -> None:
        self.ctx = ctx
        self.id_format = id_format
        self.id = table_id(self.name)
        self.db = DbInfo(SYSTEM_DB, SYSTEM_DB_ID)
        self.dropped = False

    def __repr__(self) -> str:
        return f"<SystemTable {SYSTEM_DB}.{self.name}>"

    @property
    def storage(self) -> Any:
        return self.ctx.storage

    # -- what subclasses provide --------------------------------------------------------------

    def rows(self) -> list[dict]:
        """Every row, in any order."""
        raise NotImplementedError

    pkey_generated = False  # set by the writer before ``apply``: the insert made up the key

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        """Write one row (``new`` None deletes); returns the row as stored. Read-only here."""
        raise ReqlOpFailedError(f"It's illegal to write to the `{SYSTEM_DB}.{self.name}` table.")

    # -- the TableStore read protocol ---------------------------------------------------------

    def get(self, key: Any) -> dict | None:
        want = datum.sort_key(key)
        for row in self.rows():
            if datum.sort_key(row.get(self.primary_key)) == want:
                return row
        return None

    def count(self) -> int:
        return len(self.rows())

    def scan(
        self,
        lo: Any = datum.MINVAL,
        hi: Any = datum.MAXVAL,
        lo_open: bool = False,
        hi_open: bool = True,
        reverse: bool = False,
    ) -> Iterator[dict]:
        pk = self.primary_key
        rows = sorted(self.rows(), key=lambda row: datum.sort_key(row[pk]), reverse=reverse)
        return (row for row in rows if _within(row[pk], lo, hi, lo_open, hi_open))

    def index_scan(
        self,
        name: str,
        lo: Any = datum.MINVAL,
        hi: Any = datum.MAXVAL,
        lo_open: bool = False,
        hi_open: bool = True,
        reverse: bool = False,
    ) -> Iterator[tuple[Any, dict]]:
        self._index(name)
        pk = self.primary_key
        return ((row[pk], row) for row in self.scan(lo, hi, lo_open, hi_open, reverse))

    def index_get_all(self, name: str, value: Any) -> Iterator[dict]:
        self._index(name)
        row = self.get(value)
        return iter(() if row is None else (row,))

    def index_values(self, name: str, row: dict) -> list:
        return []

    def index_list(self) -> list[str]:
        return []

    def index_info(self, name: str) -> None:
        return None

    def index_create(self, *args: Any, **kwargs: Any) -> Any:
        raise special("you can't create secondary indexes on the tables in it.")

    def index_drop(self, *args: Any, **kwargs: Any) -> Any:
        raise special("you can't drop secondary indexes on the tables in it.")

    def index_rename(self, *args: Any, **kwargs: Any) -> Any:
        raise special("you can't rename secondary indexes on the tables in it.")

    def _index(self, name: str) -> None:
        if name != self.primary_key:
            raise KeyError(f"no index {name} on {SYSTEM_DB}.{self.name}")

    # -- writes -------------------------------------------------------------------------------

    def write(self) -> SystemWriter:
        return SystemWriter(self)


def _within(key: Any, lo: Any, hi: Any, lo_open: bool, hi_open: bool) -> bool:
    c = datum.compare(key, lo)
    if c < 0 or (c == 0 and lo_open):
        return False
    c = datum.compare(key, hi)
    return c < 0 or (c == 0 and not hi_open)


class SystemWriter:
    """The ``Writer`` of a system table. ``prepare`` (called by the write terms for every row,
    after RethinkDB's replacement checks) applies the row at once; ``put`` / ``delete`` then
    only record the change for the changefeed hub."""

    def __init__(self, table: SystemTable) -> None:
        self.table = table
        self.changes: list[tuple[Any, Any]] = []
        self._old: dict[tuple, Any] = {}
        self._generated: set = set()
        self.permission_error: ReqlPermissionError | None = None

    def __enter__(self) -> SystemWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        # artificial_table_t::write_batched_replace: a permission error on a row is the
        # query's error once every row was tried (not the row's first_error)
        if exc[0] is None and self.permission_error is not None:
            raise self.permission_error
        return None

    def get(self, key: Any) -> dict | None:
        return self.table.get(key)

    def generated(self, key: Any) -> None:
        """The insert made up ``key`` (the document had no primary key)."""
        self._generated.add(datum.sort_key(key))

    def prepare(self, key: Any, old: Any, new: Any) -> Any:
        # artificial_table_backend_t::write_row is told pkey_was_autogenerated
        self.table.pkey_generated = datum.sort_key(key) in self._generated
        try:
            stored = self.table.apply(key, old, new)
        except ReqlPermissionError as e:
            if self.permission_error is None:
                self.permission_error = ReqlPermissionError(e.message)
            raise
        self._old[datum.sort_key(key)] = old
        return stored

    def put(self, row: dict) -> Any:
        old = self._old.pop(datum.sort_key(row[self.table.primary_key]), None)
        self.changes.append((old, row))
        return old

    def delete(self, key: Any) -> Any:
        old = self._old.pop(datum.sort_key(key), None)
        self.changes.append((old, None))
        return old


# -- _debug_scratch -----------------------------------------------------------------------------

# One scratch table per storage (per server), kept in memory like RethinkDB's.
_SCRATCH: weakref.WeakKeyDictionary[Any, dict[tuple, dict]] = weakref.WeakKeyDictionary()


class DebugScratch(SystemTable):
    """``rethinkdb._debug_scratch``: an in-memory table any document can be written to."""

    name = "_debug_scratch"

    def _data(self) -> dict[tuple, dict]:
        return _SCRATCH.setdefault(self.storage, {})

    def rows(self) -> list[dict]:
        return list(self._data().values())

    def get(self, key: Any) -> dict | None:
        return self._data().get(datum.sort_key(key))

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        if new is None:
            self._data().pop(datum.sort_key(key), None)
        else:
            self._data()[datum.sort_key(key)] = new
        return new


# -- the registry: filled by the package (``server.system``) once every table class exists ---------

TABLES: dict[str, type[SystemTable]] = {}

TABLE_NAMES = (
    "_debug_scratch",
    "cluster_config",
    "current_issues",
    "db_config",
    "jobs",
    "logs",
    "permissions",
    "server_config",
    "server_status",
    "stats",
    "table_config",
    "table_status",
    "users",
)


def open_table(ctx: Any, db: Any, name: str, id_format: str = "name") -> SystemTable | None:
    """The system table ``name`` as seen by this query, or None if there is none."""
    cls = TABLES.get(name)
    return None if cls is None else cls(ctx, id_format)


def table_by_id(ctx: Any, ident: str) -> SystemTable | None:
    """The system table with id ``ident`` (permission rows name tables by id)."""
    for name in TABLE_NAMES:
        if table_id(name) == ident:
            return open_table(ctx, None, name)
    return None
