"""Path selectors of pluck / without / has_fields, as RethinkDB's ``pathspec_t`` reads them.

A selector is a string (one field), an array (each element a selector) or an object whose
values are ``true`` (that field) or a nested selector; anything else, including ``false``
and the numbers inside a pseudo-type object, is ``Invalid path argument `x`.``. A selector
is parsed into ``str`` | ``list`` of selectors | ``dict`` field -> selector.

``project`` / ``unproject`` / ``contains`` follow pathspec.cc: a nested selector maps over
an array field's elements, and a nested step that meets a non-object (an array element
that is a number, say) abandons that whole field: pluck leaves it out, without leaves it
unchanged, has_fields is false.
"""

from __future__ import annotations

from typing import Any

from ....datum.jsonfmt import pretty
from ....errors import ReqlQueryLogicError

PathSpec = str | list | dict


class _NotObject(Exception):
    """A nested step met a non-object (RethinkDB's datum_exc_t from ``get_field``)."""


def parse(d: Any) -> PathSpec:
    """The pathspec of one selector datum (``pathspec_t::pathspec_t(datum)``)."""
    t = type(d)
    if t is str:
        return d
    if t is list:
        return _collapse([parse(x) for x in d])
    if t is dict:
        fields: list = []
        nested: dict = {}
        for k in sorted(d):
            v = d[k]
            if v is True:
                fields.append(k)
            else:
                nested[k] = parse(v)
        if not fields:
            return nested
        if nested:
            fields.append(nested)
        return _collapse(fields)
    raise ReqlQueryLogicError(f"Invalid path argument `{pretty(d)}`.")


def _collapse(vec: list) -> PathSpec:
    return vec[0] if len(vec) == 1 else vec


def _field(d: Any, key: str) -> Any:
    if type(d) is not dict:
        raise _NotObject
    return d.get(key, _MISSING)


_MISSING = object()


def project(d: Any, spec: PathSpec, recurse: bool = False) -> Any:
    """``d`` limited to the paths of ``spec`` (pluck)."""
    if recurse and type(d) is list:
        return [project(x, spec) for x in d]
    out: dict = {}
    if type(spec) is str:
        v = _field(d, spec)
        if v is not _MISSING:
            out[spec] = v
    elif type(spec) is list:
        for sub in spec:
            out.update(project(d, sub, recurse))
    else:
        for k, sub in spec.items():
            v = _field(d, k)
            if v is not _MISSING:
                try:
                    out[k] = project(v, sub, True)
                except _NotObject:
                    pass
    return out


def unproject(d: Any, spec: PathSpec, recurse: bool = False) -> Any:
    """``d`` without the paths of ``spec`` (without)."""
    if recurse and type(d) is list:
        return [unproject(x, spec) for x in d]
    if type(d) is not dict:
        raise _NotObject
    out = dict(d)
    _unproject_into(out, spec)
    return out


def _unproject_into(out: dict, spec: PathSpec) -> None:
    if type(spec) is str:
        out.pop(spec, None)
    elif type(spec) is list:
        for sub in spec:
            _unproject_into(out, sub)
    else:
        for k, sub in spec.items():
            if k in out:
                try:
                    out[k] = unproject(out[k], sub, True)
                except _NotObject:
                    pass


def contains(d: Any, spec: PathSpec) -> bool:
    """Whether every path of ``spec`` is in ``d`` and not null (has_fields)."""
    try:
        return _contains(d, spec)
    except _NotObject:
        return False


def _contains(d: Any, spec: PathSpec) -> bool:
    if type(spec) is str:
        v = _field(d, spec)
        return v is not _MISSING and v is not None
    if type(spec) is list:
        return all(_contains(d, sub) for sub in spec)
    for k, sub in spec.items():
        v = _field(d, k)
        if v is _MISSING or not contains(v, sub):
            return False
    return True
