"""Compile a query's term JSON into a tree of Term objects, once per query.

A term on the wire is ``[type, [args...], {optargs}]`` or a bare datum. ``compile_term``
checks arity and optarg names (compile errors, as RethinkDB reports them), binds each
node to its backtrace frames, and returns the root. Evaluation is ``node.run(scope)``.

How to write a term (in ``server/terms/<family>.py``)::

    @term(T.ADD, arity=(1, None))
    class Add(Term):
        def eval(self, scope):
            values = [a.run(scope) for a in self.args]
            ...

- ``self.args`` are compiled child nodes, ``self.optargs`` a dict name -> node.
  Evaluate a child with ``child.run(scope)``; ``self.optarg(scope, name, default)`` evaluates
  an optarg if given.
- Raise ``ReqlQueryLogicError`` etc. with RethinkDB's message; ``run`` attaches this node's
  backtrace frames to an error that has none yet, so the innermost failing term is blamed.
- ``scope.ctx`` is the ``QueryContext`` (storage, feeds, default db, the query's fixed
  ``now``, global optargs); ``scope.lookup(var_id)`` reads a function parameter.
- Set ``deterministic_term = False`` on terms whose value can change between runs (r.random,
  r.uuid without argument, r.now, r.js, r.http, table reads): index functions and atomic
  updates reject non-deterministic functions.
- Override ``compiled(self)`` to validate or precompute once, right after construction.

``r.args``: an ``ARGS`` argument is spliced into its parent's arguments at evaluation time.
A term with such an argument compiles to a ``Spliced`` node that, on each run, evaluates the
ARGS arrays, checks the parent's arity then (a ReqlQueryLogicError, as RethinkDB reports it)
and runs a fresh parent node over the expanded arguments; other arguments stay lazy.

``r.row``: ``IMPLICIT_VAR`` names the parameter of the one enclosing one-argument function.
``compile_term`` carries the stack of enclosing one-argument functions (``implicit``) so the
implicit variable is bound, or rejected as RethinkDB does, at compile time.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .. import datum
from ..errors import ReqlCompileError, ReqlError, ReqlQueryLogicError
from ..proto.ql2 import TermType as T
from . import values

MAX_NESTING = 1000  # RethinkDB rejects deeper term trees rather than overflowing the stack

_REGISTRY: dict[int, type[Term]] = {}


def term(tt: int, arity: tuple[int, int | None] = (0, None), optargs: tuple[str, ...] = ()):
    """Class decorator registering a Term subclass for a TermType.

    ``arity`` is (min, max) positional arguments, max None for unbounded.
    ``optargs`` lists accepted optional argument names; anything else is a compile error.
    """

    def register(cls: type[Term]) -> type[Term]:
        cls.tt = tt
        cls.arity = arity
        cls.accepted_optargs = frozenset(optargs)
        _REGISTRY[tt] = cls
        return cls

    return register


class Scope:
    """Variables bound by enclosing functions, plus the query context."""

    __slots__ = ("ctx", "vars")

    def __init__(self, ctx: Any, vars: dict[int, Any] | None = None) -> None:
        self.ctx = ctx
        self.vars = vars or {}

    def bind(self, ids: tuple[int, ...], args: tuple[Any, ...]) -> Scope:
        new = dict(self.vars)
        for i, a in zip(ids, args, strict=False):
            new[i] = a
        return Scope(self.ctx, new)

    def lookup(self, var_id: int) -> Any:
        try:
            return self.vars[var_id]
        except KeyError:
            raise ReqlCompileError("Variable name not found.") from None


class Term:
    """A compiled node. Subclasses implement ``eval``."""

    tt: ClassVar[int] = 0
    arity: ClassVar[tuple[int, int | None]] = (0, None)
    accepted_optargs: ClassVar[frozenset[str]] = frozenset()
    deterministic_term: ClassVar[bool] = True

    __slots__ = ("args", "optargs", "frames", "deterministic")

    def __init__(self, args: list[Term], optargs: dict[str, Term], frames: tuple) -> None:
        self.args = args
        self.optargs = optargs
        self.frames = frames
        self.deterministic = (
            self.deterministic_term
            and all(a.deterministic for a in args)
            and all(o.deterministic for o in optargs.values())
        )

    def run(self, scope: Scope) -> Any:
        try:
            return self.eval(scope)
        except ReqlError as e:
            if e.frames is None:
                e.frames = list(self.frames)
            raise
        except RecursionError:
            err = ReqlQueryLogicError("Maximum expression depth exceeded.")
            err.frames = list(self.frames)
            raise err from None

    def compiled(self) -> None:
        """Called once after construction; override to validate or precompute."""

    def eval(self, scope: Scope) -> Any:  # pragma: no cover - every registered term overrides
        raise ReqlCompileError(f"Term type {self.tt} cannot be evaluated.")

    def optarg(self, scope: Scope, name: str, default: Any = None) -> Any:
        node = self.optargs.get(name)
        return default if node is None else node.run(scope)

    def datum_arg(self, scope: Scope, i: int) -> Any:
        """Evaluate argument ``i`` and force it into a datum."""
        return values.to_datum(self.args[i].run(scope))


class Datum(Term):
    """A literal value (numbers already canonical)."""

    __slots__ = ("value",)

    def __init__(self, value: Any, frames: tuple) -> None:
        self.args = []
        self.optargs = {}
        self.frames = frames
        self.value = value
        self.deterministic = True

    def eval(self, scope: Scope) -> Any:
        v = self.value
        # Containers are copied so a term that mutates its input cannot corrupt the literal.
        if type(v) is list or type(v) is dict:
            return _deep_copy(v)
        return v


def _deep_copy(v: Any) -> Any:
    t = type(v)
    if t is list:
        return [_deep_copy(x) for x in v]
    if t is dict:
        return {k: _deep_copy(x) for k, x in v.items()}
    return v


def compile_term(
    raw: Any, frames: tuple = (), depth: int = 0, implicit: tuple[int, ...] = ()
) -> Term:
    """Compile wire JSON into a Term tree. Raises ReqlCompileError / ReqlQueryLogicError.

    ``implicit`` holds the parameter of each enclosing one-argument function, outermost first.
    """
    if depth > MAX_NESTING:
        raise ReqlQueryLogicError("Maximum expression depth exceeded.")  # RethinkDB's wording
    t = type(raw)
    if t is list:
        if not raw or type(raw[0]) is not int:
            raise ReqlCompileError(f"Expected a term type (integer) but found {_describe(raw)}.")
        tt = raw[0]
        if len(raw) > 3:
            raise ReqlCompileError("Term has more than three elements.")
        raw_args = raw[1] if len(raw) > 1 else []
        raw_opts = raw[2] if len(raw) > 2 else {}
        if type(raw_args) is not list:
            raise ReqlCompileError("Expected an array of arguments.")
        if type(raw_opts) is not dict:
            raise ReqlCompileError("Expected an object of optional arguments.")
        if tt == T.DATUM:  # an explicit DATUM wrapper: [1, <value>]
            if len(raw_args) != 1:
                raise ReqlCompileError("DATUM term must have exactly one argument.")
            return Datum(datum.canonical(raw_args[0]), frames)
        if tt == T.MAKE_ARRAY:
            cls = _REGISTRY[T.MAKE_ARRAY]
        else:
            cls = _REGISTRY.get(tt)
            if cls is None:
                raise ReqlCompileError(f"Unrecognized TermType: {tt}.")
        if tt == T.IMPLICIT_VAR:
            return _implicit_var(cls, raw_args, raw_opts, frames, implicit)
        spliced = any(type(a) is list and a[:1] == [T.ARGS] for a in raw_args)
        lo, hi = cls.arity
        n = len(raw_args)
        if not spliced and (n < lo or (hi is not None and n > hi)):
            raise ReqlCompileError(arity_message(lo, hi, n))
        for name in raw_opts:
            if name not in cls.accepted_optargs:
                raise ReqlCompileError(f"Unrecognized optional argument `{name}`.")
        inner = implicit
        if tt == T.FUNC:
            params = _func_params(raw_args[0]) if raw_args else ()
            if len(params) == 1:
                inner = implicit + params
        args = [
            compile_term(a, frames + (i,), depth + 1, inner if i == 1 else implicit)
            for i, a in enumerate(raw_args)
        ]
        opts = {k: compile_term(v, frames + (k,), depth + 1, implicit) for k, v in raw_opts.items()}
        if spliced:
            return Spliced(cls, args, opts, frames)
        node = cls(args, opts, frames)
        node.compiled()
        return node
    if t is dict:
        # An object literal: values may themselves be terms (MAKE_OBJ semantics).
        if datum.REQL_TYPE in raw and all(_is_plain(v) for v in raw.values()):
            # RethinkDB validates and rounds every TIME it builds, literals included.
            from .terms.times_calc import sanitize_times  # terms import this module

            return Datum(sanitize_times(datum.canonical(raw)), frames)
        cls = _REGISTRY[T.MAKE_OBJ]
        opts = {k: compile_term(v, frames + (k,), depth + 1, implicit) for k, v in raw.items()}
        node = cls([], opts, frames)
        node.compiled()
        return node
    if raw is None or t is bool or t is str or t is int or t is float:
        return Datum(datum.num(raw) if t is int or t is float else raw, frames)
    raise ReqlCompileError(f"Unexpected value in query: {raw!r}.")


def _func_params(raw: Any) -> tuple[int, ...]:
    """The parameter ids of a FUNC's first argument (``[2, [ids]]`` or a plain list)."""
    if type(raw) is list and len(raw) >= 2 and raw[0] == T.MAKE_ARRAY and type(raw[1]) is list:
        raw = raw[1]
    if type(raw) is list and all(type(x) is int for x in raw):
        return tuple(raw)
    return ()


def _implicit_var(cls: type[Term], raw_args: list, raw_opts: dict, frames: tuple, implicit: tuple):
    if raw_args or raw_opts:
        raise ReqlCompileError(
            "Expected no arguments or optional arguments on implicit variable term."
        )
    if len(implicit) != 1:
        raise ReqlCompileError(
            "r.row is not defined in this context."
            if not implicit
            else "Cannot use r.row in nested queries.  Use functions instead."
        )
    node = cls([], {}, frames)
    node.var_id = implicit[0]
    node.compiled()
    return node


class Spliced(Term):
    """A term with ``r.args`` among its arguments: expanded and arity-checked per run."""

    __slots__ = ("cls",)

    def __init__(self, cls: type[Term], args: list[Term], optargs: dict[str, Term], frames: tuple):
        self.cls = cls
        super().__init__(args, optargs, frames)
        self.deterministic = self.deterministic and cls.deterministic_term

    def eval(self, scope: Scope) -> Any:
        expanded: list[Term] = []
        for node in self.args:
            if node.tt == T.ARGS:
                items = values.to_datum(node.run(scope))
                if type(items) is not list:
                    raise values.expected(items, "ARRAY")
                expanded.extend(Datum(x, node.frames) for x in items)
            else:
                expanded.append(node)
        lo, hi = self.cls.arity
        n = len(expanded)
        if n < lo or (hi is not None and n > hi):
            raise ReqlQueryLogicError(arity_message(lo, hi, n))
        node = self.cls(expanded, self.optargs, self.frames)
        node.compiled()
        return node.eval(scope)


def _is_plain(v: Any) -> bool:
    t = type(v)
    if t is list:
        return False
    if t is dict:
        return all(_is_plain(x) for x in v.values())
    return True


def _describe(raw: Any) -> str:
    return datum.type_name(raw) if not isinstance(raw, list) else "ARRAY"


def arity_message(lo: int, hi: int | None, n: int) -> str:
    """RethinkDB's arity error text."""
    if hi is None:
        return f"Expected {lo} or more argument{'s' if lo != 1 else ''} but found {n}."
    if lo == hi:
        return f"Expected {lo} argument{'s' if lo != 1 else ''} but found {n}."
    return f"Expected between {lo} and {hi} arguments but found {n}."


def registry() -> dict[int, type[Term]]:
    return _REGISTRY
