"""ReQL's order of values (datum.cc ``datum_t::cmp_unchecked_stack``), through order_by,
min / max, distinct, lt / gt / eq and between, with our driver and the official one.

The rules, read from the source (expected values below are derived from them by hand):

- different types order by ``get_type_name(name_for_sorting_t::YES)``: ``\\x01MINVAL`` <
  ARRAY < BOOL < NULL < NUMBER < OBJECT < PTYPE<BINARY> < PTYPE<TIME> < STRING < ``\\xFFMAXVAL``;
- arrays lexicographically, a prefix first; objects pair by pair in sorted key order, the key
  first, then the value, a prefix first;
- TIME by ``epoch_time`` only (the time zone does not count), BINARY by its bytes, strings by
  their UTF-8 bytes;
- GEOMETRY ``pseudo_compares_as_obj``: against anything but BINARY / TIME it is the object it
  is (``$reql_type$`` is its first key), against those the type names decide.
"""

from __future__ import annotations


def _types(r, conn, values):
    return r.expr(values).order_by(lambda x: x).map(lambda x: x.type_of()).run(conn)


def test_type_order(rq):
    r, conn = rq
    values = ["s", r.epoch_time(0), r.binary(b"x"), {"a": 1}, 1, None, True, [1]]
    assert _types(r, conn, values) == [
        "ARRAY", "BOOL", "NULL", "NUMBER", "OBJECT", "PTYPE<BINARY>", "PTYPE<TIME>", "STRING",
    ]  # fmt: skip
    for v in ([], False, None, 0, {}, r.binary(b""), r.epoch_time(0), ""):
        assert r.expr(r.minval).lt(v).run(conn) is True
        assert r.expr(r.maxval).gt(v).run(conn) is True


def test_arrays_and_objects(rq):
    r, conn = rq
    arrays = [[1, 2], [1], [0, 5], [], [1, "a"], [1, [0]], [1, None]]
    assert r.expr(arrays).order_by(r.row).run(conn) == [
        [], [0, 5], [1], [1, [0]], [1, None], [1, 2], [1, "a"],
    ]  # fmt: skip
    objects = [{"b": 0}, {"a": 2}, {"a": 1, "b": 0}, {}, {"a": 1}, {"A": 9}, {"a": [1]}]
    expected = [{}, {"A": 9}, {"a": [1]}, {"a": 1}, {"a": 1, "b": 0}, {"a": 2}, {"b": 0}]
    assert r.expr(objects).order_by(r.row).run(conn) == expected
    assert r.expr(objects).distinct().run(conn) == expected
    assert r.expr(objects).min().run(conn) == {}
    assert r.expr(objects).max().run(conn) == {"b": 0}
    assert r.expr({"a": 1, "b": 0}).lt({"a": 2}).run(conn) is True
    assert r.expr({"a": 1}).lt({"a": 1, "b": r.minval}).run(conn) is True


def test_times_binary_strings_numbers(rq):
    r, conn = rq
    assert r.epoch_time(0).eq(r.epoch_time(0).in_timezone("+02:00")).run(conn) is True
    assert r.time(1970, 1, 1, "+01:00").lt(r.epoch_time(0)).run(conn) is True
    assert r.expr([r.binary(b"b"), r.binary(b"ab"), r.binary(b"a"), r.binary(b"")]).order_by(
        r.row
    ).map(r.row.coerce_to("string")).run(conn) == ["", "a", "ab", "b"]
    # UTF-8 byte order: code point order (U+FFFF before U+1F600, unlike UTF-16)
    strings = ["\U0001f600", "\uffff", "é", "a", "Z", "", "a\x00"]
    assert r.expr(strings).order_by(r.row).run(conn) == [
        "", "Z", "a", "a\x00", "é", "\uffff", "\U0001f600",
    ]  # fmt: skip
    assert r.expr([True, False, 1.5, -0.0, 0, -1]).distinct().run(conn) == [
        False,
        True,
        -1,
        -0.0,
        1.5,
    ]
    assert r.expr(1).eq(1.0).run(conn) is True
    assert r.expr(True).eq(1).run(conn) is False


def test_geometry_compares_as_object(rq):
    r, conn = rq
    point = r.point(0, 0)
    assert point.lt({"a": 1}).run(conn) is True  # "$reql_type$" < "a"
    assert point.gt({"#": 1}).run(conn) is True  # "#" < "$"
    assert point.gt({"$reql_typd": 1}).run(conn) is True
    assert point.gt(r.binary(b"x")).run(conn) is True  # PTYPE<BINARY> < PTYPE<GEOMETRY>
    assert point.lt(r.epoch_time(0)).run(conn) is True  # PTYPE<GEOMETRY> < PTYPE<TIME>
    assert point.gt(5).run(conn) is True and point.lt("").run(conn) is True
    values = [{"a": 1}, point, {"#": 1}, "s", 1, r.epoch_time(0)]
    assert _types(r, conn, values) == [
        "NUMBER", "OBJECT", "PTYPE<GEOMETRY>", "OBJECT", "PTYPE<TIME>", "STRING",
    ]  # fmt: skip
    assert r.expr([{"a": 1}, point, {"#": 1}]).min().run(conn) == {"#": 1}
    assert r.expr([{"a": 1}, point, {"#": 1}]).max().run(conn) == {"a": 1}
    # two points: by their objects ("coordinates" before "type")
    assert r.point(1, 0).gt(r.point(0, 5)).run(conn) is True
    assert r.line([0, 0], [1, 1]).lt(r.point(0, 0)).run(conn) is True  # [[..]] < [0, 0]


def test_between_and_indexed_order_on_mixed_keys(rq, table_name):
    r, conn = rq
    ids = ["b", "a", 3, -1.5, [1, 2], [1], True, False, r.epoch_time(5), r.binary(b"k")]
    r.table_create(table_name).run(conn)
    try:
        r.table(table_name).insert([{"id": i} for i in ids]).run(conn)
        kinds = list(r.table(table_name).order_by(index="id").map(r.row["id"].type_of()).run(conn))
        assert kinds == [
            "ARRAY", "ARRAY", "BOOL", "BOOL", "NUMBER", "NUMBER", "PTYPE<BINARY>", "PTYPE<TIME>",
            "STRING", "STRING",
        ]  # fmt: skip
        got = r.table(table_name).between(False, "a", index="id").order_by(index="id")
        assert list(got.map(r.row["id"]).run(conn))[:4] == [False, True, -1.5, 3]
        assert r.table(table_name).between(r.minval, True).count().run(conn) == 3
        assert r.table(table_name).between(1, r.maxval).count().run(conn) == 5
    finally:
        r.table_drop(table_name).run(conn)
