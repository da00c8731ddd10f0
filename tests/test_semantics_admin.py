"""RethinkDB semantics found through its conformance suite (admin, limits, geo indexes),
checked through the engine on a real LMDB ``Storage``, plus the runner's upstream set-up."""

from __future__ import annotations

import pytest
import rethinkdb
from tests.conformance import cases, polyglot, runner

from engine_harness import error
from rethought import r as our_r
from rethought.errors import (
    ReqlNonExistenceError,
    ReqlQueryLogicError,
    ReqlUserError,
)

r = rethinkdb.r


@pytest.fixture
def run(engine_run):
    engine_run(r.table_create("t"))
    engine_run(r.table("t").insert([{"id": 1, "a": 1}, {"id": 2, "a": 2}]))
    return engine_run


# -- values and terms -------------------------------------------------------------------------


def test_a_table_is_not_a_datum(run):
    tbl = r.table("t")
    e = error(run, tbl.map(lambda x: tbl))
    assert isinstance(e, ReqlQueryLogicError)
    assert e.message == 'Expected type DATUM but found TABLE:\ntable("t")'
    # Where RethinkDB reads a sequence, a table is still fine.
    assert run(tbl.map(lambda x: tbl.coerce_to("array")).count()) == 2
    assert run(tbl.coerce_to("array").union(tbl).count()) == 4
    assert run(r.expr([1]).do(lambda _: tbl.count())) == 2
    # r.do as_datum()s its arguments (control.cc funcall_term_t): a table is refused.
    e = error(run, tbl.do(lambda t: t.count()))
    assert e.message == 'Expected type DATUM but found TABLE:\ntable("t")'


def test_numeric_bracket_on_a_non_array_reads_it_as_a_sequence(run):
    e = error(run, r.expr(0)[0])
    assert isinstance(e, ReqlQueryLogicError)
    assert e.message == "Cannot convert NUMBER to SEQUENCE"
    assert error(run, r.expr({"a": 1})[0]).message == "Cannot convert OBJECT to SEQUENCE"
    assert isinstance(error(run, r.expr(None)[0]), ReqlNonExistenceError)
    assert run(r.expr([5, 6])[1]) == 6


def test_r_args_in_order_by_is_refused(run):
    e = error(run, r.expr([{"x": 2}, {"x": 1}]).order_by(r.args(["x", "y"])))
    assert isinstance(e, ReqlQueryLogicError)
    assert e.message == "r.args is not supported in an order_by or union command yet."


def test_empty_error_outside_default_is_a_logic_error(run):
    e = error(run, r.error())
    assert isinstance(e, ReqlQueryLogicError) and not isinstance(e, ReqlNonExistenceError)
    assert not isinstance(e, ReqlUserError)  # what the client sees: QUERY_LOGIC
    assert e.message == "Empty ERROR term outside a default block."
    # Inside default (and filter's default=) it re-raises what was caught.
    missing = error(run, r.expr({})["a"].default(r.error()))
    assert isinstance(missing, ReqlNonExistenceError)
    assert missing.message.startswith("No attribute `a` in object")
    missing = error(run, r.expr([{"a": 1}, {}]).filter(r.row["a"].eq(1), default=r.error()))
    assert isinstance(missing, ReqlNonExistenceError)


def test_run_optargs_reach_every_terms_optargs(run):
    # `index` given to run() is the default of get_all's own optarg, as in RethinkDB.
    run(r.table("t").index_create("a"))
    run(r.table("t").index_wait("a"))
    assert [d["id"] for d in run(r.table("t").get_all(2), index="a")] == [2]


def test_disk_array_limit_on_writes(run):
    big = r.range(100001).coerce_to("array")
    out = run(r.table("t").insert({"id": 0, "array": big}), array_limit=100001)
    assert out["errors"] == 1
    assert out["first_error"] == "Array too large for disk writes (limit 100,000 elements)."
    assert run(r.table("t").get(0)) is None
    ok = r.range(100000).coerce_to("array")
    assert run(r.table("t").insert({"id": 0, "array": ok}), array_limit=100001)["inserted"] == 1


def test_geo_indexes_only_serve_geo_terms(run):
    run(r.table("t").index_create("g", geo=True))
    run(r.table("t").index_wait("g"))
    want = (
        "Index `g` is a geospatial index.  Only get_nearest and get_intersecting can use a "
        "geospatial index."
    )
    for q in (
        r.table("t").get_all(1, index="g"),
        r.table("t").between(0, 1, index="g"),
        r.table("t").order_by(index="g"),
    ):
        e = error(run, q)
        assert isinstance(e, ReqlQueryLogicError) and e.message == want
    assert run(r.table("t").get_intersecting(r.point(0, 0), index="g")) == []


def test_geometry_literals_are_sanitized(run):
    geo = {"$reql_type$": "GEOMETRY", "type": "Point", "coordinates": [1, 1]}
    assert run(r.expr(geo)) == geo
    e = error(run, r.expr({**geo, "x": 1}))
    assert e.message == "Unrecognized field `x` found in geometry object."
    e = error(run, r.expr({"$reql_type$": "GEOMETRY", "type": "Point"}))
    assert isinstance(e, ReqlNonExistenceError)
    assert e.message == "Field `coordinates` not found in geometry object."
    e = error(run, r.expr({**geo, "type": 1}))
    assert e.message == "Expected type STRING but found NUMBER."


def test_config_is_a_selection_that_reconfigures(run):
    out = run(r.table("t").config().update({"durability": "soft"}))
    assert out["replaced"] == 1 and out["errors"] == 0
    assert run(r.table("t").config()["durability"]) == "soft"
    bad = run(r.table("t").config().update({"durability": "x"}))
    assert bad["first_error"] == 'In `durability`: Expected "soft" or "hard", got: "x"'
    assert run(r.db("test").config().pluck("name")) == {"name": "test"}
    assert run(r.table("t").config().type_of()) == "SELECTION<OBJECT>"


# -- driver -----------------------------------------------------------------------------------


def test_http_and_binary_take_one_positional_argument():
    for fn in (our_r.http, our_r.binary):
        with pytest.raises(TypeError, match="takes 1 positional argument but 2 were given"):
            fn("1", "2")
    assert str(our_r.http("x", timeout=1)) == "r.http('x', timeout=1)"


# -- conformance runner -----------------------------------------------------------------------


def test_a_comment_after_a_key_means_no_value():
    parsed = polyglot.parse("tests:\n  - cd: r.expr(1)\n    py: # not in Python\n    ot: 1\n")
    assert parsed["tests"][0]["py"] is None
    assert cases._pick(parsed["tests"][0]) is None


def test_a_bare_word_runopt_stays_a_string():
    assert runner._runopt("test_user", {}) == "test_user"
    assert runner._runopt("'x' + 'y'", {}) == "xy"
