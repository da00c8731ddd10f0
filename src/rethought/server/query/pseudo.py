"""Pseudo-type objects written out in a query (BINARY, GEOMETRY, TIME), checked as RethinkDB
checks them when it reads a literal: the compiler, ``r.json`` and ``r.expr`` share these.

:func:`sanitize_ptype` is ``datum_t::maybe_sanitize_ptype`` (datum.cc): every object that
becomes a datum with a ``$reql_type$`` key passes it, whether it came as a literal, a DATUM
term, an evaluated MAKE_OBJ or ``r.json`` text.
"""

from __future__ import annotations

from typing import Any

from ... import datum
from ...datum.jsonfmt import trunc_pretty
from ...errors import ReqlNonExistenceError, ReqlQueryLogicError
from ..runtime import values
from ..runtime.times_calc import sanitize_time

STRAY_LITERAL = (
    "Stray literal keyword found: literal is only legal inside of the object passed to merge "
    "or update and cannot nest inside other literals."
)

_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {ch: i for i, ch in enumerate(_B64_ALPHABET)}
_B64_SPACE = "\r\n \t"


def decode_base64(text: str) -> bytes:
    """Base64 as RethinkDB decodes it, with its errors (whitespace is skipped, ``=`` ends
    the data, a lone trailing character cannot make a byte)."""
    out = bytearray()
    acc = n = 0
    end = len(text)
    for i, ch in enumerate(text):
        if ch == "=":
            end = i
            break
        if ch in _B64_SPACE:
            continue
        value = _B64_VALUE.get(ch)
        if value is None:
            raise ReqlQueryLogicError(f"Invalid base64 character found: '{ch}'.")
        acc = (acc << 6) | value
        n += 1
        if n % 4 == 0:
            out += acc.to_bytes(3, "big")
            acc = 0
    rest = n % 4
    if rest == 1:
        raise ReqlQueryLogicError(
            "Invalid base64 length: 1 character remaining, cannot decode a full byte."
        )
    if rest:
        out += (acc << (6 * (4 - rest))).to_bytes(3, "big")[: rest - 1]
    if any(ch != "=" and ch not in _B64_SPACE for ch in text[end:]):
        raise ReqlQueryLogicError("Invalid base64 format, data found after padding character '='.")
    return bytes(out)


def sanitize_geometry(obj: dict) -> dict:
    """RethinkDB's structural check of a GEOMETRY object sent by a client (the shape itself
    is validated where geometry is used)."""
    for name in sorted(obj):  # RethinkDB objects iterate in key order
        v = obj[name]
        if name == "coordinates":
            if type(v) is not list:
                raise values.expected(v, "ARRAY")
        elif name == "type":
            if type(v) is not str:
                raise values.expected(v, "STRING")
        elif name not in ("crs", datum.REQL_TYPE):
            raise ReqlQueryLogicError(f"Unrecognized field `{name}` found in geometry object.")
    for name in ("type", "coordinates"):
        if name not in obj:
            raise ReqlNonExistenceError(f"Field `{name}` not found in geometry object.")
    return obj


def binary_literal(v: dict) -> dict:
    """A BINARY pseudo-type written out in a query, checked and in canonical base64."""
    for key in sorted(v):  # RethinkDB objects iterate in key order
        if key not in (datum.REQL_TYPE, "data"):
            raise ReqlQueryLogicError(f"Invalid binary pseudotype: illegal `{key}` key.")
    if "data" not in v:
        raise ReqlQueryLogicError("Invalid binary pseudotype: lacking `data` key.")
    return datum.make_binary(decode_base64(values.as_string(v["data"])))


def sanitize_ptype(obj: dict, literal_ok: bool = False) -> dict:
    """``obj`` (which has a ``$reql_type$`` key) checked as RethinkDB checks a pseudo-type
    datum: TIME rounded and validated, GEOMETRY's fields, BINARY decoded, LITERAL only where
    ``literal_ok`` (``r.json``: pseudo_literal.cc's key check), any other kind refused."""
    kind = obj[datum.REQL_TYPE]
    if type(kind) is not str:
        raise ReqlQueryLogicError(
            f"Error: Field `{datum.REQL_TYPE}` must be a string (got `{trunc_pretty(kind)}` of "
            f"type {datum.type_name(kind)}):\n{trunc_pretty(obj)}"
        )
    if kind == "TIME":
        return sanitize_time(obj)
    if kind == "GEOMETRY":
        return sanitize_geometry(obj)
    if kind == "BINARY":
        return binary_literal(obj)
    if kind == "LITERAL":
        if not literal_ok:
            raise ReqlQueryLogicError(STRAY_LITERAL)
        for key in sorted(obj):
            if key != datum.REQL_TYPE and key != "value":
                raise ReqlQueryLogicError(f"Invalid literal term with illegal key `{key}`.")
        return obj
    raise ReqlQueryLogicError(f"Unknown $reql_type$ `PTYPE<{kind}>`.")


def sanitize_deep(v: Any) -> Any:
    """Every pseudo-type inside JSON data checked (inner objects first, as a datum is built
    from the leaves up); other values as they are."""
    t = type(v)
    if t is dict:
        if any(type(x) is dict or type(x) is list for x in v.values()):
            v = {k: sanitize_deep(x) for k, x in v.items()}
        return sanitize_ptype(v) if datum.REQL_TYPE in v else v
    if t is list:
        return [sanitize_deep(x) for x in v]
    return v
