"""One datum printer, RethinkDB's literal rules, and RethinkDB's printing of index / hook
functions, checked against a real ``rethought serve`` through our driver:

- every error message embeds datums with ``rethought.datum.jsonfmt`` (rapidjson's numbers,
  tab-indented pretty form), including the key checks in ``datum/keys.py``;
- ``r.literal`` is legal only inside the objects passed to merge / update: an array (except
  the one ``r.args`` splices) does not pass the permission on, as RethinkDB's make_array does not;
- ``index_status()['query']`` and the write hook's ``query`` print the function in RethinkDB's
  JavaScript form (``server/terms/js_print.py``).
"""

from __future__ import annotations

import re

import pytest

from rethought import r
from rethought.datum import jsonfmt, keys
from rethought.errors import ReqlQueryLogicError
from rethought.server.runtime.js_print import print_js_function

STRAY = (
    "Stray literal keyword found: literal is only legal inside of the object passed to merge "
    "or update and cannot nest inside other literals."
)


@pytest.fixture
def tbl(conn, test_table):
    test_table.insert({"id": 1, "l": [1, 2]}).run(conn)
    return test_table


def fails(conn, query, message):
    with pytest.raises(ReqlQueryLogicError) as info:
        query.run(conn)
    assert info.value.message == message


# -- one printer --------------------------------------------------------------------------------


def test_keys_uses_the_shared_printer():
    assert keys.pretty is jsonfmt.pretty
    assert jsonfmt.pretty({"b": [1e20, 1.5], "a": {}}) == (
        '{\n\t"a":\t{},\n\t"b":\t[\n\t\t100000000000000000000.0,\n\t\t1.5\n\t]\n}'
    )


def test_key_errors_print_numbers_like_rethinkdb(conn, tbl):
    # The key checks used to print Python's repr (1e+20); RethinkDB writes rapidjson's digits.
    fails(
        conn,
        tbl.get([{"a": 1e20}]),
        "Array keys can only contain numbers, strings, bools,  pseudotypes, or arrays "
        '(got {\n\t"a":\t100000000000000000000.0\n} of type OBJECT).',
    )
    long_key = ["x" * 120, 1e-7]
    fails(
        conn,
        tbl.get(long_key),
        f'Primary key too long (max 127 characters): [\n\t"{"x" * 120}",\n\t1e-7\n]',
    )


# -- r.literal inside arrays --------------------------------------------------------------------


def test_literal_inside_an_array_is_stray_in_merge(conn):
    fails(conn, r.expr({"a": 1}).merge({"l": [r.literal()]}), STRAY)
    fails(conn, r.expr({"a": 1}).merge({"l": [{"x": r.literal(1)}]}), STRAY)
    fails(conn, r.expr({"a": 1}).merge(lambda d: {"l": [r.literal(2)]}), STRAY)


def test_literal_inside_an_array_is_stray_in_update(conn, tbl):
    res = tbl.get(1).update({"l": [r.literal()]}).run(conn)
    assert res["errors"] == 1 and res["first_error"] == STRAY
    assert tbl.get(1)["l"].run(conn) == [1, 2]


def test_literal_spliced_by_args(conn):
    # The array r.args splices passes the permission to its elements (arity.yaml), but not
    # to an array nested further in.
    out = r.expr({"a": {"b": 1}}).merge(r.args([{"a": r.literal({"c": 1})}])).run(conn)
    assert out == {"a": {"c": 1}}
    fails(conn, r.expr({"a": 1}).merge(r.args([{"b": [r.literal(2)]}])), STRAY)


def test_literal_in_objects_still_works(conn):
    assert r.expr({"a": {"b": 1}}).merge({"a": r.literal({"c": 2})}).run(conn) == {"a": {"c": 2}}


# -- index / write hook functions in JavaScript form --------------------------------------------


def test_write_hook_query_matches_rethinkdb(conn, tbl):
    # The forms RethinkDB 2.4 prints (other drivers' suites record them with var1..var3); the
    # numbers come from the driver's variable counter, so they are read back from the query.
    pattern = re.compile(r"setWriteHook\(function\((\w+), (\w+), (\w+)\)")
    tbl.set_write_hook(lambda ctx, old, new: new).run(conn)
    query = tbl.get_write_hook().run(conn)["query"]
    a, b, c = pattern.match(query).groups()
    assert query == f"setWriteHook(function({a}, {b}, {c}) {{ return {c}; }})"
    tbl.set_write_hook(lambda ctx, old, new: new.merge({"modified_at": ctx["timestamp"]})).run(conn)
    query = tbl.get_write_hook().run(conn)["query"]
    a, b, c = pattern.match(query).groups()
    assert query == (
        f"setWriteHook(function({a}, {b}, {c}) {{ "
        f'return {c}.merge({{"modified_at": {a}("timestamp")}}); }})'
    )
    # The binary still recreates the hook.
    assert tbl.set_write_hook(tbl.get_write_hook()["function"]).run(conn) == {"replaced": 1}


def test_index_status_query_and_recreation(conn, tbl):
    tbl.index_create("a").run(conn)
    tbl.index_create("bc", lambda row: [row["b"], row["c"]], multi=True).run(conn)
    tbl.index_wait().run(conn)
    by_name = {s["index"]: s for s in tbl.index_status().run(conn)}
    # RethinkDB builds a field index with its internal variable SINDEXCREATE_X (_var19).
    assert by_name["a"]["query"] == (
        "indexCreate('a', function(_var19) { return _var19.getField(\"a\"); })"
    )
    v = re.match(r"indexCreate\('bc', function\((\w+)\)", by_name["bc"]["query"]).group(1)
    assert by_name["bc"]["query"] == (
        f"indexCreate('bc', function({v}) {{ "
        f'return r.expr([{v}("b"), {v}("c")]); }}, {{multi: true}})'
    )
    tbl.index_create("bc2", by_name["bc"]["function"]).run(conn)
    tbl.index_wait("bc2").run(conn)
    again = tbl.index_status("bc2").run(conn)[0]
    assert again["multi"] is True
    assert again["query"] == by_name["bc"]["query"].replace("'bc'", "'bc2'")


@pytest.mark.parametrize(
    "function, printed",
    [
        # Operators print as r.name(a, b); methods chain; datums need r.expr outside arguments.
        ([69, [[2, [1]], [24, [[170, [[10, [1]], "x"]], 1]]]], 'r.add(var1("x"), 1)'),
        ([69, [[2, [1]], [31, [[10, [1]], "x"]]]], 'var1.getField("x")'),
        ([69, [[2, [1]], None]], "r.expr(null)"),
        ([69, [[2, [1]], {"a": [10, [1]]}]], 'r.object("a", var1)'),
        ([69, [[2, [1]], [30, [[10, [1]], 1.5]]]], "var1.slice(1.500000)"),
        ([69, [[2, [-1]], [10, [-1]]]], "_var1"),
    ],
)
def test_function_bodies(function, printed):
    params = "_var1" if function[1][0][1] == [-1] else "var1"
    assert print_js_function(function) == f"function({params}) {{ return {printed}; }}"


def test_long_bodies_break_at_80_columns():
    fields = [[170, [[10, [1]], f"field_number_{i}"]] for i in range(6)]
    out = print_js_function([69, [[2, [1]], [2, fields]]])
    lines = out.split("\n")
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines[1:])
    assert lines[1].startswith(
        " " * 8 + 'var1("field_number_'
    )  # under the first element, after "r.expr(["
