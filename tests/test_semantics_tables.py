"""RethinkDB semantics found through its conformance suite: engine, tables, writes, storage
and datum, each checked through the engine on a real LMDB ``Storage``."""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import EngineRunner, error, open_storage, wire
from rethought import r as our_r
from rethought.errors import (
    ReqlCompileError,
    ReqlNonExistenceError,
    ReqlQueryLogicError,
    ReqlResourceLimitError,
)
from rethought.server.query.engine import Engine, Session

r = rethinkdb.r


@pytest.fixture
def run(engine_run):
    engine_run(r.table_create("t"))
    return engine_run


def test_unknown_global_optarg_is_a_compile_error(run):
    e = error(run, r.expr(1), obviously_bogus=16)
    assert isinstance(e, ReqlCompileError)
    assert e.message == "Unrecognized global optional argument `obviously_bogus`."
    assert run(r.expr(1), array_limit=16) == 1


def test_use_outdated_global_optarg_and_null_read_mode(run):
    e = error(run, r.table("t"), use_outdated=True)
    assert e.message == (
        "The `use_outdated` optarg is no longer supported.  Use the `read_mode` optarg instead."
    )
    e = error(run, r.table("t", read_mode=None).count())
    assert isinstance(e, ReqlNonExistenceError)
    assert e.message == "Expected type STRING but found NULL."


def test_nested_writes_are_rejected_before_running(run):
    e = error(run, r.expr([1, 2]).map(r.table("t").insert({"foo": r.row})))
    assert isinstance(e, ReqlCompileError)
    assert e.message.startswith("Cannot nest writes or meta ops in stream operations.")
    error(run, r.expr([1, 2]).map(r.table_create("x")))
    assert run(r.table("t").count()) == 0 and "x" not in run(r.table_list())
    # r.do and for_each may write; so may the first argument of a stream operation.
    assert run(r.expr(1).do(r.table("t").insert({"foo": r.row})))["inserted"] == 1
    assert run(r.expr([1, 2]).for_each(r.table("t").insert({"a": r.row})))["inserted"] == 2


def test_function_and_database_are_not_query_results(run):
    e = error(run, r.expr(1).do(lambda: r.db("test")))
    assert (
        e.message == "Query result must be of type DATUM, GROUPED_DATA, or STREAM (got DATABASE)."
    )


def test_minval_cannot_be_sent(run):
    e = error(run, r.minval)
    assert isinstance(e, ReqlQueryLogicError) and e.message == "Cannot convert `r.minval` to JSON."


def test_array_literal_over_limit_is_a_resource_error(run):
    e = error(run, r.expr([1, 2, 3, 4, 5]), array_limit=4)
    assert isinstance(e, ReqlResourceLimitError)
    assert e.message.startswith("Array over size limit `4`.  To raise the number")


def test_primary_key_checks_are_insert_errors(run):
    res = run(r.table("t").insert([{"id": "\x00"}, {"id": ["x", ["a\x00"]]}, {"id": 1}]))
    assert (res["errors"], res["inserted"]) == (2, 1)
    # Compound keys are sized like RethinkDB's serialization: these all fit.
    keys = [[1, 2, 3, 4, 4, 5], [1, 3, r.epoch_time(0), r.epoch_time(1)], [1, 4, 3, 4, 8, 2]]
    assert run(r.table("t").insert([{"id": k} for k in keys]))["inserted"] == 3


def test_document_check_errors_come_first_in_first_error(run):
    run(r.table("t").insert({"id": 123}))
    res = run(r.table("t").insert([{"id": 123}, {"id": "a" * 500}], return_changes="always"))
    assert res["errors"] == 2
    assert res["first_error"].startswith("Primary key too long")
    assert res["changes"][0]["error"].startswith("Duplicate primary key")


def test_return_changes_truncated_at_array_limit(run):
    run(r.table("t").insert([{"id": i} for i in range(10)]))
    res = run(r.table("t").update({"x": 1}, return_changes=True), array_limit=4)
    assert len(res["changes"]) == 4 and res["replaced"] == 10
    assert res["warnings"] == ["Too many changes, array truncated to 4."]


def test_second_between_is_an_error_even_unbounded(run):
    e = error(run, r.table("t").between(r.minval, r.maxval).between(r.minval, r.maxval))
    assert e.message == "Cannot perform multiple BETWEENs on the same table."


def test_negative_zero_keeps_its_sign_but_finds_the_same_row(run):
    run(r.table("t").insert([{"id": 0.0}, {"id": [1, -0.0]}]))
    assert run(r.table("t").get(-0.0)) == {"id": 0}
    assert run(r.table("t").get([1, 0.0]).to_json_string()) == '{"id":[1,-0.0]}'
    assert run(r.table("t").insert({"id": [1, 0.0]}))["errors"] == 1


def test_multi_index_keeps_repeated_values(run):
    t = r.table("t")
    run(t.index_create("m", lambda x: [1, 1, 2, None], multi=True))
    run(t.insert([{"id": i} for i in range(10)]))
    assert run(t.order_by(index="m").count()) == 30  # the invalid null element is skipped
    assert run(t.get_all(1, index="m").count()) == 20
    assert run(t.distinct(index="m")) == [1, 2]
    run(t.filter(r.row["id"] < 5).delete())
    assert run(t.order_by(index="m").count()) == 15


def test_rqltzinfo_reachable_as_r_ast():
    assert our_r.ast.RqlTzinfo("00:00").utcoffset(None).total_seconds() == 0


def test_changes_take_global_optargs(tmp_path):
    from rethought.server.feeds import ChangefeedHub

    storage = open_storage(str(tmp_path / "data"))
    try:
        engine = Engine(storage, ChangefeedHub())
        EngineRunner(engine)(r.table_create("t"))
        raw = wire(r.table("t").changes())
        prepared = engine.prepare(raw, {"changefeed_queue_size": 7}, Session())
        result = engine.execute(prepared)
        assert result.kind == "feed"
        assert prepared.ctx.feeds[0].opts.queue_size == 7
        result.value.close()
    finally:
        storage.close()
