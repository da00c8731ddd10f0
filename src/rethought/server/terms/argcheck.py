"""Argument checks shared by the basic term families, with RethinkDB's messages.

They differ from ``values.as_*`` in one RethinkDB rule: a NULL where a value was expected is
a *non-existence* error (``ReqlNonExistenceError``), so ``default`` can catch it
(``(r.expr(null) + 5).default(2)`` is 2).
"""

from __future__ import annotations

from typing import Any

from ... import datum
from ...errors import ReqlNonExistenceError, ReqlQueryLogicError
from .. import values


def expected(v: Any, want: str) -> ReqlQueryLogicError:
    """``Expected type WANT but found TYPE.``, a non-existence error when ``v`` is NULL."""
    cls = ReqlNonExistenceError if v is None else ReqlQueryLogicError
    return cls(f"Expected type {want} but found {values.type_name(v)}.")


def number(v: Any) -> int | float:
    t = type(v)
    if t is int or t is float:
        return v
    raise expected(v, "NUMBER")


def integer(v: Any) -> int:
    """An integral number: ``Number not an integer: 1.5``."""
    t = type(v)
    if t is int:
        return v
    if t is float:
        if v.is_integer():
            if v > datum.MAX_EXACT:
                raise ReqlQueryLogicError(f"Number not an integer (>2^53): {fmt_plain(v)}")
            if v < -datum.MAX_EXACT:
                raise ReqlQueryLogicError(f"Number not an integer (<-2^53): {fmt_plain(v)}")
            return int(v)
        raise ReqlQueryLogicError(f"Number not an integer: {fmt_plain(v)}")
    raise expected(v, "NUMBER")


def string(v: Any) -> str:
    if type(v) is str:
        return v
    raise expected(v, "STRING")


def boolean(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise expected(v, "BOOL")


def array(v: Any) -> list:
    """A datum array; a finite sequence is materialised."""
    if type(v) is list:
        return v
    if isinstance(v, values.Sequence):
        return values.materialize(v)
    raise expected(v, "ARRAY")


def obj(v: Any) -> dict:
    """A plain object (a pseudo-type such as TIME is not one)."""
    if isinstance(v, values.SingleSelection):
        v = v.row
    if type(v) is dict and datum.REQL_TYPE not in v:
        return v
    raise expected(v, "OBJECT")


def truthy(v: Any) -> bool:
    """ReQL truth: only ``false`` and ``null`` are false."""
    return not (v is None or v is False)


def fmt_plain(x: float) -> str:
    """A number as RethinkDB prints it inside messages (``%g``-like, up to 20 digits)."""
    if type(x) is float and x.is_integer():
        return str(int(x))
    return repr(x)
