"""Aggregations: count, sum, avg, min, max, reduce, fold, contains, group, ungroup.

Terminal aggregations consume their input (refusing infinite streams); after ``group`` they
run once per group and give GROUPED_DATA.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from typing import Any

from .... import datum
from ....errors import ReqlNonExistenceError, ReqlQueryLogicError, ReqlResourceLimitError
from ....proto.ql2 import TermType as T
from ...runtime import values
from .. import seq
from ..compile import Scope, Term, term
from . import transform


def _rows(src: Any) -> Iterator[Any]:
    rows = values.iterate(src)
    seq.check_finite(src)
    return rows


@term(T.COUNT, arity=(1, 2))
class Count(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        if len(self.args) == 1:
            if isinstance(src, values.SingleSelection):
                src = src.row
            if type(src) is str:
                return len(src)
            if type(src) is dict:
                if datum.pseudo_type(src) == "BINARY":
                    return len(datum.binary_bytes(src))
                if datum.REQL_TYPE not in src:
                    return len(src)
            if isinstance(src, values.TableValue):
                return src.store.count()
            return sum(1 for _ in _rows(src))
        return self._count_matching(scope, src)

    def apply_group(self, scope: Scope, group: Any, stream: bool) -> Any:
        if len(self.args) == 1 or not stream:
            return self.apply(scope, group)
        n = self._count_matching(scope, group)
        if n == 0:
            raise seq.EmptyGroup  # no row of the group passed the predicate
        return n

    def _count_matching(self, scope: Scope, src: Any) -> int:
        pred = self.args[1].run(scope)
        if isinstance(pred, values.Func):
            test = transform.row_predicate(pred)
        else:
            want = values.to_datum(pred)

            def test(row: Any) -> bool:
                return datum.equal(row, want)

        def safe(row: Any) -> bool:
            try:
                return test(row)
            except ReqlNonExistenceError:
                return False

        return sum(1 for row in _rows(src) if safe(row))


class _FieldAggregate(seq.SeqTerm):
    """sum / avg / min / max: an optional function or field name, or (min, max) an index."""

    name = ""

    def apply(self, scope: Scope, src: Any) -> Any:
        pairs = self._pairs(scope, src)
        return pairs if type(pairs) is not list else self.finish(pairs)

    def apply_group(self, scope: Scope, group: Any, stream: bool) -> Any:
        pairs = self._pairs(scope, group)
        if type(pairs) is not list:
            return pairs
        if stream and not pairs:
            raise seq.EmptyGroup  # no row of the group had the field
        return self.finish(pairs)

    def _pairs(self, scope: Scope, src: Any) -> Any:
        """``(row, value)`` for the rows that have a value; an index read returns its result."""
        f = (
            seq.field_func(self.args[1].run(scope), self.args[1].frames)
            if len(self.args) == 2
            else None
        )
        index = self.optargs.get("index")
        if f is not None and index is not None:
            raise ReqlQueryLogicError(
                f"Cannot provide both a function and an index to {self.name}."
            )
        if index is not None or (f is None and isinstance(src, values.TableValue)):
            return self.on_index(scope, src, None if index is None else index.run(scope))
        pairs = []
        for row in _rows(src):
            try:  # rows without the field (or a NULL where a number belongs) are skipped
                v = row if f is None else seq.call(f, row)
                pairs.append((row, self.check(v)))
            except ReqlNonExistenceError:
                continue
        return pairs

    def check(self, v: Any) -> Any:
        return v

    def on_index(self, scope: Scope, src: Any, index: Any) -> Any:
        raise ReqlQueryLogicError(f"Cannot call {self.name} on an index.")

    def finish(self, pairs: list[tuple[Any, Any]]) -> Any:  # pragma: no cover
        raise NotImplementedError


@term(T.SUM, arity=(1, 2), optargs=("index",))
class Sum(_FieldAggregate):
    name = "sum"

    def check(self, v: Any) -> Any:
        return values.as_number(v)

    def finish(self, pairs: list) -> Any:
        total = 0.0
        for _, v in pairs:
            total += v
        return datum.num(total)


@term(T.AVG, arity=(1, 2), optargs=("index",))
class Avg(Sum):
    name = "avg"

    def finish(self, pairs: list) -> Any:
        if not pairs:
            raise ReqlNonExistenceError(
                "Cannot take the average of an empty stream.  (If you passed `avg` a field "
                "name, it may be that no elements of the stream had that field.)"
            )
        return datum.num(super().finish(pairs) / len(pairs))


@term(T.MIN, arity=(1, 2), optargs=("index",))
class Min(_FieldAggregate):
    name = "min"
    sorting = "asc"

    def beats(self, a: Any, b: Any) -> bool:
        return datum.compare(a, b) < 0  # not two sort keys: a value shared by both is skipped

    def finish(self, pairs: list) -> Any:
        best = None
        for row, v in pairs:
            if best is None or self.beats(v, best[1]):
                best = (row, v)
        if best is None:
            raise ReqlNonExistenceError(
                f"Cannot take the {self.name} of an empty stream.  (If you passed `{self.name}` "
                "a field name, it may be that no elements of the stream had that field.)"
            )
        return best[0]

    def on_index(self, scope: Scope, src: Any, index: Any) -> Any:
        slice_ = seq.as_table_slice(src)
        if slice_ is None:
            raise seq.literal_type_error(src, "TABLE")
        pkey = slice_.table.store.primary_key
        name = pkey if index is None else values.as_string(index)
        for row in seq.with_sorting(slice_, name, self.sorting):
            return values.SingleSelection(slice_.table, row.get(pkey), row)
        raise ReqlNonExistenceError(f"`{self.name}` found no entries in the specified index.")


@term(T.MAX, arity=(1, 2), optargs=("index",))
class Max(Min):
    name = "max"
    sorting = "desc"

    def beats(self, a: Any, b: Any) -> bool:
        return datum.compare(a, b) > 0


@term(T.REDUCE, arity=(2, 2), optargs=("base",))
class Reduce(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        f = seq.func(self.args[1].run(scope))
        rows = _rows(src)
        empty = acc = object()
        if "base" in self.optargs:
            acc = values.to_datum(self.optarg(scope, "base"))
        for row in rows:
            acc = row if acc is empty else seq.call(f, acc, row)
        if acc is empty:
            raise ReqlNonExistenceError("Cannot reduce over an empty stream.")
        return acc


@term(T.FOLD, arity=(3, 3), optargs=("emit", "final_emit"))
class Fold(seq.SeqTerm):
    """``fold``: a left fold; with ``emit`` it is a lazy stream of what each step emits."""

    def apply(self, scope: Scope, src: Any) -> Any:
        rows = values.iterate(src)
        base = _datum(self.args[1].run(scope))
        acc_f = seq.func(self.args[2].run(scope))
        if acc_f.arity not in (0, 2):
            raise ReqlQueryLogicError(
                "The accumulator function passed to `fold` should expect 2 arguments"
            )
        emit = self.optargs.get("emit")
        final = self.optargs.get("final_emit")
        final_f = None if final is None else seq.func(final.run(scope))
        if emit is None:
            seq.check_finite(src)
            acc = base
            for row in rows:
                acc = _datum(acc_f(acc, row))
            return acc if final_f is None else _datum(final_f(acc))
        emit_f = seq.func(emit.run(scope))

        def emitted() -> Iterator[Any]:
            acc = base
            for row in rows:
                new = _datum(acc_f(acc, row))
                yield from values.as_array(_datum(emit_f(acc, row, new)))
                acc = new
            if final_f is not None:
                yield from values.as_array(_datum(final_f(acc)))

        return seq.like(src, emitted(), scope.ctx, self.frames)


def _datum(v: Any) -> Any:
    """A function's result as a datum; a stream here is an error, as in RethinkDB."""
    if isinstance(v, values.Sequence) and not isinstance(v, values.ArraySelection):
        raise seq.literal_type_error(v, "DATUM")
    return values.to_datum(v)


@term(T.CONTAINS, arity=(1, None))
class Contains(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        preds = [a.run(scope) for a in self.args[1:]]
        tests = []
        for p in preds:
            if isinstance(p, values.Func):
                tests.append(lambda row, f=p: seq.truthy(seq.call(f, row)))
            else:
                want = values.to_datum(p)
                tests.append(lambda row, w=want: datum.equal(row, w))
        # Each row satisfies at most one outstanding value (RethinkDB's rule), so
        # ``contains(2, 2)`` needs two rows equal to 2.
        pending = list(range(len(tests)))
        for row in _rows(src):
            for i in pending:
                if tests[i](row):
                    pending.remove(i)
                    break
            if not pending:
                return True
        return not pending


_GROUP_BATCH = 1000  # rows of a batch, for the groups-per-batch limit (see Group.eval)


@term(T.GROUP, arity=(1, None), optargs=("index", "multi"))
class Group(Term):
    """``group``: rows by key (fields, functions, an index), ``multi`` splitting arrays."""

    grouping = "native"

    def eval(self, scope: Scope) -> Any:
        src = self.args[0].run(scope)
        if isinstance(src, values.Grouped):
            raise ReqlQueryLogicError(
                "Cannot call `group` on the output of `group` (did you mean to `ungroup`?)."
            )
        funcs = [seq.field_func(a.run(scope), a.frames) for a in self.args[1:]]
        index = self.optarg(scope, "index")
        entries: Iterator[tuple[Any, Any]]
        with_index = False
        if index is not None:
            name = values.as_string(index)
            slice_ = seq.as_table_slice(src)
            if slice_ is None:
                raise seq.literal_type_error(src, "TABLE")
            if name == slice_.table.store.primary_key:
                funcs.append(seq.field_func(name))
                entries = ((None, row) for row in slice_)
            else:
                entries = seq.slice_entries(seq.with_sorting(slice_, name, "asc"))
                with_index = True
        else:
            entries = ((None, row) for row in values.iterate(src))
        if not funcs and not with_index:
            raise ReqlQueryLogicError("Cannot group by nothing.")
        multi = self.optarg(scope, "multi", False, values.as_bool)
        seq.check_finite(src)
        groups: dict[tuple, tuple[Any, list]] = {}
        limit = scope.ctx.array_limit
        # shards.cc fails a batch holding more than array_limit groups. A batch is up to
        # 1 MB of rows, taken here as _GROUP_BATCH rows: only a small array_limit can fail.
        window: set | None = set() if limit < _GROUP_BATCH else None
        seen = 0
        for index_value, row in entries:
            if window is not None:
                seen += 1
                if seen > _GROUP_BATCH:
                    window.clear()
                    seen = 1
            parts = [_group_values(f, row, multi) for f in funcs]
            if with_index:
                parts.append([index_value])
            for combo in _combinations(parts, multi):
                key = combo[0] if len(combo) == 1 else list(combo)
                k = datum.sort_key(key)
                group = groups.get(k)
                if group is None:
                    group = groups[k] = (key, [])
                if window is not None:
                    window.add(k)
                    if len(window) > limit:
                        raise ReqlResourceLimitError(f"Too many groups (> {limit}).")
                group[1].append(row)
        # Even an array's groups are a grouped stream (RethinkDB streams arrays to group).
        return seq.GroupedStream(seq.sort_groups(groups.values()), limit)


def _group_values(f: values.Func, row: Any, multi: bool) -> list:
    try:
        v = seq.call(f, row)
    except ReqlNonExistenceError:
        v = None
    if multi and type(v) is list:
        return v if v else [None]
    return [v]


def _combinations(parts: list[list], multi: bool) -> Iterator[tuple]:
    if not multi:
        yield tuple(p[0] for p in parts)
        return
    seen = set()
    for combo in product(*parts):
        k = datum.sort_key(list(combo))
        if k not in seen:  # a row lands in each of its groups once
            seen.add(k)
            yield combo


@term(T.UNGROUP, arity=(1, 1))
class Ungroup(Term):
    grouping = "native"

    def eval(self, scope: Scope) -> Any:
        src = self.args[0].run(scope)
        if not isinstance(src, values.Grouped):  # as_grouped_data on the argument: blames it
            err = seq.literal_type_error(src, "GROUPED_DATA")
            err.frames = list(self.args[0].frames)
            raise err
        if isinstance(src, seq.GroupedStream):
            src.check_size()
        return seq.within_limit(
            [{"group": k, "reduction": values.to_datum(v)} for k, v in src.groups], scope.ctx
        )
