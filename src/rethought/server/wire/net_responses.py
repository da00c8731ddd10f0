"""Response frames and stream batching, as RethinkDB 2.4 sends them.

A response frame is the query's 8-byte little-endian token, a 4-byte length and a JSON object
``{"t": type, "r": [...], "e": error type, "b": backtrace, "p": profile, "n": notes}``; "e" only
for RUNTIME_ERROR, "n" only for SUCCESS_PARTIAL / SUCCESS_SEQUENCE (RethinkDB's json.cc).

Rows are encoded once each, while a batch is filled: the encoded size is what the batch size
limit counts, and the frame is assembled by joining the pieces.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import orjson

from ... import datum
from ...errors import ReqlError, ReqlQueryLogicError, response_codes_for
from ...proto.ql2 import ErrorType, ResponseType
from ..runtime import values

#: A frame's head, in both directions: the query's token and the JSON payload's length.
HEADER = struct.Struct("<qI")

# RethinkDB's batching defaults (rdb_protocol/batching.cc).
DEFAULT_MIN_ROWS = 1
DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_SECONDS = 0.5
DEFAULT_FIRST_SCALEDOWN = 4
_MAX_BATCH_SECONDS = 60 * 60 * 24
_UNLIMITED = 2**63 - 1


_OPENINGS = {t: b'{"t":%d,"r":[' % t for t in ResponseType}
_WITH_NOTES = frozenset({ResponseType.SUCCESS_PARTIAL, ResponseType.SUCCESS_SEQUENCE})


def frame(token: int, payload: bytes) -> bytes:
    return HEADER.pack(token, len(payload)) + payload


def response(
    token: int,
    rtype: int,
    encoded_rows: list[bytes],
    *,
    notes: list[int] | None = None,
    profile: Any = None,
) -> bytes:
    """A success frame whose rows are already JSON-encoded."""
    parts = [_OPENINGS[rtype], b",".join(encoded_rows), b"]"]
    if profile is not None:
        parts += [b',"p":', orjson.dumps(profile)]
    if rtype in _WITH_NOTES:
        parts += [b',"n":', orjson.dumps(notes or [])]
    parts.append(b"}")
    return frame(token, b"".join(parts))


_ATOM_OPENING = _OPENINGS[ResponseType.SUCCESS_ATOM]
_pack_header = HEADER.pack


def atom(token: int, value: Any) -> bytes:
    """A SUCCESS_ATOM frame of one datum (``response`` for the commonest answer)."""
    try:  # ``dumps``, inline: the commonest answer
        data = orjson.dumps(value, default=_unencodable)
    except orjson.JSONEncodeError:
        data = dumps(value)  # raises as ``dumps`` does
    body = b"".join((_ATOM_OPENING, data, b"]}"))
    return _pack_header(token, len(body)) + body


def _unencodable(value: Any) -> Any:
    # r.minval / r.maxval are datums only inside a query (between bounds); RethinkDB refuses
    # to send them back (datum_t::write_json).
    if value is datum.MINVAL or value is datum.MAXVAL:
        raise ReqlQueryLogicError(f"Cannot convert `r.{value.name}` to JSON.")
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """A datum as JSON, with RethinkDB's error for values that have no JSON form."""
    try:
        return orjson.dumps(value, default=_unencodable)
    except orjson.JSONEncodeError as e:
        if isinstance(e.__cause__, ReqlError):
            raise e.__cause__ from None
        raise


def error(
    token: int,
    rtype: int,
    message: str,
    etype: int | None = None,
    backtrace: list | None = None,
) -> bytes:
    body: dict[str, Any] = {"t": int(rtype)}
    if rtype == ResponseType.RUNTIME_ERROR and etype is not None:
        body["e"] = int(etype)
    body["r"] = [message]
    body["b"] = backtrace or []
    return frame(token, orjson.dumps(body))


def client_error(token: int, message: str) -> bytes:
    return error(token, ResponseType.CLIENT_ERROR, message)


def from_exception(token: int, err: ReqlError) -> bytes:
    rtype, etype = response_codes_for(err)
    return error(token, rtype, err.message, etype, list(err.frames or []))


def internal_error(token: int, exc: BaseException) -> bytes:
    return error(
        token, ResponseType.RUNTIME_ERROR, f"Unexpected exception: {exc}", ErrorType.INTERNAL
    )


def encode_row(row: Any) -> bytes:
    """One row of a stream as JSON; non-datum values (a nested selection) are forced first."""
    t = type(row)
    if t is not dict and t is not list and t is not str and t is not int and t is not float:
        if row is not None and t is not bool:
            row = values.to_datum(row)
    # Copied to its own size: orjson's bytes keep their ~4 KiB buffer (orjson 3.13: 4,097
    # bytes held for `1`), and rows wait in batches and cursors (a get_all cut by time under
    # overload held ~0.8 MB for 200 rows until its cursor closed).
    return memoryview(dumps(row)).tobytes()


_BATCH_OPTARGS = frozenset(
    {
        "min_batch_rows",
        "max_batch_rows",
        "max_batch_bytes",
        "max_batch_seconds",
        "first_batch_scaledown_factor",
    }
)


class BatchSpec:
    """Batch limits from a query's global optargs (``run(max_batch_rows=...)`` etc.)."""

    __slots__ = ("min_rows", "max_rows", "max_bytes", "max_seconds", "scaledown")

    @classmethod
    def of(cls, optargs: dict[str, Any]) -> BatchSpec:
        """The spec of a query's optargs; most give none of them and share the default one."""
        if _BATCH_OPTARGS.isdisjoint(optargs):
            return _DEFAULT_SPEC
        return cls(optargs)

    def __init__(self, optargs: dict[str, Any]) -> None:
        self.max_rows = _int_optarg(optargs, "max_batch_rows", _UNLIMITED)
        self.min_rows = min(_int_optarg(optargs, "min_batch_rows", DEFAULT_MIN_ROWS), self.max_rows)
        self.max_bytes = _int_optarg(optargs, "max_batch_bytes", DEFAULT_MAX_BYTES)
        self.scaledown = max(
            1, _int_optarg(optargs, "first_batch_scaledown_factor", DEFAULT_FIRST_SCALEDOWN)
        )
        seconds = values.as_number(optargs.get("max_batch_seconds", DEFAULT_MAX_SECONDS))
        if seconds >= _MAX_BATCH_SECONDS:
            raise ReqlQueryLogicError(
                f"max_batch_seconds is too large (got `{seconds:.20g}`, "
                f"must be less than {_MAX_BATCH_SECONDS})."
            )
        if seconds < 0:
            raise ReqlQueryLogicError(f"max_batch_seconds must be positive (got `{seconds:.20g}`).")
        self.max_seconds = float(seconds)
        self.max_rows = max(1, self.max_rows)
        self.min_rows = max(1, self.min_rows)
        self.max_bytes = max(1, self.max_bytes)

    def limits(self, first: bool) -> tuple[int, int, int, float]:
        """(min rows, max rows, max bytes, deadline) for the next batch.

        The first batch is smaller (divided by ``first_batch_scaledown_factor``) so the first
        rows reach the client quickly, as RethinkDB's ``batchspec_t::to_batcher`` does.
        """
        now = time.monotonic()
        if not first:
            return self.min_rows, self.max_rows, self.max_bytes, now + self.max_seconds
        sd = self.scaledown
        max_rows = self.max_rows if self.max_rows == _UNLIMITED else max(1, self.max_rows // sd)
        return (
            max(1, self.min_rows // sd),
            max_rows,
            max(1, self.max_bytes // sd),
            now + max(self.max_seconds / sd, self.max_seconds / (sd * 2)),
        )


def _int_optarg(optargs: dict[str, Any], name: str, default: int) -> int:
    return values.as_int(optargs.get(name, default))


_DEFAULT_SPEC = BatchSpec({})
