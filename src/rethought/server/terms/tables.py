"""Databases, tables and the selections read straight from them: DB, TABLE, GET, GET_ALL,
BETWEEN.

Reads stay lazy: a table, ``between`` and ``get_all`` are iterators over storage ranges, so
``r.table('t').limit(5)`` touches five rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ... import datum
from ...datum import keys
from ...datum.jsonfmt import trunc_pretty
from ...errors import ReqlError, ReqlNonExistenceError, ReqlOpFailedError, ReqlQueryLogicError
from ...proto.ql2 import TermType as T
from .. import values
from ..compile import Scope, Term, term
from ..determinism import NO
from .argcheck import bound
from .catalog import as_db, as_table, database_name, default_db, get_db, open_table, table_name
from .datum_print import expected_val


def check_primary_key(key: Any) -> Any:
    """Reject values RethinkDB cannot use as a primary key, with its messages."""
    t = type(key)
    if key is None or (t is dict and datum.REQL_TYPE not in key):
        raise ReqlQueryLogicError(
            "Primary keys must be either a number, string, bool, pseudotype or array "
            f"(got type {datum.type_name(key)}):\n{trunc_pretty(key)}"
        )
    # Size (measured on RethinkDB's own key serialization) and NUL bytes.
    keys.check_primary_key(key)
    return key


def index_missing(table: values.TableValue, name: str) -> ReqlOpFailedError:
    return ReqlOpFailedError(
        f"Index `{name}` was not found on table `{table.db.name}.{table.name}`."
    )


def require_index(table: values.TableValue, name: str, geo_ok: bool = False) -> None:
    """The index must exist; only get_nearest / get_intersecting (``geo_ok``) may read a
    geospatial one."""
    store = table.store
    if name == store.primary_key:
        return
    if name not in store.index_list():
        raise index_missing(table, name)
    info = store.index_info(name)
    if not geo_ok and info is not None and info.geo:
        raise ReqlQueryLogicError(
            f"Index `{name}` is a geospatial index.  Only get_nearest and "
            "get_intersecting can use a geospatial index."
        )


class TableSlice(values.Selection):
    """``table.between(...)`` (and indexed ``order_by`` on a table): a range of one index.

    ``index`` None means the primary key. Other term families may read the attributes to
    combine an indexed order_by with a between, as RethinkDB does.
    """

    type_name = "TABLE_SLICE"

    def __init__(
        self,
        table: values.TableValue,
        index: str | None = None,
        lo: Any = datum.MINVAL,
        hi: Any = datum.MAXVAL,
        lo_open: bool = False,
        hi_open: bool = True,
        reverse: bool = False,
        ordered: bool = False,
    ) -> None:
        super().__init__(table, ())
        self.index = index
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.reverse = reverse
        self.ordered = ordered
        self.bounded = lo is not datum.MINVAL or hi is not datum.MAXVAL
        # A between() was applied, even an unbounded one: a second one is an error.
        self.has_between = self.bounded

    def check_index(self) -> None:
        """RethinkDB looks the index up when the slice is read, not when between /
        order_by build it (so ``info()`` of a slice on a missing index works)."""
        if self.index is not None:
            require_index(self.table, self.index)

    def __iter__(self) -> Iterator[Any]:
        self.check_index()
        store = self.table.store
        if datum.compare(self.lo, self.hi) > 0:
            return iter(())
        if self.index is None or self.index == store.primary_key:
            return iter(store.scan(self.lo, self.hi, self.lo_open, self.hi_open, self.reverse))
        rows = store.index_scan(
            self.index, self.lo, self.hi, self.lo_open, self.hi_open, self.reverse
        )
        return (row for _, row in rows)


@term(T.DB, arity=(1, 1))
class Db(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> values.Database:
        return get_db(scope.ctx, self.datum_arg(scope, 0, database_name))


@term(T.TABLE, arity=(1, 2), optargs=("read_mode", "use_outdated", "identifier_format"))
class Table(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> values.TableValue:
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


@term(T.GET, arity=(2, 2))
class Get(Term):
    def eval(self, scope: Scope) -> values.SingleSelection:
        table = self.arg(scope, 0, as_table)
        key = check_primary_key(self.datum_arg(scope, 1))
        return values.SingleSelection(table, key, table.store.get(key))

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
