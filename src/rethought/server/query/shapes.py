"""Plans shared by START queries that differ only in their literal keys.

``table.get(k)`` with a new ``k`` each time never hits the plan cache keyed by payload bytes
(plan_cache.py). Here a query's *shape* is its JSON with the scalar literal in each key
position replaced by a marker: the key of GET, every key of GET_ALL, both bounds of
BETWEEN. Queries of one shape compile to the same tree except for those literals, so the
tree is compiled once with a ``Param`` node in each key position, reading the run's own
value from ``QueryContext.params``.

Why the marker cannot confuse two queries: a scalar in a key position is always replaced,
so two queries with equal shape bytes have the same structure everywhere, hence the same
key positions, the same number of params, in the same order. Every scalar type in a key
position compiles the same way (to a literal; the key's checks run when the query runs,
where a ``Param`` is evaluated as the literal was), so one plan serves numbers and
strings alike. ``null`` and booleans stay in the shape as they are.

A shape plan holds no more than a byte-keyed plan does (nothing catalog- or
permission-dependent, see plan_cache.py), so it is invalidated by nothing and stays right
when tables, indexes or grants change.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...datum import num
from ...proto.ql2 import TermType as T
from .compile import Datum, Scope, Term
from .determinism import ALWAYS

#: The marker in a key position's place (a string no driver sends as a key: were one sent
#: there, it is replaced as any scalar and still gets the right plan).
MARK = "\x00rethought:param"
# Argument positions holding keys, from and to (None: to the last).
_KEY_ARGS: dict[int, tuple[int, int | None]] = {
    T.GET: (1, 1),
    T.GET_ALL: (1, None),
    T.BETWEEN: (1, 2),
}
# Terms whose compiled tree is turned back into wire JSON (an index function): no shape.
_NOT_SHAPED = frozenset({T.INDEX_CREATE})


class _Unshaped(Exception):
    pass


class Shape:
    """A START query's shape: ``key`` (its bytes), ``params`` (the literal in each key
    position, canonical) and ``paths`` (the backtrace frames of each position)."""

    __slots__ = ("key", "params", "paths")

    def __init__(self, key: bytes, params: tuple, paths: tuple) -> None:
        self.key = key
        self.params = params
        self.paths = paths


def shape_of(query: list) -> Shape | None:
    """The shape of a parsed START query ``[1, term, optargs]``, or None when it has no
    literal key (nothing to share)."""
    if len(query) > 3:
        return None
    params: list[Any] = []
    paths: list[tuple] = []
    try:
        template = _template(query[1], (), params, paths)
    except _Unshaped:
        return None
    if not params:
        return None
    try:
        key = orjson.dumps([query[0], template, query[2] if len(query) > 2 else {}])
    except TypeError:  # an integer beyond 64 bits: compiled the usual way, never shared
        return None
    return Shape(key, tuple(params), tuple(paths))


def _template(raw: Any, path: tuple, params: list, paths: list) -> Any:
    t = type(raw)
    if t is dict:
        return {k: _template(v, path + (k,), params, paths) for k, v in raw.items()}
    if t is not list or not raw or type(raw[0]) is not int or len(raw) > 3:
        return raw
    tt = raw[0]
    if tt == T.DATUM:
        return raw
    if tt in _NOT_SHAPED:
        raise _Unshaped
    out: list[Any] = [tt]
    args = raw[1] if len(raw) > 1 else None
    if type(args) is list:
        slots = _KEY_ARGS.get(tt)
        new = []
        for i, a in enumerate(args):
            ta = type(a)
            if (
                slots is not None
                and i >= slots[0]
                and (slots[1] is None or i <= slots[1])
                and (ta is str or ta is int or ta is float)
            ):
                params.append(a if ta is str else num(a))
                paths.append(path + (i,))
                new.append(MARK)
            else:
                new.append(_template(a, path + (i,), params, paths))
        out.append(new)
    elif type(args) is dict:  # [type, {optargs}]
        out.append(_template(args, path, params, paths))
    elif len(raw) > 1:
        out.append(args)
    if len(raw) > 2:
        opts = raw[2]
        out.append(_template(opts, path, params, paths) if type(opts) is dict else opts)
    return out


class Param(Term):
    """A key position of a shared plan: this run's literal (``QueryContext.params``)."""

    __slots__ = ("index",)

    def __init__(self, index: int, frames: tuple) -> None:
        self.args = []
        self.optargs = {}
        self.frames = frames
        self.index = index
        self.determinism = ALWAYS  # as the literal it stands for
        self.may_group = False
        self.group_probe = False

    def eval(self, scope: Scope) -> Any:
        return scope.ctx.params[self.index]


def parameterize(root: Term, shape: Shape) -> bool:
    """Put a ``Param`` in ``root`` (just compiled from a query of this shape) in place of
    the literal at each of the shape's positions. False (``root`` unchanged) when one is
    not found as a literal (an ``r.args`` splice, say): that query is not shared."""
    where = {p: i for i, p in enumerate(shape.paths)}
    found: list[tuple[Term, int, Term]] = []
    todo = [root]
    while todo:
        node = todo.pop()
        for j, a in enumerate(node.args):
            i = where.get(a.frames)
            if i is not None and type(a) is Datum:
                found.append((node, j, Param(i, a.frames)))
            else:
                todo.append(a)
        todo.extend(node.optargs.values())
    if len(found) != len(where):
        return False
    for node, j, param in found:
        node.args[j] = param
    return True
