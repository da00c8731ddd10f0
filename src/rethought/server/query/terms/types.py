"""Type terms: COERCE_TO, TYPE_OF, BINARY (JSON and TO_JSON_STRING: ``json_text``)."""

from __future__ import annotations

import math
import re
from typing import Any

from .... import datum
from ....datum.jsonfmt import dumps, trunc_pretty
from ....errors import ReqlNonExistenceError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.values import val_kind
from ..compile import Scope, Term, term
from ..seq import materialise, within_limit

# coerce_to's type names (type_manip.cc's coerce_map_t): each a val_t kind, and for datums
# the datum type. A name without a datum type converts from every kind convertible to it.
_KIND_NAMES = {
    "DB": "DATABASE", "TABLE": "TABLE", "TABLE_SLICE": "TABLE_SLICE",
    "SELECTION<STREAM>": "SELECTION", "STREAM": "SEQUENCE", "SELECTION<OBJECT>": "SINGLE_SELECTION",
    "DATUM": "DATUM", "FUNCTION": "FUNCTION", "GROUPED_DATA": "GROUPED_DATA",
}  # fmt: skip
_DATUM_NAMES = frozenset(
    {"NULL", "BINARY", "BOOL", "NUMBER", "STRING", "ARRAY", "OBJECT", "MINVAL", "MAXVAL"}
)
_KIND_START_NAME = {v: k for k, v in _KIND_NAMES.items()}
# val.cc's raw_type_is_convertible: the kinds each kind can be used as.
_CONVERTIBLE = {
    "DATABASE": {"DATABASE"},
    "TABLE": {"TABLE", "TABLE_SLICE", "SELECTION", "SEQUENCE"},
    "TABLE_SLICE": {"TABLE_SLICE", "SELECTION", "SEQUENCE"},
    "SELECTION": {"SELECTION", "SEQUENCE"},
    "SEQUENCE": {"SEQUENCE"},
    "SINGLE_SELECTION": {"SINGLE_SELECTION", "DATUM"},
    "DATUM": {"DATUM", "SEQUENCE"},
    "FUNCTION": {"FUNCTION"},
    "GROUPED_DATA": {"GROUPED_DATA"},
}
# C's sscanf("%lf") number syntax: decimal, hexadecimal, inf / infinity / nan, after optional
# leading whitespace (and nothing after: RethinkDB's "%lf%c" must match one item).
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?\d+)?")
_NONFINITE = re.compile(r"([+-]?)(inf|infinity|nan(\([0-9A-Za-z_]*\))?)", re.IGNORECASE)


def _datum_name(d: Any) -> str:
    """A datum's type as coerce_to names it: pseudo-types other than BINARY are OBJECT."""
    if d is datum.MINVAL or d is datum.MAXVAL:
        return "MINVAL" if d is datum.MINVAL else "MAXVAL"
    tn = datum.type_name(d)
    if tn == "PTYPE<BINARY>":
        return "BINARY"
    return "OBJECT" if tn.startswith("PTYPE<") else tn


@term(T.COERCE_TO, arity=(2, 2))
class CoerceTo(Term):
    """``coerce_to``, cell by cell as type_manip.cc's ``coerce_term_t``."""

    def eval(self, scope: Scope) -> Any:
        v = self.args[0].run(scope)
        kind = val_kind(v)
        is_datum = kind in ("DATUM", "SINGLE_SELECTION")
        d = values.to_datum(v) if is_datum else None
        if is_datum:  # RethinkDB names a datum (and a get()) by its datum type
            start = _datum_name(d)
        else:
            start = _KIND_START_NAME[kind]
        target = self.datum_arg(scope, 1, values.as_string).upper()
        if target in _KIND_NAMES:
            if _KIND_NAMES[target] in _CONVERTIBLE[kind]:
                return v  # identity: a table is already a stream, a datum already a DATUM
        elif target not in _DATUM_NAMES and target != "SELECTION<ARRAY>":
            raise ReqlQueryLogicError(f"Unknown Type: {target}")
        if start == target:
            return v
        if target == "BOOL":
            return start != "NULL"
        if is_datum:
            out = _coerce_datum(d, start, target)
            if out is not _NO:
                return within_limit(out, scope.ctx) if type(out) is list else out
        if "SEQUENCE" in _CONVERTIBLE[kind] and (not is_datum or start == "ARRAY"):
            if getattr(v, "infinite", False):
                raise values.infinite_error(v)
            if target in ("ARRAY", "DATUM"):
                if type(v) is list:
                    return v
                # RethinkDB gathers the stream in an array builder: the array limit applies.
                return materialise(values.iterate(v), scope.ctx)
            if target == "OBJECT":
                return _pairs_to_object(values.iterate(v))
        cls = ReqlNonExistenceError if start == "NULL" else ReqlQueryLogicError
        # rfail_typed_target(val, ...): the value's own term is blamed
        raise cls(f"Cannot coerce {start} to {target}.", frames=list(self.args[0].frames))


_NO = object()  # _coerce_datum: no datum-to-datum rule applies


def _coerce_datum(d: Any, start: str, target: str) -> Any:
    if start == "BINARY" and target == "STRING":
        return utf8_decode(datum.binary_bytes(d))
    if start == "STRING" and target == "BINARY":
        return datum.make_binary(d.encode("utf-8"))
    if target == "STRING":
        return dumps(d)  # minval / maxval: "Cannot convert `r.minval` to JSON."
    if start == "OBJECT" and target == "ARRAY":
        return [[k, d[k]] for k in sorted(d)]
    if start == "STRING" and target == "NUMBER":
        return _parse_number(d)
    return _NO


def _parse_number(s: str) -> int | float:
    text = s.lstrip(" \t\n\v\f\r")
    try:
        if _DECIMAL.fullmatch(text):
            x = float(text)
        elif _HEX.fullmatch(text):
            x = _hex_float(text)
        elif m := _NONFINITE.fullmatch(text):
            x = float(("-" if m.group(1) == "-" else "") + m.group(2)[:3])
        else:
            raise ValueError(s)
    except (ValueError, OverflowError):
        raise ReqlQueryLogicError(f"Could not coerce `{s}` to NUMBER.") from None
    return datum.num(finite(x))


def finite(x: float) -> float:
    """``x``, or RethinkDB's ``datum_t(double)`` error (printed as C's ``%.20g``)."""
    if x != x or x in (math.inf, -math.inf):
        sign = "-" if math.copysign(1.0, x) < 0 else ""
        raise ReqlQueryLogicError(f"Non-finite number: {sign}{'nan' if x != x else 'inf'}")
    return x


def _hex_float(text: str) -> float:
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if "p" not in body.lower():
        body += "p0"
    return sign * float.fromhex(body)


def utf8_decode(raw: bytes) -> str:
    """``raw`` as a string, or RethinkDB's UTF-8 error (utf8.cc's ``next_codepoint``)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    i = 0
    n = len(raw)
    while i < n:
        b = raw[i]
        size, low = (1, 0) if b < 0x80 else (2, 0x80) if b >> 5 == 6 else (3, 0x800) if b >> 4 == 14 else (4, 0x10000) if b >> 3 == 30 else (0, 0)  # noqa: E501
        if size == 0:
            _utf8_fail(raw, i, "Invalid initial byte seen")
        cp = b & (0x7F >> size) if size > 1 else b
        for j in range(1, size):
            if i + j >= n:
                _utf8_fail(raw, i + j - 1, "Expected continuation byte, saw end of string")
            if raw[i + j] >> 6 != 2:
                _utf8_fail(raw, i + j - 1, "Expected continuation byte, saw something else")
            cp = (cp << 6) | (raw[i + j] & 0x3F)
        if cp < low:
            _utf8_fail(raw, i + size - 1, "Overlong encoding seen")
        if cp > 0x10FFFF:
            _utf8_fail(raw, i + size - 1, "Non-Unicode character encoded (beyond U+10FFFF)")
        i += size
    # Only surrogates encoded in three bytes are left: RethinkDB's check lets them through.
    return raw.decode("utf-8", errors="surrogatepass")


def _utf8_fail(raw: bytes, position: int, why: str) -> None:
    shown = raw[: min(position, 20)].decode("utf-8", errors="replace")
    raise ReqlQueryLogicError(
        f"String `{shown}` (truncated) is not a UTF-8 string; {why} at position {position}."
    )


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


@term(T.BINARY, arity=(1, 1))
class Binary(Term):
    """``r.binary(str)``: the string's UTF-8 bytes; a BINARY passes through."""

    def eval(self, scope: Scope) -> Any:
        v = self.datum_arg(scope, 0)
        if datum.pseudo_type(v) == "BINARY":
            return v
        return datum.make_binary(values.as_string(v).encode("utf-8"))
