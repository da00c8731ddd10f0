"""Plain-data literals: JSON objects in a query that evaluate to themselves.

A query's object literal with no term (a list) anywhere below it and no pseudo-type to
validate is data: it compiles to one ``Datum`` (compile.py) and a shape's document param
is matched by it (shapes.py, shape_bytes.py). Its numbers are made canonical as
``datum.canonical`` does (integers past 2^53 become floats, ``num`` for floats), in place.
"""

from __future__ import annotations

from typing import Any

from ... import datum

_MAX_EXACT = datum.MAX_EXACT
_MIN_EXACT = -datum.MAX_EXACT
_REQL_TYPE, _num = datum.REQL_TYPE, datum.num


def plain_canonical(obj: dict, budget: int) -> bool:
    """Whether ``obj`` is JSON data only, as MAKE_OBJ would evaluate it to itself (no term,
    a list, anywhere; no pseudo-type to validate; nested less than ``budget`` deep), its
    numbers made canonical in place as ``datum.canonical`` does, in the same walk (a walk
    that stops at a term leaves some canonical already, which compiling them as MAKE_OBJ
    values does again)."""
    if budget <= 0 or _REQL_TYPE in obj:
        return False
    for k, v in obj.items():  # only values are replaced: the dict keeps its size
        t = type(v)
        if t is str:
            continue
        if t is int:  # module constants: no attribute load or negation per integer
            if v > _MAX_EXACT or v < _MIN_EXACT:
                obj[k] = float(v)
        elif t is float:
            obj[k] = _num(v)
        elif t is dict:
            if not plain_canonical(v, budget - 1):
                return False
        elif t is list:
            return False
    return True


def is_plain(v: Any) -> bool:
    """Whether ``v`` holds no list at any depth (a term, in a raw query)."""
    t = type(v)
    if t is list:
        return False
    if t is dict:
        return all(is_plain(x) for x in v.values())
    return True


def deep_copy(v: Any) -> Any:
    """``v`` with every list and dict copied (the scalars are immutable)."""
    t = type(v)
    if t is list:
        return [deep_copy(x) for x in v]
    if t is dict:
        return {k: deep_copy(x) for k, x in v.items()}
    return v
