"""Byte templates of one-position shapes: a point get with a new key, or a single insert of
a new document, matched without parsing the whole frame.

A shape plan (shapes.py) is found by parsing the payload, checking it for duplicate keys
(its bytes must be orjson's own dump of it) and walking it for the shape's bytes. When a
shape has one key position and its payload is orjson's dump, the shape's bytes are the
payload with the key's token replaced by the marker's: ``prefix + MARK + suffix``. Any
payload ``prefix + token + suffix`` whose token is a whole JSON integer or a plain string
(what orjson dumps for that value) then parses to the same query with that key, dumps to
itself (no duplicates) and has the same shape, with that key as its one param: so it is
matched by ``startswith``/``endswith`` and its param read from the token alone.

A shape whose one position is an inserted document is the same with the document's marker
object in the place of the key's token: any payload ``prefix + doc + suffix`` whose middle
parses as one JSON object (so everything around it is the template's own tokens), dumps to
itself and is plain data (what shapes.py would have made a param) is that shape with that
document: only the document is parsed, and it is checked as the shape walk checks it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from . import json_dups
from .compile import MAX_NESTING
from .literals import plain_canonical
from .shapes import DOC_MARK, MARK, Shape

_MARK_BYTES = orjson.dumps(MARK)
_DOC_MARK_BYTES = orjson.dumps(DOC_MARK)
# What orjson dumps for an int within 2**53 (no "-0") or a string with nothing escaped.
_TOKEN = re.compile(rb'0|-?[1-9][0-9]{0,14}|"[^"\\\x00-\x1f]*"')
#: Templates kept (scanned most recent first: a miss costs one startswith each).
CAPACITY = 8


class Template:
    """The bytes around the one position of a shape, and the plan that shape shares;
    ``depth``: for a document position, the nesting its document may have (else None)."""

    __slots__ = ("prefix", "suffix", "plan", "size", "depth", "start", "stop")

    def __init__(self, prefix: bytes, suffix: bytes, plan: Any, depth: int | None = None) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.plan = plan
        self.size = len(prefix) + len(suffix)
        self.depth = depth
        self.start = len(prefix)  # where the middle starts, and ends from the end
        self.stop = -len(suffix) if suffix else None


def learn(payload: bytes, query: list, shape: Shape, plan: Any) -> Template | None:
    """The template of ``payload`` (orjson's dump of ``query``, of ``shape``), or None
    when its shape has more than one position or its key is not a template token."""
    if len(shape.params) != 1 or len(query) != 3:
        return None
    key = shape.key
    doc = type(shape.params[0]) is dict
    mark = _DOC_MARK_BYTES if doc else _MARK_BYTES
    at = key.find(mark)
    if at < 0 or key.count(_MARK_BYTES) != 1:
        return None  # the marker's text elsewhere too
    prefix, suffix = key[:at], key[at + len(mark) :]
    if not (payload.startswith(prefix) and payload.endswith(suffix)):
        return None
    start, stop = len(prefix), len(payload) - len(suffix)
    if doc:
        # The budget the shape walk gave this document (shapes._positions).
        return Template(prefix, suffix, plan, MAX_NESTING - len(shape.paths[0]))
    if _TOKEN.fullmatch(payload, start, stop) is None:
        return None
    return Template(prefix, suffix, plan)


def match(templates: list[Template], payload: bytes) -> tuple[Any, tuple] | None:
    """The plan and params of ``payload`` by one of ``templates``, or None."""
    n = len(payload)
    for t in templates:
        # Slices compared: bytes.startswith / endswith parse their arguments slower.
        start, stop = t.start, t.stop
        if (
            n > t.size
            and payload[:start] == t.prefix
            and (stop is None or payload[stop:] == t.suffix)
        ):
            middle = payload[start:stop]
            if t.depth is not None:
                return _document(t, middle)
            return _key(t, middle)
    return None


def _key(t: Template, token: bytes) -> tuple[Any, tuple] | None:
    """The plan and params of a payload whose key position holds ``token``, or None when
    it is not what orjson dumps for an integer within 2**53 or a plain string (``_TOKEN``;
    integers are checked without the regex: the commonest key)."""
    if token[0] == 34:  # '"'
        if _TOKEN.fullmatch(token) is None:
            return None
        try:
            return t.plan, (token[1:-1].decode(),)
        except UnicodeDecodeError:
            return None  # not valid UTF-8: the parse reports it
    digits = token[1:] if token[0] == 45 else token  # '-'
    if not digits.isdigit() or len(digits) > 15 or (digits[0] == 48 and token != b"0"):
        return None  # not a digit string, beyond 2**53's 16 digits, a leading 0, or -0
    return t.plan, (int(token),)


def _document(t: Template, middle: bytes) -> tuple[Any, tuple] | None:
    """The plan and params of a payload whose document position holds ``middle``, or None
    when it is not one plain, duplicate-free JSON object (the parse then decides)."""
    if middle[0] != 123:  # '{' (the middle is never empty: n > size)
        return None
    try:
        doc = orjson.loads(middle)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or json_dups.may_have_duplicates(middle, doc):
        return None
    # The plain-data check and the numbers made canonical in one walk (a doc it refuses
    # is dropped: the parse reads the payload again).
    if not plain_canonical(doc, t.depth):  # plain data, its numbers canonical
        return None
    return t.plan, (doc,)
