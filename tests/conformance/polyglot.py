"""Reader for RethinkDB's polyglot test files.

The files look like YAML but are not valid YAML (``lambda x: x`` and ``{'a':1}`` appear
unquoted), so RethinkDB reads them with a small indentation-based reader of its own, and so
do we. Its rules:

* blank lines and ``#`` comment lines are ignored, and so is a comment right after
  ``key:`` (``py: # this form does not work in Python`` means no Python variant);
* ``key: rest`` (``key`` made of word characters and dots) opens a mapping entry;
* ``- rest`` opens a list item; ``rest`` is re-read as if it started a block of its own,
  indented to where it stands;
* anything else is text: every scalar stays a string (the runner later evaluates it as
  Python), and the lines of a multi-line scalar are stripped and joined with newlines;
* lines indented deeper than an entry belong to that entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_LINE = re.compile(
    r"^(?P<indent> *)(?:(?P<item>-(?: +|$))(?P<item_rest>.*)|(?P<key>[\w.]+)(?P<colon>: *|:$)(?P<rest>.*)|(?P<text>.*))$"
)
_COMMENT = re.compile(r"^\s*#")
_BLOCK_MARKERS = ("|", "|-", ">", ">-")


class PolyglotSyntaxError(ValueError):
    """The file does not follow the polyglot format."""


class Text(str):
    """A scalar, remembering the line it started on (used to name tests)."""

    line: int = 0

    def __new__(cls, value: str, line: int) -> Text:
        self = super().__new__(cls, value)
        self.line = line
        return self


@dataclass
class _Line:
    number: int
    indent: int
    text: str


def parse(source: str) -> Any:
    """Parse polyglot text into nested dicts, lists and :class:`Text` scalars."""
    lines = []
    for number, raw in enumerate(source.splitlines(), start=1):
        raw = raw.rstrip().replace("\t", "    ")
        if not raw.strip() or _COMMENT.match(raw):
            continue
        lines.append(_Line(number, len(raw) - len(raw.lstrip(" ")), raw.strip()))
    return _block(lines)


def parse_file(path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return parse(f.read())


def _block(lines: list[_Line]) -> Any:
    """Parse lines that form one value; the first line decides its kind."""
    if not lines:
        return None
    first = _LINE.match(" " * lines[0].indent + lines[0].text)
    if first.group("item") is not None:
        return _sequence(lines)
    if first.group("key") is not None:
        return _mapping(lines)
    return _scalar(lines)


def _entries(lines: list[_Line]) -> list[tuple[_Line, re.Match, list[_Line]]]:
    """Split a mapping or sequence block into its entries and their nested lines."""
    base = lines[0].indent
    entries: list[tuple[_Line, re.Match, list[_Line]]] = []
    column = base + 1  # where the current entry's content starts
    for line in lines:
        match = _LINE.match(" " * line.indent + line.text)
        # RethinkDB's reader also accepts a list item indented a little off its siblings
        # (changefeeds/point.yaml has one), so any item left of the content column starts
        # a new entry.
        if line.indent <= base or (match.group("item") is not None and line.indent < column):
            entries.append((line, match, []))
            column = line.indent + len(match.group("item") or " ")
        else:
            entries[-1][2].append(line)
    return entries


def _nested(head: _Line, offset: int, rest: str, children: list[_Line]) -> Any:
    """The value of an entry: its inline remainder, re-read at its column, plus children."""
    body = list(children)
    if rest.strip():
        body.insert(0, _Line(head.number, head.indent + offset, rest.strip()))
    return _block(body)


def _sequence(lines: list[_Line]) -> list:
    result = []
    for head, match, children in _entries(lines):
        if match.group("item") is None:
            raise PolyglotSyntaxError(f"line {head.number}: expected a list item: {head.text}")
        offset = len(match.group("item"))
        result.append(_nested(head, offset, match.group("item_rest"), children))
    return result


def _mapping(lines: list[_Line]) -> dict:
    result: dict[str, Any] = {}
    for head, match, children in _entries(lines):
        if match.group("key") is None:
            raise PolyglotSyntaxError(f"line {head.number}: expected `key:`: {head.text}")
        offset = len(match.group("key")) + len(match.group("colon"))
        rest = match.group("rest")
        if rest.startswith("#"):  # `py: # no Python form`: a YAML comment, so no value
            rest = ""
        result[match.group("key")] = _nested(head, offset, rest, children)
    return result


def _scalar(lines: list[_Line]) -> Text:
    texts = [line.text for line in lines]
    if texts[0] in _BLOCK_MARKERS:
        texts = texts[1:]
    return Text("\n".join(texts), lines[0].number)
