"""Error texts, types and backtraces checked against RethinkDB 2.4.4's source, one test per
rule, grouped by the source file (src/rdb_protocol/...) the text comes from. Expected values
are copied from that source; each query runs through our driver and the official one
(the audit and its counts: /work/notes/exact-b.md)."""

from __future__ import annotations

import pytest

from rethought import r as our_r


@pytest.fixture(params=["ours", "official"])
def rc(request, conn, official_conn, official_r):
    """(r, conn) of one driver."""
    return (our_r, conn) if request.param == "ours" else (official_r, official_conn)


def fails(rc, make, error: str, message: str, frames=None, **optargs):
    rr, c = rc
    with pytest.raises(Exception) as info:  # noqa: PT011 (the class is checked by name)
        make(rr).run(c, **optargs)
    assert type(info.value).__name__ == error, info.value
    assert info.value.message == message
    if frames is not None:
        assert list(info.value.frames) == frames
    return info.value


@pytest.fixture(scope="module")
def geo_table(server):
    from rethought import r

    c = r.connect(host=server.host, port=server.port)
    name = "audit_geo"
    if name not in r.db("test").table_list().run(c):
        r.db("test").table_create(name).run(c)
        r.table(name).index_create("g", geo=True).run(c)
        r.table(name).index_create("n").run(c)
        r.table(name).index_wait().run(c)
    c.close()
    return name


# -- shards.cc ----------------------------------------------------------------------------


def test_shards_too_many_groups(rc):
    fails(
        rc,
        lambda r: r.range(10).group(lambda x: x).count(),
        "ReqlResourceLimitError",
        "Too many groups (> 3).",
        frames=[0],
        array_limit=3,
    )


def test_shards_groups_up_to_the_limit_pass(rc):
    rr, c = rc
    assert len(rr.range(10).group(lambda x: x % 3).count().run(c, array_limit=3)) == 3


# -- configured_limits.cc -----------------------------------------------------------------


def test_configured_limits_illegal_array_limit(rc):
    fails(
        rc,
        lambda r: r.expr([1, 2]).append(3),
        "ReqlQueryLogicError",
        "Illegal array size limit `0`.  (Must be >= 1.)",
        array_limit=0,
    )


# -- datum.cc -----------------------------------------------------------------------------


def test_datum_maxval_and_minval_to_json(rc):
    fails(
        rc,
        lambda r: r.expr([r.maxval]),
        "ReqlQueryLogicError",
        "Cannot convert `r.maxval` to JSON.",
    )
    fails(rc, lambda r: r.minval, "ReqlQueryLogicError", "Cannot convert `r.minval` to JSON.")


def test_datum_duplicate_key_in_json(rc):
    # the 2.1+ (rapidjson) path: the key printed as a datum, in double quotes
    fails(
        rc, lambda r: r.json('{"a":1,"a":2}'), "ReqlQueryLogicError", 'Duplicate key "a" in JSON.'
    )


def test_datum_string_not_utf8(rc):
    err = fails(
        rc,
        lambda r: r.binary(b"ab\xff").coerce_to("string"),
        "ReqlQueryLogicError",
        "String `ab` (truncated) is not a UTF-8 string; Invalid initial byte seen at position 2.",
    )
    assert err


# -- pseudo_geometry.cc -------------------------------------------------------------------


def test_pseudo_geometry_missing_fields(rc):
    fails(
        rc,
        lambda r: r.expr({"$reql_type$": "GEOMETRY"}),
        "ReqlNonExistenceError",
        "Field `type` not found in geometry object.",
    )
    fails(
        rc,
        lambda r: r.expr({"$reql_type$": "GEOMETRY", "type": "Point"}),
        "ReqlNonExistenceError",
        "Field `coordinates` not found in geometry object.",
    )


# -- terms/geo.cc and store.cc -----------------------------------------------------------


@pytest.mark.parametrize("term", ["get_intersecting", "get_nearest"])
def test_geo_index_argument_rules(rc, geo_table, term):
    def call(r, **kw):
        return getattr(r.table(geo_table), term)(r.point(0, 0), **kw)

    fails(rc, lambda r: call(r), "ReqlQueryLogicError", f"{term} requires an index argument.")
    fails(
        rc,
        lambda r: call(r, index="id"),
        "ReqlQueryLogicError",
        f"{term} cannot use the primary index.",
    )
    fails(
        rc,
        lambda r: call(r, index="n"),
        "ReqlQueryLogicError",
        f"Index `n` is not a geospatial index.  {term} can only be used with a geospatial index.",
    )


# -- terms/obj_or_seq.cc ------------------------------------------------------------------


def test_obj_or_seq_cannot_perform(rc):
    fails(
        rc,
        lambda r: r.expr(1)["a"],
        "ReqlQueryLogicError",
        "Cannot perform bracket on a non-object non-sequence `1`.",
    )
    fails(
        rc,
        lambda r: r.expr([[{"a": 1}]]).pluck("a"),
        "ReqlQueryLogicError",
        "Cannot perform pluck on a sequence of sequences.",
    )


# -- val.cc -------------------------------------------------------------------------------


def test_val_multiple_betweens_and_order_bys(rc, geo_table):
    fails(
        rc,
        lambda r: r.table(geo_table).between(1, 2).between(1, 2),
        "ReqlQueryLogicError",
        "Cannot perform multiple BETWEENs on the same table.",
    )
    fails(
        rc,
        lambda r: r.table(geo_table).order_by(index="id").order_by(index="n"),
        "ReqlQueryLogicError",
        "Cannot perform multiple indexed ORDER_BYs on the same table.",
    )


# -- terms/arith.cc -----------------------------------------------------------------------


def test_arith_modulo_zero(rc):
    fails(rc, lambda r: r.expr(5).mod(0), "ReqlQueryLogicError", "Cannot take a number modulo 0.")


# -- artificial_table/artificial_table.cc ------------------------------------------------


def test_artificial_table_sync(rc, geo_table):
    fails(
        rc,
        lambda r: r.db("rethinkdb").table("stats").sync(),
        "ReqlOpFailedError",
        "Artificial tables don't support `sync()`.",
        frames=[],
    )
    rr, c = rc
    assert rr.table("audit_geo").sync().run(c) == {"synced": 1}


# -- pseudo_literal.cc (JSON objects may hold literals, checked as they are read) ---------


def test_pseudo_literal_illegal_key_in_json(rc):
    fails(
        rc,
        lambda r: r.json('{"$reql_type$": "LITERAL", "value": 1, "x": 2}'),
        "ReqlQueryLogicError",
        "Invalid literal term with illegal key `x`.",
    )
    rr, c = rc
    doc = rr.expr({"a": 1, "b": 2}).merge(rr.json('{"a": {"$reql_type$": "LITERAL"}}'))
    assert doc.run(c) == {"b": 2}


def test_datum_literal_object_in_a_query_is_a_stray_literal(rc):
    # term_walker.cc rewrites a JSON object to MAKE_OBJ; its datum_t(map) allows no literal
    stray = (
        "Stray literal keyword found: literal is only legal inside of the object passed to "
        "merge or update and cannot nest inside other literals."
    )
    fails(
        rc,
        lambda r: r.expr({"$reql_type$": "LITERAL", "value": 1}),
        "ReqlQueryLogicError",
        stray,
        frames=[],
    )
    fails(
        rc,
        lambda r: r.expr({"a": 1}).merge({"a": {"$reql_type$": "LITERAL", "value": 2}}),
        "ReqlQueryLogicError",
        stray,
        frames=[1, "a"],
    )
    rr, c = rc
    assert rr.expr({"a": 1}).merge({"a": rr.literal(2)}).run(c) == {"a": 2}
    assert rr.branch(False, {"$reql_type$": "LITERAL"}, 5).run(c) == 5  # only when evaluated


# -- the eight texts left unchecked by the first audit -------------------------------------------


def test_geo_traversal_past_the_array_limit(rc, server):
    # datum_stream.cc intersecting_reader_t: the (pk, tag) pairs emitted are kept in a set
    # bounded by array_limit (rcheck_toplevel: no backtrace)
    rr, c = rc
    name = "audit_geo_limit"
    if name not in rr.db("test").table_list().run(c):
        rr.db("test").table_create(name).run(c)
        rr.table(name).index_create("g", geo=True).run(c)
        rr.table(name).index_wait().run(c)
        rr.table(name).insert([{"id": i, "g": rr.point(0, i / 100)} for i in range(5)]).run(c)
    near = rr.table(name).get_intersecting(rr.circle(rr.point(0, 0), 100000), index="g")
    fails(
        rc,
        lambda r: near.count(),
        "ReqlResourceLimitError",
        "Array size limit exceeded during geospatial index traversal.",
        frames=[],
        array_limit=4,
    )
    assert near.count().run(c, array_limit=5) == 5


def test_datum_warnings_past_the_array_limit(rc, test_table):
    # insert_term_t: the merge's warning (changes truncated), then the generated keys' one;
    # datum_object_builder_t::add_warning refuses a warning past array_limit
    rr, c = rc
    t = rr.db("test").table(test_table._args[1].data)
    docs = rr.range(3).map(lambda i: {"x": i})
    res = t.insert(docs, return_changes=True).run(c, array_limit=2)
    assert res["warnings"] == [
        "Too many changes, array truncated to 2.",
        "Too many generated keys (3), array truncated to 2.",
    ]
    assert len(res["changes"]) == len(res["generated_keys"]) == 2
    fails(
        rc,
        lambda r: t.insert(r.range(2).map(lambda i: {"x": i}), return_changes=True),
        "ReqlResourceLimitError",
        "Warnings would exceed array size limit 1; increase it to see warnings",
        frames=[],
        array_limit=1,
    )
    assert t.count().run(c) == 5  # the rows were written before the result was built


def _raw(rr, js):
    """A query whose wire JSON is ``js``."""

    class Raw(type(rr.expr(1))):
        def build(self):
            return js

    return Raw(1)


def test_term_storage_datum_term_sizes(rc):
    # term_storage.cc raw_term_t: a DATUM term is [1, value] plus the backtrace the term
    # walker appended, so 3 items; its value is data, not terms
    rr, c = rc
    assert _raw(rr, [1, 5]).run(c) == 5
    assert _raw(rr, [1, {"a": [2, [1]]}]).run(c) == {"a": [2, [1]]}
    assert _raw(rr, [2, [[1, "x"], 3]]).run(c) == ["x", 3]
    for js, found, frames in (([1], 2, []), ([1, 5, {}], 4, []), ([2, [7, [1]]], 2, [1])):
        fails(
            rc,
            lambda r, js=js: _raw(r, js),
            "ReqlServerCompileError",
            f"Expected 3 items in array, but found {found}.",
            frames=frames,
        )
    fails(
        rc,
        lambda r: _raw(r, [1, 5, 6]),
        "ReqlServerCompileError",
        "Third element in a Term is not optional arguments.",
    )


def test_datum_stream_infinite_ordered_union(rc):
    # ordered_union_datum_stream_t (interleave false, a field, a function) refuses a
    # terminal read of an infinite input with its own text; union_datum_stream_t does not
    rr, c = rc
    ordered = "Cannot use an infinite stream with an ordered `union`."
    for interleave in (False, "a", lambda x: x, [rr.asc("a")]):
        fails(
            rc,
            lambda r, i=interleave: r.range().union(r.range(3), interleave=i).count(),
            "ReqlQueryLogicError",
            ordered,
        )
    fails(
        rc,
        lambda r: r.range().union(r.range(3), interleave=False).map(lambda x: x).coerce_to("array"),
        "ReqlQueryLogicError",
        ordered,
    )
    aggregation = (
        "Cannot use an infinite stream with an aggregation function (`reduce`, `count`, etc.) "
        "or coerce it to an array."
    )
    fails(rc, lambda r: r.range().union(r.range(3)).count(), "ReqlQueryLogicError", aggregation)
    fails(
        rc,
        lambda r: r.range().union(r.range(3), interleave=True).count(),
        "ReqlQueryLogicError",
        aggregation,
    )
    assert list(rr.range().union(rr.range(3), interleave=False).limit(3).run(c)) == [0, 1, 2]


def test_pseudo_time_date_errors_before_the_zone(rc):
    # pseudo_time.cc iso8601_to_time: boost parses the date (bad_month, bad_day_of_month)
    # before boost_to_time checks the zone it read
    for s, msg in (
        ("2012-02-30", "Day of month is not valid for year"),
        ("2012-13-01", "Month number is out of range 1..12"),
        ("2012-000", "Day of year value is out of range 1..366"),
    ):
        fails(
            rc, lambda r, s=s: r.iso8601(s), "ReqlQueryLogicError", f"Error in time logic: {msg}."
        )
    fails(
        rc,
        lambda r: r.iso8601("2012-02-01"),
        "ReqlQueryLogicError",
        "ISO 8601 string has no time zone, and no default time zone was provided.",
    )
    rr, c = rc
    # hours, minutes and seconds are not range checked: boost adds them up
    assert rr.iso8601("2012-01-01T25:00:00Z").to_iso8601().run(c) == "2012-01-02T01:00:00+00:00"
