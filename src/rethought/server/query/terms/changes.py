"""CHANGES: turn a table, a get, a between / get_all range, or order_by(index).limit(n) into a feed.

The term looks at the *compiled* tree below it rather than its value, because a feed needs
the shape of the query (which keys, which index, which transforms), not the rows it would
return now. Transforms written before ``.changes()`` (``table.filter(f).changes()``) are applied
to each change's old and new value; terms written after it run on the feed stream itself.
"""

from __future__ import annotations

import copy
from typing import Any

from .... import datum
from ....errors import ReqlError, ReqlOpFailedError, ReqlQueryLogicError, ReqlResourceLimitError
from ....proto.ql2 import TermType as T
from ... import feeds
from ...feeds import resume as feed_resume
from ...feeds.limit import TopSpec, order_key
from ...feeds.splice import SpliceRead
from ...runtime import values
from ...system import SystemTable
from .. import determinism
from ..compile import Datum, Scope, Spliced, Term, term
from ..determinism import NO
from .argcheck import bound

# Terms that map one row to at most one row, so they can be applied to old_val and new_val
# (RethinkDB's map / filter / skip-map transforms: map, filter, pluck, without, merge,
# has_fields, with_fields, get_field, intersects / includes on a stream).
ROW_TRANSFORMS = frozenset(
    {
        T.MAP, T.FILTER, T.PLUCK, T.WITHOUT, T.MERGE, T.WITH_FIELDS, T.HAS_FIELDS, T.DEFAULT,
        T.GET_FIELD, T.INTERSECTS, T.INCLUDES,
    }
)  # fmt: skip
# Refused before changes() with their own message (rcheck_transform_visitor_t).
REFUSED_TRANSFORMS = {
    T.CONCAT_MAP: "Cannot call `changes` after `concat_map`.",
    T.GROUP: "Cannot call `changes` after `group`.",
    T.DISTINCT: "Cannot call `changes` after `distinct`.",
    T.ZIP: "Cannot call `changes` after `zip`.",
}
NONDETERMINISTIC = "Cannot call `changes` after a non-deterministic function."
AFTER_LIMIT = (
    "Changefeeds are not supported on queries that have a transformation following a "
    "`limit` term.  Transformations include terms such as `filter`, `map`, `pluck`, etc.  "
    "Consider moving the transformation before the `limit` term."
)
OPTARGS = (
    "squash",
    "changefeed_queue_size",
    "include_initial",
    "include_states",
    "include_offsets",
    "include_types",
    "include_positions",  # ours: resumable feeds (feeds/resume.py)
    "resume_from",
)


class _Slot(Term):
    """Stands in for a transform's input sequence: a one-row array set before each use."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        super().__init__([], {}, ())
        self.value: list = []

    def eval(self, scope: Scope) -> Any:
        return self.value


def _row_transform(node: Term, scope: Scope):
    """A Python function applying ``node`` (e.g. FILTER(seq, f)) to a single row."""
    slot = _Slot()
    clone = copy.copy(node)
    clone.args = [slot, *node.args[1:]]

    def apply(row: Any, strict: bool = False) -> Any:
        slot.value = [row]
        try:
            out = values.to_datum(clone.run(scope))
        except ReqlError:
            # RethinkDB's apply_ops: a row the transform fails on is dropped from the feed,
            # as a row an index function fails on is left out of the index. Initial values
            # are read through the transformed stream instead, where an error is the query's.
            if strict:
                raise
            return None
        if type(out) is list:
            return out[0] if out else None
        return out

    return apply


@term(T.CHANGES, arity=(1, 1), optargs=OPTARGS)
class Changes(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> Any:
        ctx = scope.ctx
        # As in RethinkDB, an optarg not given to the term falls back to the query's global
        # one (``run(changefeed_queue_size=...)``).
        given = {k: v for k, v in ctx.optargs.items() if k in OPTARGS}
        given.update((k, values.to_datum(v.run(scope))) for k, v in self.optargs.items())
        opts = feeds.FeedOptions(given)
        _check_not_a_row(self.args[0], scope)
        made = self._feed_for(self.args[0], scope, opts, [], [])
        if ctx.engine.hub is None:
            raise ReqlQueryLogicError("Changefeeds are not available on this server.")
        if opts.include_positions:
            feed_resume.prepare(made if isinstance(made, list) else [made], opts)
        if isinstance(made, list):  # a union: one feed per input, merged as they come
            for feed in made:
                feed.start()
                ctx.feeds.append(feed)
            if opts.include_positions:
                return values.Stream(feed_resume.merged(made), infinite=values.FEED)
            merged = feeds.interleave([iter(feed) for feed in made])
            return values.Stream(merged, infinite=values.FEED)
        made.start()
        ctx.feeds.append(made)
        return made

    def _feed_for(self, node: Term, scope: Scope, opts, transforms: list, kinds: list):
        hub = scope.ctx.engine.hub
        tt = _kind(node)
        if _is_row_transform(node, tt):
            _check_deterministic(node)
            transforms.insert(0, _row_transform(node, scope))
            kinds.insert(0, tt)
            return self._feed_for(node.args[0], scope, opts, transforms, kinds)
        if tt == T.UNION and _unordered_union(node, scope):
            # RethinkDB's union_datum_stream_t: the feeds of every input, side by side.
            out: list = []
            for arg in node.args:
                sub = self._feed_for(arg, scope, opts, list(transforms), list(kinds))
                out.extend(sub if isinstance(sub, list) else [sub])
            return out
        if tt in REFUSED_TRANSFORMS:
            raise ReqlQueryLogicError(REFUSED_TRANSFORMS[tt])
        if tt == T.LIMIT and any(k != T.FILTER for k in kinds):
            raise ReqlQueryLogicError(AFTER_LIMIT)
        if tt == T.ORDER_BY and _index_only(node) and not opts.include_offsets:
            return self._order_by_index(node, scope, opts, transforms)
        if opts.include_offsets and tt != T.LIMIT:
            kind = "point" if tt == T.GET else "range"
            raise ReqlQueryLogicError(f"Cannot include offsets for {kind} subs.")
        value = node.run(scope) if tt != T.LIMIT else None
        if tt == T.TABLE or isinstance(value, values.TableValue):
            return _cls(feeds.Feed, opts)(hub, _store(value), opts, transforms)
        if tt == T.GET:
            assert isinstance(value, values.SingleSelection)
            point = _cls(feeds.PointFeed, opts)
            return point(hub, _readable(value.table.store), opts, transforms, value.key)
        if tt == T.BETWEEN:
            return self._between(node, scope, opts, transforms)
        if tt == T.GET_ALL:
            return self._get_all(node, scope, opts, transforms)
        if tt == T.LIMIT and _kind(_below_row_transforms(node.args[0])) == T.ORDER_BY:
            return self._order_by_limit(node, scope, opts, transforms)
        if tt == T.LIMIT and _kind(node.args[0]) == T.UNION:
            raise ReqlQueryLogicError("Cannot call `changes` on a slice of a union.")
        if tt == T.LIMIT and node.args[0].tt in (T.TABLE, T.BETWEEN, T.GET_ALL):
            raise ReqlQueryLogicError(
                "Cannot get changes on the first elements of an unordered stream."
            )
        if not values.is_sequence(value):
            values.iterate(value)  # RethinkDB's "Cannot convert NUMBER to SEQUENCE"
        if tt == T.HTTP and isinstance(value, values.Sequence):
            # a paged r.http is http_datum_stream_t, which has no changespecs (http.cc);
            # no page is fetched
            raise ReqlQueryLogicError("Cannot call `changes` on an HTTP stream.")
        raise ReqlQueryLogicError("Cannot call `changes` on an eager stream.")

    def _between(self, node: Term, scope: Scope, opts, transforms):
        table = node.args[0].run(scope)
        store = _store(table)
        lo = values.to_datum(node.args[1].run(scope))
        hi = values.to_datum(node.args[2].run(scope))
        index = _index_name(node, scope, store)
        left_open = bound(node, scope, "left_bound", False)
        right_open = bound(node, scope, "right_bound", True)
        klo, khi = datum.sort_key(lo), datum.sort_key(hi)

        def inside(v: Any) -> bool:
            k = datum.sort_key(v)
            return (klo < k or (not left_open and klo == k)) and (
                k < khi or (not right_open and k == khi)
            )

        feed = _range_feed(node, scope, opts, transforms, store, index, inside)
        _splice(feed, opts, store, index, lo, hi, left_open, right_open)
        return feed

    def _get_all(self, node: Term, scope: Scope, opts, transforms):
        store = _store(node.args[0].run(scope))
        keys = {datum.sort_key(values.to_datum(a.run(scope))) for a in node.args[1:]}
        index = _index_name(node, scope, store)

        return _range_feed(
            node, scope, opts, transforms, store, index, lambda v: datum.sort_key(v) in keys
        )

    def _order_by_index(self, node: Term, scope: Scope, opts, transforms):
        """``order_by(index=...).changes()``: every row having a value in that index."""
        store = _store(node.args[0].run(scope))
        index_node = node.optargs["index"]
        if index_node.tt in (T.ASC, T.DESC):
            index_node = index_node.args[0]
        desc = node.optargs["index"].tt == T.DESC
        index = values.as_string(values.to_datum(index_node.run(scope)))
        feed = _range_feed(node, scope, opts, transforms, store, index, lambda v: True)
        if not desc:
            _splice(feed, opts, store, index, datum.MINVAL, datum.MAXVAL, False, False)
        return feed

    def _order_by_limit(self, node: Term, scope: Scope, opts, transforms):
        # Row transforms between order_by and limit (``order_by(index=).pluck().limit()``)
        # apply to what the feed sends; the top n is still chosen by the index on the rows.
        order = node.args[0]
        mid: list = []
        while _is_row_transform(order, _kind(order)):
            _check_deterministic(order)
            mid.insert(0, _row_transform(order, scope))
            order = order.args[0]
        n = values.as_int(values.to_datum(node.args[1].run(scope)))
        index_node = order.optargs.get("index")
        if index_node is None or len(order.args) != 1:
            raise ReqlQueryLogicError("Cannot call `changes` on an eager stream.")
        store = _store(order.args[0].run(scope))
        limit = scope.ctx.array_limit
        if n > limit:  # rcheck_spec_visitor_t: the top n is held as one array
            raise ReqlResourceLimitError(
                f"Array size limit `{limit}` exceeded.  (`.limit(X).changes()` is illegal "
                "if X is larger than the array size limit.)"
            )
        if isinstance(store, SystemTable):  # cfeed_artificial_table_backend_t::read_changes
            raise ReqlOpFailedError("System tables don't support changefeeds on `.limit()`.")

        # Filters written after the limit join the range's transforms, before the limit
        # (slice_datum_stream_t::get_changespecs): the feed follows the top n that pass.
        filters = list(transforms)

        def passes(row: Any) -> bool:
            for t in mid:  # a row a filter drops (or a transform fails on) is not in the top
                row = t(row)
                if row is None:
                    return False
            return all(f(row) is not None for f in filters)

        def rows():
            return (row for row in values.iterate(order.run(scope)) if passes(row))

        if index_node.tt in (T.ASC, T.DESC):
            desc, index_node = index_node.tt == T.DESC, index_node.args[0]
        else:
            desc = False
        index = values.as_string(values.to_datum(index_node.run(scope)))
        primary = index == store.primary_key
        info = None if primary else store.index_info(index)
        multi = info is not None and info.multi

        def index_value(row: Any) -> Any:
            if not passes(row):
                return None
            found = _index_values(store, index, row)
            return min(found, key=datum.sort_key) if found else None

        # A secondary index commits each row change on its own (btree.cc); a multi index
        # (a row at several places) is followed by re-reading its top n per batch.
        spec = TopSpec(n, rows, order_key(index_value, store.primary_key), desc,
                       per_change=not primary, reread=multi)  # fmt: skip
        top_feed = _cls(feeds.OrderByLimitFeed, opts)
        return top_feed(scope.ctx.engine.hub, store, opts, mid, spec)


def _check_not_a_row(top: Term, scope: Scope) -> None:
    """``get(k).pluck(...)`` is a value, not a single selection: changes() takes it as a
    sequence, which an object cannot be (RethinkDB evaluates it before any feed check)."""
    bottom = top
    while _is_row_transform(bottom, _kind(bottom)):
        bottom = bottom.args[0]
    if bottom is top or _kind(bottom) != T.GET:
        return
    value = values.to_datum(top.run(scope))
    values.iterate(value)
    raise ReqlQueryLogicError("Cannot call `changes` on an eager stream.")


def _below_row_transforms(node: Term) -> Term:
    """The term under a chain of row transforms (map, pluck, filter ...)."""
    while _is_row_transform(node, _kind(node)):
        node = node.args[0]
    return node


def _kind(node: Term) -> int:
    """The term type, also of a term given r.args (compiled to a ``Spliced`` node)."""
    return node.cls.tt if isinstance(node, Spliced) else node.tt


def _is_row_transform(node: Term, tt: int) -> bool:
    if tt == T.BRACKET:  # tbl['field'] is a get_field; tbl[0] is nth, not a transform
        key = node.args[1] if len(node.args) == 2 else None
        return isinstance(key, Datum) and type(key.value) is str
    if tt == T.MAP and len(node.args) != 2:  # map over several sequences: eager
        return False
    return tt in ROW_TRANSFORMS


def _check_deterministic(node: Term) -> None:
    """RethinkDB runs a feed's transforms on each change, on one server with a fixed
    ``r.now``: a function that could still give another result is refused (blaming it)."""
    for part in (*node.args[1:], *node.optargs.values()):
        if not determinism.feed_ok(part.determinism):
            raise ReqlQueryLogicError(NONDETERMINISTIC, frames=list(part.frames))


def _index_only(node: Term) -> bool:
    return len(node.args) == 1 and "index" in node.optargs


def _range_feed(node, scope, opts, transforms, store, index: str, wanted) -> feeds.RangeFeed:
    """A feed of the rows having some value in ``index`` for which ``wanted(value)`` holds;
    its initial values are what ``node`` (the between / get_all) reads now."""

    def accept(row: Any) -> bool:
        return any(wanted(v) for v in _index_values(store, index, row))

    return _cls(feeds.RangeFeed, opts)(
        scope.ctx.engine.hub,
        store,
        opts,
        transforms,
        accept,
        lambda: values.iterate(node.run(scope)),
    )


_cls = feed_resume.feed_class


def _splice(feed, opts, store, index: str, lo, hi, lo_open: bool, hi_open: bool) -> None:
    """Initial values of a secondary index range read batch by batch, changes spliced in
    between (feeds/splice.py), as RethinkDB's splice_stream_t; not with positions (their
    initial values are one snapshot, feeds/resume.py) nor on a multi index."""
    if not opts.include_initial or opts.include_positions or index == store.primary_key:
        return
    if isinstance(store, SystemTable):
        return
    info = store.index_info(index)
    if info is None or info.multi or info.geo:
        return
    pk = store.primary_key

    def at(value: Any, row: dict) -> tuple:
        return (datum.sort_key(value), datum.sort_key(row.get(pk)))

    def position(row: dict) -> Any:
        found = _index_values(store, index, row)
        return at(found[0], row) if found else None

    def read_after(value: Any, after: Any, n: int) -> list:
        if after is None:
            entries = store.index_scan(index, lo, hi, lo_open, hi_open)
        else:
            entries = store.index_scan(index, value, hi, False, hi_open)
        out = []
        for v, row in entries:
            p = at(v, row)
            if after is not None and p <= after:
                continue
            out.append((p, v, row))
            if len(out) >= n:
                break
        return out

    feed.splice = SpliceRead(read_after, position)


def _store(table: Any) -> Any:
    if not isinstance(table, values.TableValue):
        raise ReqlQueryLogicError("Cannot call `changes` on an eager stream.")
    return _readable(table.store)


def _readable(store: Any) -> Any:
    """``store``, once the query's user may read it: a feed needs read on its table
    (RethinkDB's changefeed.cc), though it reads no row up front."""
    check = getattr(store, "require_read", None)
    if check is not None:
        check()
    return store


def _index_name(node: Term, scope: Scope, store: Any) -> str:
    name = node.optarg(scope, "index", store.primary_key)
    return values.as_string(values.to_datum(name))


def _index_values(store: Any, index: str, row: Any) -> list:
    """The values ``row`` has in ``index`` (its primary key for the primary index)."""
    if index == store.primary_key:
        return [row.get(index)]
    try:
        return list(store.index_values(index, row))
    except Exception:  # a row the index function cannot evaluate is simply not in the index
        return []


def _unordered_union(node: Term, scope: Scope) -> bool:
    """Whether a union is RethinkDB's union_datum_stream_t (no ``interleave``, or
    ``interleave=True``): then it has feeds. ``interleave`` false, a field, a function or an
    array of them makes an ordered_union_datum_stream_t, an eager stream (seq.cc union_term_t
    evaluates a non-array interleave to tell)."""
    inter = node.optargs.get("interleave")
    if inter is None:
        return True
    if inter.tt == T.MAKE_ARRAY:
        return False
    return inter.run(scope) is True  # a function or a field is an ordering, not a bool
