"""RethinkDB semantics found through its conformance suite: the term compiler and the
sequence / object / math / type terms, one focused case per behaviour, run by the engine
on queries built with the official driver. Table cases use a real Storage in a temp dir."""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import error
from engine_harness import evaluate as run
from rethought.errors import (
    ReqlNonExistenceError,
    ReqlQueryLogicError,
    ReqlResourceLimitError,
)
from rethought.server.query.pseudo import decode_base64

r = rethinkdb.r

STRAY = "Stray literal keyword found: literal is only legal inside of the object passed"
LIMIT = "Array over size limit `2`.  To raise the number of allowed elements"


def fails(q, cls, message, storage=None, **optargs):
    e = error(run, q, cls, storage=storage, **optargs)
    assert type(e) is cls
    assert e.message.startswith(message), e.message


def grouped(*pairs):
    return {"$reql_type$": "GROUPED_DATA", "data": [list(p) for p in pairs]}


ROWS = r.expr([{"id": 1, "a": 0, "b": 5}, {"id": 2, "a": 1}, {"id": 3, "a": 0, "b": 7}])


@pytest.mark.parametrize(
    "query, expected",
    [
        # Any term after group applies per group (Term.run), giving GROUPED_DATA.
        (ROWS.group("a").max("id")["id"], grouped((0, 3), (1, 2))),
        (ROWS.group("a").count().add(10), grouped((0, 12), (1, 11))),
        (ROWS.group("a").coerce_to("array").type_of(), "GROUPED_DATA"),
        (ROWS.group("a").type_of(), "GROUPED_STREAM"),
        (ROWS.group("a").count().ungroup().count(), 2),
        # r.args splices before the per-group run.
        (ROWS.group("a").count(r.args([{"id": 2, "a": 1}])), grouped((1, 1))),
        # contains: one row satisfies one outstanding value.
        (r.expr([1, 2, 3]).contains(2, 2), False),
        (r.expr([1, 2, 2]).contains(2, 2), True),
        # count / filter with a function returning an object match it as a pattern.
        (ROWS.count(lambda row: {"a": 0}), 2),
        (r.expr({"a": 1, "b": 2}).do(lambda o: o.merge({"b": r.literal()})), {"a": 1}),
        (r.expr({"a": {"b": 1}}).merge(r.args([{"a": r.literal({"c": 1})}])), {"a": {"c": 1}}),
        (r.expr([{"a": {"b": 1}}]).merge(lambda row: {"a": r.literal(2)}), [{"a": 2}]),
        (r.binary(b"hi").coerce_to("string"), "hi"),
        (r.expr({"$reql_type$": "BINARY", "data": "aGk="}).count(), 2),
        (
            r.expr([{}, {"a": None}, {"a": {"b": 2}}]).filter(
                lambda x: x["a"]["b"].eq(1), default=True
            ),
            [{}, {"a": None}],
        ),
    ],
)
def test_values(query, expected):
    assert run(query) == expected


@pytest.mark.parametrize(
    "query, cls, message",
    [
        (r.literal("foo"), ReqlQueryLogicError, STRAY),
        (r.expr({"a": 1}).merge(r.literal("foo")), ReqlQueryLogicError, STRAY),
        (r.expr({}).merge({"a": r.literal(r.literal(1))}), ReqlQueryLogicError, STRAY),
        (r.expr([r.literal(1)]), ReqlQueryLogicError, STRAY),
        (
            r.expr(None)["b"],
            ReqlNonExistenceError,
            "Cannot perform bracket on a non-object non-sequence `null`.",
        ),
        (
            r.expr(1).with_fields("a"),
            ReqlQueryLogicError,
            "Cannot perform has_fields on a non-object non-sequence `1`.",
        ),
        (r.range().coerce_to("object"), ReqlQueryLogicError, "Cannot use an infinite stream"),
        (r.expr(5) + r.range(3), ReqlQueryLogicError, "Expected type DATUM but found SEQUENCE:"),
        (
            r.expr({"$reql_type$": "BINARY"}),
            ReqlQueryLogicError,
            "Invalid binary pseudotype: lacking `data` key.",
        ),
        (
            r.expr({"$reql_type$": "BINARY", "data": "ABCDEF==$"}),
            ReqlQueryLogicError,
            "Invalid base64 format, data found after padding character '='.",
        ),
        (
            r.expr({"$reql_type$": "BINARY", "data": "A^CD"}),
            ReqlQueryLogicError,
            "Invalid base64 character found: '^'.",
        ),
        (
            r.expr({"$reql_type$": "BINARY", "data": "ABCDE"}),
            ReqlQueryLogicError,
            "Invalid base64 length: 1 character remaining, cannot decode a full byte.",
        ),
        (r.expr([1, 2]).append(3), ReqlResourceLimitError, LIMIT),
        (r.expr([1, 2]) * 2, ReqlResourceLimitError, LIMIT),
        (r.expr([1]) + [2, 3], ReqlResourceLimitError, LIMIT),
    ],
)
def test_errors(query, cls, message):
    optargs = {"array_limit": 2} if message is LIMIT else {}
    fails(query, cls, message, **optargs)


def test_base64_decoder_matches_rethinkdb_rules():
    assert decode_base64("aGVs bG8=\n") == b"hello"
    assert decode_base64("QUJDRA") == b"ABCD"  # padding is optional
    assert decode_base64("") == b""


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    from rethought.server.storage import Storage

    st = Storage(str(tmp_path_factory.mktemp("fix_a")))
    run(r.table_create("t"), st)
    rows = r.range(8).map(lambda i: {"id": i, "a": i % 2, "b": r.branch(i % 2 == 0, i, None)})
    run(r.table("t").insert(rows), st)
    run(r.table("t").filter(lambda x: x["b"].eq(None)).replace(r.row.without("b")), st)
    yield st
    st.close()


TBL = r.table("t")


@pytest.mark.parametrize(
    "query, expected",
    [
        # Groups whose rows never reach a reduction are left out of a grouped stream.
        (TBL.group("a").sum("b"), grouped((0, 12))),
        (TBL.group("a").avg("b"), grouped((0, 3))),
        (TBL.group("a").count(lambda x: x["id"] < 2), grouped((0, 1), (1, 1))),
        (TBL.group("a").count({"id": 0, "a": 0, "b": 0}), grouped((0, 1))),
        (TBL.group("a").filter(lambda x: x["a"] == 1).count(), grouped((1, 4))),
        (TBL.get(2).count(), 3),
        # seq[n] on a selection stays addressable for writes.
        (TBL.order_by(index="id")[0].type_of(), "SELECTION<OBJECT>"),
        (TBL.order_by(index="id")[0].update({"a": 0})["unchanged"], 1),
    ],
)
def test_tables(storage, query, expected):
    assert run(query, storage) == expected


def test_table_and_database_are_not_datums(storage):
    fails(r.expr(5) + TBL, ReqlQueryLogicError, "Expected type DATUM but found TABLE:", storage)
    message = 'Expected type DATUM but found DATABASE:\ndb("test")'
    fails(r.db("test").table_drop(), ReqlQueryLogicError, message, storage)
