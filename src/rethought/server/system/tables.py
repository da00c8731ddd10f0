"""The catalog and cluster tables of the ``rethinkdb`` database, for a one-server cluster:
``table_config``, ``table_status``, ``db_config``, ``server_config``, ``server_status``,
``cluster_config``, ``current_issues``, ``jobs`` and ``stats`` (``logs``: ``server_log``).

``identifier_format="uuid"`` shows databases and servers by id instead of by name.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from typing import Any

from ...datum.jsonfmt import dumps, pretty
from ...errors import ReqlOpFailedError
from ..runtime.stats import COUNTERS
from . import access as system_auth
from . import changelog_config, server_info, server_log
from .base import SystemTable
from .names import SYSTEM_DB, check_name, server_id, server_name, table_config, table_status
from .shards import set_shard_count, shard_count
from .write_hooks import hook_datum


def _time(epoch: float) -> dict:
    return {"$reql_type$": "TIME", "epoch_time": round(epoch, 3), "timezone": "+00:00"}


class _CatalogTable(SystemTable):
    """A table with a row per user table (not the system tables)."""

    def stores(self) -> list[Any]:
        return self.storage.tables()

    def uuid_names(self, row: dict) -> dict:
        """``identifier_format="uuid"``: databases and servers by id."""
        if self.id_format != "uuid":
            return row
        return _replace_names(row, {server_name(): server_id()}, self.storage)


def _replace_names(row: Any, servers: dict, storage: Any) -> Any:
    if type(row) is dict:
        out = {}
        for k, v in row.items():
            if k == "db" and type(v) is str:
                info = storage.db_get(v)
                out[k] = info.id if info is not None else v
            else:
                out[k] = _replace_names(v, servers, storage)
        return out
    if type(row) is list:
        return [_replace_names(x, servers, storage) for x in row]
    if type(row) is str:
        return servers.get(row, row)
    return row


class TableConfig(_CatalogTable):
    """``table_config``: writable -- a new ``name`` renames, deleting drops, inserting creates."""

    name = "table_config"

    def rows(self) -> list[dict]:
        return [self._row(store) for store in self.stores()]

    def _row(self, store: Any) -> dict:
        storage = self.storage
        row = table_config(store, hook_datum(storage, store.id), shard_count(storage, store.id))
        return self.uuid_names(row)

    def get(self, key: Any) -> dict | None:
        store = self.storage.table_by_id(key) if type(key) is str else None
        return None if store is None else self._row(store)

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        storage = self.storage
        store = storage.table_by_id(key) if old is not None else None
        if store is None:
            system_auth.require(self.ctx, "config")
        else:  # table_config.cc write_row: config on the table (its database, itself)
            system_auth.require(self.ctx, "config", store.db.id, store.id)
        if new is None:
            storage.table_drop(store.db, store.name)  # its feeds end (Storage.drop_listeners)
            return None
        if old is None:
            return self._create(key, new)
        for field, msg in (
            ("primary_key", "It's illegal to change a table's primary key"),
            (
                "indexes",
                "The `indexes` field is read-only and can't be used to create or drop indexes.",
            ),
            (
                "write_hook",
                "The `write_hook` field is read-only and can't be used to create "
                "or drop a write hook function.",
            ),
        ):
            if new.get(field) != old.get(field):
                raise ReqlOpFailedError(msg)
        target = store.db
        if new.get("db") != old.get("db"):  # a move to another database
            target = self._database(new.get("db"))
            system_auth.require(self.ctx, "config", target.id)
        name = check_name(new.get("name"), "Table")
        durability = new.get("durability")
        if durability not in ("hard", "soft"):
            raise ReqlOpFailedError(
                f'In `durability`: Expected "soft" or "hard", got: {dumps(durability)}'
            )
        if target is not store.db:
            if storage.table_get(target, name) is not None:
                raise ReqlOpFailedError(
                    f"Can't rename table `{store.db.name}.{store.name}` to "
                    f"`{target.name}.{name}` because table `{target.name}.{name}` already "
                    "exists."
                )
            store.db = target
            store.name = name
            storage.table_save(store)
        elif name != store.name:
            if storage.table_get(store.db, name) is not None:
                raise ReqlOpFailedError(
                    f"Can't rename table `{store.db.name}.{store.name}` to `{name}` because "
                    f"table `{store.db.name}.{name}` already exists."
                )
            storage.table_rename(store, name)
        if durability != store.durability:
            store.durability = durability
            storage.table_save(store)
        shards = new.get("shards")
        if type(shards) is list and 0 < len(shards) <= 64 and shards != old.get("shards"):
            set_shard_count(storage, store.id, len(shards))  # each is this server's
        changelog_config.apply(store, old, new)
        return self._row(store)

    def _database(self, given: Any) -> Any:
        """The database a table_config row names (convert_database_id_from_datum: a name,
        or with identifier_format uuid an id)."""
        wrong = (
            "The change you're trying to make to `rethinkdb.table_config` has the wrong format. "
        )
        storage = self.storage
        if self.id_format == "uuid":
            for db_name in storage.db_list():
                info = storage.db_get(db_name)
                if type(given) is str and info.id == given.lower():
                    return info
            if type(given) is not str:
                raise ReqlOpFailedError(f"{wrong}Expected a UUID; got {pretty(given)}")
            raise ReqlOpFailedError(f"{wrong}There is no database with UUID `{given}`.")
        if type(given) is not str:
            raise ReqlOpFailedError(f"{wrong}Expected a database name; got {pretty(given)}")
        info = storage.db_get(given)
        if info is None:
            raise ReqlOpFailedError(f"{wrong}Database `{given}` does not exist.")
        return info

    def _create(self, key: Any, new: dict) -> Any:
        # table_config.cc write_row: a new table takes the key the insert generated
        if not self.pkey_generated:
            raise ReqlOpFailedError(
                "There is no existing table with the given ID. To create a new table by "
                "inserting into `rethinkdb.table_config`, you must let the database generate "
                "the primary key automatically."
            )
        db_name = new.get("db")
        info = self.storage.db_get(db_name) if type(db_name) is str else None
        if info is None:
            raise ReqlOpFailedError(f"Database `{db_name}` does not exist.")
        name = check_name(new.get("name"), "Table")
        if self.storage.table_get(info.name, name) is not None:
            raise ReqlOpFailedError(f"Table `{info.name}.{name}` already exists.")
        pk = new.get("primary_key", "id")
        store = self.storage.table_create(
            info.name, name, primary_key=pk, durability=new.get("durability", "hard"), ident=key
        )
        return self._row(store)


class TableStatus(_CatalogTable):
    name = "table_status"

    def rows(self) -> list[dict]:
        storage = self.storage
        return [
            self.uuid_names(table_status(store, shard_count(storage, store.id)))
            for store in self.stores()
        ]


class DbConfig(SystemTable):
    """``db_config``: ``{id, name}`` per database; deleting drops, inserting creates."""

    name = "db_config"

    def rows(self) -> list[dict]:
        dbs = (self.storage.db_get(n) for n in self.storage.db_list())
        return [{"id": db.id, "name": db.name} for db in dbs]

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        storage = self.storage
        system_auth.require(self.ctx, "config")
        if new is None:
            storage.db_drop(old["name"])
            return None
        if old is None and not self.pkey_generated:  # db_config.cc write_row (its words)
            raise ReqlOpFailedError(
                "If you want to create a new table by inserting into `rethinkdb.db_config`, "
                "you must use an auto-generated primary key."
            )
        extra = sorted(set(new) - {"id", "name"})
        if extra:
            raise ReqlOpFailedError(f"Unexpected key(s) `{'`, `'.join(extra)}`.")
        name = check_name(new.get("name"), "Database")
        if name == SYSTEM_DB or (
            storage.db_get(name) is not None and (old or {}).get("name") != name
        ):
            raise ReqlOpFailedError(f"Database `{name}` already exists.")
        if old is None:
            info = storage.db_create(name, ident=key)
            return {"id": info.id, "name": info.name}
        if name != old["name"]:
            storage.db_rename(old["name"], name)
        return {"id": key, "name": name}


class ServerConfig(SystemTable):
    name = "server_config"

    def rows(self) -> list[dict]:
        return [
            {
                "cache_size_mb": "auto",
                "id": server_id(),
                "name": server_name(),
                "tags": ["default"],
            }
        ]


class ServerStatus(SystemTable):
    name = "server_status"

    def rows(self) -> list[dict]:
        host = socket.gethostname()
        info = server_info.of(self.storage)
        return [
            {
                "id": server_id(),
                "name": server_name(),
                "network": server_info.network(info, host, _time),
                "process": {
                    "argv": list(sys.argv),
                    "cache_size_mb": 100,
                    "pid": os.getpid(),
                    "time_started": _time(info.time_started),
                    "version": "rethinkdb 2.4.4 (rethought)",
                },
            }
        ]


class ClusterConfig(SystemTable):
    name = "cluster_config"

    def rows(self) -> list[dict]:
        return [{"auth_key": None, "id": "auth"}, {"heartbeat_timeout_secs": 10, "id": "heartbeat"}]

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        if new is None:
            raise ReqlOpFailedError(
                "It's illegal to delete rows from the `rethinkdb.cluster_config` table."
            )
        if old is None:
            raise ReqlOpFailedError(
                "It's illegal to insert new rows into the `rethinkdb.cluster_config` table."
            )
        system_auth.require(self.ctx, "config")
        return old  # one server: neither the auth key nor the heartbeat changes anything


class CurrentIssues(SystemTable):
    name = "current_issues"

    def rows(self) -> list[dict]:
        # One server with every table ready: only a failing log file can be reported.
        return server_log.issues(self.storage, self.id_format)


class Jobs(SystemTable):
    """``jobs``: the query reading it (other connections' queries are not tracked)."""

    name = "jobs"

    def __init__(self, ctx: Any, id_format: str = "name") -> None:
        super().__init__(ctx, id_format)
        self._job = str(uuid.uuid4())

    def rows(self) -> list[dict]:
        user = getattr(getattr(self.ctx, "session", None), "user", "admin")
        started = getattr(self.ctx, "now", time.time())
        server = server_id() if self.id_format == "uuid" else server_name()
        return [
            {
                "duration_sec": max(0.0, round(time.time() - started, 3)),
                "id": ["query", self._job],
                "info": {"user": user},
                "servers": [server],
                "type": "query",
            }
        ]


class Stats(_CatalogTable):
    """``stats``: the counters of ``server.stats`` (rates measured over the last second)."""

    name = "stats"

    def rows(self) -> list[dict]:
        c = COUNTERS
        sid, sname = server_id(), server_name()
        server = sid if self.id_format == "uuid" else sname
        conns = c.connections()
        engine = {
            "client_connections": conns,
            "clients_active": conns,
            "queries_per_sec": c.rate("queries_per_sec"),
            "read_docs_per_sec": c.rate("read_docs_per_sec"),
            "written_docs_per_sec": c.rate("written_docs_per_sec"),
        }
        totals = {
            "queries_total": c.queries_total,
            "read_docs_total": c.read_docs_total,
            "written_docs_total": c.written_docs_total,
        }
        rows = [
            {"id": ["cluster"], "query_engine": dict(engine)},
            {"id": ["server", sid], "query_engine": {**engine, **totals}, "server": server},
        ]
        for store in self.stores():
            db = store.db.id if self.id_format == "uuid" else store.db.name
            name = store.id if self.id_format == "uuid" else store.name
            reads, writes = c.table_rate(store.id)
            rates = {"read_docs_per_sec": reads, "written_docs_per_sec": writes}
            table_totals = {
                "read_docs_total": c.table_reads.get(store.id, 0),
                "written_docs_total": c.table_writes.get(store.id, 0),
            }
            rows.append(
                {"db": db, "id": ["table", store.id], "query_engine": dict(rates), "table": name}
            )
            rows.append(
                {
                    "db": db,
                    "id": ["table_server", store.id, sid],
                    "query_engine": {**rates, **table_totals},
                    "server": server,
                    "storage_engine": {
                        **changelog_config.stats_field(store),
                        "cache": {"in_use_bytes": 0},
                        "disk": {
                            "read_bytes_per_sec": 0,
                            "read_bytes_total": 0,
                            "space_usage": {
                                "data_bytes": 0,
                                "garbage_bytes": 0,
                                "metadata_bytes": 0,
                                "preallocated_bytes": 0,
                            },
                            "written_bytes_per_sec": 0,
                            "written_bytes_total": 0,
                        },
                    },
                    "table": name,
                }
            )
        return rows


TABLES = [
    TableConfig,
    TableStatus,
    DbConfig,
    ServerConfig,
    ServerStatus,
    ClusterConfig,
    CurrentIssues,
    Jobs,
    Stats,
]
