"""Type names and conversions in errors, as RethinkDB 2.4.4 words them, through our driver and
the official one on a real server.

Where the rules come from: terms/obj_or_seq.cc (``obj_or_seq_op_impl_t``: no pseudo-type is
accepted by bracket / get_field / pluck / without / merge / has_fields; "Cannot perform X on a
non-object non-sequence"; "... on a sequence of sequences"), terms/obj.cc (keys / values read
a datum, accept only a plain object), pathspec.cc (selectors, project / unproject /
contains), terms/type_manip.cc (``coerce_term_t``'s table of conversions), val.cc
(``raw_type_is_convertible``, val names) and datum.cc (``datum_t(double)``, ``write_json``).
"""

from __future__ import annotations

import pytest


def fails(rqe, query, cls, message):
    r, conn, errors = rqe
    with pytest.raises(getattr(errors, cls)) as info:
        query.run(conn)
    assert info.value.message == message


T2014 = None  # r.time(2014, 7, 7, 'Z'): epoch 1404691200


@pytest.mark.parametrize("name", ["bracket", "get_field", "pluck", "without", "merge"])
def test_object_terms_refuse_every_pseudo_type(rqe, name):
    r, conn, errors = rqe
    calls = {
        "bracket": lambda v: v["a"],
        "get_field": lambda v: v.get_field("a"),
        "pluck": lambda v: v.pluck("a"),
        "without": lambda v: v.without("a"),
        "merge": lambda v: v.merge({"a": 1}),
    }
    call = calls[name]
    for value, tname in (
        (r.time(2014, 7, 7, "Z"), "PTYPE<TIME>"),
        (r.point(0, 0), "PTYPE<GEOMETRY>"),
    ):
        fails(rqe, call(value), "ReqlQueryLogicError",
              f"Cannot call `{name}` on objects of type `{tname}`.")  # fmt: skip
    # inside a sequence each row is checked the same way
    fails(rqe, call(r.expr([r.time(2014, 7, 7, "Z")])), "ReqlQueryLogicError",
          f"Cannot call `{name}` on objects of type `PTYPE<TIME>`.")  # fmt: skip


def test_keys_and_values_take_only_plain_objects(rqe):
    r, conn, errors = rqe
    for value, tname in (
        (1, "NUMBER"), ("s", "STRING"), ([1], "ARRAY"), (None, "NULL"), (True, "BOOL"),
    ):  # fmt: skip
        for term in ("keys", "values"):
            q = getattr(r.expr(value), term)()
            fails(
                rqe, q, "ReqlQueryLogicError", f"Cannot call `{term}` on objects of type `{tname}`."
            )
    fails(rqe, r.now().keys(), "ReqlQueryLogicError",
          "Cannot call `keys` on objects of type `PTYPE<TIME>`.")  # fmt: skip
    # a stream is not a datum
    fails(rqe, r.range(3).keys(), "ReqlQueryLogicError",
          "Expected type DATUM but found SEQUENCE:\nVALUE SEQUENCE")  # fmt: skip
    assert r.expr({"b": 2, "a": 1}).keys().run(conn) == ["a", "b"]
    assert r.expr({"b": 2, "a": 1}).values().run(conn) == [1, 2]


def test_non_object_non_sequence(rqe):
    r, conn, errors = rqe
    fails(rqe, r.expr(1).pluck("a"), "ReqlQueryLogicError",
          "Cannot perform pluck on a non-object non-sequence `1`.")  # fmt: skip
    # on NULL it is a non-existence error (so default() catches it)
    fails(rqe, r.expr(None).has_fields("a"), "ReqlNonExistenceError",
          "Cannot perform has_fields on a non-object non-sequence `null`.")  # fmt: skip
    assert r.expr(None)["a"].default(5).run(conn) == 5
    fails(rqe, r.db("test").pluck("a"), "ReqlQueryLogicError",
          'Cannot perform pluck on a non-object non-sequence `db("test")`.')  # fmt: skip
    fails(rqe, r.expr([[1]]).pluck("a"), "ReqlQueryLogicError",
          "Cannot perform pluck on a sequence of sequences.")  # fmt: skip


def test_bracket_on_rows_skips_missing_and_null(rqe):
    r, conn, errors = rqe
    assert r.expr([{"a": 1}, None, {"b": 2}, {"a": 3}])["a"].run(conn) == [1, 3]


def test_invalid_path_arguments(rqe):
    r, conn, errors = rqe
    # a pseudo-type is read as the object it is: its number is the bad selector
    fails(rqe, r.object().has_fields(r.time(2014, 7, 7, "Z")), "ReqlQueryLogicError",
          "Invalid path argument `1404691200`.")  # fmt: skip
    fails(rqe, r.expr({"a": 1}).pluck({"a": False}), "ReqlQueryLogicError",
          "Invalid path argument `false`.")  # fmt: skip
    fails(rqe, r.expr({"a": 1}).without([1]), "ReqlQueryLogicError",
          "Invalid path argument `1`.")  # fmt: skip
    fails(rqe, r.expr({"a": 1}).pluck(None), "ReqlQueryLogicError",
          "Invalid path argument `null`.")  # fmt: skip
    # selectors are read only when an object needs them
    assert r.expr([]).pluck(1).run(conn) == []


def test_nested_selectors(rqe):
    r, conn, errors = rqe
    doc = {"a": [{"b": 1, "c": 2}, {"b": 3}], "d": {"b": 4, "c": 5}}
    assert r.expr(doc).pluck({"a": "b", "d": ["c"]}).run(conn) == {
        "a": [{"b": 1}, {"b": 3}], "d": {"c": 5},
    }  # fmt: skip
    assert r.expr(doc).without({"a": "c", "d": "b"}).run(conn) == {
        "a": [{"b": 1}, {"b": 3}], "d": {"c": 5},
    }  # fmt: skip
    # a nested step meeting a non-object abandons the field
    mixed = {"a": [{"b": 1}, 2]}
    assert r.expr(mixed).pluck({"a": "b"}).run(conn) == {}
    assert r.expr(mixed).without({"a": "b"}).run(conn) == mixed
    # has_fields does not map into arrays; null counts as missing
    assert r.expr({"a": [{"b": 1}]}).has_fields({"a": "b"}).run(conn) is False
    assert r.expr({"a": {"b": None}}).has_fields({"a": "b"}).run(conn) is False
    assert r.expr({"a": {"b": 0}}).has_fields({"a": {"b": True}}).run(conn) is True


@pytest.mark.parametrize(
    "text,message",
    [
        ("inf", "Non-finite number: inf"),
        ("-inf", "Non-finite number: -inf"),
        ("NaN", "Non-finite number: nan"),
        ("1e999", "Non-finite number: inf"),
        ("1 ", "Could not coerce `1 ` to NUMBER."),
        ("", "Could not coerce `` to NUMBER."),
        ("1e", "Could not coerce `1e` to NUMBER."),
    ],
)
def test_string_to_number_errors(rqe, text, message):
    r, conn, errors = rqe
    fails(rqe, r.expr(text).coerce_to("NUMBER"), "ReqlQueryLogicError", message)


def test_string_to_number(rqe):
    r, conn, errors = rqe
    assert r.expr(" 12").coerce_to("number").run(conn) == 12
    assert r.expr("0x10").coerce_to("number").run(conn) == 16
    assert r.expr("-1.5e2").coerce_to("number").run(conn) == -150


def test_coerce_identity_and_bool(rqe):
    r, conn, errors = rqe
    # a datum is already a STREAM / DATUM, a table already a stream
    assert r.expr(1).coerce_to("stream").run(conn) == 1
    assert r.expr({"a": 1}).coerce_to("datum").run(conn) == {"a": 1}
    assert r.expr([1, 2]).coerce_to("array").run(conn) == [1, 2]
    # anything converts to BOOL; only NULL is false
    assert r.db("test").coerce_to("bool").run(conn) is True
    assert r.minval.coerce_to("bool").run(conn) is True
    assert r.expr(None).coerce_to("bool").run(conn) is False
    assert r.expr(0).coerce_to("bool").run(conn) is True


def test_coerce_failures_name_the_kind(rqe):
    r, conn, errors = rqe
    cases = [
        (r.db("test"), "string", "Cannot coerce DB to STRING."),
        (r.range(2), "string", "Cannot coerce STREAM to STRING."),
        (r.range(2), "selection<array>", "Cannot coerce STREAM to SELECTION<ARRAY>."),
        (r.expr(lambda x: x), "string", "Cannot coerce FUNCTION to STRING."),
        (r.minval, "array", "Cannot coerce MINVAL to ARRAY."),
        (r.expr(1), "array", "Cannot coerce NUMBER to ARRAY."),
        (r.expr("a"), "object", "Cannot coerce STRING to OBJECT."),
        (r.now(), "number", "Cannot coerce OBJECT to NUMBER."),
        (r.binary(b"a"), "array", "Cannot coerce BINARY to ARRAY."),
    ]
    for value, target, message in cases:
        fails(rqe, value.coerce_to(target), "ReqlQueryLogicError", message)
    fails(rqe, r.expr(None).coerce_to("number"), "ReqlNonExistenceError",
          "Cannot coerce NULL to NUMBER.")  # fmt: skip
    fails(rqe, r.expr(1).coerce_to("foo"), "ReqlQueryLogicError", "Unknown Type: FOO")


def test_coerce_datum_conversions(rqe):
    r, conn, errors = rqe
    # pseudo-types are OBJECTs to coerce_to: a time becomes its fields' pairs
    assert r.epoch_time(5).coerce_to("array").run(conn) == [
        ["$reql_type$", "TIME"], ["epoch_time", 5], ["timezone", "+00:00"],
    ]  # fmt: skip
    assert r.epoch_time(5).coerce_to("object").type_of().run(conn) == "PTYPE<TIME>"
    assert r.expr([["a", 1]]).coerce_to("object").run(conn) == {"a": 1}
    fails(rqe, r.expr([[1, 1]]).coerce_to("object"), "ReqlQueryLogicError",
          "Expected type STRING but found NUMBER.")  # fmt: skip
    fails(rqe, r.expr([["a", 1, 2]]).coerce_to("object"), "ReqlQueryLogicError",
          "Expected array of size 2, but got size 3.")  # fmt: skip
    assert r.binary(b"ab").coerce_to("string").run(conn) == "ab"
    assert r.expr([1, "a"]).coerce_to("string").run(conn) == '[1,"a"]'


def test_binary_to_string_checks_utf8(rqe):
    r, conn, errors = rqe
    fails(rqe, r.binary(b"\xff").coerce_to("string"), "ReqlQueryLogicError",
          "String `` (truncated) is not a UTF-8 string; Invalid initial byte seen at position 0.")  # fmt: skip  # noqa: E501
    fails(rqe, r.binary(b"ab\xc3").coerce_to("string"), "ReqlQueryLogicError",
          "String `ab` (truncated) is not a UTF-8 string; "
          "Expected continuation byte, saw end of string at position 2.")  # fmt: skip
    fails(rqe, r.binary(b"a\xc0\x80").coerce_to("string"), "ReqlQueryLogicError",
          "String `a\ufffd` (truncated) is not a UTF-8 string; Overlong encoding seen at position 2.")  # fmt: skip  # noqa: E501


def test_extremes_have_no_json(rqe):
    r, conn, errors = rqe
    for ext, name in ((r.minval, "r.minval"), (r.maxval, "r.maxval")):
        fails(rqe, r.expr(ext).coerce_to("string"), "ReqlQueryLogicError",
              f"Cannot convert `{name}` to JSON.")  # fmt: skip
        fails(rqe, r.expr([ext]).to_json_string(), "ReqlQueryLogicError",
              f"Cannot convert `{name}` to JSON.")  # fmt: skip
        assert r.expr(ext).type_of().run(conn) == name[2:].upper()
