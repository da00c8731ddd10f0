"""INFO: what RethinkDB reports about any value (datum, database, table, selection, ...)."""

from __future__ import annotations

from typing import Any

from .... import datum
from ....datum.jsonfmt import pretty
from ....proto.ql2 import TermType as T
from ...runtime import values
from ..compile import Scope, Term, term
from ..table_slices import TableSlice


def _bound(d: dict, side: str, bound: Any, is_open: bool, unbounded: Any) -> None:
    if bound is unbounded:
        d[f"{side}_bound_type"] = "unbounded"
    elif bound is datum.MINVAL or bound is datum.MAXVAL:
        d[f"{side}_bound_type"] = "unachievable"
    else:
        d[f"{side}_bound"] = bound
        d[f"{side}_bound_type"] = "open" if is_open else "closed"


def db_info(db: values.Database) -> dict:
    return {"id": db.id, "name": db.name, "type": "DB"}


def table_info(table: values.TableValue) -> dict:
    store = table.store
    return {
        "db": db_info(table.db),
        "doc_count_estimates": [store.count()],
        "id": store.id,
        "indexes": sorted(store.index_list()),
        "name": table.name,
        "primary_key": store.primary_key,
        "type": "TABLE",
    }


def info(v: Any) -> dict:
    """The ``info()`` document of ``v``, with the keys of RethinkDB's ``info_term_t``:
    a datum has ``value`` (its pretty print; BINARY adds ``count``), except NULL, MINVAL
    and MAXVAL, which have only ``type``."""
    out: dict[str, Any] = {"type": values.type_name(v)}
    if isinstance(v, values.Database):
        return db_info(v)
    if isinstance(v, values.TableValue):
        return table_info(v)
    if isinstance(v, TableSlice):
        out["table"] = table_info(v.table)
        out["index"] = v.index
        out["sorting"] = ("DESCENDING" if v.reverse else "ASCENDING") if v.ordered else "UNORDERED"
        _bound(out, "left", v.lo, v.lo_open, datum.MINVAL)
        _bound(out, "right", v.hi, v.hi_open, datum.MAXVAL)
        return out
    if isinstance(v, values.SingleSelection) or (
        isinstance(v, values.Sequence) and v.table is not None
    ):
        out["table"] = table_info(v.table)
        return out
    if isinstance(v, (values.Sequence, values.Grouped)):
        return out
    if isinstance(v, values.Func):
        out["source_code"] = pretty(_source(v))
        return out
    if v is None or v is datum.MINVAL or v is datum.MAXVAL:
        return out
    if datum.pseudo_type(v) == "BINARY":
        out["count"] = len(datum.binary_bytes(v))
    out["value"] = pretty(v)
    return out


def _source(fn: values.Func) -> Any:
    from .indexes import to_wire  # the wire form is the closest thing to source we keep

    body = getattr(fn, "body", None)
    return to_wire(body) if body is not None else None


@term(T.INFO, arity=(1, 1))
class Info(Term):
    def eval(self, scope: Scope) -> dict:
        return info(self.args[0].run(scope))
