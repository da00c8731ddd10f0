"""How RethinkDB names and prints any evaluated value (not only datums) in type errors.

``val_kind`` / ``val_print`` follow RethinkDB's ``val_t``: ``Expected type SELECTION but
found DATUM:\n[...]``, ``... found TABLE_SLICE:\nSELECTION ON table(t)``. Datums are
printed by ``datum.jsonfmt.pretty``.
"""

from __future__ import annotations

from typing import Any

from ...datum.jsonfmt import pretty
from ...errors import ReqlQueryLogicError
from .. import values


def val_kind(v: Any) -> str:
    """The name RethinkDB's ``val_t`` gives a value (DATUM for every datum)."""
    if isinstance(v, values.Database):
        return "DATABASE"
    if isinstance(v, values.TableValue):
        return "TABLE"
    if isinstance(v, values.Sequence):
        name = type(v).type_name
        if name == "TABLE_SLICE":
            return "TABLE_SLICE"
        return "SELECTION" if v.table is not None else "SEQUENCE"
    if isinstance(v, values.SingleSelection):
        return "SINGLE_SELECTION"
    if isinstance(v, values.Func):
        return "FUNCTION"
    if isinstance(v, values.Grouped):
        return "GROUPED_DATA"
    return "DATUM"


def val_print(v: Any) -> str:
    """How RethinkDB prints a value after ``Expected type X but found Y:``."""
    if isinstance(v, values.Database):
        return f'db("{v.name}")'
    if isinstance(v, values.TableValue):
        return f'table("{v.name}")'
    if isinstance(v, values.SingleSelection):
        return pretty(v.row)
    if isinstance(v, values.Sequence):
        if v.table is not None:
            return f"SELECTION ON table({v.table.name})"
        return "VALUE SEQUENCE"
    if isinstance(v, values.Func):
        return "VALUE FUNCTION"
    if isinstance(v, values.Grouped):
        return "VALUE GROUPED_DATA"
    return pretty(v)


def expected_val(v: Any, want: str) -> ReqlQueryLogicError:
    """``Expected type TABLE but found DATUM:\\n[1, 2]`` with RethinkDB's printing."""
    return ReqlQueryLogicError(f"Expected type {want} but found {val_kind(v)}:\n{val_print(v)}")
