"""The namespace a polyglot Python snippet is evaluated in.

Snippets were written for the Python 2 era of the official driver and its test driver's
globals: they expect ``r``, ``conn``, the file's tables, ``xrange`` / ``unicode`` / ``long``,
``true`` / ``false``, the datetime names and time-zone helpers, the matcher helpers, and
``fetch`` for reading changefeeds with a deadline.
"""

from __future__ import annotations

import copy
import datetime as datetime_module
import itertools
import math
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from . import matchers


class UTCTimeZone(tzinfo):
    """UTC, as the upstream driver spells it."""

    def utcoffset(self, dt: Any) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: Any) -> str:
        return "UTC"

    def dst(self, dt: Any) -> timedelta:
        return timedelta(0)


class PacificTimeZone(tzinfo):
    """UTC-07:00 (PDT), for the timestamp 1375147296.68 the time tests use."""

    def utcoffset(self, dt: Any) -> timedelta:
        return timedelta(hours=-7)

    def tzname(self, dt: Any) -> str:
        return "PDT"

    def dst(self, dt: Any) -> timedelta:
        return timedelta(hours=1)


def make_fetch(r: Any):
    """``fetch(cursor, limit=None, timeout=0.2)``: read what a feed delivers before a deadline.

    With a limit, a shortfall is marked by appending a ``ReqlTimeoutError`` instance, so the
    expected list no longer matches (upstream behaviour).
    """

    def fetch(cursor: Any, limit: int | None = None, timeout: float = 0.2) -> list:
        if limit is not None:
            limit = int(limit)
            if limit <= 0:
                raise ValueError(f"invalid value for limit: {limit!r}")
        deadline = time.monotonic() + float(timeout) if timeout else None
        result: list = []
        while deadline is None or time.monotonic() < deadline:
            try:
                if deadline is None:
                    result.append(cursor.next())
                else:
                    result.append(cursor.next(wait=max(deadline - time.monotonic(), 0.001)))
            except r.ReqlTimeoutError:
                if limit is not None:
                    result.append(r.ReqlTimeoutError())
                return result
            if limit and len(result) >= limit:
                return result
        if limit is not None:
            result.append(r.ReqlTimeoutError())
        return result

    return fetch


def build(r: Any, conn: Any) -> dict[str, Any]:
    """A fresh namespace for one test file, bound to driver ``r`` and connection ``conn``."""

    def err(err_type: Any, message: str | None = None, frames: Any = None) -> matchers.Err:
        return matchers.Err(err_type, message, frames, r)

    def err_regex(err_type: Any, message: str | None = None, frames: Any = None) -> matchers.Err:
        return matchers.Err(err_type, re.compile(message or ""), frames, r)

    return {
        "__builtins__": __builtins__,
        "r": r,
        "conn": conn,
        # Python 2 names
        "xrange": range,
        "unicode": str,
        "long": int,
        "true": True,
        "false": False,
        "null": None,
        # modules and datetime names the upstream driver module had in scope
        "copy": copy,
        "itertools": itertools,
        "math": math,
        "os": os,
        "re": re,
        "sys": sys,
        "time": time,
        "datetime": datetime,
        "datetime_module": datetime_module,
        "timedelta": timedelta,
        "timezone": timezone,
        "tzinfo": tzinfo,
        "UTCTimeZone": UTCTimeZone,
        "PacificTimeZone": PacificTimeZone,
        # expected-value helpers
        "err": err,
        "err_regex": err_regex,
        "bag": matchers.bag,
        "partial": matchers.partial,
        "arrlen": matchers.arrlen,
        "uuid": matchers.uuid,
        "regex": matchers.regex,
        "int_cmp": matchers.int_cmp,
        "float_cmp": matchers.float_cmp,
        "repeat": matchers.repeat,
        "anything": matchers.Anything,
        "fetch": make_fetch(r),
        "wait": time.sleep,
    }
