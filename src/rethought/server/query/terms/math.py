"""Arithmetic terms: ADD, SUB, MUL, DIV, MOD, FLOOR, CEIL, ROUND and the BIT_* family.

ReQL numbers are doubles: every result goes through ``datum.num`` and must be finite
(``Non-finite number: inf``). ADD also concatenates strings and arrays and shifts a TIME by
seconds; MUL repeats an array; SUB of two TIMEs is their distance in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .... import datum
from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.times_calc import round_ms
from ..compile import Scope, Term, term
from ..seq import array_limit_error, within_limit
from .argcheck import integer_below

_BIT_LIMIT = 1 << 53


def finite(x: float) -> int | float:
    """A double result as a canonical datum, rejecting inf and nan as RethinkDB does."""
    if type(x) is float and not math.isfinite(x):
        raise ReqlQueryLogicError(f"Non-finite number: {_c_double(x)}")
    return datum.num(x)


def _c_double(x: float) -> str:
    if x != x:
        return "nan"
    return "inf" if x > 0 else "-inf"


def _is_time(v: Any) -> bool:
    return datum.pseudo_type(v) == "TIME"


def _shift_time(t: dict, seconds: int | float) -> dict:
    """A TIME moved by ``seconds``; like every RethinkDB time, rounded to milliseconds."""
    out = dict(t)
    out["epoch_time"] = round_ms(finite(values.as_number(t["epoch_time"]) + seconds))
    return out


class _Fold(Term):
    """A left fold of ``op`` over the datum arguments."""

    def op(self, scope: Scope, a: Any, b: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def eval(self, scope: Scope) -> Any:
        acc = self.operand(scope, 0)
        for i in range(1, len(self.args)):
            acc = self.op(scope, acc, self.operand(scope, i))
        return acc

    def operand(self, scope: Scope, i: int) -> Any:
        """Argument ``i`` as a datum; a table or stream is not one (no implicit coercion)."""
        return self.datum_arg(scope, i)


@term(T.ADD, arity=(1, None))
class Add(_Fold):
    def op(self, scope: Scope, a: Any, b: Any) -> Any:
        if _is_time(a):
            return _shift_time(a, values.as_number(b))
        if _is_time(b):
            return _shift_time(b, values.as_number(a))
        ta = type(a)
        if ta is int or ta is float:
            return finite(float(a) + values.as_number(b))
        if ta is str:
            return a + values.as_string(b)
        if ta is list:
            return within_limit(a + values.as_array(b), scope.ctx)
        raise values.expected(a, "NUMBER")


@term(T.SUB, arity=(1, None))
class Sub(_Fold):
    def op(self, scope: Scope, a: Any, b: Any) -> Any:
        if _is_time(a):
            if _is_time(b):
                return round_ms(
                    values.as_number(a["epoch_time"]) - values.as_number(b["epoch_time"])
                )
            return _shift_time(a, -values.as_number(b))
        return finite(float(values.as_number(a)) - values.as_number(b))


@term(T.MUL, arity=(1, None))
class Mul(_Fold):
    def op(self, scope: Scope, a: Any, b: Any) -> Any:
        if type(a) is list or type(b) is list:
            arr, n = (a, b) if type(a) is list else (b, a)
            copies = values.as_int(n)
            if copies < 0:
                raise ReqlQueryLogicError("Cannot multiply an ARRAY by a negative number.")
            if arr and copies * len(arr) > scope.ctx.array_limit:
                raise array_limit_error(scope.ctx.array_limit)
            return arr * copies
        return finite(float(values.as_number(a)) * values.as_number(b))


@term(T.DIV, arity=(1, None))
class Div(_Fold):
    def op(self, scope: Scope, a: Any, b: Any) -> Any:
        x, y = values.as_number(a), values.as_number(b)
        if y == 0:
            raise ReqlQueryLogicError("Cannot divide by zero.")
        return finite(x / y)


@term(T.MOD, arity=(2, 2))
class Mod(Term):
    """Integer remainder with C's sign rule (the result takes the dividend's sign)."""

    def eval(self, scope: Scope) -> int:
        a = self.datum_arg(scope, 0, values.as_int)
        b = self.datum_arg(scope, 1, values.as_int)
        if b == 0:
            raise ReqlQueryLogicError("Cannot take a number modulo 0.")
        r = abs(a) % abs(b)
        return datum.num(-r if a < 0 else r)


class _Round(Term):
    fn: Callable[[float], float]

    def eval(self, scope: Scope) -> int | float:
        x = self.datum_arg(scope, 0, values.as_number)
        return datum.num(float(self.fn(x)))


@term(T.FLOOR, arity=(1, 1))
class Floor(_Round):
    fn = staticmethod(math.floor)


@term(T.CEIL, arity=(1, 1))
class Ceil(_Round):
    fn = staticmethod(math.ceil)


def _round_half_away(x: float) -> float:
    """C's ``round``: halves go away from zero (Python's ``round`` goes to even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


@term(T.ROUND, arity=(1, 1))
class Round(_Round):
    fn = staticmethod(_round_half_away)


def _bit_int(v: Any) -> int:
    """An integer in [-2**53, 2**53), the range the bitwise terms work in."""
    return integer_below(v, _BIT_LIMIT)


class _BitFold(Term):
    op: Callable[[int, int], int]

    def eval(self, scope: Scope) -> int | float:
        acc = _bit_int(self.datum_arg(scope, 0))
        for i in range(1, len(self.args)):
            acc = self.op(acc, _bit_int(self.datum_arg(scope, i)))
        return datum.num(acc)


@term(T.BIT_AND, arity=(1, None))
class BitAnd(_BitFold):
    op = staticmethod(lambda a, b: a & b)


@term(T.BIT_OR, arity=(1, None))
class BitOr(_BitFold):
    op = staticmethod(lambda a, b: a | b)


@term(T.BIT_XOR, arity=(1, None))
class BitXor(_BitFold):
    op = staticmethod(lambda a, b: a ^ b)


@term(T.BIT_NOT, arity=(1, 1))
class BitNot(Term):
    def eval(self, scope: Scope) -> int:
        return datum.num(~_bit_int(self.datum_arg(scope, 0)))


@term(T.BIT_SAL, arity=(2, 2))
class BitSal(Term):
    def eval(self, scope: Scope) -> int | float:
        lhs = _bit_int(self.datum_arg(scope, 0))
        rhs = self.datum_arg(scope, 1, values.as_int)
        if rhs < 0:
            raise ReqlQueryLogicError("Cannot bit-shift by a negative value")
        if lhs == 0:
            return 0
        if rhs >= 4096:
            return finite(math.copysign(math.inf, lhs))
        try:
            return finite(math.ldexp(float(lhs), rhs))
        except OverflowError:
            return finite(math.copysign(math.inf, lhs))


@term(T.BIT_SAR, arity=(2, 2))
class BitSar(Term):
    def eval(self, scope: Scope) -> int:
        lhs = _bit_int(self.datum_arg(scope, 0))
        rhs = self.datum_arg(scope, 1, values.as_int)
        if rhs < 0:
            raise ReqlQueryLogicError("Cannot bit-shift by a negative value")
        return datum.num(lhs >> min(rhs, 63))
