"""Reading one query frame: its JSON as RethinkDB's parser takes it, the shape of the
top-level ``[type, term, optargs]`` array with RethinkDB's texts for a malformed one, the
options read before anything is compiled (``noreply``, ``profile``) and a profile's shape.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...proto.ql2 import QueryType, TermType
from ..query import json_dups

__all__ = ["UNPARSEABLE", "BadQuery", "parse_query", "check_query", "static_bool", "profile_doc"]

UNPARSEABLE = "Client is buggy (failed to deserialize query)."
_QUERY_TYPES = frozenset(int(t) for t in QueryType)

_JSON_TYPE_NAMES = {
    type(None): "NULL",
    bool: "BOOL",
    dict: "OBJECT",
    list: "ARRAY",
    str: "STRING",
    int: "NUMBER",
    float: "NUMBER",
}


class BadQuery(Exception):
    """The frame is not a well-formed query: answered with CLIENT_ERROR."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_int(text: str) -> int:
    value = int(text)
    if len(text) > 300:
        float(value)  # OverflowError (a ValueError's sibling) beyond a double, as below
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if value - value != 0.0:
        raise ValueError(f"{text} is beyond a double")
    return value


def parse_query(payload: bytes) -> tuple[Any, json_dups.Duplicates]:
    """The query's JSON, and the objects in it that had a duplicate key (json_dups). orjson
    is fast but stops at 1024 levels of nesting and 64-bit integers and keeps the last of
    duplicate keys; the standard parser takes the rare query beyond those or whose bytes
    are not orjson's own. A number beyond a double (10**400, 1e400) fails as RethinkDB's
    parser fails it (rapidjson's NumberTooBig: the query is unparseable).
    """
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass  # beyond orjson: the standard parser below
    else:
        if not json_dups.may_have_duplicates(payload, value):
            return value, {}
    try:
        return json_dups.loads_recording_duplicates(
            payload,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except OverflowError as exc:
        raise ValueError(str(exc)) from None


def static_bool(optargs: dict, name: str) -> bool:
    """``noreply`` / ``profile`` as RethinkDB reads them before compiling: a bool or a DATUM."""
    v = optargs.get(name)
    if type(v) is bool:
        return v
    if type(v) is list and len(v) == 2 and v[0] == TermType.DATUM and type(v[1]) is bool:
        return v[1]
    return False


def profile_doc(raw_term: Any, seconds: float) -> list[dict[str, Any]]:
    """A one-level profile in RethinkDB's shape (description, duration(ms), sub_tasks)."""
    name = "datum"
    if type(raw_term) is list and raw_term and type(raw_term[0]) is int:
        try:
            name = TermType(raw_term[0]).name.lower()
        except ValueError:
            name = str(raw_term[0])
    elif type(raw_term) is dict:
        name = "make_obj"
    return [
        {
            "description": f"Evaluating {name}.",
            "duration(ms)": round(seconds * 1000, 6),
            "sub_tasks": [],
        }
    ]


def check_query(query: Any) -> tuple[int, Any, dict]:
    """The query type, term and global optargs of a parsed frame, or BadQuery in
    RethinkDB's words (query_cache.cc / json.cc)."""
    if type(query) is not list:
        raise BadQuery(
            f"Expected a query to be an array, but found {_JSON_TYPE_NAMES[type(query)]}."
        )
    if not 1 <= len(query) <= 3:
        raise BadQuery(f"Expected 1 to 3 elements in the top-level query, but found {len(query)}.")
    qtype = query[0]
    if type(qtype) not in (int, float) or type(qtype) is bool:
        raise BadQuery(
            f"Expected a query type as a number, but found {_JSON_TYPE_NAMES[type(qtype)]}."
        )
    if qtype not in _QUERY_TYPES:
        raise BadQuery(f"Unrecognized QueryType: {int(qtype)}.")
    optargs = query[2] if len(query) > 2 else {}
    if type(optargs) is not dict:
        raise BadQuery(
            f"Expected global optargs as an object, but found {_JSON_TYPE_NAMES[type(optargs)]}."
        )
    if qtype == QueryType.START and len(query) < 2:
        raise BadQuery("Expected a term in a START query.")
    return int(qtype), query[1] if len(query) > 1 else None, optargs
