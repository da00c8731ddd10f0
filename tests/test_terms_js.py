"""r.js on the embedded V8: values, functions, errors, timeouts; and through a real server,
that a runaway script neither stalls other connections nor survives its timeout, and that
JavaScript works inside a changefeed's pipeline."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import rethinkdb

from engine_harness import error, wire
from engine_harness import evaluate as run

pytest.importorskip("py_mini_racer")

from rethought.errors import ReqlCompileError, ReqlQueryLogicError  # noqa: E402
from rethought.server.query.engine import Engine, Session  # noqa: E402

r = rethinkdb.r


def fails(query, message, cls=ReqlQueryLogicError):
    e = error(run, query, cls)
    assert e.message == message
    return e


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.js("1 + 1"), 2),
        (r.js("1 + 1; 2 + 2"), 4),
        (r.js("1 + 2", timeout=1.2), 3),
        (r.js("'a' + 'b'"), "ab"),
        (r.js("null"), None),
        (r.js("[1, 'x', true, null, {a: 1.5}]"), [1, "x", True, None, {"a": 1.5}]),
        (r.do(1, 2, r.js("(function(a, b) { return a + b; })")), 3),
        (r.expr("foo").do(r.js('(function(x) { return x + "bar"; })')), "foobar"),
        (r.do(1, 2, r.js("(function(a) { return a; })")), 1),
        (r.expr([1, 2, 3]).filter(r.js("(function(a) { return a >= 2; })")), [2, 3]),
        (r.expr([1, 2, 3]).map(r.js("(function(a) { return a + 1; })")), [2, 3, 4]),
        (
            r.range(3).map(r.range(5), r.js("(function(x, y){return [x, y];})")),
            [[0, 0], [1, 1], [2, 2]],
        ),
        (r.expr([1, 2, 3]).reduce(r.js("(function(x, y){return x + y;})")), 6),
        (r.epoch_time(1234.5).do(r.js("(function(t){return t})")).to_epoch_time(), 1234.5),
        (r.do(r.js("new Date('2012-08-01')")).to_iso8601(), "2012-08-01T00:00:00+00:00"),
        (r.expr({"a": {"b": [1]}}).do(r.js("(function(o){ return o.a.b.concat([2]); })")), [1, 2]),
        # Globals a script sets stay in its own context.
        (r.js("var leaked = 1; leaked").do(lambda _: r.js("typeof leaked")), "undefined"),
    ],
)
def test_values(query, expected):
    assert run(query) == expected


def test_errors():
    fails(r.js("function() { return 1; }"), "SyntaxError: function name expected")
    fails(r.js("undefined"), "Cannot convert javascript `undefined` to ql::datum_t.")
    err = fails(
        r.do(1, 2, r.js("(function(a, b, c) { return c; })")),
        "Cannot convert javascript `undefined` to ql::datum_t.",
    )
    assert err.frames == [0]
    fails(
        r.expr([1, 2, 3]).filter(r.js("(function(a) {})")),
        "Cannot convert javascript `undefined` to ql::datum_t.",
    )
    fails(r.js("1/0"), "Number return value is not finite.")
    fails(r.js("/x/"), "Cannot convert RegExp to ql::datum_t.")
    fails(r.js("({f: function() {}})"), "Cannot convert function to ql::datum_t.")
    fails(
        r.js("var a = {}; a.self = a; a"),
        "Recursion limit exceeded in js_to_json (circular reference?).",
    )
    fails(r.js("throw new Error('boom')"), "Error: boom")
    fails(r.js("x.y"), "ReferenceError: x is not defined")
    fails(
        r.expr([1]).map(r.js("(function(x) { return function() {}; })")),
        "Returning functions from within `r.js` is unsupported.",
    )
    fails(
        r.binary(b"ab").do(r.js("(function(x) { return 1; })")),
        "`r.binary` data cannot be used in `r.js`.",
    )
    with pytest.raises(ReqlCompileError):
        run(r.js())


def test_array_limit():
    raw = wire(r.js("[1, 2, 3]"))
    engine = Engine(None)
    prepared = engine.prepare(raw, {"array_limit": 2}, Session())
    with pytest.raises(ReqlQueryLogicError) as info:
        engine.execute(prepared)
    # js_job.cc checks the length with rcheck_array_size_value_datum: error.cc's full text
    assert info.value.message == (
        "Array over size limit `2`.  To raise the number of allowed elements, modify the "
        "`array_limit` option to `.run` (not available in the Data Explorer), or use an index."
    )


def test_timeouts():
    started = time.monotonic()
    fails(
        r.js("while(true) {}", timeout=0.3),
        "JavaScript query `while(true) {}` timed out after 0.300 seconds.",
    )
    fails(
        r.expr("foo").do(r.js("(function(x) { while(true) {} })", timeout=0.25)),
        "JavaScript query `(function(x) { while(true) {} })` timed out after 0.250 seconds.",
    )
    assert time.monotonic() - started < 10  # a bound against a timeout that never fires
    assert run(r.js("1", timeout=1.2345)) == 1


def test_runaway_script_does_not_stall_the_server(server):
    busy = r.connect(host=server.host, port=server.port)
    other = r.connect(host=server.host, port=server.port)
    try:
        outcome = {}

        def spin():
            try:
                r.js("while(true) {}", timeout=3).run(busy)
            except rethinkdb.errors.ReqlQueryLogicError as e:
                outcome["error"] = e.message

        t = threading.Thread(target=spin)
        t.start()
        time.sleep(0.3)
        assert r.js("6 * 7").run(other) == 42
        assert r.expr([1, 2]).map(r.js("(function(x){ return x * 10; })")).run(other) == [10, 20]
        # Ordering, not timing: answered while the runaway script still runs.
        assert t.is_alive() and not outcome
        t.join()
        assert (
            outcome["error"] == "JavaScript query `while(true) {}` timed out after 3.000 seconds."
        )
        assert r.js("1 + 1").run(busy) == 2  # the connection and server carry on
    finally:
        busy.close()
        other.close()


def test_js_in_a_changefeed(server):
    conn = r.connect(host=server.host, port=server.port)
    name = "js_" + uuid.uuid4().hex[:8]
    try:
        r.db("test").table_create(name).run(conn)
        table = r.db("test").table(name)
        feed = table.changes().map(r.js("(function(c){ return c.new_val.n * 2; })")).run(conn)
        table.insert([{"n": 1}, {"n": 5}]).run(conn)
        assert sorted([next(feed), next(feed)]) == [2, 10]
        feed.close()
    finally:
        r.db("test").table_drop(name).run(conn)
        conn.close()
