"""Rules that other projects' test suites (rethinkdbdash, rethinkdb-ts, see
docs/compatibility.md) found we did differently, checked through our driver and the official
one: the message and the term blamed (the response's backtrace, the driver's caret).

Expected values come from RethinkDB 2.4.4's source:

- val.cc ``val_t::as_datum``: only a DATUM or a SINGLE_SELECTION is a datum. A table,
  table slice (``between``, ``order_by(index=)``), selection (``filter``, ``get_all``,
  ``order_by``) or stream (``r.range``, ``changes``) is refused wherever a term calls
  ``as_datum`` (``r.do``'s arguments in control.cc, ``add``, array and object literals in
  datum_terms.cc), with ``rcheck_literal_type``'s ``Expected type DATUM but found X:\\n``
  and ``val_t::print`` (``SELECTION ON table(t)``, ``VALUE SEQUENCE``), blaming the value's
  own term. Streams that are arrays in disguise (from an array) stay datums.
- func.cc ``new_get_field_func``: a field name given for a function (``group("a")``,
  ``eq_join("a", ...)``) is ``r.row["a"]`` as a GET_FIELD carrying the name's backtrace.
- obj_or_seq.cc: "Cannot perform X on a non-object non-sequence" is ``rfail_typed_target(v0)``
  (blames the object argument); on a row of a sequence it blames the term (its per-row
  function has the term's backtrace). rewrites.cc: ``with_fields`` is ``has_fields`` then
  ``pluck``, so its errors name has_fields.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["ours", "official"])
def rq(request, server, test_table):
    """(r, conn, table, table name) through one of the two drivers."""
    if request.param == "ours":
        from rethought import r
    else:
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    name = test_table._args[1].data
    t = r.db("test").table(name)
    t.insert([{"id": i} for i in range(5)]).run(conn)
    yield r, conn, t, name
    conn.close()


def failure(rq, query):
    r, conn, _, _ = rq
    with pytest.raises(r.ReqlQueryLogicError) as info:
        query.run(conn)
    return info.value.message, list(info.value.frames or [])


def test_do_refuses_selections_streams_and_tables(rq):
    r, _, t, name = rq
    sel = f"Expected type DATUM but found SELECTION:\nSELECTION ON table({name})"
    assert failure(rq, t.filter({"id": 1}).do(lambda x: x.add(3))) == (sel, [1])
    assert failure(rq, t.get_all(1, 2).do(lambda x: x)) == (sel, [1])
    assert failure(rq, r.range(1, 10).do(lambda x: x.add(4))) == (
        "Expected type DATUM but found SEQUENCE:\nVALUE SEQUENCE",
        [1],
    )
    assert failure(rq, t.do(lambda x: 1)) == (
        f'Expected type DATUM but found TABLE:\ntable("{name}")',
        [1],
    )
    # every argument, not only the first
    assert failure(rq, r.do(1, r.range(2), lambda a, b: a)) == (
        "Expected type DATUM but found SEQUENCE:\nVALUE SEQUENCE",
        [2],
    )


def test_arrays_in_disguise_are_datums(rq):
    r, conn, t, _ = rq
    assert r.expr([1, 2]).map(lambda x: x.mul(2)).do(lambda a: a.add([9])).run(conn) == [2, 4, 9]
    assert r.expr([3, 1, 2]).order_by(r.asc(lambda x: x)).add([0]).run(conn) == [1, 2, 3, 0]
    assert t.get(1).do(lambda row: row["id"]).run(conn) == 1  # a single selection is one
    assert r.expr([r.expr([1]).union([2])]).run(conn) == [[1, 2]]


def test_literals_and_arithmetic_refuse_streams(rq):
    r, _, t, name = rq
    seq = "Expected type DATUM but found SEQUENCE:\nVALUE SEQUENCE"
    assert failure(rq, r.expr([r.range(3)])) == (seq, [0])
    assert failure(rq, r.expr({"a": r.range(3)})) == (seq, ["a"])
    assert failure(rq, r.range(3).add(1)) == (seq, [0])
    assert failure(rq, r.expr([1, 2]).map(lambda x: r.range(x))) == (seq, [1, 1])
    slice_ = f"Expected type DATUM but found TABLE_SLICE:\nSELECTION ON table({name})"
    assert failure(rq, t.between(r.minval, r.maxval, index="id").add(1)) == (slice_, [0])
    assert failure(rq, t.order_by(index="id").add(1)) == (slice_, [0])
    sel = f"Expected type DATUM but found SELECTION:\nSELECTION ON table({name})"
    assert failure(rq, t.order_by(r.desc("id")).add(1)) == (sel, [0])


def test_field_name_shortcuts_are_get_field_on_the_name(rq):
    r, _, t, _ = rq
    msg = "Cannot perform get_field on a non-object non-sequence `1`."
    assert failure(rq, r.expr([1, 2, 3]).group("foo")) == (msg, [1])
    assert failure(rq, r.expr([1, 2, 3]).eq_join("id", t)) == (msg, [1])
    # a row that is an array is mapped, as GET_FIELD does
    conn = rq[1]
    rows = [[{"a": 1}, {"a": 2}]]
    assert r.expr(rows).group("a").ungroup().run(conn) == [{"group": [1, 2], "reduction": rows}]


def test_non_object_errors_blame_the_value(rq):
    r, _, _, _ = rq
    bracket = "Cannot perform bracket on a non-object non-sequence `1`."
    assert failure(rq, r.expr(1).do(lambda x: x["bah"].add(3))) == (bracket, [0, 1, 0, 0])
    assert failure(rq, r.expr(1).pluck("a")) == (
        "Cannot perform pluck on a non-object non-sequence `1`.",
        [0],
    )
    # a row of a sequence blames the term
    assert failure(rq, r.expr([1]).pluck("a")) == (
        "Cannot perform pluck on a non-object non-sequence `1`.",
        [],
    )
    assert failure(rq, r.expr([1, 2, 3]).with_fields("foo", "bar")) == (
        "Cannot perform has_fields on a non-object non-sequence `1`.",
        [],
    )
    assert failure(rq, r.expr([[1]]).with_fields("foo")) == (
        "Cannot perform has_fields on a sequence of sequences.",
        [],
    )


def test_a_function_or_database_is_not_a_sequence(rq):
    r, _, t, _ = rq
    # val_t::as_seq: rcheck_literal_type on the argument's value (blamed on it)
    assert failure(rq, r.expr([1, 2]).inner_join(lambda a, b: True, t)) == (
        "Expected type SEQUENCE but found FUNCTION:\nVALUE FUNCTION",
        [1],
    )
    assert failure(rq, r.expr([1, 2]).outer_join(r.db("test"), lambda a, b: True)) == (
        'Expected type SEQUENCE but found DATABASE:\ndb("test")',
        [1],
    )
    # a datum that is not an array: datum_t::as_datum_stream
    assert failure(rq, r.expr([1, 2]).inner_join(1, lambda a, b: True)) == (
        "Cannot convert NUMBER to SEQUENCE",
        [],
    )
    # eq_join's right side is as_table()'d
    assert failure(rq, r.expr([1, 2]).eq_join("id", [1])) == (
        "Expected type TABLE but found DATUM:\n[\n\t1\n]",
        [2],
    )


def test_difference_is_a_filter_on_contains(rq):
    r, conn, t, _ = rq
    # rewrites.cc: a.filter(lambda row: ~b.contains(row))
    assert failure(rq, r.expr([1, 2]).difference("foo")) == (
        "Cannot convert STRING to SEQUENCE",
        [],
    )
    assert r.expr([]).difference("foo").run(conn) == []  # no row, no contains
    assert r.expr([1, 2, 3, 2]).difference([2]).run(conn) == [1, 3]
    assert r.range(5).difference([1, 3]).type_of().run(conn) == "STREAM"
    assert sorted(t.difference([{"id": 0}]).get_field("id").run(conn)) == [1, 2, 3, 4]
    assert t.difference([]).type_of().run(conn) == "SELECTION<STREAM>"


def test_http_errors_print_the_null_header_and_body(rq):
    r, conn, _, _ = rq
    # http_job.cc starts every result with a null header and body; check_error_result
    # (http.cc) prints both after any error the worker returns.
    with pytest.raises(r.ReqlNonExistenceError) as info:
        r.http("http://127.0.0.1:9/", attempts=0).run(conn)
    assert info.value.message == (
        "Error in HTTP GET of `http://127.0.0.1:9/`: could not perform, no attempts allowed."
        "\nheader:\nnull\nbody:\nnull"
    )


def test_conversions_of_an_argument_blame_it(rq):
    r, _, _, _ = rq
    # concatmap: the function's result read as a sequence points at the function
    assert failure(rq, r.expr([1, 2, 3]).concat_map(lambda v: v)) == (
        "Cannot convert NUMBER to SEQUENCE",
        [1],
    )
    # as_selection / as_grouped_data (rcheck_literal_type on the argument's val_t)
    assert failure(rq, r.expr([1, 2, 3]).update({"a": 1})) == (
        "Expected type SELECTION but found DATUM:\n[\n\t1,\n\t2,\n\t3\n]",
        [0],
    )
    assert failure(rq, r.expr([1, 2, 3]).ungroup()) == (
        "Expected type GROUPED_DATA but found DATUM:\n[\n\t1,\n\t2,\n\t3\n]",
        [0],
    )
    # type_manip.cc: rfail_typed_target(val, "Cannot coerce %s to %s.")
    assert failure(rq, r.expr(2).coerce_to("ARRAY")) == ("Cannot coerce NUMBER to ARRAY.", [0])
    # pseudo_time.cc iso8601_to_time: rfail_target(the string's val)
    assert failure(rq, r.iso8601("UnvalidISO961String")) == (
        "Invalid date string `UnvalidISO961String` (got `U` but expected a digit).",
        [0],
    )
    # as_ptype(geometry) on each argument
    poly = r.polygon([0, 0], [1, 1], [2, 3])
    assert failure(rq, poly.polygon_sub(3)) == ("Not a GEOMETRY pseudotype: `3`.", [1])
    assert failure(rq, r.expr("foo").polygon_sub(poly)) == (
        'Not a GEOMETRY pseudotype: `"foo"`.',
        [0],
    )
    bad = "Not a GEOMETRY pseudotype: `[\n\t0,\n\t1,\n\t3\n]`."
    tri = r.polygon([0, 0], [0, 1], [1, 1])
    assert failure(rq, tri.includes(r.expr([0, 1, 3]))) == (bad, [1])
    assert failure(rq, tri.intersects(r.expr([0, 1, 3]))) == (bad, [1])


def test_zip_is_a_deep_merge(rq):
    r, conn, t, _ = rq
    # shards.cc zip_trans_t: left.merge(right) with datum_t::merge
    rows = [
        {"left": {"a": {"b": 1}, "c": 1}, "right": {"a": {"d": 2}}},
        {"left": "x", "right": {"id": 1}},  # a left that is not an object: the right side
        {"left": {"a": 1}},
    ]
    assert r.expr(rows).zip().run(conn) == [{"a": {"b": 1, "d": 2}, "c": 1}, {"id": 1}, {"a": 1}]
    got = r.expr([1, 2]).eq_join(lambda x: x, t).zip().order_by("id").run(conn)
    assert got == [{"id": 1}, {"id": 2}]
    assert failure(rq, r.expr([{"a": 1}]).zip()) == (
        "ZIP can only be called on the result of a join.",
        [],
    )
    assert failure(rq, r.expr([1]).zip()) == ("Expected type OBJECT but found NUMBER.", [])


def test_order_by_computes_keys_inside_comparisons(rq):
    r, conn, _, _ = rq
    # sort.cc: std::stable_sort with lt_cmp(l, r) evaluating l's key first; the first
    # comparison is (a[1], a[0]), and a single row is never compared
    assert failure(rq, r.expr([1, 2, 3]).order_by("foo")) == (
        "Cannot perform get_field on a non-object non-sequence `2`.",
        [1],
    )
    assert r.expr([1]).order_by("foo").run(conn) == [1]
    assert failure(rq, r.expr([{"foo": 1}, 5]).order_by("foo")) == (
        "Cannot perform get_field on a non-object non-sequence `5`.",
        [1],
    )


def test_limit_feed_with_a_transform_before_the_limit(rq):
    r, conn, t, _ = rq
    # RethinkDB 2.4.4 test/rql_test/changefeeds/limit_item_replacements.py_one.yaml:
    # order_by(index=).pluck().limit().changes() follows the top n by the index and sends
    # the plucked rows
    t.index_create("v").run(conn)
    t.index_wait("v").run(conn)
    t.get(3).update({"v": 0}).run(conn)
    t.get(4).update({"v": 1}).run(conn)
    feed = t.order_by(index="v").pluck("id").limit(1).changes(include_initial=True).run(conn)
    assert feed.next(wait=5) == {"new_val": {"id": 3}}
    t.get(3).update({"v": 9}).run(conn)
    assert feed.next(wait=5) == {"new_val": {"id": 4}, "old_val": {"id": 3}}
    feed.close()


def test_get_all_reads_its_index_when_read(rq):
    r, conn, t, name = rq
    # like between, get_all's index is looked up by the read (datum_stream), not the term
    q = t.get_all(1, index="nope")
    assert q.type_of().run(conn) == "SELECTION<STREAM>"
    assert failure(rq, q.do(lambda x: x)) == (
        f"Expected type DATUM but found SELECTION:\nSELECTION ON table({name})",
        [1],
    )
    with pytest.raises(r.ReqlOpFailedError) as info:
        q.count().run(conn)
    assert info.value.message == f"Index `nope` was not found on table `test.{name}`."
    assert list(info.value.frames or []) == [0]


def test_at_most_64_shards(rq):
    r, conn, t, name = rq
    # generate_config.cc validate_params (doublethink's test_too_many_errors)
    with pytest.raises(r.ReqlOpFailedError) as info:
        r.db("test").table_create(name + "_x", shards=99).run(conn)
    assert info.value.message == "Maximum number of shards is 64."
    with pytest.raises(r.ReqlOpFailedError) as info:
        t.reconfigure(shards=65, replicas=1).run(conn)
    assert info.value.message == "Maximum number of shards is 64."
    assert r.db("test").table_create(name + "_y", shards=64)["tables_created"].run(conn) == 1
    r.db("test").table_drop(name + "_y").run(conn)
