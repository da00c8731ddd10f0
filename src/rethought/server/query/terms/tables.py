"""Databases, tables and the selections read straight from them: DB, TABLE, GET, GET_ALL,
BETWEEN.

Reads stay lazy: a table, ``between`` and ``get_all`` are iterators over storage ranges, so
``r.table('t').limit(5)`` touches five rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from .... import datum
from ....errors import ReqlError, ReqlNonExistenceError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.values import expected_val
from ...storage.table import TableStore
from ...system.access import ADMIN, guard
from ...system.names import _NAME_RE, SYSTEM_DB, database_name, table_name
from ..compile import Datum, Scope, Term, blame, term
from ..context import ConstantOptargs
from ..determinism import NO
from ..table_slices import TableSlice, check_primary_key, require_index
from .argcheck import bound
from .catalog import as_db, as_table, default_db, find_table, get_db, open_table


@term(T.DB, arity=(1, 1))
class Db(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> values.Database:
        return get_db(scope.ctx, self.datum_arg(scope, 0, database_name))


_TABLE_OPTARGS = frozenset({"read_mode", "use_outdated", "identifier_format"})


@term(T.TABLE, arity=(1, 2), optargs=("read_mode", "use_outdated", "identifier_format"))
class Table(Term):
    nondeterminism = NO
    __slots__ = ("_name", "_db", "_memo")

    def compiled(self) -> None:
        # A valid literal name and no optargs of its own: most queries' r.table('t'), whose
        # checks can then be skipped each run (the same name, valid once, stays valid).
        self._name = None
        name = self.args[-1]
        if (
            not self.optargs
            and type(name) is Datum
            and type(name.value) is str
            and _NAME_RE.match(name.value)
        ):
            self._name = name.value
        # r.db('literal').table(...): the database's name is known before the run.
        self._db = None
        if len(self.args) == 2:
            db = self.args[0]
            if type(db) is Db and type(db.args[0]) is Datum and type(db.args[0].value) is str:
                self._db = db.args[0].value
        # The last lookup: (storage, database name, Database value, table store). A plan is
        # shared by every connection, so it is checked each run against the catalog as it
        # is now (``Storage.table_named``), never trusted: dropped, renamed, moved or
        # recreated tables and databases (here or in another worker) fail the check.
        self._memo: tuple | None = None

    def remembered(self, ctx: Any) -> Any:
        """The table store this term's last lookup found, if it is still the one a lookup
        would find now (None: look it up), before its permission guard."""
        memo = self._memo
        optargs = ctx.optargs
        if memo is not None and (
            not optargs or (type(optargs) is ConstantOptargs and _TABLE_OPTARGS.isdisjoint(optargs))
        ):
            # Remembered only for a literal name and database name (``_db``, else the
            # connection's default: no ``db`` optarg here, the optargs are empty or a
            # cached plan's constants, ``durability="soft"`` say, which never hold ``db``
            # nor, here, a TABLE optarg: what ``eval`` checks before its memo).
            db_name = self._db or ctx.db_name
            storage = memo[0]
            if (
                db_name == memo[1]
                and storage is ctx.engine.storage
                and storage.table_named(memo[3], db_name, self._name)
            ):
                return memo[3]
        return None

    def eval(self, scope: Scope) -> values.TableValue:
        ctx = scope.ctx
        store = self.remembered(ctx)
        if store is not None:
            # The permission guard is made per query (for its user): admin's is the store
            # itself, another user's checks each read (system/access.py).
            return values.TableValue(self._memo[2], self._name, guard(ctx, store), "single")
        memo = self._memo
        name = self._name
        if name is not None:
            given = ctx.optargs
            if not given or _TABLE_OPTARGS.isdisjoint(given):
                if len(self.args) == 1:
                    db_name = None if getattr(given, "has_db", False) else ctx.db_name
                else:
                    db_name = self._db
                if (
                    memo is not None
                    and db_name == memo[1]
                    and memo[0] is ctx.storage
                    and memo[0].table_named(memo[3], db_name, name)
                ):
                    return values.TableValue(memo[2], name, guard(ctx, memo[3]), "single")
                db = default_db(ctx) if len(self.args) == 1 else self.arg(scope, 0, as_db)
                store = find_table(ctx, db, name, "name", checked=True)
                if db_name is not None and type(store) is TableStore and db.name == db_name:
                    self._memo = (ctx.storage, db_name, db, store)
                return values.TableValue(db, name, guard(ctx, store), "single")
        # Like every term optarg, these fall back to the query's global optargs.
        if "use_outdated" in self.optargs or "use_outdated" in scope.ctx.optargs:
            raise ReqlQueryLogicError(
                "The `use_outdated` optarg is no longer supported.  "
                "Use the `read_mode` optarg instead."
            )
        # A type error blames the optarg (global: no frames), an unknown mode this term.
        read_mode = self.optarg(scope, "read_mode", "single", values.as_string)
        if read_mode not in ("majority", "single", "outdated", "_debug_direct"):
            raise ReqlQueryLogicError(
                f"Read mode `{read_mode}` unrecognized "
                '(options are "majority", "single", and "outdated").'
            )
        fmt = self.optarg(scope, "identifier_format", None, values.as_string)
        if fmt is not None and fmt not in ("name", "uuid"):
            raise ReqlQueryLogicError(
                f'Identifier format `{fmt}` unrecognized (options are "name" and "uuid").'
            )
        if len(self.args) == 1:
            db = default_db(scope.ctx)
            name = self.datum_arg(scope, 0, table_name)
        else:
            db = self.arg(scope, 0, as_db)
            name = self.datum_arg(scope, 1, table_name)
        return open_table(scope.ctx, db, name, read_mode, fmt or "name")


#: Keys ``encode_primary`` checks itself with RethinkDB's messages (a number's serialization
#: is never too long; a string's length and NUL bytes are checked there).
_PLAIN_KEYS = frozenset((int, float, str))


@term(T.GET, arity=(2, 2))
class Get(Term):
    def eval(self, scope: Scope) -> values.SingleSelection:
        table = self.arg(scope, 0, as_table)
        key = self.datum_arg(scope, 1)
        store = table.store
        if table.db.name != SYSTEM_DB:
            if type(store) is not TableStore or type(key) not in _PLAIN_KEYS:
                key = check_primary_key(key)  # (a guarded store checks permissions first)
        # artificial_table_t::read_row hands any key to its backend: no row, null (a write
        # through it checks the key: unread)
        return values.SingleSelection(table, key, store.get(key))

    def run_wire(self, scope: Scope) -> Any:
        """``run`` as a query's answer: the row as a datum, or (a user table's) as its
        stored bytes in an ``orjson.Fragment``, which dumps to what dumping the row gives
        (rows are stored as orjson's dump of them), without the parse and the re-dump.
        Its arguments are evaluated and blamed as ``arg`` / ``datum_arg`` do."""
        if self.group_probe:
            return values.to_datum(self.run(scope))
        try:
            node, key_node = self.args
            if type(node) is Table and not node.group_probe:
                ctx = scope.ctx
                store = node.remembered(ctx)
                if store is not None:  # a user table (never a system one): no TableValue
                    return _get_wire(ctx, store, key_node, scope)
                table = _run_table(node, scope)
            else:
                table = node.run(scope)
            if type(table) is not values.TableValue:
                table = blame(as_table, None, table, node.frames)
            key = key_node.run(scope)
            plain = type(key) in _PLAIN_KEYS
            if not plain:
                key = blame(None, values.to_datum, key, key_node.frames)
            store = table.store
            if table.db.name == SYSTEM_DB:
                return store.get(key)
            if not plain or type(store) is not TableStore:
                key = check_primary_key(key)
            raw = store.get_raw(key)
        except ReqlError as e:
            if e.frames is None:
                e.frames = list(self.frames)
            raise
        return None if raw is None else orjson.Fragment(raw)

    def unread(self, scope: Scope) -> values.SingleSelection:
        """The selection without its row, for update / replace / delete, which read the row
        in their write transaction (as RethinkDB's single_selection_t does)."""
        try:
            table = self.arg(scope, 0, as_table)
            key = check_primary_key(self.datum_arg(scope, 1))
        except ReqlError as e:
            if e.frames is None:
                e.frames = list(self.frames)
            raise
        return values.SingleSelection(table, key, None)


def _get_wire(ctx: Any, store: Any, key_node: Term, scope: Scope) -> Any:
    """``Get.run_wire`` of a remembered user table (its caller blames errors)."""
    key = key_node.run(scope)
    session = ctx.session
    if session is not None and session.user == ADMIN:  # what ``guard`` gives admin
        if type(key) not in _PLAIN_KEYS:
            key = check_primary_key(blame(None, values.to_datum, key, key_node.frames))
    else:
        if type(key) not in _PLAIN_KEYS:
            key = blame(None, values.to_datum, key, key_node.frames)
        store = guard(ctx, store)  # its read checks the permission, after the key check
        key = check_primary_key(key)
    raw = store.get_raw(key)
    return None if raw is None else orjson.Fragment(raw)


def _run_table(node: Table, scope: Scope) -> Any:
    """``node.run(scope)`` for a TABLE, which never groups: its errors get its frames."""
    try:
        return node.eval(scope)
    except ReqlError as e:
        if e.frames is None:
            e.frames = list(node.frames)
        raise


@term(T.GET_ALL, arity=(1, None), optargs=("index",))
class GetAll(Term):
    def eval(self, scope: Scope) -> values.Selection:
        table = self.arg(scope, 0, as_table)
        index = self.optarg(scope, "index")
        index = table.store.primary_key if index is None else values.as_string(index)
        keys = []
        for arg in self.args[1:]:
            key = values.to_datum(arg.run(scope))
            if datum.pseudo_type(key) == "GEOMETRY":
                raise ReqlQueryLogicError(
                    "Cannot use a geospatial index with `get_all`. Use `get_intersecting` instead."
                )
            if key is None:
                raise ReqlNonExistenceError("Keys cannot be NULL.")
            keys.append(key)
        # RethinkDB looks keys up in index order, each as many times as it was given.
        keys.sort(key=datum.sort_key)
        store = table.store
        if index == store.primary_key:
            return values.Selection(table, _get_primary(store, keys))
        # As a between(), RethinkDB's get_all looks the index up when it is read, so a type
        # error on the selection (``.do(...)``, ``.add(1)``) comes first.
        return values.Selection(table, _get_secondary(table, index, keys, self.frames))


def _get_primary(store: Any, keys: list) -> Iterator[Any]:
    for key in keys:
        if type(key) is dict and datum.REQL_TYPE not in key:
            continue  # an object can never be a primary key: nothing to find
        row = store.get(key)
        if row is not None:
            yield row


def _get_secondary(table: Any, index: str, keys: list, frames: tuple) -> Iterator[Any]:
    try:
        require_index(table, index)
    except ReqlError as e:
        if e.frames is None:
            e.frames = list(frames)
        raise
    for key in keys:
        yield from table.store.index_get_all(index, key)


@term(T.BETWEEN, arity=(3, 3), optargs=("index", "left_bound", "right_bound"))
class Between(Term):
    def eval(self, scope: Scope) -> TableSlice:
        src = self.args[0].run(scope)
        if isinstance(src, values.TableValue):
            src = TableSlice(src)
        elif not isinstance(src, TableSlice):
            raise expected_val(src, "TABLE_SLICE")
        lo_open = bound(self, scope, "left_bound", False)
        hi_open = bound(self, scope, "right_bound", True)
        lo = _bound(self.datum_arg(scope, 1))
        hi = _bound(self.datum_arg(scope, 2))
        index = self.optarg(scope, "index")
        table = src.table
        if index is None:
            index = src.index if src.index is not None else table.store.primary_key
        else:
            index = values.as_string(index)
        if src.has_between:
            raise ReqlQueryLogicError("Cannot perform multiple BETWEENs on the same table.")
        if src.index is not None and src.index != index:
            raise ReqlQueryLogicError(
                f"Cannot call BETWEEN on index `{index}` after ordering on index `{src.index}`."
            )
        out = TableSlice(table, index, lo, hi, lo_open, hi_open, src.reverse, src.ordered)
        out.has_between = True
        return out


def _bound(v: Any) -> Any:
    if v is None:
        raise ReqlQueryLogicError(
            "Cannot use `null` in BETWEEN, use `r.minval` or `r.maxval` to denote unboundedness."
        )
    return v
