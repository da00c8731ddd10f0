"""Datum, control, math/logic, string, object and type terms, run through the engine.

Queries are built with the official driver's builder and serialised to wire JSON, so these
tests check the server's evaluation of exactly what a client sends (no network needed).
"""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import error, evaluate
from rethought.errors import (
    ReqlCompileError,
    ReqlNonExistenceError,
    ReqlQueryLogicError,
    ReqlUserError,
)

r = rethinkdb.r


def run(query):
    return evaluate(r.expr(query))


def fails(query, cls, message):
    assert error(run, query, cls).message == message


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.expr(1).do(lambda v: v * 2), 2),
        (r.do(1, 2, lambda x, y: x + y), 3),
        (r.do(lambda: 1), 1),
        (r.expr(5).do(r.row), 5),
        (r.branch(False, 1, True, 2, 3), 2),
        (r.branch(r.args([True, 1]), r.error("a")), 1),
        (r.branch([], 1, 2), 1),
        (r.or_(None, 3), 3),
        (r.and_(1, False, r.error("x")), False),
        (r.expr(1).eq(1.0, 1), True),
        (r.expr(1).ne(1, 2), True),
        (r.expr([]).lt(True, None, 0, {}, "a"), True),
        (r.expr(None).default(2), 2),
        (r.expr({})["b"].default(2), 2),
        ((r.expr(None) + 5).default(lambda e: e), "Expected type NUMBER but found NULL."),
        (r.expr(None).default(r.error()), None),
    ],
)
def test_control_and_logic(query, expected):
    assert run(query) == expected


def test_control_errors():
    fails(
        r.do(1, 2, lambda x: x),
        ReqlQueryLogicError,
        "Expected function with 2 arguments but found function with 1 argument.",
    )
    fails(
        r.branch(True, 1, True, 2),
        ReqlQueryLogicError,
        "Cannot call `branch` term with an even number of arguments.",
    )
    fails(r.branch(r.args([True, 1, r.error("a")])), ReqlUserError, "a")
    fails(r.error(5), ReqlQueryLogicError, "Expected type STRING but found NUMBER.")
    fails(
        r.expr({})["b"].default(r.error()), ReqlNonExistenceError, "No attribute `b` in object:\n{}"
    )
    fails(
        r.expr(1).eq(r.args([])), ReqlQueryLogicError, "Expected 2 or more arguments but found 1."
    )
    fails(
        r.expr([1]).do(lambda x: r.expr(2).do(r.row)),
        ReqlCompileError,
        "Cannot use r.row in nested queries.  Use functions instead.",
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.expr(4) / 2, 2),
        (r.expr(1) / 4, 0.25),
        (r.expr("a") + "b", "ab"),
        (r.expr([1]) + [2], [1, 2]),
        (r.expr([1, 2]) * 2, [1, 2, 1, 2]),
        (r.expr(-7) % 3, -1),
        (r.expr(2.5).round(), 3),
        (r.expr(-2.5).round(), -3),
        (r.expr(-1.5).floor(), -2),
        (r.expr(1.1).ceil(), 2),
        (r.expr(6).bit_and(3), 2),
        (r.expr(5).bit_not(), -6),
        (r.expr(1).bit_sal(3), 8),
        (r.expr(-5).bit_sar(1), -3),
    ],
)
def test_math(query, expected):
    assert run(query) == expected


def test_math_errors():
    fails(r.expr(4) / 0, ReqlQueryLogicError, "Cannot divide by zero.")
    fails(r.expr("a") + 5, ReqlQueryLogicError, "Expected type STRING but found NUMBER.")
    fails(r.expr(5) + "a", ReqlQueryLogicError, "Expected type NUMBER but found STRING.")
    fails(r.expr(None) + 5, ReqlNonExistenceError, "Expected type NUMBER but found NULL.")
    fails(r.expr([]) * 1.5, ReqlQueryLogicError, "Number not an integer: 1.5")
    fails(r.expr(1) % 0, ReqlQueryLogicError, "Cannot take a number modulo 0.")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.expr([1, 2]).coerce_to("string"), "[1,2]"),
        (r.expr(1.5).coerce_to("string"), "1.5"),
        (r.expr(1e20).coerce_to("string"), "100000000000000000000.0"),
        (r.expr(1e21).coerce_to("string"), "1e21"),
        (r.expr(1e-7).coerce_to("string"), "1e-7"),
        (r.expr(0.001).coerce_to("string"), "0.001"),
        (r.expr(" 12.5").coerce_to("number"), 12.5),
        (r.expr([["a", 1], ["b", 2]]).coerce_to("object"), {"a": 1, "b": 2}),
        (r.expr({"a": 1}).coerce_to("array"), [["a", 1]]),
        (r.expr(None).coerce_to("bool"), False),
        (r.range(3).coerce_to("array"), [0, 1, 2]),
        (r.expr("abc").coerce_to("binary").coerce_to("string"), "abc"),
        (r.expr({"b": [1], "a": "x\n"}).to_json_string(), '{"a":"x\\n","b":[1]}'),
        (r.json('[1, {"a": 2.0}]'), [1, {"a": 2}]),
        (r.range(2).type_of(), "STREAM"),
        (r.binary(b"ab").type_of(), "PTYPE<BINARY>"),
        (r.uuid("magic"), "97dd10a5-4fc4-554f-86c5-0d2c2e3d5330"),
    ],
)
def test_types(query, expected):
    assert run(query) == expected


def test_type_errors():
    fails(r.expr([1, 2]).coerce_to("number"), ReqlQueryLogicError, "Cannot coerce ARRAY to NUMBER.")
    fails(
        r.expr([[]]).coerce_to("object"),
        ReqlQueryLogicError,
        "Expected array of size 2, but got size 0.",
    )
    fails(r.expr("1 ").coerce_to("number"), ReqlQueryLogicError, "Could not coerce `1 ` to NUMBER.")
    fails(r.expr(1).coerce_to("foo"), ReqlQueryLogicError, "Unknown Type: FOO")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.expr({"a": 1, "b": {"c": 2, "d": 3}}).pluck("a", {"b": ["c"]}), {"a": 1, "b": {"c": 2}}),
        (r.expr({"a": 1, "b": {"c": 2, "d": 3}}).without({"b": "d"}), {"a": 1, "b": {"c": 2}}),
        (r.expr([{"a": 1}, {"b": 2}, {"a": None}]).has_fields("a"), [{"a": 1}]),
        (r.expr([{"a": 1}, {"b": 2}])["a"], [1]),
        (r.expr([{"a": 1, "b": 2}]).pluck("a"), [{"a": 1}]),
        (r.expr({"a": {"b": 1}}).merge({"a": r.literal({"c": 1})}), {"a": {"c": 1}}),
        (r.expr({"a": {"b": 1}}).merge(r.args([{"a": r.literal({"c": 1})}])), {"a": {"c": 1}}),
        (r.expr({"a": {"b": 1}}).merge({"a": {"c": 2}}), {"a": {"b": 1, "c": 2}}),
        (r.expr({"a": 1, "b": 2}).merge({"a": r.literal()}), {"b": 2}),
        (r.expr({"a": 1}).merge(lambda d: {"b": d["a"]}), {"a": 1, "b": 1}),
        (r.expr({"b": 1, "a": 2}).keys(), ["a", "b"]),
        (r.expr({"b": 1, "a": 2}).values(), [2, 1]),
        (r.object("a", 1, "b", 2), {"a": 1, "b": 2}),
        (r.expr([1, 2, 3])[-1], 3),
        (r.range(10)[4], 4),
    ],
)
def test_objects(query, expected):
    assert run(query) == expected


def test_object_errors():
    fails(
        r.expr({"x": 1})["b"], ReqlNonExistenceError, 'No attribute `b` in object:\n{\n\t"x":\t1\n}'
    )
    fails(
        r.expr("a")["b"],
        ReqlQueryLogicError,
        'Cannot perform bracket on a non-object non-sequence `"a"`.',
    )
    fails(
        r.object("a", 1, "b"),
        ReqlQueryLogicError,
        "OBJECT expects an even number of arguments (but found 3).",
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.expr([1, 3, 4]).insert_at(1, 2), [1, 2, 3, 4]),
        (r.expr([1, 2, 3]).insert_at(-1, 4), [1, 2, 3, 4]),
        (r.expr([1, 2]).splice_at(-1, [3, 4]), [1, 2, 3, 4]),
        (r.expr([1, 2, 3, 4]).delete_at(1, -1), [1, 4]),
        (r.expr([1, 2, 3, 4]).delete_at(-1), [1, 2, 3]),
        (r.expr([0, 2, 3]).change_at(0, 1), [1, 2, 3]),
        (r.expr([1]).append(2).prepend(0), [0, 1, 2]),
        (r.expr([1, 2, 2]).set_insert(3).set_union([4, 1]), [1, 2, 3, 4]),
        (r.expr([1, 2, 3]).set_intersection([2, 3, 9]), [2, 3]),
        (r.expr([1, 2, 3, 2]).difference([2]), [1, 3]),
    ],
)
def test_arrays(query, expected):
    assert run(query) == expected


def test_array_errors():
    fails(
        r.expr([1, 2, 3]).insert_at(4, 5),
        ReqlNonExistenceError,
        "Index `4` out of bounds for array of size: `3`.",
    )
    fails(r.expr([1, 2, 3]).insert_at(-5, -1), ReqlNonExistenceError, "Index out of bounds: -5")
    fails(
        r.expr([1, 2, 3]).delete_at(None),
        ReqlNonExistenceError,
        "Expected type NUMBER but found NULL.",
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.expr("abc def  g").split(), ["abc", "def", "g"]),
        (r.expr("a,b,,c").split(","), ["a", "b", "", "c"]),
        (r.expr("a,b,,c").split(",", 2), ["a", "b", ",c"]),
        (r.expr("abc").split(""), ["a", "b", "c"]),
        (r.expr("aBc").upcase(), "ABC"),
        (r.expr("aBc").downcase(), "abc"),
        (r.expr("foobar").match("x"), None),
        (
            r.expr("foobar").match("o(b)?a(x)?"),
            {
                "str": "oba",
                "start": 2,
                "end": 5,
                "groups": [{"str": "b", "start": 3, "end": 4}, None],
            },
        ),
    ],
)
def test_strings(query, expected):
    assert run(query) == expected


def test_generators():
    assert run(r.range(2, 5)) == [2, 3, 4]
    assert 0 <= run(r.random()) < 1
    assert run(r.random(3, 4)) == 3
    assert len(run(r.uuid())) == 36
    fails(r.range(0.5), ReqlQueryLogicError, "Number not an integer: 0.5")
    fails(r.random(2, 1), ReqlQueryLogicError, "Lower bound (2) is not less than upper bound (1).")
    fails(
        r.range().coerce_to("array"),
        ReqlQueryLogicError,
        "Cannot use an infinite stream with an aggregation function (`reduce`, `count`, etc.) "
        "or coerce it to an array.",
    )
