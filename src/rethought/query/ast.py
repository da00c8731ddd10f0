"""The query AST: ``RqlQuery`` and the terms that turn Python values into ReQL.

Every ReQL term is an ``RqlQuery`` node holding converted positional arguments (``_args``) and
optional arguments (``optargs``). ``build()`` gives the wire JSON structure
``[term_type, [args...], {optargs}]``; ``str()`` prints the query the way a user writes it.

Printing styles (how ``compose`` renders a node) are base classes here; the concrete terms
are declared in ``terms.py`` and the chainable methods installed by ``methods.py``.
"""

from __future__ import annotations

import base64
import datetime
import inspect
import itertools
from collections.abc import Callable, Iterable, Mapping
from types import FunctionType
from typing import Any

from ..errors import ReqlDriverCompileError, ReqlDriverError
from ..proto.ql2 import TermType
from .declared import QueryMethods
from .encode import Opaque
from .printer import render
from .tz import RqlTzinfo  # noqa: F401  (r.ast.RqlTzinfo, where the official driver has it)

#: The modules whose classes subclass the ones here (``terms``: the operators' terms,
#: ``r.iso8601``; ``data``: plain literals): ``rethought.query`` binds them once they exist, so
#: this module imports neither.
terms: Any = None
data: Any = None

#: ``[repl_connection]``: how ``run()`` with no connection finds the ``repl()`` default. The
#: package (``rethought/__init__``) puts the driver's in, so the builder never imports it.
REPL_CONNECTION: list[Callable[[], Any]] = [lambda: None]

DEFAULT_NESTING_DEPTH = 20

# Types converted straight into a DATUM: checked by exact type on the hot path. A float
# is checked apart: NaN and the infinities must reach the encoder as Opaque (encode.py).
_SCALARS = frozenset({str, int, bool, type(None)})
_NO_OPTARGS: dict = {}

# Variable ids only need to be unique within a query; a process-wide counter is simplest.
# next() on itertools.count is atomic under the GIL, so threads need no lock.
_var_ids = itertools.count(1)


class RqlQuery(QueryMethods):
    """A ReQL term. Build queries by chaining methods; send them with :meth:`run`."""

    __slots__ = ("_args", "optargs", "_ivar")

    term_type: int = 0
    statement: str = ""

    def __init__(self, *args: Any, **optargs: Any) -> None:
        conv = []
        ivar = False
        for a in args:
            if isinstance(a, RqlQuery):
                if a._ivar:
                    ivar = True
            elif type(a) in _SCALARS:  # the common case, inlined from expr()
                a = Datum(a)
            else:
                a = expr(a)
                ivar = ivar or a._ivar
            conv.append(a)
        if optargs:
            optargs = {k: v if isinstance(v, RqlQuery) else expr(v) for k, v in optargs.items()}
            if not ivar:
                ivar = any(v._ivar for v in optargs.values())
        self._args = conv
        self.optargs = optargs
        # Whether r.row occurs anywhere below: func_wrap needs it, so keep it instead of
        # rescanning the subtree each time an argument is wrapped.
        self._ivar = ivar

    def run(self, c: Any = None, **global_optargs: Any) -> Any:
        """Send the query on connection ``c`` (or the ``repl()`` default) and return its result."""
        if c is None:
            c = REPL_CONNECTION[0]()
            if c is None:
                raise ReqlDriverError("RqlQuery.run must be given a connection to run on.")
        return c._start(self, global_optargs)

    def handle(self, conn: Any, handler: Any) -> Any:
        """Run the query on ``conn``, dispatching its results to ``handler``'s callbacks."""
        return conn._handle(self, handler)

    def build(self) -> Any:
        """The wire JSON structure of this term: ``[type, [args...]]`` plus optargs if any."""
        args = []
        for a in self._args:  # a loop, not a comprehension: no extra frame (CPython 3.11)
            args.append(a.build())
        if self.optargs:
            return [self.term_type, args, {k: v.build() for k, v in self.optargs.items()}]
        return [self.term_type, args]

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        """Text of this term given its already printed arguments (see ``printer``)."""
        raise NotImplementedError(type(self).__name__)

    def __str__(self) -> str:
        return render(self)

    def __repr__(self) -> str:
        return f"<RqlQuery instance: {self} >"

    def __iter__(self):
        raise ReqlDriverError(
            "__iter__ called on an RqlQuery object.\n"
            "To iterate over the results of a query, call run first.\n"
            "To iterate inside a query, use map or for_each."
        )

    # Python operators. Comparisons build terms, so a query is unhashable (as upstream).
    def __eq__(self, other: Any) -> RqlQuery:  # type: ignore[override]
        return terms.Eq(self, other)

    def __ne__(self, other: Any) -> RqlQuery:  # type: ignore[override]
        return terms.Ne(self, other)

    def __lt__(self, other: Any) -> RqlQuery:
        return terms.Lt(self, other)

    def __le__(self, other: Any) -> RqlQuery:
        return terms.Le(self, other)

    def __gt__(self, other: Any) -> RqlQuery:
        return terms.Gt(self, other)

    def __ge__(self, other: Any) -> RqlQuery:
        return terms.Ge(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __invert__(self) -> RqlQuery:
        return terms.Not(self)

    def __add__(self, other: Any) -> RqlQuery:
        return terms.Add(self, other)

    def __radd__(self, other: Any) -> RqlQuery:
        return terms.Add(other, self)

    def __sub__(self, other: Any) -> RqlQuery:
        return terms.Sub(self, other)

    def __rsub__(self, other: Any) -> RqlQuery:
        return terms.Sub(other, self)

    def __mul__(self, other: Any) -> RqlQuery:
        return terms.Mul(self, other)

    def __rmul__(self, other: Any) -> RqlQuery:
        return terms.Mul(other, self)

    def __truediv__(self, other: Any) -> RqlQuery:
        return terms.Div(self, other)

    def __rtruediv__(self, other: Any) -> RqlQuery:
        return terms.Div(other, self)

    def __mod__(self, other: Any) -> RqlQuery:
        return terms.Mod(self, other)

    def __rmod__(self, other: Any) -> RqlQuery:
        return terms.Mod(other, self)

    def __and__(self, other: Any) -> RqlQuery:
        return terms.And(self, other).set_infix()

    def __rand__(self, other: Any) -> RqlQuery:
        return terms.And(other, self).set_infix()

    def __or__(self, other: Any) -> RqlQuery:
        return terms.Or(self, other).set_infix()

    def __ror__(self, other: Any) -> RqlQuery:
        return terms.Or(other, self).set_infix()

    def __xor__(self, other: Any) -> RqlQuery:
        return terms.BitXor(self, other).set_infix()

    def __rxor__(self, other: Any) -> RqlQuery:
        return terms.BitXor(other, self).set_infix()

    def __getitem__(self, index: Any) -> RqlQuery:
        """``q['field']``, ``q[3]`` (bracket) and ``q[1:3]`` / ``q[2:]`` (slice)."""
        if isinstance(index, slice):
            # Upstream tests `stop` for truth, so `q[1:0]` means "to the end" too.
            if index.stop:
                return terms.Slice(self, index.start or 0, index.stop, bracket_operator=True)
            return terms.Slice(self, index.start or 0, -1, right_bound="closed", bracket_operator=True)
        return terms.Bracket(self, index, bracket_operator=True)


def _new(cls: type[RqlQuery], args: list[RqlQuery], optargs: dict) -> RqlQuery:
    """A node from already converted arguments, skipping __init__'s conversion pass."""
    node = cls.__new__(cls)
    node._args = args
    node.optargs = optargs
    node._ivar = any(a._ivar for a in args) or any(v._ivar for v in optargs.values())
    return node


def needs_wrap(arg: RqlQuery) -> bool:
    """Literals print bare (``1``, ``[1]``), so as a method receiver they need ``r.expr(...)``."""
    return isinstance(arg, (Datum, MakeArray, MakeObj))


def receiver(term: RqlQuery, args: list[str]) -> str:
    """The text of ``term``'s first argument as the receiver of a method or ``[]``."""
    return f"r.expr({args[0]})" if needs_wrap(term._args[0]) else args[0]


def _wrapped(term: RqlQuery, args: list[str]) -> list[str]:
    return [f"r.expr({s})" if needs_wrap(a) else s for a, s in zip(term._args, args, strict=True)]


def _kw(optargs: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in optargs.items()]


# ---- printing styles -------------------------------------------------------------------


class RqlTopLevelQuery(RqlQuery):
    """Printed as ``r.name(args, key=value)``."""

    __slots__ = ()

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return f"r.{self.statement}({', '.join(args + _kw(optargs))})"


class RqlMethodQuery(RqlQuery):
    """Printed as ``receiver.name(args, key=value)``."""

    __slots__ = ()

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        if not args:
            return f"r.{self.statement}()"
        return f"{receiver(self, args)}.{self.statement}({', '.join(args[1:] + _kw(optargs))})"


class RqlBracketQuery(RqlMethodQuery):
    """A method term that prints as ``q[...]`` when it was written with brackets."""

    __slots__ = ("bracket_operator",)

    def __init__(self, *args: Any, bracket_operator: bool = False, **optargs: Any) -> None:
        super().__init__(*args, **optargs)
        self.bracket_operator = bracket_operator

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        if not self.bracket_operator:
            return super().compose(args, optargs)
        return f"{receiver(self, args)}[{','.join(args[1:])}]"


class RqlBiOperQuery(RqlQuery):
    """Arithmetic and comparison: printed infix, ``(a + b)``."""

    __slots__ = ()

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return "(" + f" {self.statement} ".join(_wrapped(self, args)) + ")"


class RqlBiCompareOperQuery(RqlBiOperQuery):
    """Comparisons refuse an infix ``&`` / ``|`` operand: Python binds those tighter."""

    __slots__ = ()

    def __init__(self, *args: Any, **optargs: Any) -> None:
        super().__init__(*args, **optargs)
        for arg in args:
            if getattr(arg, "infix", False):
                raise ReqlDriverCompileError(
                    f"Calling '{self.statement}' on result of infix bitwise operator:\n"
                    f"{self}.\n"
                    "This is almost always a precedence error.\n"
                    "Note that `a < b | b < c` <==> `a < (b | b) < c`.\n"
                    "If you really want this behavior, use `.or_` or `.and_` instead."
                )


class RqlBoolOperQuery(RqlQuery):
    """and / or / bit ops: ``r.and_(a, b)``, or ``(a & b)`` when built with an operator."""

    __slots__ = ("infix",)
    st_infix = ""

    def __init__(self, *args: Any, **optargs: Any) -> None:
        super().__init__(*args, **optargs)
        self.infix = False

    def set_infix(self) -> RqlBoolOperQuery:
        self.infix = True
        return self

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        parts = _wrapped(self, args)
        if self.infix:
            return "(" + f" {self.st_infix} ".join(parts) + ")"
        return f"r.{self.statement}({', '.join(parts)})"


# ---- literal values ----------------------------------------------------------------------


class Datum(RqlQuery):
    """A JSON scalar (str, number, bool, None)."""

    __slots__ = ("data",)

    def __init__(self, val: Any) -> None:
        self.data = val
        self._args = []
        self.optargs = _NO_OPTARGS
        self._ivar = False

    def build(self) -> Any:
        return self.data

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return repr(self.data)


class OpaqueDatum(Datum):
    """A value the official driver's JSON encoder judges when the query is sent: a float
    that is not finite, or a type JSON has no rule for (see ``encode.py``)."""

    __slots__ = ()

    def build(self) -> Any:
        return Opaque(self.data)


def _float(val: float) -> Datum:
    # val - val is 0.0 exactly for finite floats, NaN for NaN and the infinities.
    return Datum(val) if val - val == 0.0 else OpaqueDatum(val)


class MakeArray(RqlQuery):
    __slots__ = ()
    term_type = int(TermType.MAKE_ARRAY)

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return f"[{', '.join(args)}]"


class MakeObj(RqlQuery):
    """An object literal. Its fields live in ``optargs`` and build to a plain JSON object."""

    __slots__ = ()
    term_type = int(TermType.MAKE_OBJ)

    def __init__(self, obj_dict: Mapping[str, Any]) -> None:
        fields = {}
        for key, value in obj_dict.items():
            if not isinstance(key, str):
                raise ReqlDriverCompileError("Object keys must be strings.")
            fields[key] = value if isinstance(value, RqlQuery) else expr(value)
        self._args = []
        self.optargs = fields
        self._ivar = any(v._ivar for v in fields.values())

    def build(self) -> Any:
        return {k: v.build() for k, v in self.optargs.items()}

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return "r.expr({" + ", ".join(f"{k!r}: {v}" for k, v in optargs.items()) + "})"


class Binary(RqlTopLevelQuery):
    """``r.binary``: bytes travel as a BINARY pseudo-type; a query argument stays a term."""

    __slots__ = ("base64_data",)
    term_type = int(TermType.BINARY)
    statement = "binary"

    def __init__(self, data: Any) -> None:
        if isinstance(data, RqlQuery):
            super().__init__(data)
            self.base64_data = None
            return
        if isinstance(data, str):
            raise ReqlDriverCompileError(
                "Cannot convert a unicode string to binary, "
                "use `unicode.encode()` to specify the encoding."
            )
        if not isinstance(data, bytes):
            raise ReqlDriverCompileError(
                f"Cannot convert {type(data).__name__} to binary, "
                "convert the object to a `bytes` object first."
            )
        self.base64_data = base64.b64encode(data).decode("ascii")
        self._args = []
        self.optargs = _NO_OPTARGS
        self._ivar = False

    def build(self) -> Any:
        if self.base64_data is None:
            return super().build()
        return {"$reql_type$": "BINARY", "data": self.base64_data}

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        if self.base64_data is None:
            return super().compose(args, optargs)
        return "r.binary(bytes(<data>))"


# ---- functions and variables ---------------------------------------------------------------


class Var(RqlQuery):
    __slots__ = ()
    term_type = int(TermType.VAR)

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return "var_" + args[0]


class ImplicitVar(RqlQuery):
    """``r.row``: the argument of the innermost function it gets wrapped into."""

    __slots__ = ()
    term_type = int(TermType.IMPLICIT_VAR)

    def __init__(self) -> None:
        super().__init__()
        self._ivar = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("'r.row' is not callable, use 'r.row[...]' instead")

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        return "r.row"


def _arity(fn: Callable) -> int:
    if type(fn) is FunctionType:
        return fn.__code__.co_argcount
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError) as exc:
        raise ReqlDriverCompileError(f"Cannot convert {fn!r} to a ReQL function.") from exc
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in params if p.kind in positional)


class Func(RqlQuery):
    """A Python callable turned into a FUNC term: called once with fresh ``Var`` terms."""

    __slots__ = ()
    term_type = int(TermType.FUNC)

    def __init__(self, lmbd: Callable) -> None:
        ids = [next(_var_ids) for _ in range(_arity(lmbd))]
        body = expr(lmbd(*[Var(i) for i in ids]))
        self._args = [_new(MakeArray, [Datum(i) for i in ids], _NO_OPTARGS), body]
        self.optargs = _NO_OPTARGS
        self._ivar = body._ivar

    def compose(self, args: list[str], optargs: dict[str, str]) -> str:
        params = ", ".join(f"var_{i.data!r}" for i in self._args[0]._args)
        return f"lambda {params}: {args[1]}"


def func_wrap(val: Any) -> RqlQuery:
    """Convert ``val``; if it mentions ``r.row``, make it the body of a one-argument function."""
    val = expr(val)
    if val._ivar:
        return Func(lambda x: val)
    return val


# ---- Python value -> term ------------------------------------------------------------------

_NAIVE_TIME = """Cannot convert %s to ReQL time object
            without timezone information. You can add timezone information with
            the third party module \"pytz\" or by constructing ReQL compatible
            timezone values with r.make_timezone(\"[+-]HH:MM\"). Alternatively,
            use one of ReQL's bultin time constructors, r.now, r.time,
            or r.iso8601.
            """


def expr(val: Any, nesting_depth: int = DEFAULT_NESTING_DEPTH) -> RqlQuery:
    """Convert a Python value into a term (``r.expr``).

    dicts and lists become object / array literals (at most ``nesting_depth`` levels deep),
    callables become functions, aware datetimes ``r.iso8601``, bytes ``r.binary``.
    """
    if not isinstance(nesting_depth, int):
        raise ReqlDriverCompileError("Second argument to `r.expr` must be a number.")
    if nesting_depth <= 0:
        raise ReqlDriverCompileError("Nesting depth limit exceeded.")
    if isinstance(val, RqlQuery):
        return val
    t = type(val)
    if t in _SCALARS:
        return Datum(val)
    if t is float:
        return _float(val)
    if t is dict or t is list or t is tuple:
        plain = data.plain_literal(val, nesting_depth)
        if plain is not None:
            return plain
        if t is dict:
            return MakeObj({k: expr(v, nesting_depth - 1) for k, v in val.items()})
        return _new(MakeArray, [expr(v, nesting_depth - 1) for v in val], _NO_OPTARGS)
    return _expr_other(val, nesting_depth)


def _expr_other(val: Any, nesting_depth: int) -> RqlQuery:
    """The less common conversions, in the official driver's order of precedence."""
    if callable(val):
        return Func(val)
    if isinstance(val, (datetime.datetime, datetime.date)):
        if not getattr(val, "tzinfo", None):
            raise ReqlDriverCompileError(_NAIVE_TIME % type(val).__name__)
        return terms.ISO8601(val.isoformat())
    if isinstance(val, str):
        return Datum(val)
    if isinstance(val, bytes):
        return Binary(val)
    if isinstance(val, Mapping):
        return MakeObj({k: expr(v, nesting_depth - 1) for k, v in val.items()})
    if isinstance(val, Iterable):
        return _new(MakeArray, [expr(v, nesting_depth - 1) for v in val], _NO_OPTARGS)
    return OpaqueDatum(val)  # int / float subclasses, Decimal, UUID, Enum, ...
