"""String terms: MATCH, SPLIT, UPCASE, DOWNCASE.

MATCH uses RE2 (the ``google-re2`` package), the engine RethinkDB itself uses, so the accepted
syntax (no backreferences, no lookaround), the leftmost-first match and the error texts
(``Error in regexp `ab\\9` (portion `\\9`): invalid escape sequence: \\9``) are RethinkDB's.
Pattern and subject are matched as UTF-8 bytes, so ``start`` / ``end`` are byte offsets, as
RethinkDB reports them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import re2

from ....errors import ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import values
from ..compile import Scope, Term, term
from ..seq import within_limit

# Unicode White_Space (what RethinkDB's split uses when no delimiter is given).
_SPACE = frozenset(
    [*range(9, 14), 32, 133, 160, 5760, *range(8192, 8203), 8232, 8233, 8239, 8287, 12288]
)
_MAX_PATTERNS = 256
_cache: dict[str, Any] = {}
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2::Quiet: a bad user pattern is an error reply, not a log line


def _compile(pattern: str) -> Any:
    """A compiled RE2 pattern, cached per server like RethinkDB's regex cache."""
    rx = _cache.get(pattern)
    if rx is None:
        try:
            rx = re2.compile(pattern.encode("utf-8"), options=_OPTIONS)
        except re2.error as e:
            raise ReqlQueryLogicError(_error_text(pattern, e)) from None
        if len(_cache) >= _MAX_PATTERNS:
            _cache.clear()
        _cache[pattern] = rx
    return rx


def _error_text(pattern: str, e: Exception) -> str:
    """RethinkDB's message from RE2's ``error()`` ("<code text>: <error_arg>")."""
    raw = e.args[0] if e.args else ""
    error = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    # RE2's code texts contain no ": ", so what follows the first one is error_arg().
    _, sep, arg = error.partition(": ")
    return f"Error in regexp `{pattern}` (portion `{arg if sep else ''}`): {error}"


@term(T.MATCH, arity=(2, 2))
class Match(Term):
    """``str.match(regex)``: null, or ``{str, start, end, groups}`` for the first match."""

    def eval(self, scope: Scope) -> Any:
        s = self.datum_arg(scope, 0, values.as_string)
        rx = _compile(self.datum_arg(scope, 1, values.as_string))
        data = s.encode("utf-8", "surrogatepass")
        m = rx.search(data)
        if m is None:
            return None
        groups: list[dict | None] = []
        for g in range(1, rx.groups + 1):
            start, end = m.span(g)
            groups.append(None if start < 0 else _piece(data, start, end))
        return {**_piece(data, *m.span()), "groups": groups}


def _piece(data: bytes, start: int, end: int) -> dict:
    return {"str": data[start:end].decode("utf-8", "surrogatepass"), "start": start, "end": end}


@term(T.SPLIT, arity=(1, 3))
class Split(Term):
    """``split([delim, [max]])``: on whitespace runs, on a delimiter, or into characters."""

    def eval(self, scope: Scope) -> list:
        s = self.datum_arg(scope, 0, values.as_string)
        delim = None
        if len(self.args) > 1:
            d = self.datum_arg(scope, 1)
            delim = None if d is None else values.as_string(d)
        maxnum = -1
        if len(self.args) > 2:
            maxnum = self.datum_arg(scope, 2, values.as_int)
            top = scope.ctx.array_limit - 1
            if not -1 <= maxnum <= top:
                raise ReqlQueryLogicError(
                    f"Error: `split` size argument must be in range [-1, {top}]."
                )
        return within_limit(list(_split(s, delim, maxnum)), scope.ctx)


def _split(s: str, delim: str | None, maxnum: int) -> Iterator[str]:
    count, cur, end = 0, 0, len(s)
    while True:
        if count == maxnum:
            if delim is not None:
                if delim or cur != end:
                    yield s[cur:]
            else:
                start = _skip_space(s, cur)
                if start != end:
                    yield s[start:]
            return
        if delim == "":
            if cur == end:
                return
            nxt = cur + 1
            while nxt < end and _is_combining(s[nxt]):
                nxt += 1
            yield s[cur:nxt]
            count += 1
            cur = nxt
        elif delim is not None:
            nxt = s.find(delim, cur)
            if nxt < 0:
                yield s[cur:]
                return
            yield s[cur:nxt]
            count += 1
            cur = nxt + len(delim)
        else:
            nxt = cur
            while nxt < end and ord(s[nxt]) not in _SPACE:
                nxt += 1
            if nxt == end:
                start = _skip_space(s, cur)
                if start != end:
                    yield s[start:]
                return
            if cur != nxt:
                yield s[cur:nxt]
                count += 1
            cur = nxt + 1


def _skip_space(s: str, i: int) -> int:
    while i < len(s) and ord(s[i]) in _SPACE:
        i += 1
    return i


def _is_combining(ch: str) -> bool:
    return unicodedata.category(ch).startswith("M")


@term(T.UPCASE, arity=(1, 1))
class Upcase(Term):
    """ASCII-only, like RethinkDB (``toupper`` in the C locale)."""

    def eval(self, scope: Scope) -> str:
        s = self.datum_arg(scope, 0, values.as_string)
        return s.translate(_UPPER)


@term(T.DOWNCASE, arity=(1, 1))
class Downcase(Term):
    def eval(self, scope: Scope) -> str:
        s = self.datum_arg(scope, 0, values.as_string)
        return s.translate(_LOWER)


_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
