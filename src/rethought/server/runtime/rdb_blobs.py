"""RethinkDB 2.4's binary forms of stored functions: the ``function`` of ``index_status()``
and of ``get_write_hook()``, which ``index_create(name, blob)`` / ``set_write_hook(blob)``
take back. ``rethinkdb dump`` saves these blobs and ``restore`` hands them over, so speaking
RethinkDB's form lets a dump move between Rethought and a RethinkDB cluster both ways.

The layout, from RethinkDB 2.4.4 (all integers little-endian):

- index (``sindex_config_to_string``, terms/sindex.cc): ``$reql_index_function$``, then
  ``serialize_sindex_info`` (btree.cc): int8 cluster version (9 = v2_4), three int8 ReQL
  versions (original, latest compatible, latest checked; 7 = v2_4), the function, int8
  multi, int8 geo;
- write hook (write_hook.cc): ``$reql_write_hook_function$``, then the function;
- function (``wire_func_t``, wire_func.cc): int8 type (0 = ReQL, 1 = JS); for ReQL the captured
  scope (varint count of variables, each a sym and a datum; uint32 implicit depth, and when it
  is 1 a bool and maybe a datum), the argument names (varint count, int64 each), the body
  (``serialize_term_tree``, term_storage.cc: int32 size, then that many bytes: the body's JSON
  and a NUL), a uint32 backtrace id; for JS an int32-sized source string and a uint64 timeout
  (never an index or hook function: they must be deterministic).

The body's JSON is the wire term with RethinkDB's preprocessing (term_walker.cc): every term is
an array ending in its backtrace id, a bare datum is ``[1, datum, bt]`` and an object literal
``[3, {...}, bt]``. Our own stored form is the wire JSON of the FUNC term
(``[69, [[2, [ids]], body]]``). Blobs of earlier Rethought versions (JSON) are read too.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from ...errors import ReqlInternalError, ReqlQueryLogicError

CLUSTER_V2_4 = 9
REQL_V2_4 = 7
FUNC_REQL = 0
HOOK_PREFIX = b"$reql_write_hook_function$"
INDEX_PREFIX = b"$reql_index_function$"
_T_DATUM, _T_MAKE_ARRAY, _T_MAKE_OBJ, _T_FUNC = 1, 2, 3, 69
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")


class BlobError(ReqlQueryLogicError):
    """A blob that is not a function RethinkDB 2.2-2.4 (or Rethought) serialized."""


# -- the term tree -------------------------------------------------------------------------


def _to_stored(term: Any) -> Any:
    """Our wire JSON -> RethinkDB's preprocessed form (backtrace id 0 everywhere)."""
    if isinstance(term, dict):
        return [_T_MAKE_OBJ, {k: _to_stored(v) for k, v in term.items()}, 0]
    if not isinstance(term, list):
        return [_T_DATUM, term, 0]
    tt = term[0]
    args = term[1] if len(term) > 1 else []
    optargs = term[2] if len(term) > 2 else {}
    if tt == _T_DATUM:
        return [_T_DATUM, args[0], 0]
    out: list[Any] = [tt, [_to_stored(a) for a in args]]
    if optargs:
        out.append({k: _to_stored(v) for k, v in optargs.items()})
    out.append(0)
    return out


def _from_stored(term: Any) -> Any:
    """RethinkDB's preprocessed form -> our wire JSON."""
    if not isinstance(term, list) or len(term) < 2 or not isinstance(term[0], int):
        raise BlobError("Malformed term in a stored function.")
    tt, body = term[0], term[1:-1]  # the last element is the backtrace id
    if tt == _T_DATUM:
        (v,) = body
        return [_T_DATUM, [v]] if isinstance(v, (list, dict)) else v
    args: list[Any] = []
    optargs: dict[str, Any] = {}
    for part in body:
        if isinstance(part, list):
            args = [_from_stored(a) for a in part]
        elif isinstance(part, dict):
            optargs = {k: _from_stored(v) for k, v in part.items()}
    if tt == _T_MAKE_OBJ and not args:
        return optargs
    return [tt, args, optargs] if optargs else [tt, args]


# -- wire_func_t --------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise BlobError("Truncated function blob.")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int8(self) -> int:
        return self.take(1)[0]

    def unpack(self, s: struct.Struct) -> int:
        value: int = s.unpack(self.take(s.size))[0]
        return value

    def varint(self) -> int:
        n = shift = 0
        while True:
            b = self.int8()
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7


def _param_ids(params: Any) -> list[int]:
    """The variable ids of a FUNC's parameter list: ``[2, [ids]]`` or ``[1, [[ids]]]``."""
    if isinstance(params, list) and params and isinstance(params[0], int):
        if params[0] == _T_MAKE_ARRAY and len(params) > 1:
            return [int(i) for i in params[1]]
        if params[0] == _T_DATUM and len(params) > 1:
            return [int(i) for i in params[1][0]]
    raise BlobError("Malformed function parameters.")


def encode_func(function: Any) -> bytes:
    """RethinkDB's serialization of a ReQL function, from our wire FUNC JSON."""
    tt, (params, body) = function[0], function[1]
    if tt != _T_FUNC:
        raise BlobError("Only functions can be stored.")
    ids = _param_ids(params)
    text = orjson.dumps(_to_stored(body)) + b"\0"
    return b"".join(
        [
            bytes([FUNC_REQL]),
            _varint(0),  # no captured variables
            _U32.pack(0),  # implicit depth
            _varint(len(ids)),
            *(_I64.pack(int(i)) for i in ids),
            _I32.pack(len(text)),
            text,
            _U32.pack(0),  # backtrace id
        ]
    )


def _decode_func(r: _Reader) -> Any:
    if r.int8() != FUNC_REQL:
        raise BlobError("A JavaScript function cannot be an index or write hook function.")
    if r.varint() != 0:
        raise BlobError("Stored functions that capture variables are not supported.")
    if r.unpack(_U32) == 1 and r.int8() != 0:
        raise BlobError("Stored functions that capture variables are not supported.")
    ids = [r.unpack(_I64) for _ in range(r.varint())]
    size = r.unpack(_I32)
    text = r.take(size).rstrip(b"\0")
    r.unpack(_U32)  # backtrace id
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BlobError("Malformed term in a stored function.") from None
    return [_T_FUNC, [[_T_MAKE_ARRAY, ids], _from_stored(body)]]


# -- index and write hook blobs -----------------------------------------------------------


def encode_index(function: Any, multi: bool, geo: bool) -> bytes:
    """The ``function`` binary of ``index_status()`` as RethinkDB 2.4 writes it."""
    head = INDEX_PREFIX + bytes([CLUSTER_V2_4, REQL_V2_4, REQL_V2_4, REQL_V2_4])
    return head + encode_func(function) + bytes([int(multi), int(geo)])


def decode_index(blob: bytes) -> tuple[Any, bool, bool]:
    """(wire FUNC JSON, multi, geo) of an ``index_status()`` function blob, from RethinkDB
    2.2-2.4 or from Rethought (whose earlier versions stored JSON)."""
    if blob[:1] == b"{":
        try:
            config = orjson.loads(blob)
            return config["function"], bool(config["multi"]), bool(config["geo"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
    if not blob.startswith(INDEX_PREFIX):
        raise ReqlQueryLogicError(
            "Cannot create an sindex except from a reql_index_function returned from "
            "`index_status` in the field `function`."
        )
    r = _Reader(blob, len(INDEX_PREFIX))
    try:
        version = r.int8()
    except BlobError:
        version = -1
    if not 7 <= version <= CLUSTER_V2_4:  # 2.2 .. 2.4: the JSON term format
        # deserialize_sindex_info's wording (an INTERNAL error there) for a version it, or
        # here the term format, cannot read.
        raise ReqlInternalError(
            "Unrecognized secondary index version, secondary index not created."
        )
    try:
        for _ in range(3):
            if not 2 <= r.int8() <= REQL_V2_4:
                raise BlobError("Deserialization of reql_version failed.")
        function = _decode_func(r)
        multi, geo = r.int8(), r.int8()
    except BlobError as e:
        raise BlobError(
            "Binary blob passed to index create could not be interpreted as a "
            f"reql_index_function ({e.message})."
        ) from None
    return function, bool(multi), bool(geo)


def encode_hook(function: Any) -> bytes:
    """The ``function`` binary of ``get_write_hook()`` as RethinkDB 2.4 writes it."""
    return HOOK_PREFIX + encode_func(function)


def decode_hook(blob: bytes) -> Any:
    """The wire FUNC JSON of a ``get_write_hook()`` blob (RethinkDB's, or Rethought's JSON);
    the caller has checked the prefix."""
    rest = blob[len(HOOK_PREFIX) :]
    if rest[:1] == b"[":
        try:
            return orjson.loads(rest)
        except orjson.JSONDecodeError:
            pass
    return _decode_func(_Reader(rest))
