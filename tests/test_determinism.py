"""Determinism proofs, as RethinkDB 2.4's ``deterministic_t`` makes them.

Rules from RethinkDB's source (src/rdb_protocol/op.hpp, terms/*.cc):
- never deterministic: r.random, r.uuid() without a name (or through r.args), r.js, r.http,
  sample, r.table, r.db and admin terms; single-server only: geo terms but r.point /
  to_geojson; constant-now only: r.now. A term joins its arguments' and optargs' bits;
  r.args hands its bits to every argument it expands to (faux_term_t).
- update / replace without non_atomic (writes.cc) and an insert conflict function test
  (single_server=no, constant_now=yes): geometry and non-deterministic terms fail, r.now passes.
- changes() transforms (seq.cc) and order_by functions (order_util.cc) test (yes, yes).
- index and write-hook functions (sindex.cc, write_hook.cc) test (no, no): r.now fails too.
Through our driver and the official one.
"""

from __future__ import annotations

import pytest

from rethought import r as our_r

ATOMIC = "Could not prove argument deterministic.  Maybe you want to use the non_atomic flag?"
FEED = "Cannot call `changes` after a non-deterministic function."
INDEX = "Could not prove function deterministic.  Index functions must be deterministic."
HOOK = "Could not prove function deterministic.  Write hook functions must be deterministic."
SORT = "Sorting by a non-deterministic function is not supported."
CONFLICT = "The conflict function passed to `insert` must be deterministic."


@pytest.fixture(params=["rethought", "official"])
def db(request, server, official_r, table_name):
    """(r, conn, table) with one row {'id': 0, 'x': 1}."""
    rr = our_r if request.param == "rethought" else official_r
    c = rr.connect(host=server.host, port=server.port)
    rr.table_create(table_name).run(c)
    rr.table(table_name).insert({"id": 0, "x": 1}).run(c)
    yield rr, c, rr.table(table_name)
    rr.table_drop(table_name).run(c)
    c.close()


def refused(r, conn, query, message):
    with pytest.raises(r.ReqlQueryLogicError) as info:
        query.run(conn)
    # The drivers print "<message without its final period> in:\n<query>".
    assert str(info.value).startswith(message.rstrip(".") + " in:")


# -- atomic writes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda r, t: t.get(0).update({"y": r.random()}),
        lambda r, t: t.get(0).update(lambda row: {"y": r.uuid()}),
        lambda r, t: t.get(0).update({"y": r.js("1")}),
        lambda r, t: t.get(0).replace(lambda row: t.get(0)),  # a sub-query reading a table
        lambda r, t: t.update(lambda row: r.do(r.random(), lambda v: {"y": v})),
        lambda r, t: t.update(lambda row: {"y": row["nope"].default(r.random())}),
        lambda r, t: t.update(lambda row: r.branch(row["x"].eq(1), {"y": r.uuid()}, {})),
        lambda r, t: t.update(lambda row: {"y": r.expr([1]).map(lambda v: r.random())}),
        lambda r, t: t.get(0).update({"y": r.uuid(r.args([]))}),  # r.args may expand to none
        lambda r, t: t.get(0).replace(r.args([t.get(0)])),  # regression 4582
        lambda r, t: t.get(0).update({"g": r.line([0, 0], [1, 1])}),  # geometry: single server
        lambda r, t: t.get(0).update({"g": r.circle([0, 0], 10)}),
    ],
)
def test_atomic_write_refuses(db, make):
    r, c, t = db
    refused(r, c, make(r, t), ATOMIC)


@pytest.mark.parametrize(
    "make",
    [
        lambda r, t: t.get(0).update({"y": r.now()}),  # r.now is constant in one query
        lambda r, t: t.get(0).update({"y": r.uuid("name")}),  # a hash of its argument
        lambda r, t: t.get(0).update({"g": r.point(1, 2)}),  # point does no geometry
        lambda r, t: t.get(0).update({"g": r.point(1, 2).to_geojson()}),
        lambda r, t: t.get(0).update(lambda row: {"y": row["x"].add(1)}),
    ],
)
def test_atomic_write_accepts(db, make):
    r, c, t = db
    assert make(r, t).run(c)["errors"] == 0


def test_non_atomic_lets_it_through(db):
    r, c, t = db
    res = t.get(0).update({"y": r.random()}, non_atomic=True).run(c)
    assert res["replaced"] == 1
    res = t.get(0).replace(r.args([t.get(0)]), non_atomic=True).run(c)
    assert res["errors"] == 0


def test_conflict_function_must_be_deterministic(db):
    r, c, t = db
    query = t.insert({"id": 0}, conflict=lambda k, o, n: n.merge({"r": r.random()}))
    refused(r, c, query, CONFLICT)
    ok = t.insert({"id": 0}, conflict=lambda k, o, n: n.merge({"t": r.now()})).run(c)
    assert ok["replaced"] == 1


# -- stored functions -----------------------------------------------------------------------


def test_index_functions(db):
    r, c, t = db
    refused(r, c, t.index_create("a", lambda row: r.now()), INDEX)
    refused(r, c, t.index_create("b", lambda row: r.random()), INDEX)
    refused(r, c, t.index_create("g", lambda row: r.line([0, 0], [1, 1]), geo=True), INDEX)
    assert t.index_create("p", lambda row: r.point(row["x"], 0), geo=True).run(c)["created"] == 1


def test_write_hook_functions(db):
    r, c, t = db
    refused(r, c, t.set_write_hook(lambda ctx, old, new: new.merge({"t": r.now()})), HOOK)


# -- order_by and changes ---------------------------------------------------------------------


def test_order_by_function(db):
    r, c, t = db
    refused(r, c, t.order_by(lambda row: r.random()), SORT)
    assert len(t.order_by(lambda row: r.now()).run(c)) == 1
    assert len(t.order_by(lambda row: r.point(row["x"], 0).distance(r.point(0, 0))).run(c)) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda r, t: t.map(lambda row: r.branch(r.random().gt(0.5), row, r.error("dummy"))),
        lambda r, t: t.filter(lambda row: r.random().gt(0.5)),
        lambda r, t: t.filter(lambda row: row["x"], default=r.random().gt(0.5)),
        lambda r, t: t.map(lambda row: row.merge({"u": r.uuid()})),
        lambda r, t: t.map(lambda row: t.get(0)),
        lambda r, t: t.merge({"j": r.js("1")}),
        lambda r, t: t.pluck(r.args(t.get(0).keys())),
    ],
)
def test_changes_refuses(db, make):
    r, c, t = db
    refused(r, c, make(r, t).changes(), FEED)


def test_changes_accepts_now_and_geometry(db):
    r, c, t = db
    for query in (
        t.map(lambda row: row.merge({"t": r.now()})),
        t.map(lambda row: row.merge({"d": r.point(row["x"], 0).distance(r.point(0, 0))})),
    ):
        feed = query.changes(include_initial=True).run(c)
        first = feed.next(wait=5)
        assert first["new_val"]["id"] == 0
        feed.close()


def test_changes_error_blames_the_function(server, table_name):
    """rfail_src(f.get_bt()): the backtrace points at the function, not at changes()."""
    c = our_r.connect(host=server.host, port=server.port)
    our_r.table_create(table_name).run(c)
    try:
        with pytest.raises(our_r.ReqlQueryLogicError) as info:
            our_r.table(table_name).map(lambda row: our_r.random()).changes().run(c)
        text = str(info.value)
        carets = text.splitlines()[-1]
        query = text.splitlines()[-2]
        assert query[carets.index("^") :].startswith("lambda")
    finally:
        our_r.table_drop(table_name).run(c)
        c.close()
