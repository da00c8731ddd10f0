"""Datums printed as RethinkDB prints them.

RethinkDB writes JSON with rapidjson: keys in sorted order, integral numbers within 2**53 as
integers, other numbers with rapidjson's Grisu2 digits (``grisu.dtoa``: round-trip, not always
the shortest: ``0.1 + 0.2`` -> ``0.30000000000000007``) laid out by its rules
(``1e20`` -> ``100000000000000000000.0``, ``1e21`` -> ``1e21``, ``1e-7`` -> ``1e-7``).
``dumps`` is the compact form (``coerce_to('string')``, ``to_json_string``); ``pretty`` the
tab-indented form error messages embed (``No attribute `x` in object:\\n{...}``).
"""

from __future__ import annotations

from typing import Any

from ..errors import ReqlQueryLogicError
from . import MAX_EXACT, MAXVAL, MINVAL
from .grisu import dtoa

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def fmt_number(x: int | float) -> str:
    """A number as rapidjson writes it (what ``coerce_to('string')`` returns)."""
    if type(x) is int:
        return str(x)
    if x.is_integer() and abs(x) <= MAX_EXACT and not (x == 0 and str(x)[0] == "-"):
        return str(int(x))
    return _fmt_double(x)


def _fmt_double(x: float) -> str:
    return dtoa(x)


def _fmt_string(s: str) -> str:
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dumps(v: Any) -> str:
    """Compact JSON, as RethinkDB's ``to_json_string`` writes it."""
    t = type(v)
    if v is None:
        return "null"
    if t is bool:
        return "true" if v else "false"
    if t is int or t is float:
        return fmt_number(v)
    if t is str:
        return _fmt_string(v)
    if t is list:
        return "[" + ",".join(dumps(x) for x in v) + "]"
    if t is dict:
        return "{" + ",".join(f"{_fmt_string(k)}:{dumps(v[k])}" for k in sorted(v)) + "}"
    if v is MINVAL or v is MAXVAL:
        # datum_t::write_json: the extremes have no JSON form (nor a printed one).
        raise ReqlQueryLogicError(f"Cannot convert `{v!r}` to JSON.")
    return _fmt_string(repr(v))


def pretty(v: Any, level: int = 0) -> str:
    """Tab-indented JSON, as RethinkDB embeds values in error messages."""
    t = type(v)
    if t is list:
        if not v:
            return "[]"
        pad = "\t" * (level + 1)
        items = ",\n".join(pad + pretty(x, level + 1) for x in v)
        return "[\n" + items + "\n" + "\t" * level + "]"
    if t is dict:
        if not v:
            return "{}"
        pad = "\t" * (level + 1)
        items = ",\n".join(f"{pad}{_fmt_string(k)}:\t{pretty(v[k], level + 1)}" for k in sorted(v))
        return "{\n" + items + "\n" + "\t" * level + "}"
    return dumps(v)


def trunc_pretty(v: Any) -> str:
    """``pretty`` cut to RethinkDB's 300 characters (``...`` at the end)."""
    s = pretty(v)
    return s if len(s) <= 300 else s[:297] + "..."
