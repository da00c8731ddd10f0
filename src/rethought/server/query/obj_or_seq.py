"""Terms that apply to an object or to each row of a sequence, as RethinkDB's
``obj_or_seq_op_impl_t`` (obj_or_seq.cc): the polymorphic core of ``get_field``, ``keys``,
``pluck`` ..., and their errors. Below the term modules, since ``seq.field_func`` (a field name
standing for a function) needs ``field`` too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ... import datum
from ...datum.jsonfmt import trunc_pretty
from ...errors import ReqlNonExistenceError, ReqlQueryLogicError
from ..runtime import values
from ..runtime.values import get_field, is_datum, truthy, val_print


def _poly(
    v: Any,
    name: str,
    on_obj: Callable[[dict], Any],
    kind: str = "map",
    no_recurse: Callable[[], Any] | None = None,
    v_frames: tuple | None = None,
) -> Any:
    """Apply ``on_obj`` to an object, or lazily over a sequence's rows (map / skip / filter),
    as RethinkDB's ``obj_or_seq_op_impl_t``: none of these terms accepts a pseudo-type.
    ``no_recurse`` reads the internal ``_NO_RECURSE_`` optarg, evaluated only on a sequence:
    true refuses the sequence (RethinkDB sets it on the per-row call it builds).
    ``v_frames`` (the backtrace of the term that produced ``v``) is blamed for ``v`` not being
    an object or a sequence, as RethinkDB's ``rfail_target(v0, ...)``; a row's error inside
    a sequence blames the term itself (its per-row function carries the term's backtrace)."""
    if isinstance(v, values.SingleSelection):
        v = v.row
    if type(v) is dict:
        if datum.REQL_TYPE in v:
            raise _blamed(cannot_call(name, v), v_frames)
        return on_obj(v)
    if values.is_sequence(v):
        if no_recurse is not None and truthy(no_recurse()):
            raise ReqlQueryLogicError(f"Cannot perform {name} on a sequence of sequences.")
        rows = values.iterate(v)

        def row_fn(row: Any) -> Any:
            if values.is_sequence(row):
                raise ReqlQueryLogicError(f"Cannot perform {name} on a sequence of sequences.")
            return _poly(row, name, on_obj, "map")

        if kind == "filter":
            gen: Iterator[Any] = (row for row in rows if row_fn(row))
            table = getattr(v, "table", None)
            if table is not None and isinstance(v, values.Sequence):
                return values.Selection(table, gen)
            return values.Stream(gen) if isinstance(v, values.Sequence) else list(gen)
        if kind == "skip":
            gen = _skip_missing(rows, row_fn)
        else:
            gen = (row_fn(row) for row in rows)
        return values.Stream(gen) if isinstance(v, values.Sequence) else list(gen)
    raise _blamed(non_object_error(name, v), v_frames)


def _blamed(e: ReqlQueryLogicError, frames: tuple | None) -> ReqlQueryLogicError:
    if frames is not None:
        e.frames = list(frames)
    return e


def cannot_call(name: str, d: Any) -> ReqlQueryLogicError:
    """``Cannot call `keys` on objects of type `PTYPE<TIME>`.``"""
    return ReqlQueryLogicError(f"Cannot call `{name}` on objects of type `{values.type_name(d)}`.")


def non_object_error(name: str, v: Any) -> ReqlQueryLogicError:
    """``Cannot perform bracket on a non-object non-sequence `1`.`` (a database prints as
    ``db("test")``, as RethinkDB's ``val_t::trunc_print``); on NULL it is a non-existence
    error, so ``default`` and ``filter`` treat ``null['a']`` as missing."""
    if is_datum(v):
        shown = trunc_pretty(v)
    else:
        shown = val_print(v)
        shown = shown if len(shown) <= 300 else shown[:297] + "..."
    cls = ReqlNonExistenceError if v is None else ReqlQueryLogicError
    return cls(f"Cannot perform {name} on a non-object non-sequence `{shown}`.")


def _skip_missing(rows: Iterator[Any], fn: Callable[[Any], Any]) -> Iterator[Any]:
    for row in rows:
        try:
            yield fn(row)
        except ReqlNonExistenceError:
            continue


def field(
    v: Any,
    name: str,
    term_name: str,
    no_recurse: Callable[[], Any] | None = None,
    v_frames: tuple | None = None,
) -> Any:
    """``v(name)``: a field of an object, or of each row of a sequence (rows lacking it are
    skipped); ``term_name`` is what errors call the term, ``v_frames`` where ``v`` came from."""
    if type(v) is dict and datum.REQL_TYPE not in v:  # a plain object: the per-row case
        return get_field(v, name)
    return _poly(v, term_name, lambda d: get_field(d, name), "skip", no_recurse, v_frames)
