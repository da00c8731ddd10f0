"""Sequence, aggregation and join terms, evaluated by the engine on queries built with the
official driver (no network). Table cases use a real Storage in a temporary directory."""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import error, wire
from engine_harness import evaluate as run
from rethought.errors import (
    ReqlNonExistenceError,
    ReqlQueryLogicError,
    ReqlResourceLimitError,
)
from rethought.server.query.engine import Engine, Session

r = rethinkdb.r


def fails(q, cls, message, **optargs):
    e = error(run, q, cls, **optargs)
    assert e.message.startswith(message), e.message


ROWS = r.range(20).map(lambda i: {"id": i, "a": i % 4})


@pytest.mark.parametrize(
    "query, expected",
    [
        (r.expr([1, 2, 3]).map(lambda x: x * 2), [2, 4, 6]),
        (r.range().map(lambda x: x * 2).limit(3), [0, 2, 4]),
        (r.range(3).map(r.range(5), lambda x, y: [x, y]), [[0, 0], [1, 1], [2, 2]]),
        (r.range().map(r.expr([1, 2]), lambda x, y: [x, y]), [[0, 1], [1, 2]]),
        (r.expr([]).map(r.expr([]), lambda x, y: [x, y]).type_of(), "ARRAY"),
        (r.range().map(r.range(), lambda x, y: [x, y]).type_of(), "STREAM"),
        (r.expr([1, 2, 3]).filter("foo"), [1, 2, 3]),
        (r.expr([1, 2, 3]).filter(None), []),
        (r.expr([{"a": 1}, {"a": None}, {}]).filter(lambda x: x["a"].eq(1)), [{"a": 1}]),
        (
            r.expr([{"a": 1}, {"a": None}, {}]).filter(lambda x: x["a"].eq(1), default=True),
            [{"a": 1}, {}],
        ),
        (r.expr([{"b": {"c": 0}}, {"b": {"c": 1}}]).filter({"b": {"c": 0}}), [{"b": {"c": 0}}]),
        (r.expr([1, 2]).concat_map(lambda x: [x, x]), [1, 1, 2, 2]),
        (
            r.expr([{"a": 2, "id": 1}, {"a": 1, "id": 2}, {"id": 3}]).order_by("a"),
            [{"id": 3}, {"a": 1, "id": 2}, {"a": 2, "id": 1}],
        ),
        (
            r.expr([{"a": 1, "id": 1}, {"a": 1, "id": 2}]).order_by(r.asc("a"), r.desc("id")),
            [{"a": 1, "id": 2}, {"a": 1, "id": 1}],
        ),
        (r.range(4).order_by(r.desc(lambda x: x)), [3, 2, 1, 0]),
        (r.expr([1, 1, 2, "a"]).distinct(), [1, 2, "a"]),
        (r.expr([1, 2]).union([3]), [1, 2, 3]),
        (r.range(2).union([5]).type_of(), "STREAM"),
        (r.expr([1, 3]).union([2, 4], interleave=r.row), [1, 2, 3, 4]),
        (r.expr([{"a": 1}]).with_fields("a", "b"), []),
        (r.expr([{"a": 1, "b": 2, "c": 3}]).with_fields("a", "b"), [{"a": 1, "b": 2}]),
        (
            r.expr([{"left": {"a": 1}, "right": {"b": 2}}, {"left": {"a": 3}}]).zip(),
            [{"a": 1, "b": 2}, {"a": 3}],
        ),
    ],
)
def test_transformations(query, expected):
    assert run(query) == expected


@pytest.mark.parametrize(
    "query, expected",
    [
        (r.expr([1, 2, 3, 4, 5])[1:3], [2, 3]),
        (r.expr([1, 2, 3, 4, 5])[1:-1], [2, 3, 4]),
        (r.expr([1, 2, 3, 4, 5]).slice(1, -3, right_bound="closed"), [2, 3]),
        (r.range(100).slice(12, 20, left_bound="open", right_bound="closed").count(), 8),
        (r.range(100).slice(12, -1, right_bound="closed").count(), 88),
        (r.expr("abcdef").slice(1, 3), "bc"),
        (r.range(100).skip(95), [95, 96, 97, 98, 99]),
        (r.range().limit(2), [0, 1]),
        (r.range(10).nth(-1), 9),
        (r.expr([1, 2, 3]).nth(-1), 3),
        (r.expr([1, 2, 3, 2]).offsets_of(2), [1, 3]),
        (r.expr([1, 2, 3]).offsets_of(lambda x: x > 1), [1, 2]),
        (r.range(0).is_empty(), True),
        (r.range().is_empty(), False),
        (r.expr([1, 2, 3, 4, 5, 6]).sample(3).distinct().count(), 3),
        (r.expr([1, 2, 3]).sample(4).count(), 3),
    ],
)
def test_positional(query, expected):
    assert run(query) == expected


@pytest.mark.parametrize(
    "query, cls, message",
    [
        (
            r.expr([1]).map(lambda x, y: [x, y]),
            ReqlQueryLogicError,
            "The function passed to `map` expects 2 arguments, but 1 sequence was found.",
        ),
        (r.expr([1, 2, 3]).map(1), ReqlQueryLogicError, "Expected type FUNCTION but found DATUM:"),
        (
            r.range().map(r.expr(1), lambda x, y: [x, y]),
            ReqlQueryLogicError,
            "Cannot convert NUMBER to SEQUENCE",
        ),
        (r.range().count(), ReqlQueryLogicError, "Cannot use an infinite stream"),
        (
            r.expr([{"a": 1}, {}]).filter(lambda x: x["a"].eq(1), default=r.error()),
            ReqlNonExistenceError,
            "No attribute `a` in object:",
        ),
        (
            r.range(10).skip(-1),
            ReqlQueryLogicError,
            "Cannot use a negative left index on a stream.",
        ),
        (
            r.range(10).limit(-1),
            ReqlQueryLogicError,
            "LIMIT takes a non-negative argument (got -1)",
        ),
        (
            r.range(10).slice(0, -3),
            ReqlQueryLogicError,
            "Cannot use a right index < -1 on a stream.",
        ),
        (
            r.range(10).slice(0, -1),
            ReqlQueryLogicError,
            "Cannot slice to an open right index of -1 on a stream.",
        ),
        (r.range(10).slice(1, None), ReqlNonExistenceError, "Expected type NUMBER but found NULL."),
        (r.range(10).nth(20), ReqlNonExistenceError, "Index out of bounds: 20"),
        (r.expr([1, 2, 3]).nth(-5), ReqlNonExistenceError, "Index out of bounds: -5"),
        (r.expr(1).is_empty(), ReqlQueryLogicError, "Cannot convert NUMBER to SEQUENCE"),
        (
            r.expr([1, 2, 3]).sample(-1),
            ReqlQueryLogicError,
            "Number of items to sample must be non-negative, got `-1`.",
        ),
        (
            r.expr([]).reduce(lambda a, b: a + b),
            ReqlNonExistenceError,
            "Cannot reduce over an empty stream.",
        ),
        (r.expr([]).avg(), ReqlNonExistenceError, "Cannot take the average of an empty stream."),
        (r.expr([]).max(), ReqlNonExistenceError, "Cannot take the max of an empty stream."),
        (r.expr([1]).group(), ReqlQueryLogicError, "Cannot group by nothing."),
        (
            ROWS.group("a").group("a"),
            ReqlQueryLogicError,
            "Cannot call `group` on the output of `group` (did you mean to `ungroup`?).",
        ),
        (
            r.range(10).fold(0, lambda acc, _: acc + 1, emit=lambda o, row, acc: acc),
            ReqlQueryLogicError,
            "Expected type ARRAY but found NUMBER.",
        ),
        (
            r.range(3).order_by(index="id"),
            ReqlQueryLogicError,
            "Indexed order_by can only be performed on a TABLE or TABLE_SLICE.",
        ),
        (
            r.expr([1]).distinct(index="a"),
            ReqlQueryLogicError,
            "Can only perform an indexed distinct on a TABLE.",
        ),
        (
            r.expr([{"a": 1}]).zip(),
            ReqlQueryLogicError,
            "ZIP can only be called on the result of a join.",
        ),
        (
            r.expr([1, 2, 3]).for_each(lambda x: x),
            ReqlQueryLogicError,
            "FOR_EACH expects one or more basic write queries.  Expected type ARRAY but found NUMBER.",
        ),
    ],
)
def test_errors(query, cls, message):
    fails(query, cls, message)


def test_array_limit():
    fails(
        r.expr([1, 2, 3]).union([4, 5]),
        ReqlResourceLimitError,
        "Array over size limit `4`.",
        array_limit=4,
    )
    fails(
        r.range(10).order_by(r.desc(r.row)),
        ReqlResourceLimitError,
        "Array over size limit `4`.",
        array_limit=4,
    )
    assert run(r.range(10).order_by(r.desc(r.row)).limit(2), array_limit=10) == [9, 8]


@pytest.mark.parametrize(
    "query, expected",
    [
        (r.count([1, 2], r.row.gt(1)), 1),
        (r.expr([1, 2, 1]).count(1), 2),
        (r.expr("héllo").count(), 5),
        (r.sum([1, 2]), 3),
        (r.expr([1, None, 2]).sum(), 3),
        (r.avg([1, 2]), 1.5),
        (ROWS.sum("a"), 30),
        (ROWS.min("a"), {"id": 0, "a": 0}),
        (ROWS.max(lambda x: x["a"]), {"id": 3, "a": 3}),
        (ROWS.order_by(r.desc("id")).min("a"), {"id": 16, "a": 0}),
        (r.expr([1, 2, 3]).reduce(lambda a, b: a + b), 6),
        (r.range(10).fold(0, lambda acc, _: acc + 1), 10),
        (
            r.expr(["a"]).fold(
                None, lambda a, b: None, emit=lambda a, b, c: [0], final_emit=lambda a: [1, 2]
            ),
            [0, 1, 2],
        ),
        (r.contains([1, 2], 1, r.row.gt(1)), True),
        (r.expr([1, 2]).contains(3), False),
        (ROWS.group("a").type_of(), "GROUPED_STREAM"),
        (ROWS.group("a").count().type_of(), "GROUPED_DATA"),
        (r.expr([{"a": 1}]).group("a"), {"$reql_type$": "GROUPED_DATA", "data": [[1, [{"a": 1}]]]}),
        (
            ROWS.group("a").sum("id"),
            {"$reql_type$": "GROUPED_DATA", "data": [[0, 40], [1, 45], [2, 50], [3, 55]]},
        ),
        (
            ROWS.group("a").map(r.row["id"]).reduce(lambda a, b: a + b).ungroup()[0],
            {"group": 0, "reduction": 40},
        ),
        (
            ROWS.group(lambda x: x["a"].mod(2), "a").count().ungroup()["group"],
            [[0, 0], [0, 2], [1, 1], [1, 3]],
        ),
        (
            r.expr([{"id": 1, "t": [1, 2]}, {"id": 2, "t": [2]}]).group("t", multi=True).count(),
            {"$reql_type$": "GROUPED_DATA", "data": [[1, 1], [2, 2]]},
        ),
        (
            ROWS.group("a").limit(1).map(r.row["id"]),
            {"$reql_type$": "GROUPED_DATA", "data": [[0, [0]], [1, [1]], [2, [2]], [3, [3]]]},
        ),
    ],
)
def test_aggregation(query, expected):
    assert run(query) == expected


def test_joins_on_arrays():
    left = r.expr([{"a": 1}, {"a": 2}, {"a": 3}])
    right = r.expr([{"b": 2}, {"b": 3}])
    assert run(left.inner_join(right, lambda lt, rt: lt["a"] == rt["b"]).zip()) == [
        {"a": 2, "b": 2},
        {"a": 3, "b": 3},
    ]
    assert run(left.outer_join(right, lambda lt, rt: lt["a"] == rt["b"]).zip()) == [
        {"a": 1},
        {"a": 2, "b": 2},
        {"a": 3, "b": 3},
    ]


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    from rethought.server.storage import Storage

    st = Storage(str(tmp_path_factory.mktemp("seq")))
    run(r.table_create("t"), st)
    run(r.table("t").insert(r.range(100).map(lambda i: {"id": i, "a": i % 4})), st)
    st.table_get("test", "t").index_create("a", None, False, False, lambda row: [row["a"]])
    yield st
    st.close()


TBL = r.table("t")


@pytest.mark.parametrize(
    "query, expected",
    [
        (TBL.count(), 100),
        (TBL.order_by(index="id").limit(2), [{"id": 0, "a": 0}, {"id": 1, "a": 1}]),
        (TBL.order_by(index=r.desc("id")).nth(0), {"id": 99, "a": 3}),
        (TBL.order_by(index="id").type_of(), "TABLE_SLICE"),
        (TBL.order_by("id").type_of(), "SELECTION<ARRAY>"),
        (TBL.order_by(index="id").nth(0).type_of(), "SELECTION<OBJECT>"),
        (TBL.filter(lambda x: x["id"] < 3).type_of(), "SELECTION<STREAM>"),
        (TBL.order_by("id", index="a").nth(0), {"id": 0, "a": 0}),
        (TBL.order_by(r.desc("id"), index="a").nth(0), {"id": 96, "a": 0}),
        (TBL.min(index="a"), {"id": 0, "a": 0}),
        (TBL.max(index="a"), {"id": 99, "a": 3}),
        (TBL.max(), {"id": 99, "a": 3}),
        (TBL.distinct(index="a"), [0, 1, 2, 3]),
        (TBL.distinct().type_of(), "STREAM"),
        (TBL.between(0, 1, index="a").distinct().count(), 25),
        (
            TBL.group(index="a").count(),
            {"$reql_type$": "GROUPED_DATA", "data": [[0, 25], [1, 25], [2, 25], [3, 25]]},
        ),
        (TBL.group("a").count().ungroup().count(), 4),
        (TBL.eq_join("a", r.table("t")).zip().count(), 100),
        (TBL.eq_join(lambda x: x["fake"], r.table("t")).count(), 0),
        (TBL.eq_join("id", r.table("t"), index="a").count(), 100),
        (TBL.slice(12, 20).count(), 8),
        (TBL.contains(TBL.get(0)), True),
        (r.expr([1, 2]).for_each(lambda x: r.table("t").get(x).update({"z": x}))["replaced"], 2),
    ],
)
def test_tables(storage, query, expected):
    assert run(query, storage) == expected


@pytest.mark.parametrize(
    "query, message",
    [
        (
            TBL.order_by(index="id").order_by(index="id"),
            "Cannot perform multiple indexed ORDER_BYs on the same table.",
        ),
        (
            TBL.order_by("id").order_by(index="id"),
            "Indexed order_by can only be performed on a TABLE or TABLE_SLICE.",
        ),
        (
            TBL.between(0, 1, index="a").order_by(index="id"),
            "Cannot order by index `id` after calling BETWEEN on index `a`.",
        ),
        (TBL.min("a", index="a"), "Cannot provide both a function and an index to min."),
    ],
)
def test_table_errors(storage, query, message):
    with pytest.raises(ReqlQueryLogicError) as info:
        run(query, storage)
    assert info.value.message.startswith(message)


def test_table_order_by_index_streams(storage):
    """order_by(index=) must not materialise the table: pulling 1 row reads lazily."""
    engine = Engine(storage)
    raw = wire(TBL.order_by(index="id"))
    res = engine.execute(engine.prepare(raw, {"array_limit": 5}, Session()))
    assert res.kind == "stream"
    assert next(iter(res.value)) == {"id": 0, "a": 0}
