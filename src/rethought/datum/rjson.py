"""JSON text read as RethinkDB 2.4 reads it (``r.json``): RapidJSON's in-situ reader with its
default flags, then ``to_datum``.

What that means for users:

- a syntax error is reported with RapidJSON's English text (``GetParseError_En``, without
  the offset), for the first error in document order: ``Missing a comma or ']' after an
  array element.``, ``The document root must not follow by other values.`` (trailing
  garbage), ``Invalid value.`` (``NaN``, ``Infinity``, a bare word), ...;
- numbers are doubles computed by RapidJSON's fast path (``StrtodNormalPrecision``: the
  significand times or divided by a power of ten), not correctly rounded decimal parsing;
  an integer part past 2**64 continues as a double; an exponent over 308 digits is
  ``Number too big to be stored in double.``, a value that overflows is ``Non-finite
  number: inf`` when the datum is built; ``-0`` is the integer 0, ``-0.0`` stays negative;
- duplicate keys are an error (``Duplicate key "a" in JSON.``), found while building the
  datum, after the whole text parsed.

``parse`` returns the document with each object as a :class:`Pairs` list (member order and
duplicates kept) for the datum builder to check. Valid text goes through Python's C JSON
scanner with RapidJSON's number rule hooked in; only failures (and the rare texts the two
readers disagree on) run the reader below, a line-by-line port of RapidJSON's.
"""

from __future__ import annotations

import json
import re
from typing import Any

MESSAGES = {
    "empty": "The document is empty.",
    "root": "The document root must not follow by other values.",
    "value": "Invalid value.",
    "name": "Missing a name for object member.",
    "colon": "Missing a colon after a name of object member.",
    "object": "Missing a comma or '}' after an object member.",
    "array": "Missing a comma or ']' after an array element.",
    "hex": "Incorrect hex digit after \\u escape in string.",
    "surrogate": "The surrogate pair in string is invalid.",
    "escape": "Invalid escape character in string.",
    "quote": "Missing a closing quotation mark in string.",
    "big": "Number too big to be stored in double.",
    "fraction": "Miss fraction part in number.",
    "exponent": "Miss exponent in number.",
}


class ParseError(ValueError):
    """A RapidJSON parse error; ``str()`` is its English text."""

    def __init__(self, code: str) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


class Pairs(list):
    """An object's members as ``(key, value)`` pairs, in document order."""


_POW10 = [float(f"1e{n}") for n in range(309)]  # RapidJSON's Pow10 table (exact literals)
_U64 = 2**64 - 1
_FAST = 2**53 - 1
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_WS = " \n\r\t"
# A \u escape of a high surrogate: Python's scanner accepts one left alone, RapidJSON does not.
_HIGH_SURROGATE = re.compile(r"\\u[dD][89abAB]")


def parse(text: str) -> Any:
    """The JSON document in ``text`` (objects as :class:`Pairs`), or :class:`ParseError`."""
    if not _HIGH_SURROGATE.search(text):
        try:
            return json.loads(
                text,
                object_pairs_hook=Pairs,
                parse_float=_number_text,
                parse_int=_number_text,
                parse_constant=_constant,
            )
        except ParseError:
            raise
        except (ValueError, RecursionError):
            pass  # a syntax error: the reader below names it as RapidJSON does
    return _Reader(text).document()


def _constant(_: str) -> Any:
    raise ParseError("value")  # NaN / Infinity: RapidJSON reads them as a bad number


def _number_text(s: str) -> float:
    value, end = number(s, 0)
    if end != len(s):  # cannot happen for the texts Python's scanner hands over
        raise ParseError("root")
    return value


def _digit(s: str, i: int) -> int:
    c = s[i] if i < len(s) else ""
    return ord(c) - 48 if "0" <= c <= "9" and c != "" else -1


def number(s: str, i: int) -> tuple[float, int]:
    """RapidJSON's ``ParseNumber`` (normal precision) at ``s[i]``: (value, end index)."""
    minus = i < len(s) and s[i] == "-"
    if minus:
        i += 1
    dg = _digit(s, i)
    if dg < 0:
        raise ParseError("value")
    limit = 2**63 if minus else _U64
    i64 = dg
    i += 1
    significant = 0
    use_double = False
    d = 0.0
    if dg != 0:
        while (dg := _digit(s, i)) >= 0:
            if i64 * 10 + dg > limit:
                d = float(i64)
                use_double = True
                break
            i64 = i64 * 10 + dg
            significant += 1
            i += 1
    if use_double:
        while (dg := _digit(s, i)) >= 0:
            if d >= 1.7976931348623157e307:
                raise ParseError("big")
            d = d * 10 + dg
            i += 1
    exp_frac = 0
    if i < len(s) and s[i] == ".":
        i += 1
        if _digit(s, i) < 0:
            raise ParseError("fraction")
        if not use_double:
            while (dg := _digit(s, i)) >= 0 and i64 <= _FAST:
                i64 = i64 * 10 + dg
                exp_frac -= 1
                if i64 != 0:
                    significant += 1
                i += 1
            d = float(i64)
            use_double = True
        while (dg := _digit(s, i)) >= 0:
            if significant < 17:
                d = d * 10.0 + dg
                exp_frac -= 1
                if d != 0.0:
                    significant += 1
            i += 1
    exp = 0
    if i < len(s) and s[i] in "eE":
        if not use_double:
            d = float(i64)
            use_double = True
        i += 1
        exp_minus = False
        if i < len(s) and s[i] in "+-":
            exp_minus = s[i] == "-"
            i += 1
        dg = _digit(s, i)
        if dg < 0:
            raise ParseError("exponent")
        exp = dg
        i += 1
        while (dg := _digit(s, i)) >= 0:
            exp = exp * 10 + dg
            i += 1
            if exp > 308 and not exp_minus:
                raise ParseError("big")
            if exp >= 429496729 and exp_minus:
                while _digit(s, i) >= 0:
                    i += 1
                break
        if exp_minus:
            exp = -exp
    if not use_double:
        return float(-i64 if minus else i64), i
    d = _strtod_normal(d, exp + exp_frac)
    return (-d if minus else d), i


def _fast_path(significand: float, exp: int) -> float:
    if exp < -308:
        return 0.0
    if exp >= 0:
        return significand * _POW10[exp] if exp <= 308 else significand * float("inf")
    return significand / _POW10[-exp]


def _strtod_normal(d: float, p: int) -> float:
    if p < -308:
        return _fast_path(_fast_path(d, -308), p + 308)
    return _fast_path(d, p)


class _Reader:
    """RapidJSON's recursive reader, for error texts and the cases Python's differs on."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else "\0"

    def take(self) -> str:
        c = self.peek()
        self.i += 1
        return c

    def skip_ws(self) -> None:
        s, i, n = self.s, self.i, len(self.s)
        while i < n and s[i] in _WS:
            i += 1
        self.i = i

    def document(self) -> Any:
        self.skip_ws()
        if self.peek() == "\0":
            raise ParseError("empty")
        value = self.value()
        self.skip_ws()
        if self.peek() != "\0":
            raise ParseError("root")
        return value

    def value(self) -> Any:
        c = self.peek()
        if c == "n":
            return self.word("null", None)
        if c == "t":
            return self.word("true", True)
        if c == "f":
            return self.word("false", False)
        if c == '"':
            return self.string()
        if c == "{":
            return self.object()
        if c == "[":
            return self.array()
        value, self.i = number(self.s, self.i)
        return value

    def word(self, w: str, value: Any) -> Any:
        for ch in w:
            if self.take() != ch:
                raise ParseError("value")
        return value

    def object(self) -> Pairs:
        self.take()
        out = Pairs()
        self.skip_ws()
        if self.peek() == "}":
            self.take()
            return out
        while True:
            if self.peek() != '"':
                raise ParseError("name")
            key = self.string()
            self.skip_ws()
            if self.take() != ":":
                raise ParseError("colon")
            self.skip_ws()
            out.append((key, self.value()))
            self.skip_ws()
            c = self.take()
            if c == ",":
                self.skip_ws()
            elif c == "}":
                return out
            else:
                raise ParseError("object")

    def array(self) -> list:
        self.take()
        out: list = []
        self.skip_ws()
        if self.peek() == "]":
            self.take()
            return out
        while True:
            out.append(self.value())
            self.skip_ws()
            c = self.take()
            if c == ",":
                self.skip_ws()
            elif c == "]":
                return out
            else:
                raise ParseError("array")

    def hex4(self) -> int:
        cp = 0
        for _ in range(4):
            c = self.take()
            if c not in "0123456789abcdefABCDEF" or c == "":
                raise ParseError("hex")
            cp = cp * 16 + int(c, 16)
        return cp

    def string(self) -> str:
        self.take()
        out: list[str] = []
        while True:
            c = self.peek()
            if c == "\\":
                self.take()
                e = self.take()
                if e in _ESCAPES:
                    out.append(_ESCAPES[e])
                elif e == "u":
                    cp = self.hex4()
                    if 0xD800 <= cp <= 0xDBFF:
                        if self.take() != "\\" or self.take() != "u":
                            raise ParseError("surrogate")
                        low = self.hex4()
                        if not 0xDC00 <= low <= 0xDFFF:
                            raise ParseError("surrogate")
                        cp = ((cp - 0xD800) << 10 | (low - 0xDC00)) + 0x10000
                    out.append(chr(cp))
                else:
                    raise ParseError("escape")
            elif c == '"':
                self.take()
                return "".join(out)
            elif c == "\0":
                raise ParseError("quote")
            elif c < " ":
                raise ParseError("escape")
            else:
                out.append(self.take())
