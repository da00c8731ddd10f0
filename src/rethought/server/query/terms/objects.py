"""Object terms: OBJECT, LITERAL, KEYS, VALUES, MERGE, PLUCK, WITHOUT, HAS_FIELDS, GET_FIELD,
BRACKET.

Like RethinkDB, the document terms also apply to sequences: pluck / without / merge map over
the rows, get_field maps and skips rows lacking the field, has_fields filters (a selection
stays a selection). The mapping is lazy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .... import datum
from ....datum.jsonfmt import pretty, trunc_pretty
from ....errors import ReqlNonExistenceError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ...runtime.values import expected_val
from ..compile import Scope, Term, term
from ..obj_or_seq import _poly, cannot_call, field, non_object_error  # noqa: F401  (objects.X)
from ..pseudo import STRAY_LITERAL
from ..seq import is_datum, within_limit
from . import pathspec
from .slicing import nth

LITERAL = "LITERAL"


# -- merge and literals -----------------------------------------------------------------------


def is_literal(v: Any) -> bool:
    return type(v) is dict and v.get(datum.REQL_TYPE) == LITERAL


def _plain_object(v: Any) -> bool:
    return type(v) is dict and datum.REQL_TYPE not in v


def merge(a: Any, b: Any) -> Any:
    """RethinkDB's ``datum_t::merge``: deep merge object ``b`` into object ``a``.

    A field of ``b`` holding ``r.literal(x)`` replaces the field with ``x`` without merging
    into it; ``r.literal()`` removes the field. Literals deeper in a value that is not merged
    into are resolved the same way (``strip_literals``). A non-object ``b`` replaces ``a``.
    Pseudo-types (times, geometry) are values, never merged into."""
    if not _plain_object(a) or not _plain_object(b):
        return strip_literals(b)
    out = dict(a)
    for k, v in b.items():
        if is_literal(v):
            if "value" in v:
                out[k] = strip_literals(v["value"])
            else:
                out.pop(k, None)
        elif k in out and _plain_object(v):
            out[k] = merge(out[k], v)
        else:
            out[k] = strip_literals(v)
    return out


_ABSENT = object()  # what a valueless r.literal() resolves to: the field / element goes away


def strip_literals(v: Any) -> Any:
    """RethinkDB's ``drop_literals``: resolve literals where nothing is merged into
    (``{'a': r.literal(1)}`` -> ``{'a': 1}``); a valueless one drops its field or array
    element. A value without literals comes back as it is (no copy)."""
    out = _drop(v)
    return None if out is _ABSENT else out


def _drop(v: Any) -> Any:
    t = type(v)
    if t is dict:
        if v.get(datum.REQL_TYPE) == LITERAL:
            return _drop(v["value"]) if "value" in v else _ABSENT
        items = [(k, _drop(x)) for k, x in v.items()]
        if all(x is v[k] for k, x in items):
            return v
        return {k: x for k, x in items if x is not _ABSENT}
    if t is list:
        elems = [_drop(x) for x in v]
        if all(x is y for x, y in zip(elems, v, strict=True)):
            return v
        return [x for x in elems if x is not _ABSENT]
    return v


def merge_patch(d: dict, patch: Any) -> Any:
    """``d.merge(patch)`` as the MERGE term (and so UPDATE, a merge in RethinkDB) applies it:
    a bare literal or another pseudo-type cannot be the whole patch."""
    p = datum.pseudo_type(patch)
    if p == LITERAL:  # merged in, its $reql_type$ field would leave a stray literal
        raise ReqlQueryLogicError(STRAY_LITERAL)
    if p is not None:
        raise ReqlQueryLogicError(f"Cannot merge objects of type `PTYPE<{p}>`.")
    return merge(d, patch)


# -- terms ------------------------------------------------------------------------------------

#: obj_or_seq_op_term_t / bracket_term_t accept RethinkDB's internal ``_NO_RECURSE_``.
NO_RECURSE = ("_NO_RECURSE_",)


def no_recurse_of(t: Term, scope: Scope) -> Callable[[], Any] | None:
    """A reader of ``t``'s ``_NO_RECURSE_`` optarg, or None when it has none."""
    node = t.optargs.get("_NO_RECURSE_")
    return None if node is None else lambda: values.to_datum(node.run(scope))


@term(T.OBJECT, arity=(0, None))
class Object(Term):
    def eval(self, scope: Scope) -> dict:
        n = len(self.args)
        if n % 2:
            raise ReqlQueryLogicError(
                f"OBJECT expects an even number of arguments (but found {n})."
            )
        out: dict = {}
        for i in range(0, n, 2):
            key = self.datum_arg(scope, i, values.as_string)
            val = self.datum_arg(scope, i + 1)
            if key in out:
                raise ReqlQueryLogicError(
                    f"Duplicate key {pretty(key)} in object.  "
                    f"(got {trunc_pretty(out[key])} and {trunc_pretty(val)} as values)"
                )
            out[key] = val
        return out


@term(T.LITERAL, arity=(0, 1))
class Literal(Term):
    # Set by the compiler: whether this literal sits where merge / update allow one.
    literal_ok = False

    def eval(self, scope: Scope) -> dict:
        if not self.literal_ok:
            raise ReqlQueryLogicError(STRAY_LITERAL)
        out: dict = {datum.REQL_TYPE: LITERAL}
        if self.args:
            out["value"] = self.datum_arg(scope, 0)
        return out


def _plain_datum(v: Any, name: str) -> dict:
    """keys / values read their argument as a datum (a stream or table is a type error) and
    accept only a plain object."""
    if isinstance(v, values.SingleSelection):
        v = v.row
    elif not is_datum(v):
        raise expected_val(v, "DATUM")
    if type(v) is not dict or datum.REQL_TYPE in v:
        raise cannot_call(name, v)
    return v


@term(T.KEYS, arity=(1, 1))
class Keys(Term):
    def eval(self, scope: Scope) -> list:
        d = self.arg(scope, 0, lambda v: _plain_datum(v, "keys"))
        return within_limit(sorted(d), scope.ctx)


@term(T.VALUES, arity=(1, 1))
class Values(Term):
    def eval(self, scope: Scope) -> list:
        d = self.arg(scope, 0, lambda v: _plain_datum(v, "values"))
        return within_limit([d[k] for k in sorted(d)], scope.ctx)


@term(T.MERGE, arity=(1, None), optargs=NO_RECURSE)
class Merge(Term):
    def eval(self, scope: Scope) -> Any:
        v = self.args[0].run(scope)
        others = [a.run(scope) for a in self.args[1:]]

        def on_obj(d: dict) -> dict:
            for o in others:
                patch = values.to_datum(o(d)) if isinstance(o, values.Func) else values.to_datum(o)
                d = merge_patch(d, patch)
            return d

        return _poly(
            v, "merge", on_obj, no_recurse=no_recurse_of(self, scope), v_frames=self.args[0].frames
        )


class _PathTerm(Term):
    name = ""
    kind = "map"

    def apply(self, d: dict, spec: pathspec.PathSpec) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def eval(self, scope: Scope) -> Any:
        v = self.args[0].run(scope)
        spec: list = []  # parsed when the first object needs it, as RethinkDB's obj_eval

        def on_obj(d: dict) -> Any:
            if not spec:
                paths = [self.datum_arg(scope, i) for i in range(1, len(self.args))]
                spec.append(pathspec.parse(paths))
            return self.apply(d, spec[0])

        return _poly(
            v, self.name, on_obj, self.kind, no_recurse_of(self, scope), self.args[0].frames
        )


@term(T.PLUCK, arity=(1, None), optargs=NO_RECURSE)
class Pluck(_PathTerm):
    name = "pluck"

    def apply(self, d: dict, spec: pathspec.PathSpec) -> Any:
        return pathspec.project(d, spec)


@term(T.WITHOUT, arity=(1, None), optargs=NO_RECURSE)
class Without(_PathTerm):
    name = "without"

    def apply(self, d: dict, spec: pathspec.PathSpec) -> Any:
        return pathspec.unproject(d, spec)


@term(T.HAS_FIELDS, arity=(1, None), optargs=NO_RECURSE)
class HasFields(_PathTerm):
    name = "has_fields"
    kind = "filter"

    def apply(self, d: dict, spec: pathspec.PathSpec) -> Any:
        return pathspec.contains(d, spec)


@term(T.GET_FIELD, arity=(2, 2), optargs=NO_RECURSE)
class GetField(Term):
    def eval(self, scope: Scope) -> Any:
        v = self.args[0].run(scope)
        key = self.datum_arg(scope, 1, values.as_string)
        return field(v, key, "get_field", no_recurse_of(self, scope), self.args[0].frames)


@term(T.BRACKET, arity=(2, 2), optargs=NO_RECURSE)
class Bracket(Term):
    """``x[key]``: a field of an object (or of each row), or the n-th element of a sequence."""

    def eval(self, scope: Scope) -> Any:
        v = self.args[0].run(scope)
        key = self.datum_arg(scope, 1)
        if type(key) is str:
            return field(v, key, "bracket", no_recurse_of(self, scope), self.args[0].frames)
        if type(key) is int or type(key) is float:
            if values.is_sequence(v):
                return nth(v, values.as_int(key))
            # Like nth, RethinkDB reads a non-array datum as a sequence here and fails so
            # (a typed error: on NULL a non-existence error).
            d = values.to_datum(v)
            cls = ReqlNonExistenceError if d is None else ReqlQueryLogicError
            raise cls(f"Cannot convert {values.type_name(d)} to SEQUENCE")
        raise ReqlQueryLogicError(
            "Expected NUMBER or STRING as second argument to `bracket` but found "
            f"{values.type_name(key)}."
        )
