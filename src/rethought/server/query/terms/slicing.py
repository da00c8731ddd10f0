"""Positional terms: skip, limit, slice, nth, offsets_of, is_empty, sample.

On streams these stay lazy (``r.range().limit(5)`` works) and keep a selection addressable;
on arrays they follow RethinkDB's array indexing rules, negative indexes included.
"""

from __future__ import annotations

import random
from itertools import islice
from typing import Any

from .... import datum
from ....errors import ReqlNonExistenceError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from .. import seq
from ..compile import Scope, term
from ..determinism import NO
from .argcheck import bound


def slice_stream(src: Any, left: int, right: int | None, scope: Scope, frames: tuple) -> Any:
    """Rows ``[left, right)`` of a sequence (``right`` None: to the end), lazily."""
    rows = islice(values.iterate(src), left, right)
    out = seq.like(src, rows, scope.ctx, frames, keep_selection=True)
    if right is not None and isinstance(out, values.Stream):
        out.infinite = False
    return out


def _canonical(index: int, size: int) -> int:
    """A possibly negative index into a sized thing, clamped at 0 (slices never fail)."""
    if index >= 0:
        return index
    return max(size + index, 0)


def slice_sized(v: Any, left: int, right: int, left_open: bool, right_open: bool) -> Any:
    """Slice an array, string (by code point) or binary with RethinkDB's index rules."""
    size = len(v)
    lo = _canonical(left, size) + (1 if left_open else 0)
    hi = _canonical(right, size) + (0 if right_open else 1)
    return v[lo:hi] if lo < hi else v[:0]


@term(T.SLICE, arity=(2, 3), optargs=("left_bound", "right_bound"))
class Slice(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        left_open = bound(self, scope, "left_bound", False)
        left = self.arg(scope, 1, values.as_int)
        has_right = len(self.args) == 3
        right_open = bound(self, scope, "right_bound", True) if has_right else False
        right = self.arg(scope, 2, values.as_int) if has_right else -1
        if type(src) is list or type(src) is str:
            return slice_sized(src, left, right, left_open, right_open)
        if datum.pseudo_type(src) == "BINARY":
            raw = datum.binary_bytes(src)
            return datum.make_binary(slice_sized(raw, left, right, left_open, right_open))
        if not values.is_sequence(src):
            if isinstance(src, (dict, int, float, bool)) or src is None:
                raise ReqlQueryLogicError(
                    f"Expected ARRAY, BINARY, or STRING, but found {values.type_name(src)}."
                )
            raise ReqlQueryLogicError("Cannot slice non-sequences.")
        if left < 0:
            raise ReqlQueryLogicError("Cannot use a negative left index on a stream.")
        lo = left + (1 if left_open else 0)
        if right < -1:
            raise ReqlQueryLogicError("Cannot use a right index < -1 on a stream.")
        if right == -1:
            if right_open:
                raise ReqlQueryLogicError("Cannot slice to an open right index of -1 on a stream.")
            return slice_stream(src, lo, None, scope, self.frames)
        hi = right + (0 if right_open else 1)
        return slice_stream(src, lo, max(hi, lo), scope, self.frames)


@term(T.SKIP, arity=(2, 2))
class Skip(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        n = self.arg(scope, 1, values.as_int)
        if type(src) is list:
            return slice_sized(src, n, -1, False, False)
        values.iterate(src)  # type check first, as RethinkDB does
        if n < 0:
            raise ReqlQueryLogicError("Cannot use a negative left index on a stream.")
        return slice_stream(src, n, None, scope, self.frames)


@term(T.LIMIT, arity=(2, 2))
class Limit(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        values.iterate(src)
        n = self.arg(scope, 1, values.as_int)
        if n < 0:
            raise ReqlQueryLogicError(f"LIMIT takes a non-negative argument (got {n})")
        if type(src) is list:
            return src[:n]
        return slice_stream(src, 0, n, scope, self.frames)


@term(T.NTH, arity=(2, 2))
class Nth(seq.SeqTerm):
    """``nth``: on a selection the row stays addressable (``nth(0).update(...)`` works)."""

    def apply(self, scope: Scope, src: Any) -> Any:
        return nth(src, self.arg(scope, 1, values.as_int))


def nth(src: Any, n: int) -> Any:
    """Element ``n`` of a sequence (``nth`` and ``seq[n]``); a table row stays addressable."""
    if type(src) is list:
        if n < 0:
            if -n > len(src):
                raise ReqlNonExistenceError(f"Index out of bounds: {n}")
            n += len(src)
        if n >= len(src):
            raise ReqlNonExistenceError(f"Index out of bounds: {n}")
        return src[n]
    rows = values.iterate(src)
    if n < -1:
        raise ReqlQueryLogicError(f"Cannot use an index < -1 ({n}) on a stream.")
    found = _MISSING = object()
    if n == -1:
        seq.check_finite(src)
        for found in rows:  # noqa: B007 - we want the last one
            pass
    else:
        found = next(islice(rows, n, None), _MISSING)
    if found is _MISSING:
        raise ReqlNonExistenceError(f"Index out of bounds: {n}")
    table = getattr(src, "table", None)
    if isinstance(table, values.TableValue) and type(found) is dict:
        return values.SingleSelection(table, found.get(table.store.primary_key), found)
    return found


@term(T.OFFSETS_OF, arity=(2, 2))
class OffsetsOf(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        pred = self.args[1].run(scope)
        if isinstance(pred, values.Func):

            def test(row: Any) -> bool:
                return seq.truthy(seq.call(pred, row))
        else:
            if not seq.is_datum(pred):
                raise seq.literal_type_error(pred, "DATUM")
            want = values.to_datum(pred)

            def test(row: Any) -> bool:
                return datum.equal(row, want)

        rows = (i for i, row in enumerate(values.iterate(src)) if test(row))
        return seq.like(src, rows, scope.ctx, self.frames)


@term(T.IS_EMPTY, arity=(1, 1))
class IsEmpty(seq.SeqTerm):
    def apply(self, scope: Scope, src: Any) -> Any:
        for _ in values.iterate(src):
            return False
        return True


@term(T.SAMPLE, arity=(2, 2))
class Sample(seq.SeqTerm):
    """``sample``: ``n`` rows chosen uniformly (reservoir sampling, one pass)."""

    nondeterminism = NO

    def apply(self, scope: Scope, src: Any) -> Any:
        rows = values.iterate(src)
        n = self.arg(scope, 1, values.as_int)
        if n < 0:
            raise ReqlQueryLogicError(f"Number of items to sample must be non-negative, got `{n}`.")
        if n > scope.ctx.array_limit:  # RethinkDB refuses before reading a row
            raise seq.array_limit_error(scope.ctx.array_limit)
        seq.check_finite(src)
        picked: list = []
        for i, row in enumerate(rows):
            if i < n:
                picked.append(row)
            else:
                j = random.randint(0, i)
                if j < n:
                    picked[j] = row
        random.shuffle(picked)
        table = getattr(src, "table", None)
        if table is not None:
            return values.ArraySelection(table, picked)
        return picked
