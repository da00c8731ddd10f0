"""``r.iso8601``: RethinkDB's ISO 8601 subset, its sanitising pass and its error texts.

RethinkDB first rewrites the input into one canonical shape (``sanitize::iso8601`` in
``pseudo_time.cc``), rejecting anything outside the subset with a specific message, then lets
Boost parse the result. Accepted: dates ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, ``YYYYMMDD``,
``YYYY-DDD``, ``YYYYDDD`` (week dates are refused); times ``hh``, ``hh:mm``, ``hhmm``,
``hh:mm:ss[.f...]``, ``hhmmss[.f...]``; zones ``Z``, ``+hh``, ``+hhmm``, ``+hh:mm``.
"""

from __future__ import annotations

from ....errors import ReqlQueryLogicError
from ...runtime.times_calc import (
    DAY_MICROS,
    MICROS,
    date_days,
    digits,
    logic_error,
    make_time,
    sanitize_tz,
    tz_offset_micros,
    tz_valid,
)

_WEEK_DATES = (
    "Due to limitations in the boost time library we use for parsing, we cannot support ISO "
    "week dates right now.  Sorry about that!  Please use years, calendar dates, or ordinal "
    "dates instead."
)


def _optional(s: str, c: str, at: int) -> tuple[bool, int]:
    if at < len(s) and s[at] == c:
        return True, at + 1
    return False, at


def _date(s: str) -> tuple[str, str]:
    """Canonical ``YYYY-MM-DD`` / ``YYYY-DDD`` form and its kind (``md``, ``doy``, ``week``)."""
    year, at = digits(s, 4, 0)
    if at == len(s):
        return f"{year}-01-01", "md"
    first, at = _optional(s, "-", at)
    week, at = _optional(s, "W", at)
    if week:
        kind = "week"
        out, at = digits(s, 2, at)
        if at == len(s):
            return out, kind
        _, at = _optional(s, "-", at)
        _, at = digits(s, 1, at)
        out = ""
    elif len(s) - at == 3:
        kind = "doy"
        doy, at = digits(s, 3, at)
        out = f"{year}-{doy}"
    else:
        kind = "md"
        month, at = digits(s, 2, at)
        if first and at == len(s):
            return f"{year}-{month}-01", kind
        second, at = _optional(s, "-", at)
        if first != second:
            raise ReqlQueryLogicError(f"Date string `{s}` must have 0 or 2 hyphens.")
        day, at = digits(s, 2, at)
        out = f"{year}-{month}-{day}"
    if at != len(s):
        raise ReqlQueryLogicError(f"Garbage characters `{s[at:]}` at end of date string `{s}`.")
    return out, kind


def _time(s: str) -> str:
    """Canonical ``hh:mm:ss.fff...`` form of a time string."""
    hours, at = digits(s, 2, 0)
    if at == len(s):
        return f"{hours}:00:00.000"
    first, at = _optional(s, ":", at)
    minutes, at = digits(s, 2, at)
    if at == len(s):
        return f"{hours}:{minutes}:00.000"
    second, at = _optional(s, ":", at)
    if first != second:
        raise ReqlQueryLogicError(f"Time string `{s}` must have 0 or 2 colons.")
    seconds, at = digits(s, 2, at)
    dot, at = _optional(s, ".", at)
    if dot:
        frac, at = digits(s, len(s) - at, at)
    else:
        frac = "000"
    if at != len(s):
        raise ReqlQueryLogicError(f"Garbage characters `{s[at:]}` at end of time string `{s}`.")
    return f"{hours}:{minutes}:{seconds}.{frac}"


def _sanitize(s: str, default_tz: str) -> tuple[str, str, str, str]:
    """(date, kind, time, timezone) in canonical form; the timezone may be the raw default."""
    tloc = s.find("T")
    date_s, kind = _date(s if tloc < 0 else s[:tloc])
    if tloc < 0:
        return date_s, kind, "00:00:00.000", default_tz
    start = tloc + 1
    sign = -1
    for c in "-+Z":
        sign = s.find(c, start)
        if sign >= 0:
            break
    if sign < 0:
        return date_s, kind, _time(s[start:]), default_tz
    return date_s, kind, _time(s[start:sign]), sanitize_tz(s[sign:])


def parse_iso8601(s: str, default_tz: str = "") -> dict:
    """The TIME an ISO 8601 string denotes, or RethinkDB's error for it."""
    date_s, kind, time_s, tz = _sanitize(s, default_tz)
    if kind == "week":
        raise ReqlQueryLogicError(_WEEK_DATES)
    # Boost parses the date (and throws for a bad one) before boost_to_time looks at the
    # zone it read (sanitize_boost_tz): date errors come first.
    year = int(date_s[:4])
    if kind == "doy":
        doy = int(date_s[5:])
        if not 1 <= doy <= 366:
            raise logic_error("Day of year value is out of range 1..366")
        days = date_days(year, 1, 1) + doy - 1
    else:
        days = date_days(year, int(date_s[5:7]), int(date_s[8:10]))
    if tz == "":
        raise ReqlQueryLogicError(
            "ISO 8601 string has no time zone, and no default time zone was provided."
        )
    canon = tz_valid(tz)
    if canon is None:
        raise ReqlQueryLogicError(f"Invalid ISO 8601 timezone: `{tz}`.")
    hms, _, frac = time_s.partition(".")
    h, m, sec = (int(x) for x in hms.split(":"))
    micros = int((frac + "000000")[:6])  # Boost keeps microseconds, dropping further digits
    local = days * DAY_MICROS + ((h * 60 + m) * 60 + sec) * MICROS + micros
    return make_time((local - tz_offset_micros(canon)) / MICROS, canon)
