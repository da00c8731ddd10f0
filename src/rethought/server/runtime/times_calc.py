"""Time arithmetic behind the ReQL time terms, following RethinkDB's ``pseudo_time.cc``.

A ReQL time is the wire pseudo-type ``{"$reql_type$": "TIME", "epoch_time": s, "timezone":
"+hh:mm"}``. RethinkDB computes with Boost.Date_Time at microsecond resolution and stores
``epoch_time`` rounded to milliseconds; this module reproduces both, with integer
microseconds and a proleptic Gregorian calendar of our own (Python's ``datetime`` stops at year
9999, Boost allows 1400..10000). No term registrations here: see ``times.py``.
"""

from __future__ import annotations

import math
from typing import Any

from ... import datum
from ...datum.jsonfmt import trunc_pretty
from ...errors import ReqlQueryLogicError

EPOCH_TIME = "epoch_time"
TIMEZONE = "timezone"
MICROS = 1_000_000
DAY_MICROS = 86_400 * MICROS
MIN_YEAR, MAX_YEAR = 1400, 10000  # Boost's greg_year range


def logic_error(what: str) -> ReqlQueryLogicError:
    """A Boost exception as RethinkDB reports it."""
    return ReqlQueryLogicError(f"Error in time logic: {what}.")


def round_ms(x: float) -> int | float:
    """RethinkDB's ``sanitize_epoch_sec``: C ``round`` (halves away from zero) to milliseconds."""
    scaled = x * 1000
    if not math.isfinite(scaled):  # r.epoch_time(1e308): datum_t(double) refuses the inf
        sign = "-" if scaled < 0 else ""
        raise ReqlQueryLogicError(
            f"Non-finite number: {sign}{'nan' if scaled != scaled else 'inf'}"
        )
    r = math.floor(abs(scaled) + 0.5)
    return datum.num(math.copysign(r, scaled) / 1000)


def make_time(epoch: float, tz: str) -> dict:
    """A TIME datum, its epoch rounded to milliseconds as every RethinkDB time is."""
    return {datum.REQL_TYPE: "TIME", EPOCH_TIME: round_ms(epoch), TIMEZONE: tz}


# -- timezones ---------------------------------------------------------------------------------


def digits(s: str, n: int, at: int) -> tuple[str, int]:
    """``n`` mandatory digits of ``s`` from ``at``, with RethinkDB's (odd but exact) errors."""
    out = []
    for _ in range(n):
        if at >= len(s):
            raise ReqlQueryLogicError(
                f"Invalid time zone string `{s}`. Valid time zones are `+hh:mm`, `-hh:mm`, "
                "`+hhmm`, `-hhmm`, `+hh`, `-hh` and `Z`."
            )
        c = s[at]
        if not "0" <= c <= "9":
            raise ReqlQueryLogicError(
                f"Invalid date string `{s}` (got `{c}` but expected a digit)."
            )
        out.append(c)
        at += 1
    return "".join(out), at


def sanitize_tz(s: str) -> str:
    """A timezone string in canonical ``+hh:mm`` form, or RethinkDB's error for it."""
    if s in ("-00", "-00:00"):
        raise ReqlQueryLogicError(f"`{s}` is not a valid time offset.")
    if s == "Z":
        return "+00:00"
    if not s or s[0] not in "+-":
        raise ReqlQueryLogicError(f"Timezone `{s}` does not start with `-` or `+`.")
    hours, at = digits(s, 2, 1)
    if at == len(s):
        return f"{s[0]}{hours}:00"
    if s[at] == ":":
        at += 1
    minutes, at = digits(s, 2, at)
    if at != len(s):
        raise ReqlQueryLogicError(f"Garbage characters `{s[at:]}` at end of timezone string `{s}`.")
    if not (hours[0] in "01" or (hours[0] == "2" and hours[1] <= "4")):
        raise ReqlQueryLogicError(f"Hours out of range in `{s}`.")
    if not minutes[0] <= "5":
        raise ReqlQueryLogicError(f"Minutes out of range in `{s}`.")
    return f"{s[0]}{hours}:{minutes}"


def tz_valid(s: str) -> str | None:
    """The canonical form of ``s``, or None when it is not a valid timezone."""
    try:
        return sanitize_tz(s)
    except ReqlQueryLogicError:
        return None


def tz_offset_micros(tz: str) -> int:
    """Offset east of UTC of a canonical ``+hh:mm`` timezone, in microseconds."""
    minutes = int(tz[1:3]) * 60 + int(tz[4:6])
    return (minutes if tz[0] == "+" else -minutes) * 60 * MICROS


# -- calendar ----------------------------------------------------------------------------------


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> tuple[int, int, int]:
    """(year, month, day) of a day number counted from 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def is_leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def month_days(y: int, m: int) -> int:
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def check_year(y: int) -> None:
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise logic_error(f"Year is out of valid range: {MIN_YEAR}..{MAX_YEAR}")


def date_days(y: int, m: int, d: int) -> int:
    """Day number of a date, validated as Boost's ``gregorian::date`` constructor does."""
    check_year(y)
    if not 1 <= m <= 12:
        raise logic_error("Month number is out of range 1..12")
    if not 1 <= d <= 31:
        raise logic_error("Day of month value is out of range 1..31")
    if d > month_days(y, m):
        raise logic_error("Day of month is not valid for year")
    return days_from_civil(y, m, d)


def seconds_to_micros(raw: float) -> int:
    """RethinkDB's ``add_seconds_to_ptime``: whole seconds, then microseconds rounded."""
    sec = int(raw)
    sign = -1 if raw < 0 else 1
    return sec * MICROS + int(raw * 1e6 - sec * 1e6 + sign * 0.5)


# -- TIME values -------------------------------------------------------------------------------


class Broken:
    """A TIME broken into local calendar fields (what Boost's ``local_date_time`` gives)."""

    __slots__ = ("time", "tz", "local", "days", "year", "month", "day", "micros_of_day")

    def __init__(self, time: dict) -> None:
        self.time = time
        tz = time.get(TIMEZONE)
        self.tz = "+00:00" if tz is None else sanitize_tz(tz)
        self.local = seconds_to_micros(time[EPOCH_TIME]) + tz_offset_micros(self.tz)
        self.days, self.micros_of_day = divmod(self.local, DAY_MICROS)
        self.year, self.month, self.day = civil_from_days(self.days)
        check_year(self.year)

    @property
    def midnight_epoch(self) -> float:
        """Epoch seconds of this local day's midnight (``date``)."""
        return (self.days * DAY_MICROS - tz_offset_micros(self.tz)) / MICROS

    def portion(self, name: str) -> int | float:
        """``year``, ``month``, ... as RethinkDB's ``time_portion`` computes them."""
        if name == "year":
            return self.year
        if name == "month":
            return self.month
        if name == "day":
            return self.day
        if name == "day_of_week":
            return (self.days + 3) % 7 + 1  # 1970-01-01 was a Thursday; ISO: Monday is 1
        if name == "day_of_year":
            return self.days - days_from_civil(self.year, 1, 1) + 1
        secs = self.micros_of_day // MICROS
        if name == "hours":
            return secs // 3600
        if name == "minutes":
            return secs // 60 % 60
        # seconds: whole local seconds plus the epoch's own fraction (its sign included, as
        # RethinkDB does with ``modf``), rounded to milliseconds.
        frac = math.modf(self.time[EPOCH_TIME])[0]
        return datum.num(secs % 60 + math.copysign(math.floor(abs(frac) * 1000 + 0.5), frac) / 1000)

    def iso8601(self) -> str:
        """``%Y-%m-%dT%H:%M:%S%F%Q`` with the fraction cut to milliseconds."""
        if not 0 <= self.year <= 9999:
            raise ReqlQueryLogicError(f"Year `{self.year}` out of valid ISO 8601 range [0, 9999].")
        secs, micros = divmod(self.micros_of_day, MICROS)
        out = (
            f"{self.year:04d}-{self.month:02d}-{self.day:02d}"
            f"T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        )
        if micros:
            out += f".{micros:06d}"[:4]
        return out + self.tz


def sanitize_time(t: dict) -> dict:
    """Validate a TIME pseudo-type built from user data (RethinkDB's ``sanitize_time``).

    Returns the time with ``epoch_time`` rounded to milliseconds and ``timezone`` canonical,
    or raises ``Invalid time object constructed (...)``.
    """
    out = dict(t)
    msg = ""
    has_epoch = has_tz = False
    for key in sorted(t):
        v = t[key]
        if key == EPOCH_TIME:
            if type(v) is int or type(v) is float:
                has_epoch = True
                out[key] = round_ms(v)
                continue
            msg = (
                f"field `{key}` must be a number (got `{trunc_pretty(v)}` of type "
                f"{datum.type_name(v)})"
            )
        elif key == TIMEZONE:
            if type(v) is str:
                tz = tz_valid(v)
                if tz is not None:
                    has_tz = True
                    out[key] = tz
                    continue
                msg = f"invalid timezone string `{trunc_pretty(v)}`"
            else:
                msg = (
                    f"field `{key}` must be a string (got `{trunc_pretty(v)}` of type "
                    f"{datum.type_name(v)})"
                )
        elif key == datum.REQL_TYPE:
            continue
        else:
            msg = f"unrecognized field `{key}`"
        break
    if not msg and not has_epoch:
        msg = f"no field `{EPOCH_TIME}`"
    elif not msg and not has_tz:
        msg = f"no field `{TIMEZONE}`"
    if msg:
        raise ReqlQueryLogicError(f"Invalid time object constructed ({msg}):\n{trunc_pretty(out)}")
    return out


def sanitize_times(v: Any) -> Any:
    """``sanitize_time`` applied to every TIME inside a datum (arrays and objects walked)."""
    t = type(v)
    if t is dict:
        if v.get(datum.REQL_TYPE) == "TIME":
            return sanitize_time(v)
        if any(type(x) is dict or type(x) is list for x in v.values()):
            return {k: sanitize_times(x) for k, x in v.items()}
        return v
    if t is list:
        return [sanitize_times(x) for x in v]
    return v


def time_from_fields(
    year: int, month: int, day: int, hours: int, minutes: int, seconds: float, tz: str
) -> dict:
    """``r.time(...)``: local calendar fields in ``tz`` to a TIME."""
    days = date_days(year, month, day)
    local = days * DAY_MICROS + (hours * 60 + minutes) * 60 * MICROS + seconds_to_micros(seconds)
    tz = sanitize_tz(tz)
    return make_time((local - tz_offset_micros(tz)) / MICROS, tz)
