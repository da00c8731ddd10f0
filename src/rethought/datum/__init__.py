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
    if t is dict or t is list:
        return _deep_key(v, {})
    if t is bool:
        return (RANK_BOOL, v)
    if v is None:
        return (RANK_NULL,)
    if isinstance(v, _Extreme):
        return (v.rank,)
    raise TypeError(f"not a datum: {v!r}")


def _deep_key(v: Any, memo: dict[int, tuple]) -> tuple:
    """The key of a container, one tuple per distinct container object (``memo``: id -> key).

    A query can build a value that shares sub-values (``fold`` with ``[acc, acc]`` doubles it
    at every step), so its tree can be exponentially larger than its memory; one key per
    object keeps the key as small as the value, and a shared sub-value shares one tuple,
    which Python's tuple comparison skips by identity.
    """
    t = type(v)
    if t is str:
        return (RANK_STRING, v)
    if t is int or t is float:
        return (RANK_NUMBER, v)
    if t is list:
        k = memo.get(id(v))
        if k is None:
            k = memo[id(v)] = (RANK_ARRAY, tuple([_deep_key(x, memo) for x in v]))
        return k
    if t is dict:
        p = v.get(REQL_TYPE)
        if p == "TIME":
            return (RANK_TIME, v.get("epoch_time", 0))
        if p == "BINARY":
            return (RANK_BINARY, binary_bytes(v))
        k = memo.get(id(v))
        if k is None:
            rank = RANK_GEOMETRY if p == "GEOMETRY" else RANK_OBJECT
            k = memo[id(v)] = (rank, tuple([(f, _deep_key(v[f], memo)) for f in sorted(v)]))
        return k
    return sort_key(v)


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1 as ReQL orders ``a`` and ``b``.

    Two containers are compared walking both, once per pair of sub-values (a memo of pairs):
    values that share sub-values (``fold`` with ``[acc, acc]``) compare in time linear in
    their size in memory, not in their exponentially larger trees; otherwise it is the
    order of the sort keys.
    """
    if a is b:
        return 0
    if _is_container(a) and _is_container(b):
        return _compare_deep(a, b, {})
    ka, kb = sort_key(a), sort_key(b)
    return (ka > kb) - (ka < kb)


def _is_container(v: Any) -> bool:
    """A list, or an object compared field by field (not a TIME or a BINARY)."""
    t = type(v)
    return t is list or (t is dict and v.get(REQL_TYPE) not in ("TIME", "BINARY"))


def _compare_deep(a: Any, b: Any, memo: dict[tuple[int, int], int]) -> int:
    if a is b:
        return 0
    if not (_is_container(a) and _is_container(b)):
        ka, kb = sort_key(a), sort_key(b)
        return (ka > kb) - (ka < kb)
    pair = (id(a), id(b))
    c = memo.get(pair)
    if c is not None:
        return c
    ta, tb = type(a), type(b)
    c = 0
    if ta is not tb:  # an array against an object: the type order decides
        c = -1 if ta is list else 1
    elif ta is list:
        for x, y in zip(a, b, strict=False):
            c = _compare_deep(x, y, memo)
            if c:
                break
        else:
            c = (len(a) > len(b)) - (len(a) < len(b))
    else:  # objects (GEOMETRY too): key by key in sorted order, the key before its value
        for fa, fb in zip(sorted(a), sorted(b), strict=False):
            c = (fa > fb) - (fa < fb) or _compare_deep(a[fa], b[fb], memo)
            if c:
                break
        else:
            c = (len(a) > len(b)) - (len(a) < len(b))
    memo[pair] = c
    return c


def equal(a: Any, b: Any) -> bool:
    """ReQL equality (``r.expr(1).eq(1.0)`` is true, ``True`` is not ``1``)."""
    if type(a) is str and type(b) is str:
        return a == b
    if a is b:
        return True
    if _is_container(a) and _is_container(b):
        return _compare_deep(a, b, {}) == 0
    return sort_key(a) == sort_key(b)
