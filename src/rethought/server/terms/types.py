"""Type terms: COERCE_TO, TYPE_OF, JSON, TO_JSON_STRING, BINARY."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ... import datum
from ...datum.jsonfmt import dumps, trunc_pretty
from ...errors import ReqlQueryLogicError
from ...proto.ql2 import TermType as T
from .. import values
from ..compile import Scope, Term, term
from ..seq import deep_within_limit, materialise, within_limit

_TYPE_NAMES = frozenset(
    {
        "DB", "TABLE", "TABLE_SLICE", "SELECTION<STREAM>", "SELECTION<ARRAY>", "STREAM",
        "SELECTION<OBJECT>", "DATUM", "FUNCTION", "GROUPED_DATA", "NULL", "BINARY", "BOOL",
        "NUMBER", "STRING", "ARRAY", "OBJECT", "MINVAL", "MAXVAL",
    }
)  # fmt: skip
_SEQUENCE_TYPES = ("TABLE", "TABLE_SLICE", "SELECTION<STREAM>", "SELECTION<ARRAY>", "STREAM")
# C's sscanf("%lf") number syntax: decimal or hexadecimal, after optional leading whitespace.
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?")


def _coerce_name(v: Any) -> str:
    """The start type as coerce_to names it (pseudo-types other than BINARY are OBJECT)."""
    if isinstance(v, values.Database):
        return "DB"
    tn = values.type_name(v)
    if tn == "PTYPE<BINARY>":
        return "BINARY"
    if tn.startswith("PTYPE<"):
        return "OBJECT"
    return tn


@term(T.COERCE_TO, arity=(2, 2))
class CoerceTo(Term):
    def eval(self, scope: Scope) -> Any:
        v = self.args[0].run(scope)
        target = self.datum_arg(scope, 1, values.as_string).upper()
        if target not in _TYPE_NAMES:
            raise ReqlQueryLogicError(f"Unknown Type: {target}")
        start = _coerce_name(v)
        if start == target:
            return v
        if start in _SEQUENCE_TYPES or start == "ARRAY":
            if getattr(v, "infinite", False):
                raise values.infinite_error(v)
            if target in ("ARRAY", "DATUM"):
                if type(v) is list:
                    return v
                # RethinkDB gathers the stream in an array builder: the array limit applies.
                return materialise(values.iterate(v), scope.ctx)
            if target == "OBJECT":
                return _pairs_to_object(values.iterate(v))
            if start == "ARRAY":
                return _coerce_datum(v, start, target)
        elif not isinstance(v, (values.Func, values.Grouped, values.Database)):
            if target == "DATUM":
                return values.to_datum(v)
            out = _coerce_datum(values.to_datum(v), start, target)
            return within_limit(out, scope.ctx) if type(out) is list else out
        if target == "BOOL":
            return True
        raise ReqlQueryLogicError(f"Cannot coerce {start} to {target}.")


def _coerce_datum(d: Any, start: str, target: str) -> Any:
    if target == "BOOL":
        return d is not None
    if start == "BINARY" and target == "STRING":
        return datum.binary_bytes(d).decode("utf-8", errors="replace")
    if start == "STRING" and target == "BINARY":
        return datum.make_binary(d.encode("utf-8"))
    if target == "STRING":
        return dumps(d)
    if start == "OBJECT" and target == "ARRAY":
        return [[k, d[k]] for k in sorted(d)]
    if start == "STRING" and target == "NUMBER":
        return _parse_number(d)
    raise ReqlQueryLogicError(f"Cannot coerce {start} to {target}.")


def _parse_number(s: str) -> int | float:
    text = s.lstrip(" \t\n\v\f\r")
    try:
        if _DECIMAL.fullmatch(text):
            x = float(text)
        elif _HEX.fullmatch(text):
            x = _hex_float(text)
        else:
            raise ValueError(s)
    except (ValueError, OverflowError):
        raise ReqlQueryLogicError(f"Could not coerce `{s}` to NUMBER.") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise ReqlQueryLogicError(f"Non-finite number: {x}")
    return datum.num(x)


def _hex_float(text: str) -> float:
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if "p" not in body.lower():
        body += "p0"
    return sign * float.fromhex(body)


def _pairs_to_object(pairs: Any) -> dict:
    out: dict = {}
    for pair in pairs:
        if type(pair) is not list:
            raise values.expected(pair, "ARRAY")
        if len(pair) != 2:
            raise ReqlQueryLogicError(f"Expected array of size 2, but got size {len(pair)}.")
        key = values.as_string(pair[0])
        if key in out:
            raise ReqlQueryLogicError(
                f"Duplicate key {dumps(key)} in coerced object.  "
                f"(got {trunc_pretty(out[key])} and {trunc_pretty(pair[1])} as values)"
            )
        out[key] = pair[1]
    return out


@term(T.TYPE_OF, arity=(1, 1))
class TypeOf(Term):
    def eval(self, scope: Scope) -> str:
        v = self.args[0].run(scope)
        if isinstance(v, values.Database):
            return "DB"
        return values.type_name(v)


@term(T.JSON, arity=(1, 1))
class Json(Term):
    """``r.json(text)``: parse a JSON document into a datum."""

    def eval(self, scope: Scope) -> Any:
        text = self.datum_arg(scope, 0, values.as_string)
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            shown = text if len(text) <= 40 else text[:37] + "..."
            reason = str(e).split(":")[0]
            raise ReqlQueryLogicError(f'Failed to parse "{shown}" as JSON: {reason}.') from None
        return deep_within_limit(datum.canonical(parsed), scope.ctx)


@term(T.TO_JSON_STRING, arity=(1, 1))
class ToJsonString(Term):
    def eval(self, scope: Scope) -> str:
        return dumps(self.datum_arg(scope, 0))


@term(T.BINARY, arity=(1, 1))
class Binary(Term):
    """``r.binary(str)``: the string's UTF-8 bytes; a BINARY passes through."""

    def eval(self, scope: Scope) -> Any:
        v = self.datum_arg(scope, 0)
        if datum.pseudo_type(v) == "BINARY":
            return v
        return datum.make_binary(values.as_string(v).encode("utf-8"))


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


def binary_literal(v: dict) -> dict:
    """A BINARY pseudo-type written out in a query, checked and in canonical base64."""
    for key in v:
        if key not in (datum.REQL_TYPE, "data"):
            raise ReqlQueryLogicError(f"Invalid binary pseudotype: illegal `{key}` key.")
    if "data" not in v:
        raise ReqlQueryLogicError("Invalid binary pseudotype: lacking `data` key.")
    return datum.make_binary(decode_base64(values.as_string(v["data"])))
