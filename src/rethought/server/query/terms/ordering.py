"""Ordering terms: order_by (in memory or through an index), distinct, r.asc / r.desc."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import Any

from .... import datum
from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from .. import seq
from ..compile import Scope, Term, term

_INDEXED_ONLY_ON_TABLE = (
    "Indexed order_by can only be performed on a TABLE or TABLE_SLICE. Make sure order_by "
    "comes before any transformations (such as map) or filters."
)


@term(T.ASC, arity=(1, 1))
class Asc(Term):
    """``r.asc(x)``: evaluates to ``x``; ``order_by`` reads the direction from the term."""

    def eval(self, scope: Scope) -> Any:
        return self.args[0].run(scope)


@term(T.DESC, arity=(1, 1))
class Desc(Asc):
    pass


@term(T.ORDER_BY, arity=(1, None), optargs=("index",))
class OrderBy(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        spec = seq.sort_spec(scope, self.args[1:])
        index_node = self.optargs.get("index")
        slice_ = seq.as_table_slice(src)
        if index_node is not None:
            if type(src) is list and not src:
                return src
            if slice_ is None:
                raise ReqlQueryLogicError(_INDEXED_ONLY_ON_TABLE)
            sorting = "desc" if index_node.tt == T.DESC else "asc"
            index = values.as_string(index_node.run(scope))
            ordered = seq.with_sorting(slice_, index, sorting)
            if not spec:
                return ordered
            rows = _sort_runs(ordered, spec)
            return values.Selection(src.table, seq.guarded(rows, self.frames))
        if not spec:
            raise ReqlQueryLogicError("Must specify something to order by.")
        table = getattr(src, "table", None)
        rows = seq.sort_rows(seq.finite_list(src, scope.ctx), spec)
        if table is not None:
            return values.ArraySelection(table, rows)
        return rows


def _sort_runs(ordered: Any, spec: list) -> Iterator[Any]:
    """Rows in index order, ties (equal index values) broken by ``spec``; stays lazy."""
    runs = groupby(seq.slice_entries(ordered), key=lambda entry: datum.sort_key(entry[0]))
    for _, run in runs:
        yield from seq.sort_rows([row for _, row in run], spec)


@term(T.DISTINCT, arity=(1, 1), optargs=("index",))
class Distinct(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        index_node = self.optargs.get("index")
        index = None if index_node is None else values.as_string(index_node.run(scope))
        slice_ = seq.as_table_slice(src)
        if slice_ is not None:
            pkey = slice_.table.store.primary_key
            wanted = pkey if index is None else index
            if index is not None and index == pkey:
                return values.Stream(row[pkey] for row in slice_)
            if slice_.index is None or slice_.index == wanted:
                if not slice_.ordered:
                    slice_ = seq.with_sorting(slice_, wanted, "asc")
                if index is not None:
                    return values.Stream(_distinct_keys(seq.slice_entries(slice_)))
                return values.Stream(_distinct_rows(slice_, pkey))
        if index is not None:
            raise ReqlQueryLogicError("Can only perform an indexed distinct on a TABLE.")
        seen: dict[tuple, Any] = {}
        limit = scope.ctx.array_limit
        seq.check_finite(src)
        for row in values.iterate(src):
            seen.setdefault(datum.sort_key(row), row)
            if len(seen) > limit:
                raise seq.array_limit_error(limit)
        return [seen[k] for k in sorted(seen)]


def _distinct_keys(entries: Iterator[tuple[Any, Any]]) -> Iterator[Any]:
    # Index entries arrive sorted, so equal values are adjacent.
    for _, run in groupby(entries, key=lambda entry: datum.sort_key(entry[0])):
        yield next(run)[0]


def _distinct_rows(rows: Any, pkey: str) -> Iterator[Any]:
    # A multi index yields a row once per value; keep the first sighting of each key.
    seen = set()
    for row in rows:
        key = datum.sort_key(row[pkey])
        if key not in seen:
            seen.add(key)
            yield row
