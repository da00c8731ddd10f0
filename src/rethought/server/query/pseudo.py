"""Pseudo-type objects written out in a query (BINARY, GEOMETRY, TIME), checked as RethinkDB
checks them when it reads a literal: the compiler, ``r.json`` and ``r.expr`` share these.
"""

from __future__ import annotations

from ... import datum
from ...errors import ReqlNonExistenceError, ReqlQueryLogicError
from ..runtime import values

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
    for key in v:
        if key not in (datum.REQL_TYPE, "data"):
            raise ReqlQueryLogicError(f"Invalid binary pseudotype: illegal `{key}` key.")
    if "data" not in v:
        raise ReqlQueryLogicError("Invalid binary pseudotype: lacking `data` key.")
    return datum.make_binary(decode_base64(values.as_string(v["data"])))
