"""ReQL values as plain Python data, shared by server and driver.

A datum is ``None``, ``bool``, a number, ``str``, ``list`` or ``dict``. Pseudo-types (TIME,
BINARY, GEOMETRY) stay in their wire form, a dict with a ``$reql_type$`` key, so storage and
JSON need no conversion.

Numbers are canonical: ``int`` when integral and within +-2**53, ``float`` otherwise (ReQL
numbers are doubles; RethinkDB prints ``2`` for ``4 / 2``). Use :func:`num` on every
arithmetic result and :func:`canonical` on values decoded from JSON.

Ordering follows RethinkDB (datum.cc ``cmp_unchecked_stack``): values of different types
order by type name (ARRAY < BOOL < NULL < NUMBER < OBJECT < PTYPE<BINARY> < PTYPE<TIME> <
STRING), with ``r.minval`` below and ``r.maxval`` above everything. A GEOMETRY compares as
the object it is (``pseudo_compares_as_obj``: key by key with other objects, so
``r.point(0, 0) < {'a': 1}`` but ``{'#': 1} < r.point(0, 0)``), except against BINARY and
TIME, where the type names decide (PTYPE<BINARY> < PTYPE<GEOMETRY> < PTYPE<TIME>). That
order is not transitive (``{'z': 1} < binary < point < {'z': 1}``); RethinkDB sorts with it
all the same, and so do we. :func:`sort_key` maps a datum to a
Python value whose natural order is ReQL's, so ``sorted(xs, key=sort_key)`` is ReQL's order
and ``sort_key(a) == sort_key(b)`` is ReQL equality (``1 == 1.0``, ``True != 1``).
"""

from __future__ import annotations

import base64
import math
from typing import Any

REQL_TYPE = "$reql_type$"
MAX_EXACT = 2**53


class _Extreme:
    """r.minval / r.maxval: only valid as bounds (between, ranges), never stored."""

    __slots__ = ("name", "rank")

    def __init__(self, name: str, rank: int) -> None:
        self.name = name
        self.rank = rank

    def __repr__(self) -> str:
        return f"r.{self.name}"


class _GeometryRank(int):
    """A GEOMETRY's rank: OBJECT's (4) except against PTYPE<BINARY> (5), which it follows.

    ``datum_t::cmp`` compares a geometry with a binary by type name and with anything else
    as an object. Python compares ``5 < g`` through this subclass's reflected ``__gt__``
    first, so every tuple comparison of sort keys gets RethinkDB's answer.
    """

    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        if other == 5 and type(other) is int:
            return False
        return int.__lt__(self, other)  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        if other == 5 and type(other) is int:
            return False
        return int.__le__(self, other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        if other == 5 and type(other) is int:
            return True
        return int.__gt__(self, other)  # type: ignore[operator]

    def __ge__(self, other: object) -> bool:
        if other == 5 and type(other) is int:
            return True
        return int.__ge__(self, other)  # type: ignore[operator]


MINVAL = _Extreme("minval", -1)
MAXVAL = _Extreme("maxval", 100)

# Rank of each type in cross-type comparison (alphabetical by ReQL type name).
RANK_ARRAY = 0
RANK_BOOL = 1
RANK_NULL = 2
RANK_NUMBER = 3
RANK_OBJECT = 4
RANK_BINARY = 5
RANK_GEOMETRY = _GeometryRank(RANK_OBJECT)
RANK_TIME = 7
RANK_STRING = 8


def num(x: int | float) -> int | float:
    """Canonical form of a number: int when integral and exactly representable.

    ``-0.0`` stays a float: RethinkDB keeps the sign (it equals 0 but prints as ``-0.0``).
    """
    if type(x) is float:
        if x.is_integer() and -MAX_EXACT <= x <= MAX_EXACT:
            if x == 0 and math.copysign(1.0, x) < 0:
                return x
            return int(x)
        return x
    if type(x) is int and not -MAX_EXACT <= x <= MAX_EXACT:
        return float(x)
    return x


def canonical(v: Any) -> Any:
    """Canonicalise numbers inside a JSON-decoded value (in place for containers)."""
    t = type(v)
    if t is float or t is int:
        return num(v)
    if t is list:
        for i, x in enumerate(v):
            v[i] = canonical(x)
        return v
    if t is dict:
        for k, x in v.items():
            v[k] = canonical(x)
        return v
    return v


def pseudo_type(v: Any) -> str | None:
    """'TIME', 'BINARY', 'GEOMETRY' (or another $reql_type$) for a pseudo-type dict."""
    if type(v) is dict:
        t = v.get(REQL_TYPE)
        if type(t) is str:
            return t
    return None


def type_name(v: Any) -> str:
    """ReQL type name of a datum, as `type_of` and error messages spell it."""
    if v is None:
        return "NULL"
    t = type(v)
    if t is bool:
        return "BOOL"
    if t is int or t is float:
        return "NUMBER"
    if t is str:
        return "STRING"
    if t is list:
        return "ARRAY"
    if t is dict:
        p = v.get(REQL_TYPE)
        if type(p) is str:
            return f"PTYPE<{p}>"
        return "OBJECT"
    if v is MINVAL or v is MAXVAL:
        return "MINVAL" if v is MINVAL else "MAXVAL"
    return t.__name__.upper()


def binary_bytes(v: dict) -> bytes:
    return base64.b64decode(v["data"])


def make_binary(data: bytes) -> dict:
    return {REQL_TYPE: "BINARY", "data": base64.b64encode(data).decode("ascii")}


def sort_key(v: Any) -> tuple:
    """A Python key whose order is ReQL's order and whose equality is ReQL equality."""
    t = type(v)
    if t is str:
        return (RANK_STRING, v)
    if t is int or t is float:
        return (RANK_NUMBER, v)
    if t is dict:
        p = v.get(REQL_TYPE)
        if p == "TIME":
            return (RANK_TIME, v.get("epoch_time", 0))
        if p == "BINARY":
            return (RANK_BINARY, binary_bytes(v))
        if p == "GEOMETRY":
            return (RANK_GEOMETRY, _object_key(v))
        return (RANK_OBJECT, _object_key(v))
    if t is list:
        return (RANK_ARRAY, tuple(sort_key(x) for x in v))
    if t is bool:
        return (RANK_BOOL, v)
    if v is None:
        return (RANK_NULL,)
    if isinstance(v, _Extreme):
        return (v.rank,)
    raise TypeError(f"not a datum: {v!r}")


def _object_key(v: dict) -> tuple:
    return tuple((k, sort_key(v[k])) for k in sorted(v))


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ReQL orders ``a`` and ``b``."""
    ka, kb = sort_key(a), sort_key(b)
    return (ka > kb) - (ka < kb)


def equal(a: Any, b: Any) -> bool:
    """ReQL equality (``r.expr(1).eq(1.0)`` is true, ``True`` is not ``1``)."""
    if type(a) is str and type(b) is str:
        return a == b
    return sort_key(a) == sort_key(b)
