"""Datums printed as RethinkDB prints them.

RethinkDB writes JSON with rapidjson: keys in sorted order, integral numbers within 2**53 as
integers, other numbers as the shortest round-trip digits laid out by rapidjson's rules
(``1e20`` -> ``100000000000000000000.0``, ``1e21`` -> ``1e21``, ``1e-7`` -> ``1e-7``).
``dumps`` is the compact form (``coerce_to('string')``, ``to_json_string``); ``pretty`` the
tab-indented form error messages embed (``No attribute `x` in object:\\n{...}``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..errors import ReqlQueryLogicError
from . import MAX_EXACT, MAXVAL, MINVAL

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
    if x == 0:
        return "-0.0" if str(x).startswith("-") else "0.0"
    sign = "-" if x < 0 else ""
    dec = Decimal(repr(abs(x))).normalize()
    _, digit_tuple, k = dec.as_tuple()
    digits = "".join(map(str, digit_tuple))
    n = len(digits)
    kk = n + k  # 10**(kk-1) <= |x| < 10**kk
    if 0 <= k and kk <= 21:
        body = digits + "0" * k + ".0"
    elif 0 < kk <= 21:
        body = digits[:kk] + "." + digits[kk:]
    elif -6 < kk <= 0:
        body = "0." + "0" * (-kk) + digits
    elif n == 1:
        body = f"{digits}e{kk - 1}"
    else:
        body = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + body


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
