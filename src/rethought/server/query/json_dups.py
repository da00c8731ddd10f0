"""Duplicate keys in a query's JSON, refused as RethinkDB refuses them.

RethinkDB parses a query with rapidjson, which keeps every member of an object, so a
duplicate key reaches the code that reads that object: global optargs ("Duplicate global
optional argument: `db`."), an operator's optargs ("Duplicate optional argument: index",
blaming the optarg, op.cc), MAKE_OBJ or an object literal ("Duplicate object key: a.",
blaming the object, datum_terms.cc), a DATUM value ("Duplicate key \"a\" in JSON.", no
backtrace, datum.cc to_datum: values are read before their key is checked). All are compile
errors. orjson keeps the last member silently and cannot report duplicates, so the query is
parsed by orjson and re-encoded: when the bytes match what was sent (as our driver and the
official drivers send queries), no object had a duplicate key, since dropping a member
changes the text. Only otherwise is the payload parsed again by the standard parser, whose
``object_pairs_hook`` records the objects that had one.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from ...datum.jsonfmt import pretty
from ...errors import ReqlCompileError, ReqlError
from ...proto.ql2 import TermType as T
from .walker import walk_term

#: id(object) -> its members in order, for each object of one query that had a duplicate.
Duplicates = dict[int, list[tuple[str, Any]]]


def may_have_duplicates(payload: bytes, value: Any) -> bool:
    """False when ``value`` (orjson's reading of ``payload``) re-encodes to the same bytes."""
    try:
        return orjson.dumps(value) != payload
    except TypeError:  # beyond orjson (deep or big-integer values): look
        return True


def loads_recording_duplicates(payload: bytes, **kwargs: Any) -> tuple[Any, Duplicates]:
    """``json.loads`` (last member wins, as before) and the objects that had a duplicate."""
    dups: Duplicates = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict:
        d = dict(pairs)
        if len(d) != len(pairs):
            dups[id(d)] = pairs  # the tree keeps ``d`` alive while the ids are read
        return d

    return json.loads(payload, object_pairs_hook=hook, **kwargs), dups


def duplicate_error(term: Any, optargs: dict, dups: Duplicates) -> ReqlError | None:
    """The error RethinkDB gives a START query whose JSON had duplicate keys, or None when
    the duplicates sit where nothing reads them. The term walker's own errors come first."""
    try:
        walk_term(term)
        seen: set[str] = set()
        for name, raw in _members(optargs, dups):
            walk_term(raw, False)
            if name in seen:
                raise ReqlCompileError(f"Duplicate global optional argument: `{name}`.", frames=[])
            seen.add(name)
        _term(term, (), dups)
        for raw in optargs.values():
            _term(raw, (), dups)
    except ReqlError as e:
        return e
    return None


def _members(obj: dict, dups: Duplicates) -> Any:
    return dups.get(id(obj)) or obj.items()


def _term(raw: Any, frames: tuple, dups: Duplicates) -> None:
    if type(raw) is list:
        if not raw or type(raw[0]) is not int:
            return
        tt = raw[0]
        args = raw[1] if len(raw) > 1 else []
        opts = raw[2] if len(raw) > 2 else {}
        if tt == T.DATUM:
            dup = _datum_duplicate(args[0], dups) if type(args) is list and args else None
            if dup is not None:
                raise ReqlCompileError(f"Duplicate key {pretty(dup)} in JSON.", frames=[])
            return
        if type(args) is dict and len(raw) == 2:
            args, opts = [], args
        if type(args) is list:
            for i, a in enumerate(args):
                _term(a, (*frames, i), dups)
        if type(opts) is dict:
            _object(opts, frames, dups, tt == T.MAKE_OBJ)
    elif type(raw) is dict:
        _object(raw, frames, dups, True)


def _object(obj: dict, frames: tuple, dups: Duplicates, make_obj: bool) -> None:
    seen: set[str] = set()
    for k, v in _members(obj, dups):
        _term(v, (*frames, k), dups)
        if k in seen:
            if make_obj:
                raise ReqlCompileError(f"Duplicate object key: {k}.", frames=list(frames))
            raise ReqlCompileError(f"Duplicate optional argument: {k}", frames=[*frames, k])
        seen.add(k)


def _datum_duplicate(value: Any, dups: Duplicates) -> str | None:
    """The first duplicate key in a datum, in to_datum's order (values before keys)."""
    if type(value) is dict:
        seen: set[str] = set()
        for k, v in _members(value, dups):
            inner = _datum_duplicate(v, dups)
            if inner is not None:
                return inner
            if k in seen:
                return k
            seen.add(k)
    elif type(value) is list:
        for v in value:
            inner = _datum_duplicate(v, dups)
            if inner is not None:
                return inner
    return None
