"""Sequence transformations: map, filter, concat_map, with_fields, zip, union.

Each keeps its input's kind the way RethinkDB does (see ``server.query.seq``): arrays in, arrays
out; streams stay lazy; ``filter`` keeps a selection addressable for writes.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

from .... import datum
from ....datum.jsonfmt import pretty
from ....errors import ReqlNonExistenceError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ... import feeds
from ...runtime import values
from .. import seq
from ..compile import Scope, Term, blame, term
from . import objects
from .control import EmptyUserError


@term(T.MAP, arity=(2, None))
class Map(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        others = [a.run(scope) for a in self.args[1:-1]]
        f = seq.func(self.args[-1].run(scope))
        n = 1 + len(others)
        if f.arity not in (0, n) and not _unknown_arity(f):
            raise ReqlQueryLogicError(
                f"The function passed to `map` expects {f.arity} argument"
                f"{'' if f.arity == 1 else 's'}, but {n} sequence"
                f"{' was' if n == 1 else 's were'} found."
            )
        sources = [src, *others]
        iters = [values.iterate(s) for s in sources]
        if len(iters) == 1:
            rows: Iterator[Any] = (seq.call(f, row) for row in iters[0])
        else:
            rows = (seq.call(f, *group) for group in zip(*iters, strict=False))
        if all(seq.is_array(s) for s in sources):
            return seq.materialise(rows, scope.ctx)
        # Infinite only when every input is (zip stops at the shortest).
        infinite = seq.is_infinite(src) if all(seq.is_infinite(s) for s in sources) else False
        return values.Stream(seq.guarded(rows, self.frames), infinite)


def _unknown_arity(f: values.Func) -> bool:
    # r.js functions cannot say how many arguments they take; RethinkDB skips the check.
    return getattr(f, "variadic", False)


@term(T.FILTER, arity=(2, 2), optargs=("default",))
class Filter(seq.SeqTerm):
    """``filter``: a predicate function, a constant, or an object pattern to match."""

    def apply(self, scope: Scope, src: Any) -> Any:
        pred_node = self.args[1]
        pred = pred_node.run(scope)
        default_node = self.optargs.get("default")
        if isinstance(pred, values.Func):
            test = row_predicate(pred)
        else:
            pred = values.to_datum(pred)
            if _is_pattern(pred):

                def test(row: Any) -> bool:
                    return _match(pred, row)
            else:
                keep = seq.truthy(pred)

                def test(row: Any) -> bool:
                    return keep

        def keep_row(row: Any) -> bool:
            try:
                return test(row)
            except ReqlNonExistenceError as missing:
                if default_node is None:
                    return False
                try:
                    return seq.truthy(values.to_datum(default_node.run(scope)))
                except EmptyUserError:  # r.error() with no message re-raises
                    raise missing from None

        rows = (row for row in values.iterate(src) if keep_row(row))
        return seq.like(src, rows, scope.ctx, self.frames, keep_selection=True)


def row_predicate(pred: values.Func) -> Callable[[Any], bool]:
    """A filter predicate: truthiness of the result, or, when the function's body is an
    object literal (``lambda row: {'a': 1}``), the result as a pattern to match."""
    body_is_pattern = seq.is_datum_literal(pred.body) if hasattr(pred, "body") else False

    def test(row: Any) -> bool:
        d = seq.call(pred, row)
        if body_is_pattern and _is_pattern(d):
            return _match(d, row)
        return seq.truthy(d)

    return test


def _is_pattern(d: Any) -> bool:
    return type(d) is dict and (datum.REQL_TYPE not in d or objects.is_literal(d))


def _match(pattern: dict, value: Any) -> bool:
    """RethinkDB's object-as-predicate: every field of ``pattern`` equals ``value``'s."""
    if objects.is_literal(pattern):
        return datum.equal(pattern.get("value"), value)
    if type(value) is not dict:
        raise values.expected(value, "OBJECT")
    for key, want in pattern.items():
        if key not in value:
            raise ReqlNonExistenceError(f"No attribute `{key}` in object.")
        got = value[key]
        if type(want) is dict and type(got) is dict and want.get(datum.REQL_TYPE) is None:
            if not _match(want, got):
                return False
        elif objects.is_literal(want):
            if not _match(want, got):
                return False
        elif not datum.equal(got, want):
            return False
    return True


@term(T.CONCAT_MAP, arity=(2, 2))
class ConcatMap(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        f = seq.func(self.args[1].run(scope))
        fn_frames = self.args[1].frames

        def rows() -> Iterator[Any]:
            for row in values.iterate(src):
                # a result that is not a sequence blames the function (as RethinkDB's carets)
                yield from blame(values.iterate, None, f(row), fn_frames)

        return seq.like(src, rows(), scope.ctx, self.frames)


@term(T.WITH_FIELDS, arity=(1, None))
class WithFields(seq.SeqTerm):
    """``with_fields``: rows having every selector (non-null), plucked to those selectors."""

    def apply(self, scope: Scope, src: Any) -> Any:
        selectors = [values.to_datum(a.run(scope)) for a in self.args[1:]]
        if not values.is_sequence(src) and seq.is_datum(src) and type(src) is not dict:
            # RethinkDB runs has_fields first, and that names itself in the type error.
            raise objects.non_object_error("has_fields", src)
        rows = (
            _pluck(row, selectors) for row in values.iterate(src) if _has(_as_obj(row), selectors)
        )
        return seq.like(src, rows, scope.ctx, self.frames)


def _as_obj(row: Any) -> dict:
    """A row as the per-row ``has_fields`` that RethinkDB rewrites ``with_fields`` into
    (rewrites.cc) sees it: its errors name has_fields."""
    if type(row) is dict:
        if datum.REQL_TYPE in row:
            raise objects.cannot_call("has_fields", row)
        return row
    if values.is_sequence(row):
        raise ReqlQueryLogicError("Cannot perform has_fields on a sequence of sequences.")
    raise objects.non_object_error("has_fields", row)


def _has(obj: Any, selectors: list) -> bool:
    for sel in selectors:
        if type(sel) is str:
            if type(obj) is not dict or obj.get(sel) is None:
                return False
        elif type(sel) is list:
            if not _has(obj, sel):
                return False
        elif type(sel) is dict:
            for key, sub in sel.items():
                if type(obj) is not dict or obj.get(key) is None:
                    return False
                if sub is not True and not _has(obj[key], [sub]):
                    return False
        else:
            raise ReqlQueryLogicError(f"Invalid path argument `{pretty(sel)}`.")
    return True


def _pluck(obj: dict, selectors: list) -> dict:
    out: dict = {}
    for sel in selectors:
        if type(sel) is str:
            if sel in obj:
                out[sel] = obj[sel]
        elif type(sel) is list:
            out.update(_pluck(obj, sel))
        elif type(sel) is dict:
            for key, sub in sel.items():
                if key not in obj:
                    continue
                if sub is True:
                    out[key] = obj[key]
                elif type(obj[key]) is dict:
                    out[key] = _pluck(obj[key], [sub])
    return out


@term(T.ZIP, arity=(1, 1))
class Zip(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        return seq.like(src, (_zip_row(row) for row in values.iterate(src)), scope.ctx, self.frames)


def _zip_row(row: Any) -> Any:
    if type(row) is not dict:  # get_field("left", NOTHROW) still checks the type
        raise values.expected(row, "OBJECT")
    if "left" not in row:
        raise ReqlQueryLogicError("ZIP can only be called on the result of a join.")
    # shards.cc zip_trans_t: ``left.merge(right)`` with datum_t::merge, a deep merge where a
    # side that is not an object gives the right side (eq_join on a function of a string).
    if "right" not in row:
        return row["left"]
    return objects.merge(row["left"], row["right"])


@term(T.UNION, arity=(0, None), optargs=("interleave",))
class Union(Term):
    """``union``: concatenation, or a merge when ``interleave`` names an ordering."""

    grouping = "native"

    def eval(self, scope: Scope) -> Any:
        opened = len(scope.ctx.feeds)
        sources = [a.run(scope) for a in self.args]
        if len(scope.ctx.feeds) > opened:
            # A union of changefeeds never ends: interleave whatever each one has ready.
            out = values.Stream(feeds.interleave([values.iterate(s) for s in sources]))
            out.infinite = values.FEED
            return out
        if sources and isinstance(sources[0], values.Grouped):
            first = sources[0]
            return seq.per_group(first, lambda g: self._union(scope, [g, *sources[1:]]), scope.ctx)
        return self._union(scope, sources)

    def _union(self, scope: Scope, sources: list) -> Any:
        iters = [values.iterate(s) for s in sources]
        node = self.optargs.get("interleave")
        spec = None
        ordered = False  # ordered_union_datum_stream_t rather than union_datum_stream_t
        if node is not None:
            if node.tt == T.MAKE_ARRAY:
                spec = seq.sort_spec(scope, node.args)
                ordered = True
            else:
                v = node.run(scope)
                if type(v) is not bool:
                    spec = seq.sort_spec(scope, [node])
                ordered = v is not True
        if spec is not None:
            rows: Iterator[Any] = _ordered_merge(iters, spec)
        else:
            rows = chain.from_iterable(iters)
        if all(seq.is_array(s) for s in sources):
            return seq.materialise(rows, scope.ctx)
        out = values.Stream(seq.guarded(rows, self.frames))
        out.infinite = next((i for s in sources if (i := seq.is_infinite(s))), False)
        if out.infinite and ordered:
            out.infinite = values.ORDERED_UNION
        return out


def _ordered_merge(iters: list[Iterator[Any]], spec: list) -> Iterator[Any]:
    """Merge already-ordered inputs, keeping the order (``union(interleave=...)``).

    As RethinkDB's ``ordered_union_datum_stream_t``: the smallest head is sent, and the next
    row of the same input must not sort before it, or the merge fails."""
    heap: list[tuple[tuple, int, Any]] = []
    for i, it in enumerate(iters):
        for row in it:
            heap.append((seq.order_key(row, spec), i, row))
            break
    heapq.heapify(heap)
    while heap:
        key, i, row = heap[0]
        for nxt in iters[i]:
            nkey = seq.order_key(nxt, spec)
            if nkey < key:
                raise ReqlQueryLogicError(
                    "The streams given as arguments are not ordered by given ordering."
                )
            heapq.heapreplace(heap, (nkey, i, nxt))
            break
        else:
            heapq.heappop(heap)
        yield row
