"""``fold`` with ``emit`` / ``final_emit`` and ``union`` with ``interleave``, through our driver
and the official one on a real server.

Expected values follow RethinkDB 2.4.4: terms/seq.cc's ``fold_term_t`` and
datum_stream.cc's ``fold_datum_stream_t`` (emit gets ``(old_acc, row, new_acc)`` and returns
an array spliced into the output; ``final_emit`` runs once after the last row; an array
stays an array, anything else becomes a stream), and terms/seq.cc's ``union_term_t`` with
``ordered_union_datum_stream_t`` (``interleave`` true: any order; false: one input after the
other; a field, function, ``r.asc`` / ``r.desc`` or a list of them: a merge that fails when an
input's next row sorts before the row just sent).
"""

from __future__ import annotations

import pytest

UNORDERED = "The streams given as arguments are not ordered by given ordering."


@pytest.fixture(params=["ours", "official"])
def db(request, server, table_name):
    """(r, conn, errors module, table with {id: i, n: i} for i in 0..9)."""
    if request.param == "ours":
        from rethought import errors, r
    else:
        import rethinkdb.errors as errors
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    if "test" not in r.db_list().run(conn):
        r.db_create("test").run(conn)
    r.db("test").table_create(table_name).run(conn)
    tbl = r.db("test").table(table_name)
    tbl.insert([{"id": i, "n": i} for i in range(10)]).run(conn)
    yield r, conn, errors, tbl
    r.db("test").table_drop(table_name).run(conn)
    conn.close()


def logic_error(db, query, message):
    r, conn, errors, _ = db
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        res = query.run(conn)
        if not isinstance(res, (list, dict, int, str)):
            list(res)
    assert info.value.message == message


def test_fold_without_emit(db):
    r, conn, errors, tbl = db
    add = lambda acc, x: acc.add(x)  # noqa: E731
    assert r.expr([1, 2, 3]).fold(0, add).run(conn) == 6
    assert r.expr([]).fold(7, add).run(conn) == 7
    assert r.expr([1, 2]).fold(0, add, final_emit=lambda acc: acc.mul(10)).run(conn) == 30
    # without emit, final_emit may return anything
    assert r.expr([1, 2]).fold(0, add, final_emit=lambda a: {"s": a}).run(conn) == {"s": 3}
    assert tbl.fold(0, lambda acc, row: acc.add(row["n"])).run(conn) == 45
    grouped = r.expr([1, 2, 3, 4]).group(lambda x: x.mod(2)).fold(0, add).run(conn)
    assert grouped == {0: 6, 1: 4}


def test_fold_with_emit(db):
    r, conn, errors, tbl = db
    add = lambda acc, x: acc.add(x)  # noqa: E731
    arr = r.expr([1, 2, 3])
    assert arr.fold(0, add, emit=lambda old, x, new: [new]).run(conn) == [1, 3, 6]
    assert arr.fold(0, add, emit=lambda old, x, new: [old, x]).run(conn) == [0, 1, 1, 2, 3, 3]
    assert arr.fold(0, add, emit=lambda o, x, n: []).run(conn) == []
    q = arr.fold(0, add, emit=lambda o, x, n: [n], final_emit=lambda acc: [acc, "end"])
    assert q.run(conn) == [1, 3, 6, 6, "end"]
    q = r.expr([]).fold(0, add, emit=lambda o, x, n: [n], final_emit=lambda acc: [acc])
    assert q.run(conn) == [0]
    # an array stays an array; a stream or a table gives a stream
    assert arr.fold(0, add, emit=lambda o, x, n: [n]).type_of().run(conn) == "ARRAY"
    assert r.range(3).fold(0, add, emit=lambda o, x, n: [n]).type_of().run(conn) == "STREAM"
    assert tbl.fold(0, add, emit=lambda o, x, n: [n]).type_of().run(conn) == "STREAM"
    emitted = tbl.order_by(index="id").fold(
        0,
        lambda acc, row: acc.add(1),
        emit=lambda old, row, acc: r.branch(old.mod(4).eq(0), [row["id"]], []),
    )
    assert list(emitted.run(conn)) == [0, 4, 8]
    # an infinite input is fine lazily
    q = r.range().fold(0, lambda acc, x: acc.add(1), emit=lambda o, x, n: [n]).limit(4)
    assert list(q.run(conn)) == [1, 2, 3, 4]
    grouped = r.expr([1, 2, 3, 4]).group(lambda x: x.mod(2)).fold(0, add, emit=lambda o, x, n: [n])
    assert grouped.run(conn) == {0: [2, 6], 1: [1, 4]}
    # emitted arrays are still subject to the array limit
    with pytest.raises(errors.ReqlResourceLimitError):
        r.expr([1, 2, 3, 4]).fold(0, add, emit=lambda o, x, n: [x, x]).run(conn, array_limit=6)


def test_fold_errors(db):
    r, conn, errors, tbl = db
    add = lambda acc, x: acc.add(x)  # noqa: E731
    arr = r.expr([1, 2])
    logic_error(
        db, arr.fold(0, add, emit=lambda o, x, n: n), "Expected type ARRAY but found NUMBER."
    )
    q = arr.fold(0, add, emit=lambda o, x, n: [n], final_emit=lambda acc: acc)
    logic_error(db, q, "Expected type ARRAY but found NUMBER.")
    two = "The accumulator function passed to `fold` should expect 2 arguments"
    logic_error(db, arr.fold(0, lambda acc: acc), two)
    logic_error(db, arr.fold(0, lambda a, b, c: a), two)
    logic_error(db, r.expr(5).fold(0, add), "Cannot convert NUMBER to SEQUENCE")
    infinite = (
        "Cannot use an infinite stream with an aggregation function (`reduce`, `count`, etc.) "
        "or coerce it to an array."
    )
    logic_error(db, r.range().fold(0, add), infinite)
    q = r.range().fold(0, add, emit=lambda o, x, n: [n]).coerce_to("array")
    logic_error(db, q, infinite)
    with pytest.raises(errors.ReqlUserError) as info:
        arr.fold(0, lambda acc, x: r.error("in acc")).run(conn)
    assert info.value.message == "in acc"
    with pytest.raises(errors.ReqlUserError) as info:
        arr.fold(0, add, emit=lambda o, x, n: r.error("in emit")).run(conn)
    assert info.value.message == "in emit"


def test_union_interleave_modes(db):
    r, conn, errors, tbl = db
    a = r.expr([{"n": 1}, {"n": 3}, {"n": 5}])
    b = r.expr([{"n": 2}, {"n": 4}])
    ns = lambda rows: [row["n"] for row in rows]  # noqa: E731
    assert ns(a.union(b, interleave=False).run(conn)) == [1, 3, 5, 2, 4]
    assert sorted(ns(a.union(b).run(conn))) == [1, 2, 3, 4, 5]
    assert sorted(ns(a.union(b, interleave=True).run(conn))) == [1, 2, 3, 4, 5]
    for spec in ("n", r.asc("n"), lambda x: x["n"], ["n"], [r.asc(lambda x: x["n"])]):
        assert ns(a.union(b, interleave=spec).run(conn)) == [1, 2, 3, 4, 5]
    down = r.expr([5, 3, 1]).union([4, 2], interleave=r.desc(lambda x: x))
    assert down.run(conn) == [5, 4, 3, 2, 1]
    assert a.union(b, interleave="n").type_of().run(conn) == "ARRAY"
    # ordered tables merged by two fields, the second breaking ties
    evens = tbl.order_by(index="id").filter(lambda row: row["n"].mod(2).eq(0))
    odds = tbl.order_by(index="id").filter(lambda row: row["n"].mod(2).eq(1))
    merged = evens.union(odds, interleave=["n", "id"]).run(conn)
    assert [row["id"] for row in merged] == list(range(10))
    three = r.expr([1, 4]).union([2, 5], [0, 3, 6], interleave=lambda x: x)
    assert three.run(conn) == [0, 1, 2, 3, 4, 5, 6]
    # infinite inputs merge lazily
    q = r.range().union(r.range(), interleave=lambda x: x).limit(5)
    assert list(q.run(conn)) == [0, 0, 1, 1, 2]
    q = r.range().union([1], interleave=False).limit(3)
    assert list(q.run(conn)) == [0, 1, 2]


def test_union_not_ordered(db):
    r, conn, errors, tbl = db
    a = r.expr([{"n": 1}, {"n": 3}])
    b = r.expr([{"n": 2}, {"n": 4}])
    logic_error(db, a.union(b, interleave=r.desc("n")), UNORDERED)
    logic_error(db, r.expr([1, 2, 0]).union([5], interleave=lambda x: x), UNORDERED)
    desc = tbl.order_by(index=r.desc("id"))
    logic_error(db, tbl.order_by(index="id").union(desc, interleave="id"), UNORDERED)
    # equal neighbours are in order
    assert r.expr([1, 1]).union([1], interleave=lambda x: x).run(conn) == [1, 1, 1]
