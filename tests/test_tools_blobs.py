"""The ``function`` blobs of ``index_status()`` and ``get_write_hook()`` are RethinkDB 2.4's
own serialization, so ``rethinkdb dump`` output moves between Rethought and a RethinkDB
cluster both ways (restore hands the blobs to ``index_create`` / ``set_write_hook``).

Expected bytes are built here from RethinkDB 2.4.4's source, field by field:
sindex_config_to_string (rdb_protocol/terms/sindex.cc: the $reql_index_function$ prefix),
serialize_sindex_info (rdb_protocol/btree.cc), wire_func_t (wire_func.cc), var_scope_t
(var_types.cc), serialize_term_tree (term_storage.cc), the preprocessed term form
(term_walker.cc: every term ends in its backtrace id, datums become [1, datum, bt]), the
version numbers (version.hpp: cluster v2_4 = 9, reql v2_4 = 7), varints (varint.cc) and
raw little-endian integers (archive.hpp).
"""

from __future__ import annotations

import json
import struct

import pytest
import rethinkdb

R = rethinkdb.r


def _func_blob(arg_ids: list[int], body: list, bt: int = 0) -> bytes:
    text = json.dumps(body, separators=(",", ":")).encode() + b"\0"
    return (
        b"\x00"  # wire_func_type_t::REQL (int8)
        + b"\x00"  # captured variables: varint count 0
        + struct.pack("<I", 0)  # implicit_depth (uint32)
        + bytes([len(arg_ids)])  # arg names: varint count
        + b"".join(struct.pack("<q", i) for i in arg_ids)  # sym_t: int64
        + struct.pack("<i", len(text))  # serialize_term_tree: int32 size incl. the NUL
        + text
        + struct.pack("<I", bt)  # backtrace_id_t (uint32)
    )


def _index_blob(arg_ids: list[int], body: list, multi: bool, geo: bool) -> bytes:
    return (
        b"$reql_index_function$\x09\x07\x07\x07" + _func_blob(arg_ids, body) + bytes([multi, geo])
    )


@pytest.fixture
def table(official_conn, table_name):
    if "test" not in R.db_list().run(official_conn):
        R.db_create("test").run(official_conn)
    R.db("test").table_create(table_name).run(official_conn)
    yield R.db("test").table(table_name)
    R.db("test").table_drop(table_name).run(official_conn)


def test_index_status_function_is_rethinkdbs_blob(table, official_conn):
    table.index_create("name").run(official_conn)
    table.index_create("tags", multi=True).run(official_conn)
    status = {s["index"]: s for s in table.index_status().run(official_conn)}
    # index_create("name") is lambda x: x["name"]: GET_FIELD (31) of VAR (10).
    expected = _index_blob([-19], [31, [[10, [[1, -19, 0]], 0], [1, "name", 0]], 0], False, False)
    assert bytes(status["name"]["function"]) == expected
    assert bytes(status["tags"]["function"])[-2:] == b"\x01\x00"  # multi, not geo


def test_a_rethinkdb_blob_creates_the_index(table, official_conn):
    table.insert([{"id": i, "p": {"q": i % 3}, "tags": ["a", f"t{i % 2}"]} for i in range(12)]).run(
        official_conn
    )
    # A blob as a RethinkDB server writes it: its own backtrace ids, a compound function
    # [row["p"]["q"], {"k": [1, 2]}["k"]] (MAKE_ARRAY 2, BRACKET 170, MAKE_OBJ 3, a datum
    # array as [1, [1, 2], bt]).
    body = [
        2,
        [
            [170, [[170, [[10, [[1, 7, 5]], 4], [1, "p", 6]], 3], [1, "q", 7]], 2],
            [170, [[3, {"k": [1, [1, 2], 9]}, 8], [1, "k", 10]], 11],
        ],
        1,
    ]
    blob = _index_blob([7], body, False, False)
    assert table.index_create("pq", R.binary(blob)).run(official_conn) == {"created": 1}
    table.index_wait("pq").run(official_conn)
    got = table.get_all([1, [1, 2]], index="pq")["id"].run(official_conn)
    assert sorted(got) == [1, 4, 7, 10]
    # A multi index blob of lambda x: x["tags"].
    multi = _index_blob([3], [170, [[10, [[1, 3, 0]], 0], [1, "tags", 0]], 0], True, False)
    table.index_create("tags", R.binary(multi)).run(official_conn)
    table.index_wait("tags").run(official_conn)
    assert table.index_status("tags").nth(0)["multi"].run(official_conn) is True
    assert table.get_all("t1", index="tags").count().run(official_conn) == 6


def test_blobs_of_earlier_rethought_versions_still_restore(table, official_conn):
    old = {"function": [69, [[2, [1]], [170, [[10, [1]], "v"]]]], "geo": False, "multi": False}
    blob = json.dumps(old).encode()
    assert table.index_create("v", R.binary(blob)).run(official_conn) == {"created": 1}
    old_hook = (
        b"$reql_write_hook_function$" + json.dumps([69, [[2, [1, 2, 3]], [10, [3]]]]).encode()
    )
    assert table.set_write_hook(R.binary(old_hook)).run(official_conn) == {"created": 1}


def test_bad_index_blobs_are_refused_as_rethinkdb_does(table, official_conn):
    errors = rethinkdb.errors
    # sindex_config_from_string: the prefix, then deserialize_sindex_info.
    with pytest.raises(
        errors.ReqlQueryLogicError,
        match="Cannot create an sindex except from a reql_index_function returned from `index_status` in the field `function`.",
    ):
        table.index_create("x", R.binary(b"\x09\x07\x07\x07rest")).run(official_conn)
    with pytest.raises(
        errors.ReqlInternalError,
        match="Unrecognized secondary index version, secondary index not created.",
    ):
        table.index_create("x", R.binary(b"$reql_index_function$\x0c\x07")).run(official_conn)
    truncated = _index_blob([1], [10, [[1, 1, 0]], 0], False, False)[:-9]
    with pytest.raises(
        errors.ReqlQueryLogicError,
        match="Binary blob passed to index create could not be interpreted as a reql_index_function",
    ):
        table.index_create("x", R.binary(truncated)).run(official_conn)
    assert table.index_list().run(official_conn) == []


def test_write_hook_blob_is_rethinkdbs_and_round_trips(table, official_conn):
    table.set_write_hook(lambda ctx, old, new: new.merge({"h": 1})).run(official_conn)
    blob = bytes(table.get_write_hook()["function"].run(official_conn))
    prefix = b"$reql_write_hook_function$"
    assert blob.startswith(prefix + b"\x00\x00" + struct.pack("<I", 0) + b"\x03")
    # A RethinkDB hook blob (its own ids and backtrace ids): lambda c, o, n: n.merge({"r": 2}).
    body = [35, [[10, [[1, 12, 3]], 2], [3, {"r": [1, 2, 5]}, 4]], 1]
    table.set_write_hook(R.binary(prefix + _func_blob([10, 11, 12], body, bt=1))).run(official_conn)
    table.insert({"id": 1}).run(official_conn)
    assert table.get(1).run(official_conn) == {"id": 1, "r": 2}
    query = table.get_write_hook()["query"].run(official_conn)
    assert query.startswith("setWriteHook(function(var10, var11, var12)")


def _check_preprocessed(term) -> None:
    """What RethinkDB's raw_term_t::init_json asserts of a stored term (term_storage.cc):
    an array of 2 to 4 items, an integer type first, an integer backtrace id last; a datum
    has exactly 3 items; args an array, optargs an object, of terms."""
    assert isinstance(term, list) and 2 <= len(term) <= 4, term
    assert isinstance(term[0], int) and isinstance(term[-1], int), term
    if term[0] == 1:
        assert len(term) == 3
        return
    for part in term[1:-1]:
        if isinstance(part, list):
            for a in part:
                _check_preprocessed(a)
        else:
            assert isinstance(part, dict)
            for v in part.values():
                _check_preprocessed(v)


def test_random_functions_round_trip_in_rethinkdbs_form():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from rethought.server.runtime import rdb_blobs

    scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5)
    datums = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
        max_leaves=6,
    )
    keys = st.text(alphabet="abcxyz_", min_size=1, max_size=4)
    terms = st.recursive(
        scalars | datums.filter(lambda d: isinstance(d, (list, dict))).map(lambda d: [1, [d]]),
        lambda inner: (
            st.builds(
                lambda tt, args: [tt, args],
                st.sampled_from([2, 10, 31, 39, 170]),
                st.lists(inner, max_size=3),
            )
            | st.builds(
                lambda tt, args, opt: [tt, args, opt],
                st.sampled_from([15, 56, 78]),
                st.lists(inner, max_size=2),
                st.dictionaries(keys, inner, min_size=1, max_size=2),
            )
            | st.dictionaries(keys, inner, max_size=3)
        ),
        max_leaves=12,
    )

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(st.integers(-(2**31), 2**31), min_size=1, max_size=3),
        terms,
        st.booleans(),
        st.booleans(),
    )
    def round_trip(ids, body, multi, geo):
        function = [69, [[2, ids], body]]
        blob = rdb_blobs.encode_index(function, multi, geo)
        assert rdb_blobs.decode_index(blob) == (function, multi, geo)
        assert rdb_blobs.decode_hook(rdb_blobs.encode_hook(function)) == function
        # prefix, 4 version bytes, type, no variables, implicit depth, id count, ids, size
        at = len(b"$reql_index_function$") + 4 + 1 + 1 + 4 + 1 + 8 * len(ids)
        (size,) = struct.unpack("<i", blob[at : at + 4])
        text = blob[at + 4 : at + 4 + size]
        assert text.endswith(b"\0") and blob[at + 4 + size :] == b"\0" * 4 + bytes([multi, geo])
        _check_preprocessed(json.loads(text[:-1]))

    round_trip()
