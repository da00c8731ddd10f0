"""Logic terms: OR, AND, NOT and the comparisons EQ, NE, LT, LE, GT, GE.

Comparisons are variadic and short-circuit like RethinkDB's: ``r.lt(a, b, c)`` is
``a < b and b < c``, later arguments are not evaluated once one pair fails, and ``ne`` is the
negation of the whole ``eq`` chain. Values of different types compare in ReQL order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .... import datum
from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ..compile import Scope, Term, term
from ..seq import truthy

NOT_DATUM = (values.Sequence, values.Database, values.Func, values.Grouped)


def condition(v: Any) -> bool:
    """A value used as a condition: ReQL truth, and only datums qualify."""
    if isinstance(v, NOT_DATUM):
        raise ReqlQueryLogicError(f"Expected type DATUM but found {values.type_name(v)}:")
    return truthy(values.to_datum(v))


@term(T.AND, arity=(0, None))
class And(Term):
    """The first false value, else the last value (``true`` with no arguments)."""

    def eval(self, scope: Scope) -> Any:
        v: Any = True
        for a in self.args:
            v = a.run(scope)
            if not condition(v):
                break
        return v


@term(T.OR, arity=(0, None))
class Or(Term):
    """The first true value, else the last value (``false`` with no arguments)."""

    def eval(self, scope: Scope) -> Any:
        v: Any = False
        for a in self.args:
            v = a.run(scope)
            if condition(v):
                break
        return v


@term(T.NOT, arity=(1, 1))
class Not(Term):
    def eval(self, scope: Scope) -> bool:
        return not condition(self.args[0].run(scope))


class _Compare(Term):
    pred: Callable[[int], bool] = staticmethod(lambda c: c == 0)
    invert = False

    def eval(self, scope: Scope) -> bool:
        lhs = self.datum_arg(scope, 0)
        for i in range(1, len(self.args)):
            rhs = self.datum_arg(scope, i)
            if not self.pred(_cmp(lhs, rhs)):
                return self.invert
            lhs = rhs
        return not self.invert


def _cmp(a: Any, b: Any) -> int:
    if type(a) is str and type(b) is str:
        return (a > b) - (a < b)
    return datum.compare(a, b)


@term(T.EQ, arity=(2, None))
class Eq(_Compare):
    pass


@term(T.NE, arity=(2, None))
class Ne(_Compare):
    invert = True


@term(T.LT, arity=(2, None))
class Lt(_Compare):
    pred = staticmethod(lambda c: c < 0)


@term(T.LE, arity=(2, None))
class Le(_Compare):
    pred = staticmethod(lambda c: c <= 0)


@term(T.GT, arity=(2, None))
class Gt(_Compare):
    pred = staticmethod(lambda c: c > 0)


@term(T.GE, arity=(2, None))
class Ge(_Compare):
    pred = staticmethod(lambda c: c >= 0)
