"""Byte-comparable keys: ``encode_key(a) < encode_key(b)`` (memcmp) exactly when ReQL orders
``a`` before ``b`` (see :func:`rethought.datum.sort_key`), so LMDB's B+tree does our sorting.

Layout: one type tag byte, then a type-specific body. Tags follow ReQL's cross-type order
(ARRAY < BOOL < NULL < NUMBER < OBJECT < BINARY < GEOMETRY < TIME < STRING), with ``r.minval``
below and ``r.maxval`` above them all. (A GEOMETRY's ReQL order is not transitive and no
encoding follows it; geometries are never keys, their encoding only round-trips.) Every encoding is self-delimiting (no encoding is a
prefix of another), which is what lets arrays, objects and ``(index value, primary key)``
pairs be plain concatenations.

- numbers and times: IEEE-754 big-endian with the sign bit flipped (negatives fully inverted);
  ``-0.0`` is written as ``0.0`` because ReQL treats them as equal;
- strings and binary: the bytes with ``00`` escaped as ``00 FF``, closed by ``00 00``;
- arrays: the elements, closed by ``00`` (below every tag, so shorter sorts first);
- objects (and GEOMETRY): ``01`` + key + value per key in sorted order, closed by ``00``.

This module also holds RethinkDB's rules for what may be a key, with its exact messages:
:func:`check_primary_key` and :func:`check_index_key`.
"""

from __future__ import annotations

import struct
from typing import Any

from ..errors import ReqlQueryLogicError
from . import MAXVAL, MINVAL, REQL_TYPE, binary_bytes, make_binary, num, type_name
from .jsonfmt import pretty, trunc_pretty

__all__ = [
    "encode_key",
    "decode_key",
    "check_primary_key",
    "check_index_key",
    "encode_primary",
    "encode_index_value",
    "INDEX_VALUE_CAP",
    "MAX_PRIMARY_KEY_SIZE",
]

END = 0x00
T_MINVAL = 0x01
T_ARRAY = 0x10
T_BOOL = 0x20
T_NULL = 0x30
T_NUMBER = 0x40
T_OBJECT = 0x50
T_BINARY = 0x60
T_GEOMETRY = 0x70
T_TIME = 0x80
T_STRING = 0x90
T_MAXVAL = 0xFF

# RethinkDB's limit on the internal serialization of a primary key (the message says 127).
MAX_PRIMARY_KEY_SIZE = 128
# Secondary index values are cut to this many encoded bytes, so that index id (16) + value
# + the longest primary key encoding stays under LMDB's 511-byte key limit.
INDEX_VALUE_CAP = 240
# Longest primary key encoding we accept; RethinkDB's 128-byte rule keeps real keys far below.
MAX_ENCODED_PRIMARY = 511 - 16 - INDEX_VALUE_CAP

_DOUBLE = struct.Struct(">d")
_U64 = struct.Struct(">Q")
_SIGN = 1 << 63
# A positive number's key body is its bits with the sign bit set: the bits of its negation.
_TAGGED_NEG = struct.Struct(">Bd")
_MASK = (1 << 64) - 1
_STR_END = b"\x00\x00"
_BOOLS = {False: bytes((T_BOOL, 0)), True: bytes((T_BOOL, 1))}


def _num_body(x: float) -> bytes:
    if x == 0:
        x = 0.0  # -0.0 == 0.0 in ReQL; give both one encoding
    u = _U64.unpack(_DOUBLE.pack(x))[0]
    return _U64.pack((~u & _MASK) if u & _SIGN else u | _SIGN)


def _escape(b: bytes) -> bytes:
    if b"\x00" in b:
        b = b.replace(b"\x00", b"\x00\xff")
    return b + _STR_END


def _enc_str(s: str) -> bytes:
    return _escape(s.encode("utf-8", "surrogatepass"))


def _encode(v: Any, out: list[bytes]) -> None:
    t = type(v)
    if t is str:
        out.append(b"\x90")
        out.append(_enc_str(v))
    elif t is int or t is float:
        out.append(b"\x40")
        out.append(_num_body(v))
    elif t is bool:
        out.append(_BOOLS[v])
    elif v is None:
        out.append(b"\x30")
    elif t is list:
        out.append(b"\x10")
        for x in v:
            _encode(x, out)
        out.append(b"\x00")
    elif t is dict:
        p = v.get(REQL_TYPE)
        if p == "TIME":
            out.append(b"\x80")
            out.append(_num_body(v.get("epoch_time", 0)))
        elif p == "BINARY":
            out.append(b"\x60")
            out.append(_escape(binary_bytes(v)))
        else:
            out.append(b"\x70" if p == "GEOMETRY" else b"\x50")
            for k in sorted(v):
                out.append(b"\x01")
                out.append(_enc_str(k))
                _encode(v[k], out)
            out.append(b"\x00")
    elif v is MINVAL:
        out.append(b"\x01")
    elif v is MAXVAL:
        out.append(b"\xff")
    else:
        raise TypeError(f"not a datum: {v!r}")


def encode_key(value: Any) -> bytes:
    """Encode any datum (or ``r.minval`` / ``r.maxval``) so byte order is ReQL order."""
    t = type(value)
    # Fast paths for the usual primary keys.
    if t is str:
        return b"\x90" + _enc_str(value)
    if t is int or t is float:
        return b"\x40" + _num_body(value)
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


# -- decoding --------------------------------------------------------------------------------


def _dec_bytes(b: bytes, i: int) -> tuple[bytes, int]:
    parts = []
    while True:
        j = b.index(b"\x00", i)
        parts.append(b[i:j])
        if b[j + 1] == 0xFF:
            parts.append(b"\x00")
            i = j + 2
        else:
            return b"".join(parts), j + 2


def _dec_num(b: bytes, i: int) -> float:
    u = _U64.unpack_from(b, i)[0]
    u = u ^ _SIGN if u & _SIGN else ~u & _MASK
    return _DOUBLE.unpack(_U64.pack(u))[0]


def _decode(b: bytes, i: int) -> tuple[Any, int]:
    tag = b[i]
    i += 1
    if tag == T_STRING:
        raw, i = _dec_bytes(b, i)
        return raw.decode("utf-8", "surrogatepass"), i
    if tag == T_NUMBER:
        return num(_dec_num(b, i)), i + 8
    if tag == T_BOOL:
        return b[i] == 1, i + 1
    if tag == T_NULL:
        return None, i
    if tag == T_ARRAY:
        items = []
        while b[i] != END:
            x, i = _decode(b, i)
            items.append(x)
        return items, i + 1
    if tag == T_TIME:
        t = num(_dec_num(b, i))
        return {REQL_TYPE: "TIME", "epoch_time": t, "timezone": "+00:00"}, i + 8
    if tag == T_BINARY:
        raw, i = _dec_bytes(b, i)
        return make_binary(raw), i
    if tag in (T_OBJECT, T_GEOMETRY):
        obj = {}
        while b[i] != END:
            raw, i = _dec_bytes(b, i + 1)
            obj[raw.decode("utf-8", "surrogatepass")], i = _decode(b, i)
        return obj, i + 1
    if tag == T_MINVAL:
        return MINVAL, i
    if tag == T_MAXVAL:
        return MAXVAL, i
    raise ValueError(f"bad key tag {tag:#x} at {i - 1}")


def decode_key(data: bytes, start: int = 0) -> tuple[Any, int]:
    """Decode one key at ``data[start:]``: ``(value, end offset)``.

    Lossy only for TIME, whose timezone is not part of the key (it comes back as +00:00).
    """
    return _decode(data, start)


# -- what may be a key -----------------------------------------------------------------------


def _quoted_prefix(s: str) -> str:
    """RethinkDB's debug quoting of a string's first 20 bytes."""
    out = ['"']
    for ch in s.encode("utf-8", "surrogatepass")[:20]:
        c = chr(ch)
        if c in '"\\':
            out.append("\\" + c)
        elif c in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[c])
        elif 32 <= ch <= 126:
            out.append(c)
        else:
            out.append(f"\\x{ch:02x}")
    out.append('"')
    return "".join(out)


def _pseudo_check(v: dict, p: str) -> None:
    if p == "GEOMETRY":
        raise ReqlQueryLogicError(
            "Cannot use a geometry value as a key value in a primary or "
            "non-geospatial secondary index."
        )
    raise ReqlQueryLogicError(
        f"Cannot use pseudotype PTYPE<{p}> as a primary or secondary key value ."
    )


def _rdb_num_len(x: float) -> int:
    # "N" + 16 hex digits + "#" + "%.20g" of the value, as RethinkDB serializes numbers.
    return 18 + len("%.20g" % (0.0 if x == 0 else float(x)))


def _key_size(v: Any, primary: bool) -> int:
    """Validate ``v`` as a key and return the size of RethinkDB's own serialization of it
    (the 127-character limit is measured on that, not on our encoding)."""
    t = type(v)
    if t is str:
        if primary and "\x00" in v:
            raise ReqlQueryLogicError(
                f"String {_quoted_prefix(v)} (truncated) contains NULL byte at offset "
                f"{len(v[: v.index(chr(0))].encode('utf-8', 'surrogatepass'))} in index key."
            )
        b = v.encode("utf-8", "surrogatepass")
        return 1 + len(b) + (0 if primary else b.count(b"\x00") + b.count(b"\x01"))
    if t is int or t is float:
        return _rdb_num_len(v)
    if t is bool:
        return 2
    if t is list:
        size = 1
        for x in v:
            if x is MINVAL or x is MAXVAL:
                if not primary:
                    raise ReqlQueryLogicError(
                        "Cannot use `r.minval` or `r.maxval` in an index key."
                    )
                size += 2
                continue
            if x is None or (type(x) is dict and REQL_TYPE not in x):
                raise ReqlQueryLogicError(
                    "Array keys can only contain numbers, strings, bools,  pseudotypes, "
                    f"or arrays (got {pretty(x)} of type {'NULL' if x is None else 'OBJECT'})."
                )
            size += _key_size(x, primary) + 1
        return size
    if t is dict:
        p = v.get(REQL_TYPE)
        if p == "TIME":
            return 6 + _rdb_num_len(v.get("epoch_time", 0))
        if p == "BINARY":
            raw = binary_bytes(v)
            return 8 + len(raw) + raw.count(b"\x00") + raw.count(b"\x01")
        if type(p) is str:
            _pseudo_check(v, p)
    name = type_name(v)
    if primary:
        raise ReqlQueryLogicError(
            "Primary keys must be either a number, string, bool, pseudotype or array "
            f"(got type {name}):\n{trunc_pretty(v)}"
        )
    raise ReqlQueryLogicError(
        "Secondary keys must be a number, string, bool, pseudotype, or array "
        f"(got type {name}):\n{trunc_pretty(v)}"
    )


def check_primary_key(value: Any) -> None:
    """Raise RethinkDB's error if ``value`` cannot be a primary key.

    Allowed: numbers, strings (without NUL), bools, arrays of those, TIME and BINARY, and no
    longer than 127 characters in RethinkDB's serialization.
    """
    if _key_size(value, True) > MAX_PRIMARY_KEY_SIZE:
        raise ReqlQueryLogicError(
            f"Primary key too long (max {MAX_PRIMARY_KEY_SIZE - 1} characters): {pretty(value)}"
        )


def encode_primary(value: Any) -> bytes:
    """Check ``value`` as a primary key and encode it."""
    t = type(value)
    if t is str:
        b = value.encode("utf-8", "surrogatepass")
        if len(b) < MAX_PRIMARY_KEY_SIZE and b"\x00" not in b:  # the common case, checked fast
            return b"\x90" + b + _STR_END
    elif t is int or t is float:
        if value > 0:  # the sign bit set: -value's bits, tag and body in one pack
            return _TAGGED_NEG.pack(T_NUMBER, -value)
        return b"\x40" + _num_body(value)
    check_primary_key(value)
    key = encode_key(value)
    if len(key) > MAX_ENCODED_PRIMARY:  # unreachable for keys RethinkDB accepts; a safety net
        raise ReqlQueryLogicError(
            f"Primary key too long (max {MAX_PRIMARY_KEY_SIZE - 1} characters): {pretty(value)}"
        )
    return key


def check_index_key(value: Any, geo: bool = False) -> None:
    """Raise RethinkDB's error if ``value`` cannot be a secondary index value.

    Like primary keys, but strings may hold NUL, there is no length limit (long values are
    truncated in the index), and a geo index takes GEOMETRY values.
    """
    if geo and type(value) is dict and value.get(REQL_TYPE) == "GEOMETRY":
        return
    _key_size(value, False)


def encode_index_value(value: Any) -> tuple[bytes, bool]:
    """The index-key part for ``value``: its encoding cut to :data:`INDEX_VALUE_CAP` bytes,
    and whether it was cut (truncated entries must be re-checked against the real value)."""
    key = encode_key(value)
    if len(key) > INDEX_VALUE_CAP:
        return key[:INDEX_VALUE_CAP], True
    return key, False
