"""Joins: inner_join, outer_join (nested loops) and eq_join (index lookups per left row).

Each produces ``{"left": l, "right": r}`` rows lazily (``zip`` merges them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ....errors import ReqlNonExistenceError
from ....proto.ql2 import TermType as T
from ...runtime import values
from .. import seq
from ..compile import Scope, blame, term
from ..table_slices import require_index


def _reiterable(v: Any, ctx: Any) -> Any:
    """The right side of a nested-loop join, readable once per left row."""
    if isinstance(v, values.TableValue) or type(v) is list:
        values.iterate(v)
        return v
    return seq.finite_list(v, ctx)


class _NestedLoopJoin(seq.SeqTerm):
    outer = False

    def apply(self, scope: Scope, src: Any) -> Any:
        left = values.iterate(src)
        node = self.args[1]
        right = node.run(scope)
        if isinstance(right, (values.Func, values.Database)):
            # as_seq on the argument's val_t (a type error of the value, blamed on it)
            blame(values.iterate, None, right, node.frames)
        right = _reiterable(right, scope.ctx)
        f = seq.func(self.args[2].run(scope))

        def rows() -> Iterator[Any]:
            for lrow in left:
                matched = False
                for rrow in values.iterate(right):
                    if seq.truthy(seq.call(f, lrow, rrow)):
                        matched = True
                        yield {"left": lrow, "right": rrow}
                if self.outer and not matched:
                    yield {"left": lrow}

        return seq.like(src, rows(), scope.ctx, self.frames)


@term(T.INNER_JOIN, arity=(3, 3))
class InnerJoin(_NestedLoopJoin):
    pass


@term(T.OUTER_JOIN, arity=(3, 3))
class OuterJoin(_NestedLoopJoin):
    outer = True


@term(T.EQ_JOIN, arity=(3, 3), optargs=("index", "ordered"))
class EqJoin(seq.SeqTerm):
    """``eq_join``: look each left row's key up in the right table's index (primary key
    by default). Rows without the key, or with a null key, are dropped. Output follows the
    left side's order, so ``ordered=True`` needs nothing more."""

    def apply(self, scope: Scope, src: Any) -> Any:
        left = values.iterate(src)
        key_f = seq.field_func(self.args[1].run(scope), self.args[1].frames)
        table = self.args[2].run(scope)
        if not isinstance(table, values.TableValue):  # as_table on the argument: blames it
            err = seq.literal_type_error(table, "TABLE")
            err.frames = list(self.args[2].frames)
            raise err
        self.optarg(scope, "ordered", False, values.as_bool)
        store = table.store
        index = self.optarg(scope, "index")
        index = store.primary_key if index is None else values.as_string(index)
        require_index(table, index)

        def lookup(key: Any) -> Iterator[Any]:
            if index == store.primary_key:
                row = store.get(key)
                if row is not None:
                    yield row
            else:
                yield from store.index_get_all(index, key)

        def rows() -> Iterator[Any]:
            for lrow in left:
                try:
                    key = seq.call(key_f, lrow)
                except ReqlNonExistenceError:
                    continue
                if key is None:
                    continue
                for rrow in lookup(key):
                    yield {"left": lrow, "right": rrow}

        return seq.like(src, rows(), scope.ctx, self.frames)
