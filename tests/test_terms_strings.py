"""String terms (MATCH with RE2, SPLIT, UPCASE, DOWNCASE) run through the engine."""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import evaluate as run
from rethought.errors import ReqlQueryLogicError

r = rethinkdb.r


def group(s, start, end):
    return {"str": s, "start": start, "end": end}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            r.expr("abcdefg").match("a(b.e)|b(c.e)"),
            {**group("bcde", 1, 5), "groups": [None, group("cde", 2, 5)]},
        ),
        (r.expr("abcdefg").match("a(b.e)|B(c.e)"), None),
        (
            r.expr("abcdefg").match("(?i)a(b.e)|B(c.e)"),
            {**group("bcde", 1, 5), "groups": [None, group("cde", 2, 5)]},
        ),
        (
            r.expr("héllo wörld").match("w(ö)r"),
            {**group("wör", 7, 11), "groups": [group("ö", 8, 10)]},
        ),  # UTF-8 byte offsets
        (r.expr("abc").match("x*"), {**group("", 0, 0), "groups": []}),
        (r.expr("abc").match("(?P<n>b)"), {**group("b", 1, 2), "groups": [group("b", 1, 2)]}),
        (
            r.expr(["aba", "aca", "ada", "aea"]).filter(
                lambda row: row.match("a(.)a")["groups"][0]["str"].match("[cd]")
            ),
            ["aca", "ada"],
        ),
        (r.expr("ABCé").downcase(), "abcé"),  # C-locale tolower: ASCII only
        (r.expr("abcé").upcase(), "ABCé"),
        (r.expr("  a b\u3000c ").split(), ["a", "b", "c"]),
        (r.expr("a,b,,c").split(","), ["a", "b", "", "c"]),
        (r.expr("a,b,c").split(",", 1), ["a", "b,c"]),
        (r.expr("abc").split(""), ["a", "b", "c"]),
    ],
)
def test_values(query, expected):
    assert run(query) == expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("ab\\9", "Error in regexp `ab\\9` (portion `\\9`): invalid escape sequence: \\9"),
        ("a(b", "Error in regexp `a(b` (portion `a(b`): missing ): a(b"),
        ("(a)\\1", "Error in regexp `(a)\\1` (portion `\\1`): invalid escape sequence: \\1"),
        ("(?=a)", "Error in regexp `(?=a)` (portion `(?=`): invalid perl operator: (?="),
        (
            "a{2000}",
            "Error in regexp `a{2000}` (portion `{2000}`): invalid repetition size: {2000}",
        ),
    ],
)
def test_invalid_regexps(pattern, message):
    with pytest.raises(ReqlQueryLogicError) as info:
        run(r.expr("").match(pattern))
    assert info.value.message == message


def test_match_type_errors():
    with pytest.raises(ReqlQueryLogicError) as info:
        run(r.expr(1).match("a"))
    assert info.value.message == "Expected type STRING but found NUMBER."
