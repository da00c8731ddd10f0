"""Administration terms: DB_CREATE / DB_DROP / DB_LIST, TABLE_CREATE / TABLE_DROP /
TABLE_LIST, CONFIG, STATUS, WAIT, RECONFIGURE, REBALANCE.

This server is a one-server "cluster": every table has one shard whose only replica is this
server, always ready. Sharding and replication optargs are validated with RethinkDB's
messages and answered as RethinkDB would answer them on one server.
"""

from __future__ import annotations

from typing import Any

from ....datum.jsonfmt import pretty
from ....errors import ReqlOpFailedError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.values import expected_val
from ...system import table_id as system_table_id
from ...system.names import (
    SYSTEM_DB,
    SYSTEM_DB_ID,
    check_name,
    database_name,
    special,
    table_config,
    table_name,
    table_status,
)
from ...system.shards import set_shard_count, shard_count
from ...system.write_hooks import hook_datum
from ..compile import Scope, Term, term
from ..determinism import NO
from .catalog import as_db, db_config, default_db, get_db, open_table, system_module, user_tables
from .writes import parse_durability

DEFAULT_TAG = "default"


def _pair(old: Any, new: Any) -> list[dict]:
    return [{"new_val": new, "old_val": old}]


class _Admin(Term):
    """Admin terms read and change the catalog: never deterministic."""

    nondeterminism = NO


def _require(scope: Scope, perm: str, db_id: str | None = None, tbl_id: str | None = None) -> None:
    """The query user's ``perm`` permission (always there for admin), or RethinkDB's error."""
    system = system_module()
    if system is not None:
        system.require(scope.ctx, perm, db_id, tbl_id)


def _require_db_and_tables(scope: Scope, db: Any) -> None:
    """Config on the database and on each of its tables (RethinkDB's db_drop, db-wide
    reconfigure and rebalance: real_reql_cluster_interface.cc)."""
    info = scope.ctx.storage.db_get(db.name)
    db_id = info.id if info is not None else db.id
    _require(scope, "config", db_id)
    for store in scope.ctx.storage.tables():
        if store.db.id == db_id:
            _require(scope, "config", db_id, store.id)


def _require_target(scope: Scope, v: Any) -> None:
    """Config on the table, or on the database and its tables, a config term is called on."""
    if isinstance(v, values.TableValue):
        _require(scope, "config", v.store.db.id, v.store.id)
    else:
        _require_db_and_tables(scope, v)


@term(T.DB_CREATE, arity=(1, 1))
class DbCreate(_Admin):
    def eval(self, scope: Scope) -> dict:
        name = self.datum_arg(scope, 0, database_name)
        _require(scope, "config")
        storage = scope.ctx.storage
        if name == SYSTEM_DB or storage.db_get(name) is not None:
            raise ReqlOpFailedError(f"Database `{name}` already exists.")
        info = storage.db_create(name)
        return {"config_changes": _pair(None, {"id": info.id, "name": info.name}), "dbs_created": 1}


@term(T.DB_DROP, arity=(1, 1))
class DbDrop(_Admin):
    def eval(self, scope: Scope) -> dict:
        name = self.datum_arg(scope, 0, database_name)
        if name == SYSTEM_DB:
            raise special("you can't delete it.")
        db = get_db(scope.ctx, name)
        _require_db_and_tables(scope, db)
        tables = len(scope.ctx.storage.table_list(db.name))
        scope.ctx.storage.db_drop(name)
        return {
            "config_changes": _pair(db_config(db), None),
            "dbs_dropped": 1,
            "tables_dropped": tables,
        }


@term(T.DB_LIST, arity=(0, 0))
class DbList(_Admin):
    def eval(self, scope: Scope) -> list:
        return sorted([*scope.ctx.storage.db_list(), SYSTEM_DB])


def _db_and_name(t: Term, scope: Scope) -> tuple[values.Database, str]:
    """``[db,] name`` arguments of table_create / table_drop."""
    if len(t.args) == 1:
        return default_db(scope.ctx), t.datum_arg(scope, 0, table_name)
    db = as_db(t.args[0].run(scope))
    return db, t.datum_arg(scope, 1, table_name)


# -- shards and replicas ------------------------------------------------------------------------


MAX_SHARDS = 64


def _placement(t: Term, scope: Scope, required: bool) -> int | None:
    """Validate shards / replicas / primary_replica_tag / nonvoting_replica_tags optargs the
    way RethinkDB does, against a cluster of one server tagged ``default``; returns shards."""
    opt = {k: values.to_datum(t.optarg(scope, k)) for k in t.optargs}
    for k in ("shards", "replicas"):
        if required and k not in opt:
            raise ReqlQueryLogicError(f"Missing required argument `{k}`.")
    shards = None
    if "shards" in opt:
        shards = values.as_int(opt["shards"])
        if shards <= 0:
            raise ReqlQueryLogicError("Every table must have at least one shard.")
    replicas = opt.get("replicas")
    primary_tag = opt.get("primary_replica_tag")
    nonvoting = opt.get("nonvoting_replica_tags")
    counts: dict[str, int] = {DEFAULT_TAG: 1}
    if replicas is not None:
        if type(replicas) is dict:
            if "primary_replica_tag" not in opt:
                raise ReqlQueryLogicError(
                    "`primary_replica_tag` must be specified when `replicas` is an OBJECT."
                )
            counts = {}
            for tag, n in replicas.items():
                check_name(tag, "Server tag")
                n = values.as_int(n)
                if n < 0:
                    raise ReqlQueryLogicError("Can't have a negative number of replicas")
                counts[tag] = n
        elif type(replicas) in (int, float):
            if "primary_replica_tag" in opt:
                raise ReqlQueryLogicError(
                    "`replicas` must be an OBJECT if `primary_replica_tag` is specified."
                )
            if "nonvoting_replica_tags" in opt:
                raise ReqlQueryLogicError(
                    "`replicas` must be an OBJECT if `nonvoting_replica_tags` is specified."
                )
            counts = {DEFAULT_TAG: values.as_int(replicas)}
        else:
            raise ReqlQueryLogicError(
                f"Expected type OBJECT or NUMBER but found {values.type_name(replicas)}:\n"
                f"{pretty(replicas)}"
            )
    tags: list[str] = []
    if nonvoting is not None:
        if type(nonvoting) is not list:
            raise ReqlQueryLogicError(
                f"Expected type ARRAY but found {values.type_name(nonvoting)}:\n{pretty(nonvoting)}"
            )
        for tag in nonvoting:
            if type(tag) is not str:
                raise ReqlQueryLogicError(
                    f"Expected type STRING but found {values.type_name(tag)}:\n{pretty(tag)}"
                )
            tags.append(check_name(tag, "Server tag"))
    if primary_tag is not None:
        primary_tag = check_name(values.as_string(primary_tag), "Server tag")
    else:
        primary_tag = DEFAULT_TAG
    if replicas is not None and sum(counts.values()) == 0:
        raise ReqlOpFailedError(
            "You must set `replicas` to at least one. `replicas` includes the primary replica; "
            "if there are zero replicas, there is nowhere to put the data."
        )
    if shards is not None and shards > MAX_SHARDS:  # generate_config.cc validate_params
        raise ReqlOpFailedError(f"Maximum number of shards is {MAX_SHARDS}.")
    if replicas is None:
        return shards
    if counts.get(primary_tag, 0) == 0:
        raise ReqlOpFailedError(
            f"Can't use server tag `{primary_tag}` for primary replicas because you specified "
            f"no replicas in server tag `{primary_tag}`."
        )
    for tag in tags:
        if tag not in counts:
            raise ReqlOpFailedError(
                f"You specified that the replicas in server tag `{tag}` should be non-voting, "
                f"but you didn't specify a number of replicas in server tag `{tag}`."
            )
    for tag, n in sorted(counts.items()):
        have = 1 if tag == DEFAULT_TAG else 0  # this server carries the `default` tag only
        if n > have:
            raise ReqlOpFailedError(
                f"Can't put {n} replicas on servers with the tag `{tag}` because there are only "
                f"{have} servers with the tag `{tag}`. It's impossible to have more replicas of "
                "the data than there are servers."
            )
    return shards


@term(
    T.TABLE_CREATE,
    arity=(1, 2),
    optargs=(
        "primary_key",
        "shards",
        "replicas",
        "nonvoting_replica_tags",
        "primary_replica_tag",
        "durability",
    ),
)
class TableCreate(_Admin):
    def eval(self, scope: Scope) -> dict:
        shards = _placement(self, scope, required=False) or 1
        pk = self.optarg(scope, "primary_key")
        pk = "id" if pk is None else values.as_string(values.to_datum(pk))
        durability = parse_durability(self, scope) or "hard"
        db, name = _db_and_name(self, scope)
        if db.name == SYSTEM_DB:
            raise special("you can't create new tables in it.")
        _require(scope, "config", db.id)
        storage = scope.ctx.storage
        if storage.table_get(db.name, name) is not None:
            raise ReqlOpFailedError(f"Table `{db.name}.{name}` already exists.")
        store = storage.table_create(db.name, name, primary_key=pk, durability=durability)
        set_shard_count(storage, store.id, shards)
        config = table_config(store, shards=shards)
        return {"config_changes": _pair(None, config), "tables_created": 1}


@term(T.TABLE_DROP, arity=(1, 2))
class TableDrop(_Admin):
    def eval(self, scope: Scope) -> dict:
        db, name = _db_and_name(self, scope)
        if db.name == SYSTEM_DB:
            raise special("you can't drop tables in it.")
        store = open_table(scope.ctx, db, name).store
        _require(scope, "config", db.id, store.id)
        storage = scope.ctx.storage
        old = table_config(store, hook_datum(storage, store.id), shard_count(storage, store.id))
        storage.table_drop(db.name, name)
        set_shard_count(storage, store.id, 1)
        return {"config_changes": _pair(old, None), "tables_dropped": 1}


@term(T.TABLE_LIST, arity=(0, 1))
class TableList(_Admin):
    def eval(self, scope: Scope) -> list:
        db = self.arg(scope, 0, as_db) if self.args else default_db(scope.ctx)
        if db.name == SYSTEM_DB:
            system = system_module()
            return sorted(system.TABLE_NAMES) if system else []
        return sorted(scope.ctx.storage.table_list(db.name))


# -- config / status / wait / reconfigure / rebalance -------------------------------------------


def _target(t: Term, scope: Scope, name: str) -> Any:
    """The database or table a table-or-db admin term applies to."""
    if not t.args:
        raise ReqlQueryLogicError(f"`{name}` can only be called on a table or database.")
    v = t.args[0].run(scope)
    if isinstance(v, (values.Database, values.TableValue)):
        return v
    raise expected_val(v, "TABLE")


def _stores(scope: Scope, v: Any) -> list[Any]:
    if isinstance(v, values.TableValue):
        return [v.store]
    return user_tables(scope.ctx, v)


def _is_system(v: Any) -> bool:
    db = v if isinstance(v, values.Database) else v.db
    return db.name == SYSTEM_DB


@term(T.CONFIG, arity=(1, 1))
class Config(_Admin):
    """``config()``: the object's row of ``rethinkdb.db_config`` / ``table_config``, as a
    single selection (RethinkDB's), so ``.config().update({...})`` reconfigures."""

    def eval(self, scope: Scope) -> values.SingleSelection:
        v = self.args[0].run(scope)
        if isinstance(v, values.Database):
            if v.name == SYSTEM_DB:
                raise special("you can't configure it.")
            _require(scope, "config", v.id)
            return _config_row(scope, "db_config", v.id, db_config(v))
        if not isinstance(v, values.TableValue):
            raise expected_val(v, "TABLE")
        if _is_system(v):
            raise special("you can't configure the tables in it.")
        _require(scope, "config", v.store.db.id, v.store.id)
        storage = scope.ctx.storage
        row = table_config(
            v.store, hook_datum(storage, v.store.id), shard_count(storage, v.store.id)
        )
        return _config_row(scope, "table_config", v.store.id, row)


def _config_row(scope: Scope, table: str, key: str, row: dict) -> values.SingleSelection:
    system = open_table(scope.ctx, values.Database(SYSTEM_DB, SYSTEM_DB_ID), table)
    return values.SingleSelection(system, key, row)


@term(T.STATUS, arity=(1, 1))
class Status(_Admin):
    def eval(self, scope: Scope) -> dict:
        v = self.args[0].run(scope)
        if not isinstance(v, values.TableValue):
            raise expected_val(v, "TABLE")
        if _is_system(v):
            raise special("the system tables in it don't have meaningful status information.")
        return table_status(v.store, shard_count(scope.ctx.storage, v.store.id))


_READINESS = (
    "ready_for_outdated_reads",
    "ready_for_reads",
    "ready_for_writes",
    "all_replicas_ready",
)


@term(T.WAIT, arity=(0, 1), optargs=("timeout", "wait_for"))
class Wait(_Admin):
    def eval(self, scope: Scope) -> dict:
        v = _target(self, scope, "wait")
        wait_for = self.optarg(scope, "wait_for")
        if wait_for is not None and values.as_string(values.to_datum(wait_for)) not in _READINESS:
            raise ReqlQueryLogicError(
                f"Unknown table readiness state: '{wait_for}', must be one of "
                "'ready_for_outdated_reads', 'ready_for_reads', 'ready_for_writes', "
                "or 'all_replicas_ready'"
            )
        timeout = self.optarg(scope, "timeout")
        if timeout is not None:
            values.as_number(values.to_datum(timeout))
        if _is_system(v):
            raise special(
                "the system tables in it are always available and don't need to be waited on."
            )
        return {"ready": len(_stores(scope, v))}  # one server: every table is always ready


@term(
    T.RECONFIGURE,
    arity=(0, 1),
    optargs=(
        "dry_run",
        "emergency_repair",
        "nonvoting_replica_tags",
        "primary_replica_tag",
        "replicas",
        "shards",
    ),
)
class Reconfigure(_Admin):
    def eval(self, scope: Scope) -> dict:
        v = _target(self, scope, "reconfigure")
        dry_run = self.optarg(scope, "dry_run")
        dry_run = False if dry_run is None else values.as_bool(values.to_datum(dry_run))
        repair = values.to_datum(self.optarg(scope, "emergency_repair"))
        if repair is not None:
            return self.repair(v, values.as_string(repair))
        shards = _placement(self, scope, required=True) or 1
        if _is_system(v):
            raise special("you can't configure the tables in it.")
        _require_target(scope, v)
        stores = _stores(scope, v)
        config_changes: list[dict] = []
        status_changes: list[dict] = []
        storage = scope.ctx.storage
        for store in stores:
            before = shard_count(storage, store.id)
            hook = hook_datum(storage, store.id)
            config_changes += _pair(
                table_config(store, hook, before), table_config(store, hook, shards)
            )
            status_changes += _pair(table_status(store, before), table_status(store, shards))
            if not dry_run:
                set_shard_count(storage, store.id, shards)
        hub = scope.ctx.engine.hub
        if hub is not None and not dry_run:
            # Feeds on the system tables see the reconfiguration, as RethinkDB's do.
            hub.publish_to(
                system_table_id("table_config"),
                [(c["old_val"], c["new_val"]) for c in config_changes],
            )
            hub.publish_to(
                system_table_id("table_status"),
                [(c["old_val"], c["new_val"]) for c in status_changes],
            )
        return {
            "config_changes": config_changes,
            "reconfigured": 0 if dry_run else len(stores),
            "status_changes": status_changes,
        }

    def repair(self, v: Any, mode: str) -> dict:
        if mode not in ("unsafe_rollback", "unsafe_rollback_or_erase", "_debug_recommit"):
            raise ReqlQueryLogicError(
                '`emergency_repair` should be "unsafe_rollback" or "unsafe_rollback_or_erase"'
            )
        if any(
            k in self.optargs
            for k in ("nonvoting_replica_tags", "primary_replica_tag", "replicas", "shards")
        ):
            raise ReqlQueryLogicError(
                "In emergency repair mode, you can't specify shards, replicas, etc."
            )
        if isinstance(v, values.Database):
            raise ReqlQueryLogicError(
                "Can't emergency repair an entire database at once; instead you should run "
                "`reconfigure()` on each table individually."
            )
        raise ReqlOpFailedError("This table doesn't need to be repaired.")


@term(T.REBALANCE, arity=(0, 1))
class Rebalance(_Admin):
    def eval(self, scope: Scope) -> dict:
        v = _target(self, scope, "rebalance")
        if _is_system(v):
            raise special("you can't rebalance the tables in it.")
        _require_target(scope, v)
        stores = _stores(scope, v)
        changes: list[dict] = []
        for store in stores:
            status = table_status(store, shard_count(scope.ctx.storage, store.id))
            changes += _pair(status, status)
        return {"rebalanced": len(stores), "status_changes": changes}


# -- grant --------------------------------------------------------------------------------------


@term(T.GRANT, arity=(2, 3))
class Grant(_Admin):
    """``r.grant(user, perms)``, ``db.grant(...)``, ``table.grant(...)``."""

    def eval(self, scope: Scope) -> dict:
        db_id = tbl_id = None
        if len(self.args) == 3:
            target = self.args[0].run(scope)
            if isinstance(target, values.Database):
                db_id = target.id
            elif isinstance(target, values.TableValue):
                db_id, tbl_id = target.db.id, target.store.id
            else:
                raise expected_val(target, "TABLE")
        user = values.as_string(self.datum_arg(scope, len(self.args) - 2))
        perms = self.datum_arg(scope, len(self.args) - 1)
        system = system_module()
        if system is None:
            raise ReqlOpFailedError("Users are not supported by this server.")
        return system.grant(scope.ctx, user, perms, db_id, tbl_id)
