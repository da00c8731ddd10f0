"""Array terms: APPEND, PREPEND, DIFFERENCE, the SET_* family, INSERT_AT, SPLICE_AT,
DELETE_AT, CHANGE_AT. All take and return datum arrays and respect the array size limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .... import datum
from ....errors import ReqlNonExistenceError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ..compile import Scope, Term, term
from ..seq import like, within_limit


class _ArrayTerm(Term):
    def arr(self, scope: Scope, i: int) -> list:
        return values.as_array(self.args[i].run(scope))  # datum-level: blames this term


@term(T.APPEND, arity=(2, 2))
class Append(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        return within_limit([*self.arr(scope, 0), self.datum_arg(scope, 1)], scope.ctx)


@term(T.PREPEND, arity=(2, 2))
class Prepend(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        return within_limit([self.datum_arg(scope, 1), *self.arr(scope, 0)], scope.ctx)


@term(T.DIFFERENCE, arity=(2, 2))
class Difference(_ArrayTerm):
    """RethinkDB rewrites ``a.difference(b)`` (rewrites.cc) into
    ``a.filter(lambda row: ~b.contains(row))``: ``a`` may be any sequence and keeps its kind,
    ``b`` is read as a sequence only when a row needs it (``Cannot convert STRING to
    SEQUENCE``, blaming the whole term as a rewrite does)."""

    def eval(self, scope: Scope) -> Any:
        src = self.args[0].run(scope)
        rows = values.iterate(src)
        drop: list[set] = []

        def kept() -> Iterator[Any]:
            for row in rows:
                if not drop:
                    other = self.args[1].run(scope)
                    drop.append({datum.sort_key(x) for x in values.iterate(other)})
                if datum.sort_key(row) not in drop[0]:
                    yield row

        return like(src, kept(), scope.ctx, self.frames, keep_selection=True)


def _dedupe(xs: list) -> list:
    seen: set = set()
    out = []
    for x in xs:
        k = datum.sort_key(x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


@term(T.SET_INSERT, arity=(2, 2))
class SetInsert(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        return within_limit(_dedupe([*self.arr(scope, 0), self.datum_arg(scope, 1)]), scope.ctx)


@term(T.SET_UNION, arity=(2, 2))
class SetUnion(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        return within_limit(_dedupe(self.arr(scope, 0) + self.arr(scope, 1)), scope.ctx)


@term(T.SET_INTERSECTION, arity=(2, 2))
class SetIntersection(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        keep = {datum.sort_key(x) for x in self.arr(scope, 1)}
        return [x for x in _dedupe(self.arr(scope, 0)) if datum.sort_key(x) in keep]


@term(T.SET_DIFFERENCE, arity=(2, 2))
class SetDifference(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        drop = {datum.sort_key(x) for x in self.arr(scope, 1)}
        return [x for x in _dedupe(self.arr(scope, 0)) if datum.sort_key(x) not in drop]


def _index(n: int, size: int, allow_end: bool, insert: bool = False) -> int:
    """A position in an array of ``size`` (negative counts from the end: from just past it
    for insertions, so ``insert_at(-1, x)`` appends), with RethinkDB's errors."""
    top = size + 1 if allow_end else size
    i = n + (size + 1 if insert else size) if n < 0 else n
    if n < 0 and i < 0:
        raise ReqlNonExistenceError(f"Index out of bounds: {n}")
    if i >= top:
        raise ReqlNonExistenceError(f"Index `{n}` out of bounds for array of size: `{size}`.")
    return i


@term(T.INSERT_AT, arity=(3, 3))
class InsertAt(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        arr = self.arr(scope, 0)
        i = _index(values.as_int(self.datum_arg(scope, 1)), len(arr), True, insert=True)
        return within_limit([*arr[:i], self.datum_arg(scope, 2), *arr[i:]], scope.ctx)


@term(T.SPLICE_AT, arity=(3, 3))
class SpliceAt(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        arr = self.arr(scope, 0)
        i = _index(values.as_int(self.datum_arg(scope, 1)), len(arr), True, insert=True)
        return within_limit(
            [*arr[:i], *values.as_array(self.datum_arg(scope, 2)), *arr[i:]], scope.ctx
        )


@term(T.DELETE_AT, arity=(2, 3))
class DeleteAt(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        arr = self.arr(scope, 0)
        size = len(arr)
        start = _index(values.as_int(self.datum_arg(scope, 1)), size, len(self.args) == 3)
        if len(self.args) == 2:
            return arr[:start] + arr[start + 1 :]
        end = _index(values.as_int(self.datum_arg(scope, 2)), size, True)
        if end < start:
            raise ReqlQueryLogicError(f"Start index `{start}` is greater than end index `{end}`.")
        return arr[:start] + arr[end:]


@term(T.CHANGE_AT, arity=(3, 3))
class ChangeAt(_ArrayTerm):
    def eval(self, scope: Scope) -> list:
        arr = list(self.arr(scope, 0))
        i = _index(values.as_int(self.datum_arg(scope, 1)), len(arr), False)
        arr[i] = self.datum_arg(scope, 2)
        return arr
