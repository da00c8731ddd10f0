"""JSON text terms: JSON (``r.json``) and TO_JSON_STRING, as RethinkDB 2.4 does them.

``r.json`` reads with RapidJSON's rules (``datum.rjson``), then builds the datum as
``to_datum(rapidjson::Value)`` does, checking in document order: each member's value before
its key's duplicate check (``Duplicate key "a" in JSON.``), numbers finite, every array
within the array limit, and each object's pseudo-type once its members are built (TIME,
GEOMETRY, BINARY and LITERAL checked as a query's own literals; any other is ``Unknown
$reql_type$ `PTYPE<X>`.``). ``to_json_string`` writes compact JSON (``datum.jsonfmt``).
"""

from __future__ import annotations

from typing import Any

from .... import datum
from ....datum import rjson
from ....datum.jsonfmt import dumps, pretty
from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ..compile import Scope, Term, term
from ..pseudo import sanitize_ptype
from ..seq import array_limit_error
from .types import finite


@term(T.JSON, arity=(1, 1))
class Json(Term):
    """``r.json(text)``: parse a JSON document into a datum."""

    def eval(self, scope: Scope) -> Any:
        return parse_json(self.datum_arg(scope, 0, values.as_string), scope.ctx.array_limit)


@term(T.TO_JSON_STRING, arity=(1, 1))
class ToJsonString(Term):
    def eval(self, scope: Scope) -> str:
        return dumps(self.datum_arg(scope, 0))


def parse_json(text: str, limit: int) -> Any:
    """The datum of JSON ``text``, with RethinkDB's errors."""
    if "\0" in text:
        raise ReqlQueryLogicError("Encountered unescaped null byte in JSON string.")
    try:
        tree = rjson.parse(text)
    except rjson.ParseError as e:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ReqlQueryLogicError(f'Failed to parse "{shown}" as JSON: {e}') from None
    return _to_datum(tree, limit)


def _to_datum(v: Any, limit: int) -> Any:
    t = type(v)
    if t is float:
        return datum.num(finite(v))
    if t is list:
        out = []
        for x in v:
            out.append(_to_datum(x, limit))
            if len(out) > limit:
                raise array_limit_error(limit)
        return out
    if t is rjson.Pairs:
        obj: dict = {}
        for key, x in v:
            value = _to_datum(x, limit)
            if key in obj:
                raise ReqlQueryLogicError(f"Duplicate key {pretty(key)} in JSON.")
            obj[key] = value
        return _pseudo(obj) if datum.REQL_TYPE in obj else obj
    return v


def _pseudo(obj: dict) -> Any:
    """``maybe_sanitize_ptype`` with LITERAL allowed (RethinkDB's pts for JSON)."""
    return sanitize_ptype(obj, literal_ok=True)
