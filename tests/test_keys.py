"""Byte-comparable key encoding: memcmp order must be ReQL order for every datum."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rethought.datum import MAXVAL, MINVAL, make_binary, sort_key
from rethought.datum.keys import (
    INDEX_VALUE_CAP,
    check_index_key,
    check_primary_key,
    decode_key,
    encode_index_value,
    encode_key,
    encode_primary,
)
from rethought.errors import ReqlQueryLogicError


def _time(t: float, tz: str = "+00:00") -> dict:
    return {"$reql_type$": "TIME", "epoch_time": t, "timezone": tz}


numbers = st.one_of(
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 0.0, 5e-324, -5e-324, 1.7976931348623157e308, 2**53, 0.1]),
)
strings = st.text(alphabet=st.sampled_from(["\x00", "\x01", "a", "b", "\xff", "é", "😀", "\uffff"]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    strings,
    numbers.map(_time),
    st.binary(max_size=6).map(make_binary),
)
datums = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(strings, inner, max_size=3),
        st.dictionaries(strings, inner, max_size=2).map(
            lambda d: {**d, "$reql_type$": "GEOMETRY", "type": "Point"}
        ),
    ),
    max_leaves=10,
)
# ReQL's order of a GEOMETRY is not transitive (it compares as an object, except against
# BINARY and TIME: see rethought.datum), so no byte encoding can follow it; a geometry is
# never a primary or secondary index key, so the order tests leave it out.
ordered_datums = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=3)
    ),
    max_leaves=10,
)


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


@settings(max_examples=1500, deadline=None)
@given(ordered_datums, ordered_datums)
def test_order_matches_sort_key(a, b):
    ka, kb = sort_key(a), sort_key(b)
    expected = _sign((ka > kb) - (ka < kb))
    ea, eb = encode_key(a), encode_key(b)
    assert _sign((ea > eb) - (ea < eb)) == expected


@settings(max_examples=400, deadline=None)
@given(st.lists(ordered_datums, max_size=8))
def test_sorting_many(xs):
    assert [sort_key(x) for x in sorted(xs, key=encode_key)] == sorted(map(sort_key, xs))


@settings(max_examples=1000, deadline=None)
@given(datums)
def test_roundtrip(v):
    got, end = decode_key(encode_key(v))
    assert end == len(encode_key(v))
    assert sort_key(got) == sort_key(v)


@settings(max_examples=500, deadline=None)
@given(datums, datums)
def test_prefix_free(a, b):
    ea, eb = encode_key(a), encode_key(b)
    if ea != eb:
        assert not eb.startswith(ea)


def test_extremes_bound_everything():
    lo, hi = encode_key(MINVAL), encode_key(MAXVAL)
    for v in [None, False, -1e308, "", "\uffff" * 3, [], {}, [MAXVAL]]:
        assert lo < encode_key(v) < hi
    assert encode_key([1]) < encode_key([1, MINVAL]) < encode_key([1, 0]) < encode_key([1, MAXVAL])


def test_specific_orders():
    ordered = [
        MINVAL,
        [],
        [None],
        [1],
        [1, 2],
        [2],
        False,
        True,
        None,
        -1e308,
        -1,
        -5e-324,
        0,
        5e-324,
        1,
        1.5,
        2**53,
        1e308,
        {},
        {"a": 1},
        {"a": 1, "b": 0},
        {"b": 0},
        make_binary(b""),
        make_binary(b"\x00"),
        make_binary(b"\x00\x00"),
        make_binary(b"\x01"),
        {"$reql_type$": "GEOMETRY", "type": "Point", "coordinates": [0, 0]},
        _time(-1),
        _time(0),
        _time(1.5),
        "",
        "\x00",
        "\x00\x00",
        "\x01",
        "a",
        "a\x00",
        "ab",
        "é",
        "\uffff",
        "😀",
        MAXVAL,
    ]
    keys = [encode_key(v) for v in ordered]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_equal_values_equal_keys():
    assert encode_key(0) == encode_key(-0.0) == encode_key(0.0)
    assert encode_key(1) == encode_key(1.0)
    assert encode_key(_time(5, "+00:00")) == encode_key(_time(5, "-07:00"))
    assert encode_key({"b": 1, "a": 2}) == encode_key({"a": 2, "b": 1})


def test_decode_is_canonical():
    assert decode_key(encode_key(3.0))[0] == 3 and type(decode_key(encode_key(3.0))[0]) is int
    assert decode_key(encode_key(["x", [True, None]]))[0] == ["x", [True, None]]


# -- what may be a key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [0, -1.5, "x", "é" * 63, True, [1, "a", [False]], _time(1), make_binary(b"\x00\x01"), []],
)
def test_valid_primary_keys(value):
    check_primary_key(value)
    assert encode_primary(value) == encode_key(value)


def test_primary_key_types():
    with pytest.raises(ReqlQueryLogicError) as e:
        check_primary_key(None)
    assert e.value.message == (
        "Primary keys must be either a number, string, bool, pseudotype or array "
        "(got type NULL):\nnull"
    )
    with pytest.raises(ReqlQueryLogicError) as e:
        check_primary_key({"a": 1})
    assert e.value.message == (
        "Primary keys must be either a number, string, bool, pseudotype or array "
        '(got type OBJECT):\n{\n\t"a":\t1\n}'
    )
    with pytest.raises(ReqlQueryLogicError) as e:
        check_primary_key([1, None])
    assert e.value.message == (
        "Array keys can only contain numbers, strings, bools,  pseudotypes, or arrays "
        "(got null of type NULL)."
    )
    with pytest.raises(ReqlQueryLogicError) as e:
        check_primary_key({"$reql_type$": "GEOMETRY", "type": "Point", "coordinates": [0, 0]})
    assert e.value.message == (
        "Cannot use a geometry value as a key value in a primary or non-geospatial secondary index."
    )


def test_primary_key_null_byte():
    with pytest.raises(ReqlQueryLogicError) as e:
        encode_primary("ab\x00c")
    assert e.value.message == (
        'String "ab\\x00c" (truncated) contains NULL byte at offset 2 in index key.'
    )
    with pytest.raises(ReqlQueryLogicError):
        encode_primary(["embedded", ["null\x00"]])


def test_primary_key_length():
    check_primary_key("a" * 127)
    encode_primary("a" * 127)
    with pytest.raises(ReqlQueryLogicError) as e:
        encode_primary("a" * 128)
    assert e.value.message == f'Primary key too long (max 127 characters): "{"a" * 128}"'
    with pytest.raises(ReqlQueryLogicError):
        encode_primary("é" * 64)  # 128 bytes of UTF-8
    with pytest.raises(ReqlQueryLogicError):
        encode_primary(list(range(10)))  # numbers serialize long in RethinkDB
    encode_primary(list(range(3)))


def test_index_keys():
    check_index_key("a\x00b")
    check_index_key("x" * 10_000)
    check_index_key({"$reql_type$": "GEOMETRY", "type": "Point", "coordinates": [0, 0]}, geo=True)
    for bad in (None, {"a": 1}, [None], [MINVAL]):
        with pytest.raises(ReqlQueryLogicError):
            check_index_key(bad)
    with pytest.raises(ReqlQueryLogicError) as e:
        check_index_key(None)
    assert e.value.message.startswith("Secondary keys must be a number, string, bool, pseudotype")


def test_index_value_truncation():
    short, cut = encode_index_value("abc")
    assert not cut and short == encode_key("abc")
    long_a, cut_a = encode_index_value("a" * 1000 + "1")
    long_b, cut_b = encode_index_value("a" * 1000 + "0")
    assert cut_a and cut_b and long_a == long_b and len(long_a) == INDEX_VALUE_CAP
