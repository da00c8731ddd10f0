"""Which term an error blames (the response's ``b`` field, the driver's caret) and the checks
RethinkDB makes before evaluating anything, through our driver and the official one.

Expected values come from RethinkDB 2.4's source, not from our output:

- ``args->arg(env, i)->as_str()`` / ``as_int()`` / ``as_datum()`` ... (val_t conversions)
  blame argument ``i`` (the val_t carries the backtrace of the term that made it):
  ``skip("foo")``, ``db_create(1)``, ``mod``, ``nth``, ``limit``, ``match``, ``coerce_to``,
  ``r.error(1)``, ``r.range("a")``, table / database names (``get_name`` checks the val);
- checks on a datum after that (``datum_t::check_type``, arithmetic in ``arith_term_t``,
  ``split``'s delimiter, the index of ``insert_at`` ...) throw ``datum_exc_t``, which the
  term being evaluated rethrows with its own backtrace: they blame that term;
- an optarg's conversion blames the optarg (``parse_durability_optarg`` is
  ``rfail_target(arg)``); a global optarg has no backtrace at all (its terms are walked
  without a backtrace registry), and neither have errors raised about global optargs;
- in a function, the failing term inside the body is blamed (``[1, 1]`` = the map's function
  argument, then the FUNC's body);
- compile-time (term_walker.cc, op.cc, var.cc): arity ``Expected 1 argument but found 2.``,
  ``Expected between 1 and 3 arguments but found 4.``, ``Expected 1 or more arguments but
  found 0.`` (argspec_t::print), an unrecognized optarg blames the optarg, ``r.row`` inside a
  nested function, ``ASC`` / ``DESC`` outside ``order_by`` / ``union``.
"""

from __future__ import annotations

import pytest
from rethinkdb.ast import RqlQuery

from rethought import r as our_r
from rethought.proto.ql2 import TermType as T

# (name, build(r, table) -> query, frames, message)
CASES = [
    (
        "skip arg",
        lambda r, t: r.expr([1, 2, 3]).skip("foo"),
        [1],
        "Expected type NUMBER but found STRING.",
    ),
    ("db_create arg", lambda r, t: r.db_create(1), [0], "Expected type STRING but found NUMBER."),
    (
        "add is datum-level",
        lambda r, t: r.expr(1) + "a",
        [],
        "Expected type NUMBER but found STRING.",
    ),
    (
        "add in a chain",
        lambda r, t: r.expr([1]).count().add("a"),
        [],
        "Expected type NUMBER but found STRING.",
    ),
    ("mod arg", lambda r, t: r.expr(5) % "a", [1], "Expected type NUMBER but found STRING."),
    (
        "inside map's function",
        lambda r, t: r.expr([1, 2]).map(lambda x: x + "a"),
        [1, 1],
        "Expected type NUMBER but found STRING.",
    ),
    (
        "nested argument",
        lambda r, t: r.expr([1]).map(lambda x: r.expr([x]).nth("a")),
        [1, 1, 1],
        "Expected type NUMBER but found STRING.",
    ),
    (
        "limit arg",
        lambda r, t: r.expr([1, 2, 3]).limit("x"),
        [1],
        "Expected type NUMBER but found STRING.",
    ),
    (
        "nth arg",
        lambda r, t: r.expr([1, 2, 3]).nth("x"),
        [1],
        "Expected type NUMBER but found STRING.",
    ),
    (
        "slice arg",
        lambda r, t: r.expr([1, 2, 3]).slice(0, "x"),
        [2],
        "Expected type NUMBER but found STRING.",
    ),
    (
        "get_field arg",
        lambda r, t: r.expr({"a": 1}).get_field(1),
        [1],
        "Expected type STRING but found NUMBER.",
    ),
    (
        "split delimiter is datum-level",
        lambda r, t: r.expr("abc").split(1),
        [],
        "Expected type STRING but found NUMBER.",
    ),
    (
        "insert_at index is datum-level",
        lambda r, t: r.expr([1]).insert_at("a", 1),
        [],
        "Expected type NUMBER but found STRING.",
    ),
    ("match arg", lambda r, t: r.expr("x").match(1), [1], "Expected type STRING but found NUMBER."),
    (
        "coerce_to arg",
        lambda r, t: r.expr(1).coerce_to(1),
        [1],
        "Expected type STRING but found NUMBER.",
    ),
    ("error arg", lambda r, t: r.error(1), [0], "Expected type STRING but found NUMBER."),
    ("range arg", lambda r, t: r.range("a"), [0], "Expected type NUMBER but found STRING."),
    (
        "epoch_time arg",
        lambda r, t: r.epoch_time("a"),
        [0],
        "Expected type NUMBER but found STRING.",
    ),
    ("json arg", lambda r, t: r.json(1), [0], "Expected type STRING but found NUMBER."),
    (
        "time field",
        lambda r, t: r.time(2000, "a", 1, "Z"),
        [1],
        "Expected type NUMBER but found STRING.",
    ),
    (
        "branch condition's term",
        lambda r, t: r.branch(r.expr(1) + "a", 1, 2),
        [0],
        "Expected type NUMBER but found STRING.",
    ),
    ("table name type", lambda r, t: r.table(1), [0], "Expected type STRING but found NUMBER."),
    (
        "table name invalid",
        lambda r, t: r.db("test").table("bad name"),
        [1],
        "Table name `bad name` invalid (Use A-Z, a-z, 0-9, _ and - only).",
    ),
    (
        "db name invalid",
        lambda r, t: r.db("bad name"),
        [0],
        "Database name `bad name` invalid (Use A-Z, a-z, 0-9, _ and - only).",
    ),
    (
        "db missing blames db()",
        lambda r, t: r.db("no_such_db_xyz").table("a"),
        [0],
        "Database `no_such_db_xyz` does not exist.",
    ),
    (
        "table missing",
        lambda r, t: r.db("test").table("no_such_table_xyz"),
        [],
        "Table `test.no_such_table_xyz` does not exist.",
    ),
    (
        "durability optarg",
        lambda r, t: t.insert({}, durability="x"),
        ["durability"],
        'Durability option `x` unrecognized (options are "hard" and "soft").',
    ),
    (
        "durability optarg type",
        lambda r, t: t.insert({}, durability=1),
        ["durability"],
        "Expected type STRING but found NUMBER.",
    ),
    (
        "read_mode value blames table()",
        lambda r, t: r.db("test").table("x", read_mode="x"),
        [],
        'Read mode `x` unrecognized (options are "majority", "single", and "outdated").',
    ),
    (
        "read_mode type blames the optarg",
        lambda r, t: r.db("test").table("x", read_mode=1),
        ["read_mode"],
        "Expected type STRING but found NUMBER.",
    ),
    (
        "index_create name",
        lambda r, t: t.index_create(1),
        [1],
        "Expected type STRING but found NUMBER.",
    ),
]

COMPILE_CASES = [
    (
        "arity exact",
        lambda r: r.expr([1]).count(1, 2),
        [],
        "Expected between 1 and 2 arguments but found 3.",
    ),
    (
        "arity nested",
        lambda r: r.expr([1]).map(lambda x: x.split(1, 2, 3)),
        [1, 1],
        "Expected between 1 and 3 arguments but found 4.",
    ),
    (
        "r.row nested",
        lambda r: r.expr([1]).map(lambda x: r.expr([2]).map(r.row)),
        [1, 1, 1, 1, 1],
        "Cannot use r.row in nested queries.  Use functions instead.",
    ),
    ("r.row outside", lambda r: r.row, [], "r.row is not defined in this context."),
    (
        "r.args with r.row outside a function",
        lambda r: r.expr([1]).nth(r.args([r.row])),
        [1, 0, 0],
        "r.row is not defined in this context.",
    ),
    (
        "desc outside order_by",
        lambda r: r.expr([1]).map(lambda x: r.desc(x)),
        [1, 1],
        "DESC may only be used as an argument to ORDER_BY or UNION.",
    ),
    (
        "asc at the root",
        lambda r: r.asc("a"),
        [],
        "ASC may only be used as an argument to ORDER_BY or UNION.",
    ),
    (
        "desc in union's interleave function",
        lambda r: r.expr([1]).union([2], interleave=lambda x: r.desc(x)),
        ["interleave", 1],
        "DESC may only be used as an argument to ORDER_BY or UNION.",
    ),
    (
        "write in a map",
        lambda r: r.expr([1]).map(lambda x: r.db_create("x")),
        [1, 1],
        "Cannot nest writes or meta ops in stream operations.  Use FOR_EACH instead.",
    ),
]


def _frames(e):
    return list(e.frames or [])


@pytest.mark.parametrize("name,build,frames,message", CASES, ids=[c[0] for c in CASES])
def test_runtime_blame_official(
    official_conn, official_r, test_table, name, build, frames, message
):
    t = official_r.db("test").table(test_table._args[1].data)
    with pytest.raises(official_r.ReqlRuntimeError) as info:
        build(official_r, t).run(official_conn)
    assert info.value.message == message
    assert _frames(info.value) == frames


@pytest.mark.parametrize("name,build,frames,message", CASES, ids=[c[0] for c in CASES])
def test_runtime_blame_ours(conn, test_table, name, build, frames, message):
    with pytest.raises(our_r.ReqlRuntimeError) as info:
        build(our_r, test_table).run(conn)
    assert info.value.message == message
    assert _frames(info.value) == frames


@pytest.mark.parametrize(
    "name,build,frames,message", COMPILE_CASES, ids=[c[0] for c in COMPILE_CASES]
)
def test_compile_checks(conn, official_conn, official_r, name, build, frames, message):
    for r, c in ((our_r, conn), (official_r, official_conn)):
        with pytest.raises(r.ReqlCompileError) as info:
            build(r).run(c)
        assert info.value.message == message
        assert _frames(info.value) == frames


def test_compile_error_happens_before_anything_runs(conn, test_table):
    # The walker rejects the whole query: the insert in the first argument never runs.
    q = our_r.expr([test_table.insert({"id": 1}), our_r.desc("a")])
    with pytest.raises(our_r.ReqlCompileError, match="DESC may only"):
        q.run(conn)
    assert test_table.count().run(conn) == 0


def test_desc_allowed_where_rethinkdb_allows_it(conn):
    r = our_r
    assert r.expr([{"a": 1}, {"a": 2}]).order_by(r.desc("a")).run(conn)[0] == {"a": 2}
    # an element of an array given to union (unordered_map.yaml's interleave=[r.desc(...)])
    q = r.expr([{"a": 2}]).union([{"a": 1}], interleave=[r.desc("a")])
    assert q.run(conn) == [{"a": 2}, {"a": 1}]


def test_arity_texts(official_conn, official_r):
    # argspec_t::print: "N argument(s)", "N or more arguments", "between N and M arguments";
    # checked once the arguments are compiled, blaming the term itself.
    cases = [
        ([T.TYPE_OF, [1, 2]], "Expected 1 argument but found 2.", []),
        ([T.ADD, []], "Expected 1 or more arguments but found 0.", []),
        ([T.GET, [1]], "Expected 2 arguments but found 1.", []),
        (
            [T.MAKE_ARRAY, [[T.SPLIT, [1, 2, 3, 4]]]],
            "Expected between 1 and 3 arguments but found 4.",
            [0],
        ),
    ]
    for wire, text, frames in cases:
        with pytest.raises(official_r.ReqlCompileError) as info:
            _Raw(wire).run(official_conn)
        assert info.value.message == text
        assert _frames(info.value) == frames


def test_unrecognized_optarg_blames_it(official_conn, official_r):
    wire = [T.TYPE_OF, [[T.MAKE_ARRAY, [[T.COUNT, [[T.MAKE_ARRAY, []]], {"bogus": 1}]]]]]
    with pytest.raises(official_r.ReqlCompileError) as info:
        _Raw(wire).run(official_conn)
    assert info.value.message == "Unrecognized optional argument `bogus`."
    assert _frames(info.value) == [0, 0, "bogus"]


def test_func_parameters_must_be_literal_numbers(official_conn, official_r):
    body = [T.MAKE_ARRAY, []]
    for params, text in [
        ([T.MAKE_ARRAY, [[T.MAKE_ARRAY, []]]], "*literal* array of numbers"),
        ([T.MAKE_ARRAY, ["a"]], "literal array of *numbers*"),
        ([T.ADD, [1]], "*literal array of numbers*"),
    ]:
        with pytest.raises(official_r.ReqlCompileError) as info:
            _Raw([T.FUNCALL, [[T.FUNC, [params, body]]]]).run(official_conn)
        assert info.value.message == f"CLIENT ERROR: FUNC variables must be a {text}."
        assert _frames(info.value) == [0]


def test_carets(conn, official_conn, official_r):
    """What a user sees: the official driver and ours underline the blamed term."""
    with pytest.raises(official_r.ReqlQueryLogicError) as info:
        official_r.expr([1, 2, 3]).skip("foo").run(official_conn)
    assert str(info.value).endswith(
        "in:\nr.expr([1, 2, 3]).skip('foo')\n                       ^^^^^ "
    )
    with pytest.raises(our_r.ReqlQueryLogicError) as info:
        our_r.db_create(1).run(conn)
    text = str(info.value)
    lines = text.splitlines()
    assert [line.rstrip() for line in lines[-2:]] == ["r.db_create(1)", "            ^"]


class _Raw(RqlQuery):
    """A query whose wire form is given as is (terms no driver builds with these args)."""

    def __init__(self, wire):
        super().__init__()
        self.wire = wire

    def build(self):
        return self.wire


def _underlined(message: str) -> str:
    """The text a driver's caret line underlines (the line above it)."""
    lines = message.split("\n")
    for i, line in enumerate(lines):
        if "^" in line and set(line.strip()) == {"^"}:
            above = lines[i - 1]
            start = line.index("^")
            return above[start : line.rindex("^") + 1]
    raise AssertionError(f"no carets in {message!r}")


def test_javascript_drivers_blame_the_same_terms(tmp_path):
    """The official JavaScript driver, rethinkdbdash and rethinkdb-ts print carets under the
    term RethinkDB blames; rethinkdb-ts uses a default database that does not exist yet."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    from conftest import ServerProcess

    js = Path(__file__).resolve().parent / "js"
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    for package in ("rethinkdb", "rethinkdbdash", "rethinkdb-ts"):
        if not (js / "node_modules" / package).is_dir():
            pytest.skip("run `npm install --prefix tests/js` (.ci/run does)")
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        out = subprocess.run(
            ["node", str(js / "errors.js"), str(srv.port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        srv.stop()
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    for driver in ("official", "dash", "ts"):
        m = {k: v["message"] for k, v in got[driver].items()}
        assert m["skip"].startswith("Expected type NUMBER but found STRING in:")
        assert _underlined(m["skip"]) == '"foo"'
        assert _underlined(m["dbCreate"]) == "1"
        assert _underlined(m["nth"]) == '"x"'
        assert _underlined(m["tableName"]) == '"bad name"'
        add_query = m["add"].split("\n")[1]
        assert _underlined(m["add"]) == add_query  # datum-level: the whole ADD term
        body = _underlined(m["mapBody"])
        assert body.startswith("var_") and body.endswith('.add("a")')
        assert m["desc"].startswith("DESC may only be used as an argument to ORDER_BY or UNION")
        assert _underlined(m["desc"]).startswith("r.desc(var_")
    # The official driver sends split(1, 2, 3) (the other two refuse it before sending).
    arity = got["official"]["arity"]
    assert got["official"]["arity"]["name"] == "ReqlServerCompileError"
    assert arity["message"].startswith("Expected between 1 and 3 arguments but found 4 in:")
    # Compile errors carry no error type ("e"), as RethinkDB's responses: rethinkdb-ts names
    # them by it, hence its ReqlUnknownError.
    assert got["ts"]["desc"]["name"] == "ReqlUnknownError"
    assert got["tsDbListBefore"] is False
    assert (got["tsCreated"], got["tsTable"], got["tsInserted"]) == (1, 1, 1)
    assert got["tsGet"] == {"id": 1, "v": "x"}
    assert got["tsList"] == ["items"]
    assert got["tsMissing"].startswith("Table `jsapp_")
    assert ".missing` does not exist in:" in got["tsMissing"]
