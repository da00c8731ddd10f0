"""A built query's JSON as the official Python driver writes it, at orjson's speed.

The official driver encodes with ``json.JSONEncoder(ensure_ascii=False, allow_nan=False)``
and then UTF-8. orjson agrees with it on every value ``r.expr`` passes through unchanged
and is several times faster, so the connection tries orjson first and comes here only when
orjson refuses (TypeError):

- integers beyond 64 bits, dict keys that are not strings, nesting past orjson's limit: the
  standard encoder writes them (the server reads such an integer as the nearest double, as
  RethinkDB does);
- a lone surrogate in a string: UnicodeEncodeError, from encoding the text as UTF-8;
- :class:`Opaque` values. orjson would write a NaN or an infinity as ``null`` (a silently
  wrong value) and serialize UUIDs, Enums, dataclasses and times that the standard encoder
  refuses, so ``r.expr`` wraps every float that is not finite and every value of a type
  JSON has no rule for. Here the standard encoder judges the value inside: ValueError("Out
  of range float values are not JSON compliant"), TypeError("Object of type X is not JSON
  serializable"), or the JSON of an int / float subclass such as IntEnum.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["Opaque", "standard_dumps"]


class Opaque:
    """A value only the standard encoder may judge (see the module docstring)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Opaque({self.value!r})"


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if type(o) is Opaque:
            return o.value
        return super().default(o)  # TypeError: Object of type X is not JSON serializable


_standard = _Encoder(
    ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
)


def standard_dumps(message: Any) -> bytes:
    """The UTF-8 JSON of ``message`` by the official driver's rules, or its exception.

    Raises ValueError for NaN or an infinity, TypeError for a value JSON cannot hold, and
    UnicodeEncodeError for a string that is not valid Unicode.
    """
    return _standard.encode(message).encode("utf-8")
