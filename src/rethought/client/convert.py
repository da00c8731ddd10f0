"""Turning response data into Python values, as the official driver does.

TIME becomes a timezone-aware ``datetime``, BINARY ``bytes``, GROUPED_DATA a ``dict`` (keys
made hashable); GEOMETRY stays a dict. The ``time_format`` / ``binary_format`` /
``group_format`` run options ("native" or "raw") choose per query.

Speed matters here: the core skips the walk entirely for the (common) responses whose raw
bytes contain no ``$reql_type$`` marker (:data:`MARKER`) at all.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from ..errors import ReqlDriverError

__all__ = [
    "MARKER",
    "Formats",
    "convert",
    "make_hashable",
    "tzinfo_for",
    "time_value",
    "binary_value",
    "grouped_pairs",
]

MARKER = b"$reql_type$"
_OPTIONS = ("time_format", "binary_format", "group_format")
_TZ_CACHE: dict[str, datetime.tzinfo] = {}


class Formats:
    """Which pseudo-types a query wants converted (all, by default)."""

    __slots__ = ("time", "binary", "group", "raw")

    def __init__(self, time: bool = True, binary: bool = True, group: bool = True) -> None:
        self.time = time
        self.binary = binary
        self.group = group
        self.raw = not (time or binary or group)  # nothing to convert at all

    @classmethod
    def from_optargs(cls, optargs: dict | None) -> Formats:
        """Read the format run options; reject values other than "native" and "raw"."""
        if not optargs:
            return NATIVE
        flags = []
        for name in _OPTIONS:
            value = optargs.get(name)
            if value is None or value == "native":
                flags.append(True)
            elif value == "raw":
                flags.append(False)
            else:
                raise ReqlDriverError(f'Unknown {name} run option "{value}".')
        if all(flags):
            return NATIVE
        return cls(*flags)


NATIVE = Formats()


def tzinfo_for(offset: str) -> datetime.tzinfo:
    """A fixed-offset tzinfo for RethinkDB's "+HH:MM" / "-HH:MM" strings (named so)."""
    tz = _TZ_CACHE.get(offset)
    if tz is None:
        try:
            sign = -1 if offset.startswith("-") else 1
            hours, minutes = offset.lstrip("+-").split(":")
            delta = datetime.timedelta(hours=int(hours), minutes=int(minutes))
        except ValueError:
            if offset in ("Z", "UTC"):
                return datetime.UTC
            raise ReqlDriverError(f"Invalid timezone offset {offset!r}.") from None
        tz = datetime.timezone(sign * delta, offset)
        _TZ_CACHE[offset] = tz
    return tz


def _missing(kind: str, obj: dict, field: str, the: str = "the ") -> ReqlDriverError:
    # The official driver's ReQLDecoder wording, the object shown as JSON.
    shown = json.dumps(obj, default=repr)
    return ReqlDriverError(
        f'pseudo-type {kind} object {shown} does not have {the}expected field "{field}".'
    )


def time_value(obj: dict) -> datetime.datetime:
    """A TIME pseudo-type as an aware ``datetime`` (its offset kept)."""
    epoch = obj.get("epoch_time")
    if epoch is None:
        raise _missing("TIME", obj, "epoch_time", the="")
    tz = obj.get("timezone")
    return datetime.datetime.fromtimestamp(epoch, tzinfo_for(tz) if tz else datetime.UTC)


def binary_value(obj: dict) -> bytes:
    """A BINARY pseudo-type as ``bytes``."""
    data = obj.get("data")
    if data is None:
        raise _missing("BINARY", obj, "data")
    return base64.b64decode(data)


def grouped_pairs(obj: dict) -> list:
    """The ``[key, value]`` pairs of a GROUPED_DATA pseudo-type."""
    data = obj.get("data")
    if data is None:
        raise _missing("GROUPED_DATA", obj, "data")
    return data


def make_hashable(value: Any) -> Any:
    """Lists become tuples and dicts frozensets, so grouped keys can be dict keys."""
    if type(value) is list:
        return tuple(make_hashable(x) for x in value)
    if type(value) is dict:
        return frozenset((k, make_hashable(v)) for k, v in value.items())
    return value


def _grouped(obj: dict, formats: Formats) -> dict:
    pairs = grouped_pairs(obj)
    return {make_hashable(convert(k, formats)): convert(v, formats) for k, v in pairs}


def convert(value: Any, formats: Formats) -> Any:
    """Convert every pseudo-type inside ``value`` (containers are updated in place)."""
    t = type(value)
    if t is list:
        for i, x in enumerate(value):
            tx = type(x)
            if tx is dict or tx is list:
                value[i] = convert(x, formats)
        return value
    if t is not dict:
        return value
    kind = value.get("$reql_type$")
    if kind is not None:
        if kind == "TIME":
            return time_value(value) if formats.time else value
        if kind == "BINARY":
            return binary_value(value) if formats.binary else value
        if kind == "GROUPED_DATA":
            if formats.group:
                return _grouped(value, formats)
            value["data"] = convert(value.get("data"), formats)
            return value
        if kind == "GEOMETRY":
            return value
    for k, x in value.items():
        tx = type(x)
        if tx is dict or tx is list:
            value[k] = convert(x, formats)
    return value
