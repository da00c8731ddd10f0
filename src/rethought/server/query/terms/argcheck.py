"""Argument checks shared by several term families, with RethinkDB's messages.

Integers are checked by ``values.as_int`` (like RethinkDB's ``datum_t::as_int``, it refuses a
number outside +-2**53: ``Number not an integer (>2^53): ...``); ``integer_below`` adds a C
type's range, and ``bound`` reads the ``left_bound`` / ``right_bound`` optargs of between,
slice and during.
"""

from __future__ import annotations

from typing import Any

from ....datum.jsonfmt import trunc_pretty
from ....errors import ReqlQueryLogicError
from ...runtime import values


def integer_below(v: Any, limit: int) -> int:
    """An integer in ``[-limit, limit)``, as RethinkDB's ``as_int<T>`` checks a C type's
    range: ``Integer too large: ...``."""
    i = values.as_int(v)
    if not -limit <= i < limit:
        raise ReqlQueryLogicError(f"Integer too large: {i}")
    return i


_MISSING = object()


def bound(node: Any, scope: Any, name: str, default_open: bool) -> bool:
    """Whether ``node``'s bound optarg ``name`` (``left_bound`` / ``right_bound``) is open.

    RethinkDB's ``bounded_op_term_t::open_bool``: the term's own optarg, else the query's
    global one, else ``default_open``; it must be a string (``Expected type STRING but found
    NUMBER.``, a given null included), then exactly ``"open"`` or ``"closed"``."""
    v = node.optarg(scope, name, _MISSING)
    if v is _MISSING:
        return default_open
    s = values.as_string(values.to_datum(v))
    if s == "open":
        return True
    if s == "closed":
        return False
    raise ReqlQueryLogicError(
        f"Expected `open` or `closed` for optarg `{name}` (got `{trunc_pretty(s)}`)."
    )
