"""Shared helpers for sequence terms: laziness, selections, grouped data, function shortcuts.

RethinkDB keeps the *kind* of a sequence through transformations, and clients can see it
(``type_of``, and whether ``update`` works afterwards). The rules encoded here:

- arrays stay arrays: a transformation of a datum array is evaluated eagerly and yields an
  array (subject to the array size limit);
- anything else yields a lazy ``Stream`` (or a ``Selection`` where RethinkDB keeps one, e.g.
  ``filter`` / ``limit`` on a table), which is only pulled as the client asks for batches;
- a ``TableSlice`` (``terms.tables``) is a table read in index order and/or between bounds:
  it stays lazy and addressable by writes; ``with_sorting`` is ``order_by(index=)`` on it;
- ``GroupedStream`` is what ``group`` returns; every term applied to grouped data applies
  per group (``per_group``), reductions turning it into plain ``Grouped`` (GROUPED_DATA).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ... import datum
from ...errors import (
    ReqlError,
    ReqlNonExistenceError,
    ReqlQueryLogicError,
    ReqlResourceLimitError,
)
from ...proto.ql2 import TermType as T
from ..runtime import suspend, values
from ..runtime.values import get_field, is_datum, truthy  # noqa: F401  (seq.X in the terms)
from . import determinism
from .compile import Datum, Scope, Term
from .obj_or_seq import field
from .table_slices import TableSlice

# -- errors -----------------------------------------------------------------------------------


def array_limit_error(limit: int) -> ReqlResourceLimitError:
    return ReqlResourceLimitError(
        f"Array over size limit `{limit}`.  To raise the number of allowed elements, modify "
        "the `array_limit` option to `.run` (not available in the Data Explorer), or use an "
        "index."
    )


def literal_type_error(v: Any, want: str) -> ReqlQueryLogicError:
    """``Expected type FUNCTION but found DATUM:`` followed by the value, as RethinkDB says it."""
    from ..runtime.values import expected_val  # lazy: terms/ imports this module

    return expected_val(v, want)


def attach(err: ReqlError, frames: tuple) -> ReqlError:
    if err.frames is None:
        err.frames = list(frames)
    return err


def guarded(source: Iterable[Any], frames: tuple) -> Iterator[Any]:
    """Iterate ``source``, blaming errors raised later (while streaming) on ``frames``."""
    try:
        yield from source
    except ReqlError as e:
        raise attach(e, frames) from None


# -- sequence kinds ---------------------------------------------------------------------------


def is_infinite(v: Any) -> Any:
    """Truthy for infinite streams: True (r.range()) or values.FEED (changefeeds)."""
    return getattr(v, "infinite", False)


def check_finite(v: Any) -> None:
    if is_infinite(v):
        raise values.infinite_error(v)


def materialise(rows: Iterable[Any], ctx: Any) -> list:
    """A list of ``rows``, failing as RethinkDB does past ``ctx.array_limit``."""
    limit = ctx.array_limit
    out = []
    for row in rows:
        out.append(row)
        if len(out) > limit:
            raise array_limit_error(limit)
    return out


def finite_list(v: Any, ctx: Any) -> list:
    """A sequence value as a list (terminal operations that need everything at once)."""
    if type(v) is list:
        return v
    check_finite(v)
    return materialise(values.iterate(v), ctx)


def within_limit(out: list, ctx: Any) -> list:
    """``out``, unless it is longer than ``ctx.array_limit`` (RethinkDB's error then)."""
    if len(out) > ctx.array_limit:
        raise array_limit_error(ctx.array_limit)
    return out


def deep_within_limit(v: Any, ctx: Any) -> Any:
    """``v``, unless an array anywhere inside it is longer than ``ctx.array_limit`` (a datum
    built whole, e.g. by ``r.json``: RethinkDB's array builders check every array)."""
    limit = ctx.array_limit
    stack = [v]
    while stack:
        x = stack.pop()
        if type(x) is list:
            if len(x) > limit:
                raise array_limit_error(limit)
            stack.extend(y for y in x if type(y) is list or type(y) is dict)
        elif type(x) is dict:
            stack.extend(y for y in x.values() if type(y) is list or type(y) is dict)
    return v


def grouped_limit_error(limit: int) -> ReqlResourceLimitError:
    return ReqlResourceLimitError(
        f"Grouped data over size limit `{limit}`.  Try putting a reduction (like `.reduce` or "
        "`.count`) on the end."
    )


def is_array(v: Any) -> bool:
    """An eager sequence: an array, or a SELECTION<ARRAY> (order_by without an index)."""
    return type(v) is list or isinstance(v, values.ArraySelection)


def like(src: Any, rows: Iterable[Any], ctx: Any, frames: tuple, keep_selection: bool = False):
    """The result of transforming ``src`` into ``rows``, of the kind RethinkDB gives.

    Arrays (and SELECTION<ARRAY>) give arrays; a selection gives a selection when
    ``keep_selection``; anything else
    gives a lazy stream that stays infinite if its source was.
    """
    if type(src) is list:
        return materialise(rows, ctx)
    if isinstance(src, values.ArraySelection):  # e.g. order_by without index: stays an array
        if keep_selection:
            return values.ArraySelection(src.table, materialise(rows, ctx))
        return materialise(rows, ctx)
    if keep_selection and getattr(src, "table", None) is not None:
        return values.Selection(src.table, guarded(rows, frames))
    return values.Stream(guarded(rows, frames), infinite=is_infinite(src))


def as_table_slice(v: Any) -> Any:
    """A table or table slice as a ``TableSlice`` (see ``terms.tables``); None otherwise."""
    if isinstance(v, TableSlice):
        return v
    if isinstance(v, values.TableValue):
        return TableSlice(v)
    return None


def with_sorting(slice_: Any, index: str, sorting: str) -> Any:
    """``slice_`` read in ``index`` order (``sorting`` "asc" / "desc"), as order_by(index=)."""
    if slice_.ordered:
        raise ReqlQueryLogicError("Cannot perform multiple indexed ORDER_BYs on the same table.")
    if slice_.index is not None and slice_.index != index:
        raise ReqlQueryLogicError(
            f"Cannot order by index `{index}` after calling BETWEEN on index `{slice_.index}`."
        )
    return TableSlice(
        slice_.table,
        index,
        slice_.lo,
        slice_.hi,
        slice_.lo_open,
        slice_.hi_open,
        reverse=sorting == "desc",
        ordered=True,
    )


def slice_entries(slice_: Any) -> Iterator[tuple[Any, Any]]:
    """``(index value, row)`` of a table slice in its order (one per multi-index entry)."""
    slice_.check_index()
    store = slice_.table.store
    if datum.compare(slice_.lo, slice_.hi) > 0:
        return
    args = (slice_.lo, slice_.hi, slice_.lo_open, slice_.hi_open, slice_.reverse)
    if slice_.index is None or slice_.index == store.primary_key:
        pkey = store.primary_key
        for row in store.scan(*args):
            yield row[pkey], row
    else:
        yield from store.index_scan(slice_.index, *args)


# -- grouped data -----------------------------------------------------------------------------


class GroupedStream(values.Grouped):
    """The output of ``group`` before any reduction: each group's rows, as a list."""

    type_name = "GROUPED_STREAM"
    __slots__ = ("limit",)

    def __init__(self, groups: list[tuple[Any, Any]], limit: int) -> None:
        super().__init__(groups)
        self.limit = limit

    def check_size(self) -> None:
        """RethinkDB gathers an unreduced grouped stream into arrays, all groups' rows
        counted together against the array limit (``Grouped data over size limit``)."""
        total = 0
        for _, rows in self.groups:
            total += len(rows) if type(rows) is list else 1
            if total > self.limit:
                raise grouped_limit_error(self.limit)

    def to_datum(self) -> dict:
        self.check_size()
        return super().to_datum()


def sort_groups(groups: Iterable[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return sorted(groups, key=lambda kv: datum.sort_key(kv[0]))


class EmptyGroup(Exception):
    """Raised by a reduction over a group none of whose rows reached it (see ``per_group``)."""


def per_group(src: values.Grouped, fn: Callable[[Any], Any], ctx: Any) -> values.Grouped:
    """Apply ``fn`` to every group's value (RethinkDB's semantics for terms after ``group``).

    Transformations of a grouped stream stay a grouped stream; anything that reduces a
    group to a datum gives GROUPED_DATA. A grouped stream only has the groups some row
    reached: groups emptied by a transformation, or whose reduction saw no row (``fn``
    raised ``EmptyGroup``: ``count(pred)``, ``sum(field)``...), are left out.
    """
    out = []
    stream = isinstance(src, GroupedStream)
    drop_empty = stream
    for key, group in src.groups:
        try:
            res = fn(group)
        except EmptyGroup:
            continue
        if isinstance(res, values.Sequence) or type(res) is list:
            res = finite_list(res, ctx)
            if drop_empty and not res:
                continue
        else:
            stream = False
        out.append((key, res))
    return GroupedStream(out, ctx.array_limit) if stream else values.Grouped(out)


class SeqTerm(Term):
    """A term whose first argument is a sequence; on grouped data it applies per group."""

    grouping = "native"

    def eval(self, scope: Scope) -> Any:
        src = self.args[0].run(scope)
        if isinstance(src, values.Grouped):
            stream = isinstance(src, GroupedStream)
            return per_group(src, lambda group: self.apply_group(scope, group, stream), scope.ctx)
        return self.apply(scope, src)

    def apply(self, scope: Scope, src: Any) -> Any:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def apply_group(self, scope: Scope, group: Any, stream: bool) -> Any:
        """``apply`` on one group's rows (``stream``: the group came from a grouped stream)."""
        return self.apply(scope, group)


# -- functions --------------------------------------------------------------------------------


def func(v: Any) -> values.Func:
    """A function argument with no shortcut: ``map(1)`` is an error."""
    if isinstance(v, values.Func):
        return v
    raise literal_type_error(v, "FUNCTION")


def field_func(v: Any, frames: tuple | None = None) -> values.Func:
    """A function, or a field name standing for ``lambda row: row[name]``.

    As RethinkDB's ``new_get_field_func`` (func.cc), the name becomes a GET_FIELD on the
    row (so its errors say ``get_field``, and a sequence row is mapped), carrying the
    backtrace of the name's argument (``frames``): its errors point there."""
    if isinstance(v, values.Func):
        return v
    if not is_datum(v):
        raise literal_type_error(v, "FUNCTION")

    def get(row: Any) -> Any:
        try:
            return field(row, values.as_string(v), "get_field")
        except ReqlError as e:
            if e.frames is None and frames is not None:
                e.frames = list(frames)
            raise

    return values.PyFunc(get)


def call(f: values.Func, *args: Any) -> Any:
    """Call a ReQL function and force its result to a datum (``f->call(...)->as_datum()``:
    a result that is not one, a table or a stream, blames the function's body)."""
    v = f(*args)
    try:
        return values.to_datum(v)
    except ReqlError as e:
        body = getattr(f, "body", None)
        if e.frames is None and body is not None:
            e.frames = list(body.frames)
        raise


# -- ordering ---------------------------------------------------------------------------------


def sort_spec(scope: Scope, nodes: list[Term]) -> list[tuple[bool, values.Func]]:
    """``(descending, key function)`` for each ordering argument (plain, r.asc or r.desc)."""
    spec = []
    for node in nodes:
        desc = node.tt == T.DESC
        fn = field_func(node.run(scope), node.frames)
        if not determinism.feed_ok(fn.determinism):  # single server, constant r.now
            raise ReqlQueryLogicError("Sorting by a non-deterministic function is not supported.")
        spec.append((desc, fn))
    return spec


class _Desc:
    """One part of an ordering key, compared in reverse (an ``r.desc`` argument)."""

    __slots__ = ("key",)

    def __init__(self, key: tuple) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return other.key < self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]


_ABSENT = (0,)  # a row missing an ordering value: first, or last when descending


def _key_parts(row: Any, spec: list[tuple[bool, values.Func]]) -> list[tuple]:
    """A row's ordering values in ascending terms, one per ordering argument."""
    parts = []
    for _, fn in spec:
        try:
            parts.append((1, datum.sort_key(call(fn, row))))
        except ReqlNonExistenceError:
            parts.append(_ABSENT)
    return parts


def order_key(row: Any, spec: list[tuple[bool, values.Func]]) -> tuple:
    """A row's ordering key under a sort spec: keys compare (``<``) as ReQL orders the rows."""
    parts = _key_parts(row, spec)
    return tuple(_Desc(p) if desc else p for (desc, _), p in zip(spec, parts, strict=True))


def sort_rows(rows: list, spec: list[tuple[bool, values.Func]]) -> list:
    """Stable sort of ``rows`` by ``spec`` (``order_by`` without an index): one stable sort
    per ordering argument, the last one first, so every comparison stays in C."""
    # RethinkDB's std::stable_sort calls lt_cmp(a[1], a[0]) first and computes keys only
    # inside comparisons: fewer than two rows compute none (``[1].order_by('x')`` is [1]),
    # otherwise row 1's key comes first, so the same row's error is reported.
    if len(rows) < 2:
        return list(rows)
    keyed: list = [None] * len(rows)
    for i in (1, 0, *range(2, len(rows))):
        suspend.checkpoint()  # a big in-memory sort lets other queries run meanwhile
        keyed[i] = (_key_parts(rows[i], spec), rows[i])
    for i in reversed(range(len(spec))):
        keyed.sort(key=lambda entry, i=i: entry[0][i], reverse=spec[i][0])
    return [row for _, row in keyed]


def is_datum_literal(node: Term) -> bool:
    """True when ``node`` is a literal or object constructor (filter treats it as a pattern)."""
    return isinstance(node, Datum) or node.tt == T.MAKE_OBJ
