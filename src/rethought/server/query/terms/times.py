"""Time terms: NOW, TIME, EPOCH_TIME, ISO8601, IN_TIMEZONE, TIMEZONE, DURING, DATE,
TIME_OF_DAY, the portions (YEAR ... SECONDS), TO_ISO8601, TO_EPOCH_TIME, and the constants
MONDAY..SUNDAY (1..7) and JANUARY..DECEMBER (1..12).

Times are the wire pseudo-type (see ``times_calc``); time arithmetic (``+``, ``-``) lives in
``math.py``. Every time a term takes is checked and sanitised like a literal, so a hand-built
``{"$reql_type$": "TIME", ...}`` gets RethinkDB's ``Invalid time object constructed`` error.
"""

from __future__ import annotations

from typing import Any

from .... import datum
from ....datum.jsonfmt import trunc_pretty
from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.times_calc import (
    EPOCH_TIME,
    TIMEZONE,
    Broken,
    make_time,
    round_ms,
    sanitize_time,
    sanitize_tz,
    seconds_to_micros,
    time_from_fields,
)
from ..compile import Scope, Term, blame, term
from ..determinism import CONSTANT_NOW
from .argcheck import bound, integer_below
from .times_iso import parse_iso8601

_INT32 = 2**31


def as_time(v: Any) -> dict:
    """A TIME argument: ``Not a TIME pseudotype: `...`.`` for anything else."""
    if datum.pseudo_type(v) != "TIME":
        raise ReqlQueryLogicError(f"Not a TIME pseudotype: `{trunc_pretty(v)}`.")
    return sanitize_time(v)


def _int32(v: Any) -> int:
    """RethinkDB's ``as_int<int>``: an integer that fits a C ``int``."""
    return integer_below(v, _INT32)


class _TimeTerm(Term):
    """A term whose first argument is a TIME."""

    def time_arg(self, scope: Scope) -> dict:
        return self.datum_arg(scope, 0, as_time)


@term(T.NOW, arity=(0, 0))
class Now(Term):
    """``r.now()``: the query's start time, the same everywhere in one query.

    Deterministic only while ``now`` is constant (RethinkDB's ``constant_now``): atomic
    writes, changefeeds and order_by accept it, index and write-hook functions do not.
    """

    nondeterminism = CONSTANT_NOW

    def eval(self, scope: Scope) -> dict:
        return make_time(seconds_to_micros(scope.ctx.now) / 1e6, "+00:00")


@term(T.TIME, arity=(4, 7))
class Time(Term):
    """``r.time(year, month, day[, hours, minutes, seconds], timezone)``."""

    def eval(self, scope: Scope) -> dict:
        n = len(self.args)
        if n not in (4, 7):
            raise ReqlQueryLogicError(f"Got {n} arguments to TIME (expected 4 or 7).")
        year, month, day = (self.datum_arg(scope, i, _int32) for i in range(3))
        hours = minutes = 0
        seconds: int | float = 0
        if n == 7:
            hours = self.datum_arg(scope, 3, _int32)
            minutes = self.datum_arg(scope, 4, _int32)
            seconds = self.datum_arg(scope, 5, values.as_number)
        tz = self.datum_arg(scope, n - 1, values.as_string)
        return time_from_fields(year, month, day, hours, minutes, seconds, tz)


@term(T.EPOCH_TIME, arity=(1, 1))
class EpochTime(Term):
    """``r.epoch_time(seconds)``: a UTC time, rounded to milliseconds."""

    def eval(self, scope: Scope) -> dict:
        return make_time(self.datum_arg(scope, 0, values.as_number), "+00:00")


@term(T.ISO8601, arity=(1, 1), optargs=("default_timezone",))
class Iso8601(Term):
    """``r.iso8601(string, default_timezone='')``."""

    def eval(self, scope: Scope) -> dict:
        s = self.datum_arg(scope, 0, values.as_string)
        tz = self.optarg(scope, "default_timezone")
        tz = "" if tz is None else values.as_string(tz)
        # pseudo_time.cc iso8601_to_time: every parse error is rfail_target(the string's val)
        return blame(lambda text: parse_iso8601(text, tz), None, s, self.args[0].frames)


@term(T.TO_ISO8601, arity=(1, 1))
class ToIso8601(_TimeTerm):
    def eval(self, scope: Scope) -> str:
        return Broken(self.time_arg(scope)).iso8601()


@term(T.TO_EPOCH_TIME, arity=(1, 1))
class ToEpochTime(_TimeTerm):
    def eval(self, scope: Scope) -> int | float:
        return self.time_arg(scope)[EPOCH_TIME]


@term(T.IN_TIMEZONE, arity=(2, 2))
class InTimezone(_TimeTerm):
    """``time.in_timezone(tz)``: the same instant, shown in another offset."""

    def eval(self, scope: Scope) -> dict:
        t = self.time_arg(scope)
        tz = self.datum_arg(scope, 1, values.as_string)
        return {**t, TIMEZONE: sanitize_tz(tz)}


@term(T.TIMEZONE, arity=(1, 1))
class Timezone(_TimeTerm):
    def eval(self, scope: Scope) -> Any:
        return self.time_arg(scope).get(TIMEZONE)


@term(T.DURING, arity=(3, 3), optargs=("left_bound", "right_bound"))
class During(_TimeTerm):
    """``time.during(start, end, left_bound='closed', right_bound='open')``."""

    def eval(self, scope: Scope) -> bool:
        t = self.time_arg(scope)[EPOCH_TIME]
        lo = self.datum_arg(scope, 1, as_time)[EPOCH_TIME]
        hi = self.datum_arg(scope, 2, as_time)[EPOCH_TIME]
        left_open = bound(self, scope, "left_bound", False)
        right_open = bound(self, scope, "right_bound", True)
        if lo > t or (lo == t and left_open):
            return False
        return not (t > hi or (t == hi and right_open))


@term(T.DATE, arity=(1, 1))
class Date(_TimeTerm):
    """``time.date()``: midnight of the time's local day, in the same timezone."""

    def eval(self, scope: Scope) -> dict:
        b = Broken(self.time_arg(scope))
        return make_time(b.midnight_epoch, b.tz)


@term(T.TIME_OF_DAY, arity=(1, 1))
class TimeOfDay(_TimeTerm):
    """Seconds since local midnight, rounded to milliseconds."""

    def eval(self, scope: Scope) -> int | float:
        return round_ms(Broken(self.time_arg(scope)).micros_of_day / 1e6)


def _portion(tt: int, name: str) -> None:
    @term(tt, arity=(1, 1))
    class Portion(_TimeTerm):
        def eval(self, scope: Scope) -> int | float:
            return Broken(self.time_arg(scope)).portion(name)

    Portion.__name__ = Portion.__qualname__ = name.title().replace("_", "")


for _tt, _name in (
    (T.YEAR, "year"),
    (T.MONTH, "month"),
    (T.DAY, "day"),
    (T.DAY_OF_WEEK, "day_of_week"),
    (T.DAY_OF_YEAR, "day_of_year"),
    (T.HOURS, "hours"),
    (T.MINUTES, "minutes"),
    (T.SECONDS, "seconds"),
):
    _portion(_tt, _name)


def _constant(tt: int, value: int) -> None:
    @term(tt, arity=(0, 0))
    class Constant(Term):
        def eval(self, scope: Scope) -> int:
            return value

    Constant.__name__ = Constant.__qualname__ = T(tt).name.title()


for _i, _day in enumerate(range(T.MONDAY, T.SUNDAY + 1)):
    _constant(_day, _i + 1)
for _i, _month in enumerate(range(T.JANUARY, T.DECEMBER + 1)):
    _constant(_month, _i + 1)
