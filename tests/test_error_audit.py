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
