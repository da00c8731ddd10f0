"""Fast path for literal data: dicts and lists holding only JSON values.

Documents passed to ``insert`` / ``update`` are usually plain data, and turning each value
into its own term object only to flatten the tree again in ``build()`` is most of the cost of
building such a query. Plain data is converted straight to its wire form instead (arrays as
``[MAKE_ARRAY, [...]]``, objects as JSON objects), once, when the query is built. The term
tree that printing and backtraces walk is made from that wire form only if it is asked for.
"""

from __future__ import annotations

from typing import Any

from ..errors import ReqlDriverCompileError
from .ast import _NO_OPTARGS, _SCALARS, Datum, MakeArray, MakeObj, RqlQuery

_MAKE_ARRAY = MakeArray.term_type


class _NotPlain(Exception):
    """Raised inside the walk when a value needs the general conversion."""


def _wire(val: Any, depth: int) -> Any:
    # Same depth accounting as ast.expr, so the same inputs hit the limit.
    if depth <= 0:
        raise ReqlDriverCompileError("Nesting depth limit exceeded.")
    t = type(val)
    if t in _SCALARS:
        return val
    if t is float:
        if val - val == 0.0:
            return val
        raise _NotPlain  # NaN or an infinity: expr() keeps it for the encoder to refuse
    if t is dict:
        out = {}
        for k, v in val.items():
            if type(k) is not str:
                raise _NotPlain
            out[k] = _wire(v, depth - 1)
        return out
    if t is list or t is tuple:
        return [_MAKE_ARRAY, [_wire(v, depth - 1) for v in val]]
    raise _NotPlain


def _term(wire: Any) -> RqlQuery:
    if type(wire) is dict:
        return PlainObject(wire)
    if type(wire) is list:
        return PlainArray(wire)
    return Datum(wire)


class PlainArray(MakeArray):
    """An array literal of plain data, kept in wire form."""

    __slots__ = ("_wire", "_terms")

    def __init__(self, wire: list) -> None:
        self._wire = wire
        self._terms: list[RqlQuery] | None = None
        self.optargs = _NO_OPTARGS
        self._ivar = False

    @property
    def _args(self) -> list[RqlQuery]:  # type: ignore[override]
        if self._terms is None:
            self._terms = [_term(w) for w in self._wire[1]]
        return self._terms

    def build(self) -> Any:
        return self._wire


class PlainObject(MakeObj):
    """An object literal of plain data, kept in wire form."""

    __slots__ = ("_wire", "_terms")

    def __init__(self, wire: dict) -> None:
        self._wire = wire
        self._terms: dict[str, RqlQuery] | None = None
        self._args = []
        self._ivar = False

    @property
    def optargs(self) -> dict[str, RqlQuery]:  # type: ignore[override]
        if self._terms is None:
            self._terms = {k: _term(w) for k, w in self._wire.items()}
        return self._terms

    def build(self) -> Any:
        return self._wire


def plain_literal(val: dict | list | tuple, depth: int) -> RqlQuery | None:
    """The literal for ``val`` if it is plain data, else None (use the general conversion).

    The caller has already checked ``depth`` for ``val`` itself.
    """
    try:
        return _term(_wire(val, depth))
    except _NotPlain:
        return None
