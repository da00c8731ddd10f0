"""Byte templates of one-key shapes: a point get with a new key, matched without a parse.

A shape plan (shapes.py) is found by parsing the payload, checking it for duplicate keys
(its bytes must be orjson's own dump of it) and walking it for the shape's bytes. When a
shape has one key position and its payload is orjson's dump, the shape's bytes are the
payload with the key's token replaced by the marker's: ``prefix + MARK + suffix``. Any
payload ``prefix + token + suffix`` whose token is a whole JSON integer or a plain string
(what orjson dumps for that value) then parses to the same query with that key, dumps to
itself (no duplicates) and has the same shape, with that key as its one param: so it is
matched by ``startswith``/``endswith`` and its param read from the token alone.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .shapes import MARK, Shape

_MARK_BYTES = orjson.dumps(MARK)
# What orjson dumps for an int within 2**53 (no "-0") or a string with nothing escaped.
_TOKEN = re.compile(rb'0|-?[1-9][0-9]{0,14}|"[^"\\\x00-\x1f]*"')
#: Templates kept (scanned most recent first: a miss costs one startswith each).
CAPACITY = 8


class Template:
    """The bytes around the one key of a shape, and the plan that shape shares."""

    __slots__ = ("prefix", "suffix", "plan", "size")

    def __init__(self, prefix: bytes, suffix: bytes, plan: Any) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.plan = plan
        self.size = len(prefix) + len(suffix)


def learn(payload: bytes, query: list, shape: Shape, plan: Any) -> Template | None:
    """The template of ``payload`` (orjson's dump of ``query``, of ``shape``), or None
    when its shape has more than one position or its key is not a template token."""
    if len(shape.params) != 1 or len(query) != 3:
        return None
    key = shape.key
    at = key.find(_MARK_BYTES)
    if at < 0 or key.find(_MARK_BYTES, at + 1) >= 0:
        return None  # a document marker, or the marker's text elsewhere
    prefix, suffix = key[:at], key[at + len(_MARK_BYTES) :]
    if not (payload.startswith(prefix) and payload.endswith(suffix)):
        return None
    if _TOKEN.fullmatch(payload, len(prefix), len(payload) - len(suffix)) is None:
        return None
    return Template(prefix, suffix, plan)


def match(templates: list[Template], payload: bytes) -> tuple[Any, tuple] | None:
    """The plan and params of ``payload`` by one of ``templates``, or None."""
    n = len(payload)
    for t in templates:
        if n > t.size and payload.startswith(t.prefix) and payload.endswith(t.suffix):
            start, stop = len(t.prefix), n - len(t.suffix)
            if _TOKEN.fullmatch(payload, start, stop) is None:
                return None
            if payload[start] == 34:  # '"'
                try:
                    return t.plan, (payload[start + 1 : stop - 1].decode(),)
                except UnicodeDecodeError:
                    return None  # not valid UTF-8: the parse reports it
            return t.plan, (int(payload[start:stop]),)
    return None
