"""The ``array_limit`` run optarg, as RethinkDB 2.4.4 applies it (``rcheck_array_size`` and
the ``datum_array_builder_t`` / ``datum_t(std::vector, limits)`` builders, shards.cc's
``to_array_t`` for grouped data), through our driver and the official one, on a real server.
Expected texts are RethinkDB's (src/rdb_protocol/error.cc, shards.cc)."""

from __future__ import annotations

import pytest

ARRAY = (
    "Array over size limit `{}`.  To raise the number of allowed elements, modify the "
    "`array_limit` option to `.run` (not available in the Data Explorer), or use an index."
)
GROUPED = (
    "Grouped data over size limit `{}`.  Try putting a reduction (like `.reduce` or `.count`) "
    "on the end."
)


@pytest.fixture(params=["ours", "official"])
def db(request, server, table_name):
    """(r, conn, errors module, table with rows id 0..19, mod = id % 5)."""
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
    tbl.insert([{"id": i, "mod": i % 5} for i in range(20)]).run(conn)
    yield r, conn, errors, tbl
    r.db("test").table_drop(table_name).run(conn)
    conn.close()


def limit_error(db, query, message, limit=5):
    r, conn, errors, _ = db
    with pytest.raises(errors.ReqlResourceLimitError) as info:
        query.run(conn, array_limit=limit)
    assert info.value.message == message.format(limit)


def test_coerce_to_array_of_table_and_streams(db):
    r, conn, errors, tbl = db
    for q in (
        tbl.coerce_to("array"),
        tbl.filter(True).coerce_to("array"),
        tbl.between(0, 7).coerce_to("array"),
        tbl.limit(6).coerce_to("array"),
        r.range(6).coerce_to("array"),
        r.expr({"a": r.range(6).coerce_to("array")}),
    ):
        limit_error(db, q, ARRAY)
    # exactly at the limit is fine; lazy streams are not limited
    assert r.range(5).coerce_to("array").run(conn, array_limit=5) == [0, 1, 2, 3, 4]
    assert len(list(tbl.run(conn, array_limit=5))) == 20
    assert len(list(tbl.union(tbl).run(conn, array_limit=5))) == 40
    assert len(list(tbl.order_by(index="id").run(conn, array_limit=5))) == 20
    # an indexed distinct on a table streams too (sort.cc: ordered_distinct)
    assert len(list(tbl.distinct().run(conn, array_limit=5))) == 20


def test_default_limit_is_100000(db):
    r, conn, errors, _ = db
    assert r.range(100000).coerce_to("array").count().run(conn) == 100000
    limit_error(db, r.range(100001).coerce_to("array").count(), ARRAY, limit=100000)
    with pytest.raises(errors.ReqlResourceLimitError):
        r.range(100001).coerce_to("array").count().run(conn)
    q = r.range(100001).coerce_to("array").count()
    assert q.run(conn, array_limit=100001) == 100001


def test_grouped_data(db):
    r, conn, errors, tbl = db
    # every group's rows count together (shards.cc to_array_t), groups of 4 here
    limit_error(db, tbl.group("mod"), GROUPED)
    limit_error(db, tbl.group("mod").coerce_to("array"), GROUPED)
    limit_error(db, tbl.group("mod").ungroup(), GROUPED)
    limit_error(db, r.range(6).group(lambda x: x % 2), GROUPED)
    # a reduction on the end needs no arrays
    assert tbl.group("mod").count().run(conn, array_limit=5) == {k: 4 for k in range(5)}
    # more groups than array_limit in one batch (shards.cc group_trans_t): Too many groups
    limit_error(db, tbl.group("mod").count().ungroup(), "Too many groups (> {}).", limit=3)
    limit_error(db, tbl.group("mod").count(), "Too many groups (> {}).", limit=4)


def test_eager_sequence_terms(db):
    r, conn, errors, tbl = db
    arr5 = r.expr([1, 2, 3, 4, 5])
    for q in (
        tbl.order_by("id"),  # no index: sorted in memory (sort.cc)
        tbl.filter(True).distinct(),
        r.range(6).distinct(),
        arr5.union([6]),
        arr5.append(6),
        arr5.prepend(0),
        arr5.insert_at(0, 6),
        arr5.splice_at(1, [6]),
        arr5.set_insert(6),
        arr5.set_union([6]),
        r.range(6).coerce_to("array").set_difference([9]),
        arr5.add([6]),
        arr5.mul(2),
        tbl.sample(6),  # random.cc checks the count first
        r.expr({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}).keys(),
        r.expr({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}).values(),
        r.expr({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}).coerce_to("array"),
        r.expr("a b c d e f").split(),
        r.json("[1, 2, 3, 4, 5, 6]"),
        r.json('{"a": [1, 2, 3, 4, 5, 6]}'),
        r.expr({"a": r.expr([1, 2, 3, 4, 5]).append(6)}),
    ):
        limit_error(db, q, ARRAY)
    assert arr5.append(6).run(conn, array_limit=6) == [1, 2, 3, 4, 5, 6]
    assert r.expr("a b c").split().run(conn, array_limit=3) == ["a", "b", "c"]


def test_insert_of_an_array_over_the_limit(db):
    r, conn, errors, tbl = db
    limit_error(db, tbl.insert([{"x": i} for i in range(6)]), ARRAY)
    assert tbl.count().run(conn) == 20


def test_illegal_limit(db):
    r, conn, errors, _ = db
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        r.expr(1).run(conn, array_limit=0)
    assert info.value.message == "Illegal array size limit `0`.  (Must be >= 1.)"
