"""Plans shared by START queries that differ only in their literal keys.

``table.get(k)`` with a new ``k`` each time never hits the plan cache keyed by payload bytes
(plan_cache.py). Here a query's *shape* is its JSON with the scalar literal in each key
position replaced by a marker: the key of GET, every key of GET_ALL, both bounds of
BETWEEN. Queries of one shape compile to the same tree except for those literals, so the
tree is compiled once with a ``Param`` node in each key position, reading the run's own
value from ``QueryContext.params``.

The document of ``table.insert({...})`` is a position too, when it is plain data (what
compile.py turns into one ``Datum``: no term, no pseudo-type anywhere in it): every single
insert of a literal document then shares one plan, whatever its keys and values. Its marker
is the object ``{MARK: 0}`` (itself plain data, so replaced when sent there), and only a
plain object is replaced, so equal shape bytes still mean the same positions.

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
from .compile import MAX_NESTING, Datum, Scope, Term
from .determinism import ALWAYS
from .literals import deep_copy, plain_canonical

#: The marker in a key position's place (a string no driver sends as a key: were one sent
#: there, it is replaced as any scalar and still gets the right plan).
MARK = "\x00rethought:param"
# Argument positions holding keys, from and to (None: to the last).
# (Plain ints: comparing an int with an IntEnum member costs a slow rich comparison.)
_KEY_ARGS: dict[int, tuple[int, int | None]] = {
    int(T.GET): (1, 1),
    int(T.GET_ALL): (1, None),
    int(T.BETWEEN): (1, 2),
}
# Argument positions holding a document (a plain object is one param).
_DOC_ARGS: dict[int, int] = {int(T.INSERT): 1}
DOC_MARK = {MARK: 0}
# Terms whose compiled tree is turned back into wire JSON (an index function): no shape.
_NOT_SHAPED = frozenset({int(T.INDEX_CREATE)})
_DATUM = int(T.DATUM)


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
    # (list, index, literal there) of each position, found in one walk; the shape's bytes
    # are the query's with a marker put in each position for the dump, then put back.
    spots: list[tuple[list, int, Any]] = []
    params: list[Any] = []
    paths: list[tuple] = []
    try:
        _positions(query[1], spots, params, paths)
    except _Unshaped:
        return None
    if not params:
        return None
    for args, i, a in spots:
        args[i] = DOC_MARK if type(a) is dict else MARK
    try:
        key = orjson.dumps([query[0], query[1], query[2] if len(query) > 2 else {}])
    except TypeError:  # an integer beyond 64 bits: compiled the usual way, never shared
        return None
    finally:
        for args, i, a in spots:
            args[i] = a
    return Shape(key, tuple(params), tuple(paths))


def _positions(root: Any, spots: list, params: list, paths: list) -> None:
    """Find the key and document positions under the term ``root`` (see the module doc)."""
    if type(root) is not list and type(root) is not dict:
        return  # a bare datum
    todo = [(root, ())]
    pop, push = todo.pop, todo.append
    while todo:
        raw, path = pop()
        if type(raw) is dict:
            for k, v in raw.items():
                if type(v) is list or type(v) is dict:
                    push((v, path + (k,)))
            continue
        n = len(raw)
        if not n or n > 3 or type(raw[0]) is not int:
            continue  # not a term: data as it is
        tt = raw[0]
        if tt == _DATUM:
            continue
        if tt in _NOT_SHAPED:
            raise _Unshaped
        if n > 1:
            args = raw[1]
            if type(args) is list:
                slots = _KEY_ARGS.get(tt)
                doc_at = _DOC_ARGS.get(tt)
                for i, a in enumerate(args):
                    ta = type(a)
                    if (
                        i == doc_at
                        and ta is dict
                        # compiles to a Datum; its numbers made canonical as compile_term does
                        and plain_canonical(a, MAX_NESTING - len(path) - 1)
                    ):
                        params.append(a)
                        paths.append(path + (i,))
                        spots.append((args, i, a))
                    elif (
                        slots is not None
                        and (ta is str or ta is int or ta is float)
                        and i >= slots[0]
                        and (slots[1] is None or i <= slots[1])
                    ):
                        params.append(a if ta is str else num(a))
                        paths.append(path + (i,))
                        spots.append((args, i, a))
                    elif ta is list or ta is dict:
                        push((a, path + (i,)))
            elif type(args) is dict:  # [type, {optargs}]
                push((args, path))
            if n > 2 and type(raw[2]) is dict:
                push((raw[2], path))


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


class DocParam(Param):
    """A document position: copied as a literal ``Datum`` is, since a term may evaluate it
    more than once in a run (in a function, per group) and writes keep what they get."""

    __slots__ = ()

    def eval(self, scope: Scope) -> Any:
        # ``deep_copy``'s copy with one call: only nested containers are walked by it.
        doc = scope.ctx.params[self.index].copy()
        for k, v in doc.items():  # values replaced in place: the dict keeps its size
            if type(v) is dict or type(v) is list:
                doc[k] = deep_copy(v)
        return doc


def parameterize(root: Term, shape: Shape) -> bool:
    """Put a ``Param`` in ``root`` (just compiled from a query of this shape) in place of
    the literal at each of the shape's positions. False (``root`` unchanged) when one is
    not found as a literal (an ``r.args`` splice, say): that query is not shared."""
    where = {p: i for i, p in enumerate(shape.paths)}
    params = shape.params
    found: list[tuple[Term, int, Term]] = []
    todo = [root]
    while todo:
        node = todo.pop()
        for j, a in enumerate(node.args):
            i = where.get(a.frames)
            if i is not None and type(a) is Datum:
                cls = DocParam if type(params[i]) is dict else Param
                found.append((node, j, cls(i, a.frames)))
            else:
                todo.append(a)
        todo.extend(node.optargs.values())
    if len(found) != len(where):
        return False
    for node, j, param in found:
        node.args[j] = param
    return True
