"""Control terms: literals built at run time, variables, functions, branching, errors.

MAKE_ARRAY, MAKE_OBJ, VAR, IMPLICIT_VAR, FUNC, FUNCALL (r.do), BRANCH, ERROR, DEFAULT, ARGS,
MINVAL, MAXVAL.
"""

from __future__ import annotations

from typing import Any

from .... import datum
from ....errors import (
    ReqlCompileError,
    ReqlInternalError,
    ReqlNonExistenceError,
    ReqlQueryLogicError,
    ReqlUserError,
)
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.values import expected_val
from ..compile import Datum, Scope, Term, blame, term
from ..pseudo import sanitize_ptype
from ..seq import array_limit_error, is_datum
from . import pathspec
from .http import link_next
from .logic import NOT_DATUM, condition
from .objects import field


class EmptyUserError(ReqlQueryLogicError):
    """``r.error()`` without a message: only meaningful inside ``default`` (and filter's
    ``default=``), which treat it as "re-raise what you caught". Escaping them, it reaches
    the client as a logic error (RethinkDB's EMPTY_USER maps to QUERY_LOGIC)."""

    def __init__(self) -> None:
        super().__init__("Empty ERROR term outside a default block.")


@term(T.MAKE_ARRAY)
class MakeArray(Term):
    def eval(self, scope: Scope) -> list:
        out = [self.datum_arg(scope, i) for i in range(len(self.args))]
        limit = scope.ctx.array_limit if scope.ctx is not None else None
        if limit is not None and len(out) > limit:
            raise array_limit_error(limit)
        return out


@term(T.MAKE_OBJ)
class MakeObj(Term):
    """An object literal whose values are terms (``{'a': r.expr(1) + 1}``)."""

    def eval(self, scope: Scope) -> dict:
        # A value that is not a datum (a table, a stream) is blamed on itself, as
        # RethinkDB's as_datum on the value's val_t.
        obj = {
            k: blame(None, values.to_datum, v.run(scope), v.frames) for k, v in self.optargs.items()
        }
        # datum_t(map) checks a pseudo-type; it allows no literal: only r.literal() makes one.
        return sanitize_ptype(obj) if datum.REQL_TYPE in obj else obj


@term(T.VAR, arity=(1, 1))
class Var(Term):
    __slots__ = ("var_id",)

    def compiled(self) -> None:
        arg = self.args[0]
        value = getattr(arg, "value", None)
        if type(value) is not int:
            raise ReqlCompileError("A variable term has a non-datum argument.")
        self.var_id = value

    def eval(self, scope: Scope) -> Any:
        return scope.lookup(self.var_id)


@term(T.IMPLICIT_VAR, arity=(0, 0))
class ImplicitVar(Term):
    """``r.row``: ``compile_term`` sets ``var_id`` to the enclosing function's parameter."""

    __slots__ = ("var_id",)

    def eval(self, scope: Scope) -> Any:
        return scope.lookup(self.var_id)


@term(T.FUNC, arity=(2, 2))
class FuncTerm(Term):
    """A function literal; evaluates to ``values.Func`` closed over the current scope."""

    __slots__ = ("params",)

    def compiled(self) -> None:
        """The parameter list must be literal numbers, read without evaluating anything
        (RethinkDB's ``func_term_t``, whose CLIENT ERROR texts these are)."""
        first = self.args[0]
        msg = "CLIENT ERROR: FUNC variables must be a literal array of *numbers*."
        if first.tt == T.MAKE_ARRAY:
            items = []
            for a in first.args:
                if not isinstance(a, Datum):
                    msg = "CLIENT ERROR: FUNC variables must be a *literal* array of numbers."
                    raise ReqlCompileError(msg, frames=list(self.frames))
                items.append(a.value)
        elif isinstance(first, Datum):
            items = first.value
            if type(items) is not list:
                msg = "CLIENT ERROR: FUNC variables must be a literal *array* of numbers."
                raise ReqlCompileError(msg, frames=list(self.frames))
        else:
            msg = "CLIENT ERROR: FUNC variables must be a *literal array of numbers*."
            raise ReqlCompileError(msg, frames=list(self.frames))
        if any(type(x) is not int and type(x) is not float for x in items):
            raise ReqlCompileError(msg, frames=list(self.frames))
        self.params = tuple(int(x) for x in items)

    def eval(self, scope: Scope) -> values.Func:
        body = self.args[1]
        return values.Func(self.params, body, scope, body.determinism)


#: funcall_term_t's internal ``_SHORTCUT_`` values (val.hpp function_shortcut_t): how a
#: non-function first argument becomes a function.
NO_SHORTCUT, CONSTANT_SHORTCUT, GET_FIELD_SHORTCUT, PLUCK_SHORTCUT, PAGE_SHORTCUT = range(5)


@term(T.FUNCALL, arity=(1, None), optargs=("_SHORTCUT_", "_EVAL_FLAGS_"))
class Funcall(Term):
    """``r.do(args..., func)``: the function comes first on the wire, arguments after.

    RethinkDB's internal optargs are accepted as control.cc reads them: ``_SHORTCUT_`` (an
    integer, CONSTANT by default) says how a plain value becomes the function;
    ``_EVAL_FLAGS_`` is read as an integer (its only flag, LITERAL_OK, matters to merge)."""

    def eval(self, scope: Scope) -> Any:
        shortcut = CONSTANT_SHORTCUT
        if "_SHORTCUT_" in self.optargs:
            shortcut = self.optarg(scope, "_SHORTCUT_", conv=values.as_int)
        if "_EVAL_FLAGS_" in self.optargs:
            self.optarg(scope, "_EVAL_FLAGS_", conv=values.as_int)
        if not NO_SHORTCUT <= shortcut <= PAGE_SHORTCUT:
            raise ReqlInternalError(f"Unrecognized value `{shortcut}` for _SHORTCUT_ argument.")
        fn = self.args[0].run(scope)
        if not isinstance(fn, values.Func):
            fn = _shortcut_func(fn, shortcut, len(self.args) - 1)
        if len(self.args) == 1:
            return _call(fn, [])
        first = self.args[1].run(scope)
        rest = [self.datum_arg(scope, i) for i in range(2, len(self.args))]
        if isinstance(first, values.Grouped):
            # r.do over grouped data applies per group, as RethinkDB does.
            return values.Grouped(
                [(k, values.to_datum(_call(fn, [g, *rest]))) for k, g in first.groups]
            )
        # control.cc funcall_term_t: every argument is as_datum()'d, so a table, selection
        # or stream is refused (``Expected type DATUM but found TABLE``), blamed on it.
        first = blame(None, values.to_datum, first, self.args[1].frames)
        return _call(fn, [first, *rest])


def _shortcut_func(v: Any, shortcut: int, arity: int) -> values.Func:
    """val_t::as_func: a datum made a function by ``shortcut`` (NO_SHORTCUT refuses it)."""
    if shortcut == NO_SHORTCUT or not is_datum(v):
        raise expected_val(v, "FUNCTION")
    d = values.to_datum(v)
    if shortcut == GET_FIELD_SHORTCUT:
        key = values.as_string(d)
        return values.PyFunc(lambda row: field(values.to_datum(row), key, "bracket"), 1)
    if shortcut == PLUCK_SHORTCUT:
        spec = pathspec.parse([d])
        return values.PyFunc(lambda row: pathspec.project(values.to_datum(row), spec), 1)
    if shortcut == PAGE_SHORTCUT:  # new_page_func: only the 'link-next' method exists
        name = values.as_string(d)
        if name != "link-next":
            raise ReqlQueryLogicError(
                f"`page` method '{name}' not recognized, only 'link-next' is available."
            )
        return values.PyFunc(link_next, 1)
    return values.as_func(d, arity)


def _call(fn: values.Func, args: list) -> Any:
    if not isinstance(fn, values.PyFunc) and fn.params and len(args) != fn.arity:
        raise ReqlQueryLogicError(
            f"Expected function with {_plural(len(args), 'argument')} "
            f"but found function with {_plural(fn.arity, 'argument')}."
        )
    return fn(*args)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


@term(T.BRANCH, arity=(3, None))
class Branch(Term):
    """``r.branch(test, then, [test2, then2, ...,] else)``; only the chosen branch runs."""

    def eval(self, scope: Scope) -> Any:
        args = self.args
        if len(args) % 2 == 0:
            raise ReqlQueryLogicError("Cannot call `branch` term with an even number of arguments.")
        for i in range(0, len(args) - 1, 2):
            if condition(args[i].run(scope)):
                return args[i + 1].run(scope)
        return args[-1].run(scope)


@term(T.ERROR, arity=(0, 1))
class Error(Term):
    def eval(self, scope: Scope) -> Any:
        if not self.args:
            raise EmptyUserError()
        raise ReqlUserError(self.datum_arg(scope, 0, values.as_string))


@term(T.DEFAULT, arity=(2, 2))
class Default(Term):
    """``x.default(d)``: ``d`` (or ``d(error message / null)``) when ``x`` is null or raises
    a non-existence error; an empty ``r.error()`` as ``d`` re-raises what was caught."""

    def eval(self, scope: Scope) -> Any:
        caught: ReqlNonExistenceError | None = None
        try:
            v = self.args[0].run(scope)
            if isinstance(v, NOT_DATUM):
                return v
            if values.to_datum(v) is not None:
                return v
            arg = None
        except ReqlNonExistenceError as e:
            caught = e
            arg = e.message
        try:
            d = self.args[1].run(scope)
            if isinstance(d, values.Func):
                return d(arg)
            return d
        except EmptyUserError:
            if caught is not None:
                raise caught from None
            return None


@term(T.ARGS, arity=(1, 1))
class Args(Term):
    """``r.args(array)``: spliced by the parent (see ``compile.Spliced``); alone, the array."""

    def eval(self, scope: Scope) -> Any:
        v = self.datum_arg(scope, 0)
        if type(v) is not list:
            raise values.expected(v, "ARRAY")
        return v


@term(T.MINVAL, arity=(0, 0))
class MinVal(Term):
    def eval(self, scope: Scope) -> Any:
        return datum.MINVAL


@term(T.MAXVAL, arity=(0, 0))
class MaxVal(Term):
    def eval(self, scope: Scope) -> Any:
        return datum.MAXVAL
