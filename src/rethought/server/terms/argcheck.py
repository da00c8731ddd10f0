"""RethinkDB's integer argument checks, stricter than ``values.as_int``.

Like RethinkDB's ``as_int``, ``integer`` refuses an integral double beyond +-2**53 (``Number
not an integer (>2^53): ...``); ``values.as_int`` accepts one. Every other argument check is
a ``values.as_*`` function.
"""

from __future__ import annotations

from typing import Any

from ... import datum
from ...errors import ReqlQueryLogicError
from .. import values


def integer(v: Any) -> int:
    """An integral number: ``Number not an integer: 1.5``."""
    if type(v) is float and v.is_integer():
        if v > datum.MAX_EXACT:
            raise ReqlQueryLogicError(f"Number not an integer (>2^53): {fmt_plain(v)}")
        if v < -datum.MAX_EXACT:
            raise ReqlQueryLogicError(f"Number not an integer (<-2^53): {fmt_plain(v)}")
    return values.as_int(v)


def integer_below(v: Any, limit: int) -> int:
    """An integer in ``[-limit, limit)``, as RethinkDB's ``as_int<T>`` checks a C type's
    range: ``Integer too large: ...``."""
    i = integer(v)
    if not -limit <= i < limit:
        raise ReqlQueryLogicError(f"Integer too large: {i}")
    return i


def fmt_plain(x: float) -> str:
    """A number as RethinkDB prints it inside messages (``%g``-like, up to 20 digits)."""
    if type(x) is float and x.is_integer():
        return str(int(x))
    return repr(x)
