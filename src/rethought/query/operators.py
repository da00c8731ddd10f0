"""Python operators on queries: ``q == 1`` builds EQ, ``q + 1`` ADD, ``q["f"]`` BRACKET, ...

They build term classes (``terms``) that subclass ``ast.RqlQuery``, so ``install`` puts them on
it once both modules exist (``rethought.query`` calls it), as ``methods`` does with the
chainable methods.
"""

from __future__ import annotations

from types import FunctionType
from typing import Any

from .ast import RqlQuery
from .terms import (
    Add,
    And,
    BitXor,
    Bracket,
    Div,
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
    Mod,
    Mul,
    Ne,
    Not,
    Or,
    Slice,
    Sub,
)


class Operators:
    """The operator methods, copied onto ``RqlQuery`` by ``install``."""

    def __eq__(self, other: Any) -> RqlQuery:
        return Eq(self, other)

    def __ne__(self, other: Any) -> RqlQuery:
        return Ne(self, other)

    def __lt__(self, other: Any) -> RqlQuery:
        return Lt(self, other)

    def __le__(self, other: Any) -> RqlQuery:
        return Le(self, other)

    def __gt__(self, other: Any) -> RqlQuery:
        return Gt(self, other)

    def __ge__(self, other: Any) -> RqlQuery:
        return Ge(self, other)

    def __invert__(self) -> RqlQuery:
        return Not(self)

    def __add__(self, other: Any) -> RqlQuery:
        return Add(self, other)

    def __radd__(self, other: Any) -> RqlQuery:
        return Add(other, self)

    def __sub__(self, other: Any) -> RqlQuery:
        return Sub(self, other)

    def __rsub__(self, other: Any) -> RqlQuery:
        return Sub(other, self)

    def __mul__(self, other: Any) -> RqlQuery:
        return Mul(self, other)

    def __rmul__(self, other: Any) -> RqlQuery:
        return Mul(other, self)

    def __truediv__(self, other: Any) -> RqlQuery:
        return Div(self, other)

    def __rtruediv__(self, other: Any) -> RqlQuery:
        return Div(other, self)

    def __mod__(self, other: Any) -> RqlQuery:
        return Mod(self, other)

    def __rmod__(self, other: Any) -> RqlQuery:
        return Mod(other, self)

    def __and__(self, other: Any) -> RqlQuery:
        return And(self, other).set_infix()

    def __rand__(self, other: Any) -> RqlQuery:
        return And(other, self).set_infix()

    def __or__(self, other: Any) -> RqlQuery:
        return Or(self, other).set_infix()

    def __ror__(self, other: Any) -> RqlQuery:
        return Or(other, self).set_infix()

    def __xor__(self, other: Any) -> RqlQuery:
        return BitXor(self, other).set_infix()

    def __rxor__(self, other: Any) -> RqlQuery:
        return BitXor(other, self).set_infix()

    def __getitem__(self, index: Any) -> RqlQuery:
        """``q['field']``, ``q[3]`` (bracket) and ``q[1:3]`` / ``q[2:]`` (slice)."""
        if isinstance(index, slice):
            # Upstream tests `stop` for truth, so `q[1:0]` means "to the end" too.
            if index.stop:
                return Slice(self, index.start or 0, index.stop, bracket_operator=True)
            return Slice(self, index.start or 0, -1, right_bound="closed", bracket_operator=True)
        return Bracket(self, index, bracket_operator=True)


def install() -> None:
    """Put the operators on ``RqlQuery`` (``__hash__`` stays None there: a query is unhashable)."""
    for name, fn in vars(Operators).items():
        if isinstance(fn, FunctionType):
            setattr(RqlQuery, name, fn)
