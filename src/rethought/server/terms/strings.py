"""String terms: MATCH, SPLIT, UPCASE, DOWNCASE.

MATCH uses Python's ``re`` where RethinkDB uses RE2. Differences users can hit: RE2 rejects
backreferences and lookaround (Python accepts them), RE2's ``(?P<name>)`` syntax is the same,
and error texts for invalid patterns differ (we keep RethinkDB's ``Error in regexp `...```
prefix). Offsets (``start`` / ``end``) are UTF-8 byte offsets, as RethinkDB reports them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from ...errors import ReqlQueryLogicError
from ...proto.ql2 import TermType as T
from ..compile import Scope, Term, term
from .argcheck import integer, string

# Unicode White_Space (what RethinkDB's split uses when no delimiter is given).
_SPACE = frozenset(
    [*range(9, 14), 32, 133, 160, 5760, *range(8192, 8203), 8232, 8233, 8239, 8287, 12288]
)
_MAX_PATTERNS = 256
_cache: dict[str, re.Pattern] = {}


def _compile(pattern: str) -> re.Pattern:
    rx = _cache.get(pattern)
    if rx is None:
        try:
            rx = re.compile(pattern)
        except re.error as e:
            portion = pattern[e.pos :] if e.pos is not None else pattern
            raise ReqlQueryLogicError(
                f"Error in regexp `{pattern}` (portion `{portion}`): {e.msg}"
            ) from None
        if len(_cache) >= _MAX_PATTERNS:
            _cache.clear()
        _cache[pattern] = rx
    return rx


def _byte_pos(s: str, i: int) -> int:
    return len(s[:i].encode("utf-8"))


@term(T.MATCH, arity=(2, 2))
class Match(Term):
    """``str.match(regex)``: null, or ``{str, start, end, groups}`` for the first match."""

    def eval(self, scope: Scope) -> Any:
        s = string(self.datum_arg(scope, 0))
        rx = _compile(string(self.datum_arg(scope, 1)))
        m = rx.search(s)
        if m is None:
            return None
        groups = []
        for g in range(1, (rx.groups or 0) + 1):
            if m.start(g) < 0:
                groups.append(None)
            else:
                groups.append(
                    {
                        "str": m.group(g),
                        "start": _byte_pos(s, m.start(g)),
                        "end": _byte_pos(s, m.end(g)),
                    }
                )
        return {
            "str": m.group(0),
            "start": _byte_pos(s, m.start()),
            "end": _byte_pos(s, m.end()),
            "groups": groups,
        }


@term(T.SPLIT, arity=(1, 3))
class Split(Term):
    """``split([delim, [max]])``: on whitespace runs, on a delimiter, or into characters."""

    def eval(self, scope: Scope) -> list:
        s = string(self.datum_arg(scope, 0))
        delim = None
        if len(self.args) > 1:
            d = self.datum_arg(scope, 1)
            delim = None if d is None else string(d)
        maxnum = -1
        if len(self.args) > 2:
            maxnum = integer(self.datum_arg(scope, 2))
            top = scope.ctx.array_limit - 1
            if not -1 <= maxnum <= top:
                raise ReqlQueryLogicError(
                    f"Error: `split` size argument must be in range [-1, {top}]."
                )
        return list(_split(s, delim, maxnum))


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
        s = string(self.datum_arg(scope, 0))
        return s.translate(_UPPER)


@term(T.DOWNCASE, arity=(1, 1))
class Downcase(Term):
    def eval(self, scope: Scope) -> str:
        s = string(self.datum_arg(scope, 0))
        return s.translate(_LOWER)


_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
