"""Compile a query's term JSON into a tree of Term objects, once per query.

A term on the wire is ``[type, [args...], {optargs}]`` or a bare datum. ``compile_term``
checks arity and optarg names (compile errors, as RethinkDB reports them), binds each
node to its backtrace frames, and returns the root. Evaluation is ``node.run(scope)``.

How to write a term (in ``server/query/terms/<family>.py``)::

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
- Set ``nondeterminism`` (bits from ``server.determinism``) on terms whose value can change
  between runs (``NO``: r.random, r.js, r.http, table reads; ``SINGLE_SERVER``: geometry;
  ``CONSTANT_NOW``: r.now). A node's ``determinism`` joins its own bits with its arguments';
  atomic writes, changefeeds, order_by and index functions each test it their own way.
- Override ``compiled(self)`` to validate or precompute once, right after construction.

``r.args``: an ``ARGS`` argument is spliced into its parent's arguments at evaluation time.
A term with such an argument compiles to a ``Spliced`` node that, on each run, evaluates the
ARGS arrays, checks the parent's arity then (a ReqlQueryLogicError, as RethinkDB reports it)
and runs a fresh parent node over the expanded arguments; other arguments stay lazy.

Grouped data: like RethinkDB's operator terms, a term whose first argument evaluates to
GROUPED_DATA runs once per group (``Term.run``); sequence terms set ``grouping = "native"``
to keep a grouped stream a stream (``seq.SeqTerm``). Only terms over a tree containing
``group`` pay for the check.

``r.literal`` is only legal inside the objects given to merge / update / filter:
``compile_term`` tells each LITERAL node whether it sits there (``literal_ok``).

``r.row``: ``IMPLICIT_VAR`` names the parameter of the one enclosing one-argument function.
``compile_term`` carries the stack of enclosing one-argument functions (``implicit``) so the
implicit variable is bound, or rejected as RethinkDB does, at compile time.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from ... import datum
from ...errors import ReqlCompileError, ReqlError, ReqlQueryLogicError
from ...proto.ql2 import TermType as T
from ..runtime import values
from .determinism import ALWAYS
from .literals import deep_copy, is_plain, plain_canonical
from .pseudo import sanitize_deep

_MAX_EXACT = datum.MAX_EXACT
MAX_NESTING = 1000  # RethinkDB rejects deeper term trees rather than overflowing the stack

# Terms that take GROUPED_DATA as it is instead of once per group (RethinkDB's terms whose
# ``can_be_grouped`` is false, and the non-operator terms).
_NOT_PER_GROUP = frozenset(
    {
        T.DEFAULT, T.ERROR, T.TYPE_OF, T.INFO, T.UNGROUP, T.GROUP, T.LITERAL, T.FUNCALL,
        T.FUNC, T.VAR, T.IMPLICIT_VAR, T.ARGS,
    }
)  # fmt: skip

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


_NO_VARS: Mapping[int, Any] = MappingProxyType({})


class Scope:
    """Variables bound by enclosing functions, plus the query context."""

    __slots__ = ("ctx", "vars")

    def __init__(self, ctx: Any, vars: Mapping[int, Any] | None = None) -> None:
        self.ctx = ctx
        # Never changed in place (``bind`` makes a new one): one empty map serves every query.
        self.vars = _NO_VARS if vars is None else vars

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
    nondeterminism: ClassVar[int] = ALWAYS  # this term's own bits (server.determinism)
    # How grouped data as the first argument is handled: "data" (the default) runs the term
    # once per group and gathers GROUPED_DATA (``Term.run`` does it); "native" terms handle
    # it themselves (sequence terms, which keep a grouped stream a stream).
    grouping: ClassVar[str] = "data"

    __slots__ = ("args", "optargs", "frames", "determinism", "may_group", "group_probe")

    def __init__(self, args: list[Term], optargs: dict[str, Term], frames: tuple) -> None:
        self.args = args
        self.optargs = optargs
        self.frames = frames
        bits = self.nondeterminism
        # Only a tree containing ``group`` can make grouped data, so only terms over such a
        # tree pay for the per-group check (evaluating the first argument up front).
        may_group = self.tt == T.GROUP
        for a in args:  # one pass for both (a batch's MAKE_ARRAY has 1000 arguments)
            bits |= a.determinism
            if a.may_group:
                may_group = True
        for o in optargs.values():
            bits |= o.determinism
        self.determinism = bits
        self.may_group = may_group
        self.group_probe = (
            self.grouping == "data"
            and self.tt not in _NOT_PER_GROUP
            and bool(args)
            and args[0].may_group
        )

    def run(self, scope: Scope) -> Any:
        try:
            if self.group_probe:
                return self._run_per_group(scope)
            return self.eval(scope)
        except ReqlError as e:
            if e.frames is None:
                e.frames = list(self.frames)
            raise
        except RecursionError:
            err = ReqlQueryLogicError("Maximum expression depth exceeded.")
            err.frames = list(self.frames)
            raise err from None

    def _run_per_group(self, scope: Scope) -> Any:
        """``eval`` with the first argument evaluated first; over grouped data, per group."""
        first = self.args[0].run(scope)
        if not isinstance(first, values.Grouped):
            return self._with_first(first).eval(scope)
        check_size = getattr(first, "check_size", None)  # an unreduced grouped stream
        if check_size is not None:
            check_size()  # gathered into arrays first: RethinkDB's grouped data size limit
        out = []
        for key, group in first.groups:
            out.append((key, values.to_datum(self._with_first(group).eval(scope))))
        return values.Grouped(out)

    def _with_first(self, value: Any) -> Term:
        clone = copy.copy(self)
        clone.args = [Given(value, self.args[0].frames), *self.args[1:]]
        clone.group_probe = False
        return clone

    def compiled(self) -> None:
        """Called once after construction; override to validate or precompute."""

    def eval(self, scope: Scope) -> Any:  # pragma: no cover - every registered term overrides
        raise ReqlCompileError(f"Term type {self.tt} cannot be evaluated.")

    def optarg(self, scope: Scope, name: str, default: Any = None, conv: Any = None) -> Any:
        """The optarg ``name``: this term's own, else the query's global one (``run(...)``
        optargs reach every term, as in RethinkDB), else ``default`` (not converted).

        ``conv`` (``values.as_string``...) is applied to a given value, as a datum; its
        error blames the optarg's own term, or nothing for a global optarg (RethinkDB
        compiles those without backtraces)."""
        node = self.optargs.get(name)
        if node is not None:
            v = node.run(scope)
            return v if conv is None else blame(conv, values.to_datum, v, node.frames)
        given = getattr(scope.ctx, "optargs", None)
        if given and name in given:
            v = given[name]
            return v if conv is None else blame(conv, values.to_datum, v, ())
        return default

    def arg(self, scope: Scope, i: int, conv: Any) -> Any:
        """Argument ``i`` evaluated and converted by ``conv`` (``as_table``, ``as_func``...),
        as RethinkDB's ``args->arg(env, i)->as_...()``: a conversion error blames argument
        ``i``, not this term."""
        node = self.args[i]
        return blame(conv, None, node.run(scope), node.frames)

    def datum_arg(self, scope: Scope, i: int, conv: Any = None) -> Any:
        """Evaluate argument ``i`` and force it into a datum, then ``conv`` it (``as_int``,
        ``as_string``...). Like RethinkDB's ``arg(env, i)->as_datum()`` / ``->as_str()``,
        an error of the forcing or of ``conv`` blames argument ``i``; errors raised later on
        the datum (a datum-level check) blame this term, as ``run`` attaches them."""
        node = self.args[i]
        return blame(conv, values.to_datum, node.run(scope), node.frames)


def blame(conv: Any, force: Any, v: Any, frames: tuple) -> Any:
    """``conv(force(v))`` (either may be None); an error from them gets ``frames`` (the term
    that produced ``v``) as its backtrace."""
    try:
        if force is not None:
            v = force(v)
        return v if conv is None else conv(v)
    except ReqlError as e:
        if e.frames is None:
            e.frames = list(frames)
        raise


class Datum(Term):
    """A literal value (numbers already canonical)."""

    __slots__ = ("value",)

    def __init__(self, value: Any, frames: tuple) -> None:
        self.args = []
        self.optargs = {}
        self.frames = frames
        self.value = value
        self.determinism = ALWAYS
        self.may_group = False
        self.group_probe = False

    def eval(self, scope: Scope) -> Any:
        v = self.value
        # Containers are copied so a term that mutates its input cannot corrupt the literal.
        if type(v) is list or type(v) is dict:
            return deep_copy(v)
        return v


class Given(Datum):
    """An already evaluated argument (one group's value, see ``Term._run_per_group``),
    handed over as it is: unlike a literal it is not copied."""

    __slots__ = ()

    def eval(self, scope: Scope) -> Any:
        return self.value


# Where ``r.literal`` may appear: argument positions (from this index on) of the terms that
# merge objects, RethinkDB's LITERAL_OK evaluation flag.
_LITERAL_OK_FROM = {T.MERGE: 1, T.UPDATE: 1, T.FILTER: 1}


def _literal_ok_child(tt: int, i: int, literal_ok: bool | str) -> bool | str:
    """Whether argument ``i`` of a ``tt`` term may be (or contain) ``r.literal``."""
    start = _LITERAL_OK_FROM.get(tt)
    if start is not None:
        return i >= start
    if tt == T.FUNC:  # the body of a function passed where literals are allowed
        return bool(literal_ok) and i == 1
    if tt == T.ARGS:  # its array's elements are the spliced arguments of merge / update
        return _SPLICED if literal_ok else False
    if tt == T.MAKE_ARRAY:
        # An array passes the permission on only as the one r.args splices (arity.yaml:
        # ``merge(r.args([{'a': r.literal(...)}]))`` works); RethinkDB's make_array
        # otherwise evaluates its elements without LITERAL_OK, so
        # ``merge({'l': [r.literal()]})`` is a stray literal.
        return literal_ok == _SPLICED
    return bool(literal_ok) and tt == T.MAKE_OBJ


_SPLICED = "spliced"  # literal_ok inside r.args: its array's elements get the permission


def compile_term(
    raw: Any,
    frames: tuple = (),
    depth: int = 0,
    implicit: tuple[int, ...] = (),
    literal_ok: bool | str = False,
) -> Term:
    """Compile wire JSON into a Term tree. Raises ReqlCompileError / ReqlQueryLogicError.

    ``implicit`` holds the parameter of each enclosing one-argument function, outermost first.
    ``literal_ok`` says whether ``r.literal`` is allowed here (inside merge / update objects).
    """
    if depth > MAX_NESTING:
        raise ReqlQueryLogicError("Maximum expression depth exceeded.")  # RethinkDB's wording
    t = type(raw)
    if t is list:
        if not raw or type(raw[0]) is not int:
            raise ReqlCompileError(
                f"Expected a term type (integer) but found {_describe(raw)}.", frames=list(frames)
            )
        tt = raw[0]
        if tt == T.DATUM and (len(raw) != 2 or type(raw[1]) is not list):
            return _datum_term(raw, frames)
        if len(raw) > 3:
            raise ReqlCompileError("Term has more than three elements.", frames=list(frames))
        raw_args = raw[1] if len(raw) > 1 else []
        raw_opts = raw[2] if len(raw) > 2 else {}
        if len(raw) == 2 and type(raw_args) is dict and tt != T.DATUM:
            raw_args, raw_opts = [], raw_args  # [type, {optargs}]: no arguments (term walker)
        if type(raw_args) is not list:
            raise ReqlCompileError("Expected an array of arguments.", frames=list(frames))
        if type(raw_opts) is not dict:
            raise ReqlCompileError("Expected an object of optional arguments.", frames=list(frames))
        if tt == T.DATUM:  # an explicit DATUM wrapper: [1, <value>]
            if len(raw_args) != 1:
                raise ReqlCompileError(
                    "DATUM term must have exactly one argument.", frames=list(frames)
                )
            return Datum(datum.canonical(raw_args[0]), frames)
        cls = _REGISTRY.get(tt)
        if cls is None:
            raise ReqlCompileError(f"Unrecognized TermType: {tt}.", frames=list(frames))
        if tt == T.IMPLICIT_VAR:
            return _implicit_var(cls, raw_args, raw_opts, frames, implicit)
        if tt in _OWN_SHAPE_CHECKS:
            _own_shape_check(tt, raw_args, raw_opts, frames)
        # As RethinkDB's op_term_t: the arguments are compiled first (their errors come
        # first), then the arity is checked (blaming this term), then each optarg's name
        # (blaming that optarg) before it is compiled.
        if tt == T.MAKE_ARRAY:  # a batch's documents: compiled in one loop
            args, spliced = _array_items(raw_args, frames, depth + 1, implicit, literal_ok)
        else:
            # r.args splices into an operator's arguments; a FUNC's body is not one (func.cc).
            spliced = tt != T.FUNC and any(type(a) is list and a[:1] == [T.ARGS] for a in raw_args)
            inner = implicit
            if tt == T.FUNC:
                params = _func_params(raw_args[0]) if raw_args else ()
                # sym.cc: a function of one parameter binds r.row, unless its id is negative
                if len(params) == 1 and not (type(params[0]) in (int, float) and params[0] < 0):
                    inner = implicit + params
            args = [
                compile_term(
                    a,
                    frames + (i,),
                    depth + 1,
                    inner if i == 1 else implicit,
                    _literal_ok_child(tt, i, literal_ok),
                )
                for i, a in enumerate(raw_args)
            ]
        lo, hi = cls.arity
        n = len(raw_args)
        if not spliced and (n < lo or (hi is not None and n > hi)):
            raise ReqlCompileError(arity_message(lo, hi, n), frames=list(frames))
        opts = {}
        for k, v in raw_opts.items():
            if k not in cls.accepted_optargs:
                raise ReqlCompileError(
                    f"Unrecognized optional argument `{k}`.", frames=[*frames, k]
                )
            opts[k] = compile_term(
                v, frames + (k,), depth + 1, implicit, literal_ok and tt == T.MAKE_OBJ
            )
        if spliced:
            return Spliced(cls, args, opts, frames)
        node = cls(args, opts, frames)
        if tt == T.LITERAL:
            node.literal_ok = literal_ok
        node.compiled()
        return node
    if t is dict:
        # An object literal: values may themselves be terms (MAKE_OBJ semantics).
        # A LITERAL object stays a MAKE_OBJ: its evaluation fails (datum_t's ptype check).
        kind = raw.get(datum.REQL_TYPE)
        if kind is not None and kind != "LITERAL" and all(is_plain(v) for v in raw.values()):
            # RethinkDB validates every pseudo-type it is sent (and rounds TIMEs).
            return Datum(sanitize_deep(datum.canonical(raw)), frames)
        if plain_canonical(raw, MAX_NESTING - depth):
            # Plain data (a document to insert): its value now, not a MAKE_OBJ term per
            # object, evaluated field by field (the batch insert's largest cost).
            return Datum(raw, frames)
        cls = _REGISTRY[T.MAKE_OBJ]
        opts = {
            k: compile_term(v, frames + (k,), depth + 1, implicit, literal_ok)
            for k, v in raw.items()
        }
        node = cls([], opts, frames)
        node.compiled()
        return node
    if raw is None or t is bool or t is str or t is int or t is float:
        return Datum(datum.num(raw) if t is int or t is float else raw, frames)
    raise ReqlCompileError(f"Unexpected value in query: {raw!r}.")


_new_term = object.__new__
_NO_ARGS: Any = ()  # a literal's arguments and optargs: none, shared (nothing adds to them)
_NO_OPTARGS: Any = MappingProxyType({})


def _array_items(
    raw_args: list, frames: tuple, depth: int, implicit: tuple, literal_ok: bool | str
) -> tuple[list[Term], bool]:
    """A MAKE_ARRAY's compiled elements (``depth`` theirs) and whether one is ``r.args``:
    what ``compile_term`` gives each, in one loop. A plain-data object (a batch's
    document) or a JSON scalar becomes its ``Datum`` here, without a ``compile_term``
    call; anything else is compiled by it, with the permission for ``r.literal`` an
    array passes on (``_literal_ok_child``)."""
    child_ok = literal_ok == _SPLICED  # _literal_ok_child(T.MAKE_ARRAY, i, literal_ok)
    budget = MAX_NESTING - depth
    plain = depth <= MAX_NESTING  # deeper: compile_term raises the depth error
    num, canonical, reql_type, exact = datum.num, plain_canonical, datum.REQL_TYPE, _MAX_EXACT
    spliced = False
    out: list[Term] = []
    append = out.append
    i = 0
    for a in raw_args:
        t = type(a)
        if t is dict:  # plain_canonical(a, budget), its first level here
            ok = budget > 0 and reql_type not in a
            if ok:
                for k, v in a.items():
                    tv = type(v)
                    if tv is int:
                        if not -exact <= v <= exact:
                            a[k] = float(v)
                    elif tv is float:
                        a[k] = num(v)
                    elif tv is dict:
                        if not canonical(v, budget - 1):
                            ok = False
                            break
                    elif tv is list:
                        ok = False
                        break
        elif t is int or t is float:
            a = num(a)
            ok = plain
        else:
            ok = plain and (t is str or a is None or t is bool)
        if ok:
            node = _new_term(Datum)  # Datum(a, frames + (i,)), without its __init__ call
            node.args = _NO_ARGS
            node.optargs = _NO_OPTARGS
            node.frames = frames + (i,)
            node.value = a
            node.determinism = ALWAYS
            node.may_group = False
            node.group_probe = False
            append(node)
        else:
            if t is list and a[:1] == [T.ARGS]:
                spliced = True
            append(compile_term(a, frames + (i,), depth, implicit, child_ok))
        i += 1
    return out, spliced


def _datum_term(raw: list, frames: tuple) -> Datum:
    """``[DATUM, value]`` (raw_term_t, term_storage.cc): the term walker appended a backtrace,
    so it must then have 3 items; its value is JSON data, not terms. (``[DATUM, [x]]``, a
    value in an argument array, is taken as ``x``.)"""
    if len(raw) != 2:
        raise ReqlCompileError(
            f"Expected 3 items in array, but found {len(raw) + 1}.", frames=list(frames)
        )
    value = raw[1]
    if type(value) is dict or type(value) is list:
        return Datum(sanitize_deep(datum.canonical(value)), frames)
    t = type(value)
    return Datum(datum.num(value) if t is int or t is float else value, frames)


# Terms that are not op_term_t in RethinkDB check their own shape, in their own words,
# before compiling anything below them (func.cc, terms/var.cc, terms/datum_terms.cc).
_OWN_SHAPE_CHECKS = frozenset({T.FUNC, T.VAR, T.MAKE_OBJ})


def _own_shape_check(tt: int, raw_args: list, raw_opts: dict, frames: tuple) -> None:
    message = None
    n = len(raw_args)
    if tt == T.FUNC:
        if raw_opts:
            message = "FUNC takes no optional arguments."
        elif n != 2:
            message = f"FUNC takes exactly two arguments (got {n})"
    elif tt == T.VAR:
        name = raw_args[0] if n == 1 else None
        if type(name) is list and name[:1] == [T.DATUM] and len(name) == 2:
            name = name[1][0] if type(name[1]) is list and len(name[1]) == 1 else name[1]
        if n != 1:
            message = "A variable term has the wrong number of arguments."
        elif type(name) is list or type(name) is dict:
            message = "A variable term has a non-datum argument."
        elif type(name) not in (int, float) or type(name) is bool:
            message = "A variable term has a non-numeric name datum."
    elif n:  # MAKE_OBJ
        message = "MAKE_OBJ term must not have any args."
    if message is not None:
        raise ReqlCompileError(message, frames=list(frames))


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
            "Expected no arguments or optional arguments on implicit variable term.",
            frames=list(frames),
        )
    if len(implicit) != 1:
        raise ReqlCompileError(
            "r.row is not defined in this context."
            if not implicit
            else "Cannot use r.row in nested queries.  Use functions instead.",
            frames=list(frames),
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
        self.determinism |= cls.nondeterminism
        self.may_group = self.may_group or cls.tt == T.GROUP
        self.group_probe = False  # the expanded node does its own per-group handling

    def eval(self, scope: Scope) -> Any:
        if self.cls.tt == T.ORDER_BY:  # RethinkDB's check_r_args: not supported there (yet)
            raise ReqlQueryLogicError(
                "r.args is not supported in an order_by or union command yet."
            )
        expanded: list[Term] = []
        for node in self.args:
            if node.tt == T.ARGS:
                items = values.to_datum(node.run(scope))
                if type(items) is not list:
                    raise values.expected(items, "ARRAY")
                for x in items:
                    # Each spliced argument is as deterministic as the whole r.args
                    # (RethinkDB's faux_term_t), so replace(r.args([tbl.get(0)])) is refused.
                    item = Datum(x, node.frames)
                    item.determinism = node.determinism
                    expanded.append(item)
            else:
                expanded.append(node)
        lo, hi = self.cls.arity
        n = len(expanded)
        if n < lo or (hi is not None and n > hi):
            raise ReqlQueryLogicError(arity_message(lo, hi, n))
        node = self.cls(expanded, self.optargs, self.frames)
        node.compiled()
        return node.run(scope)


def _describe(raw: Any) -> str:
    return datum.type_name(raw) if not isinstance(raw, list) else "ARRAY"


def arity_message(lo: int, hi: int | None, n: int) -> str:
    """RethinkDB's arity error text."""
    if hi is None:  # argspec_t::print: always "arguments" here
        return f"Expected {lo} or more arguments but found {n}."
    if lo == hi:
        return f"Expected {lo} argument{'s' if lo != 1 else ''} but found {n}."
    return f"Expected between {lo} and {hi} arguments but found {n}."
