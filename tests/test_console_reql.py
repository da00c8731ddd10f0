"""The Data Explorer's query reader (console/static/parse.js + reql.js), run in node.

Every accepted query must build the very term JSON that the official RethinkDB JavaScript
driver (tests/js/node_modules/rethinkdb, 2.4.2) builds when it evaluates the same text as
JavaScript: that driver is the expected value. Variable ids are renumbered in order of
appearance on both sides (the driver numbers them from a process-wide counter).

Bad input must fail with a clear message naming its place, and nothing in the text may reach
JavaScript outside ReQL (no eval, no prototype walks, no unknown globals).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from rethought.proto.ql2 import TermType

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "src" / "rethought" / "console" / "static"
OFFICIAL = Path(__file__).resolve().parent / "js" / "node_modules" / "rethinkdb"

# Reads {"terms": {...}, "queries": [...]} on stdin; prints one result per query:
# {"official": json | {"error"}, "ours": json | {"error", "name", "printed"}}.
RUNNER = r"""
const official = require(process.argv[1]);
const builder = require(process.argv[2]);
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const b = builder.create(input.terms);
function renumber(j) {
  const ids = new Map();
  const walk = (x) => {
    if (Array.isArray(x)) {
      // [69, [[2, ids], body]] is a function; [10, [id]] one of its variables. Argument
      // lists are arrays too ([173, [10]]), hence the shape checks.
      if (x[0] === 69 && x.length === 2 && Array.isArray(x[1]) && Array.isArray(x[1][0]) &&
          x[1][0][0] === 2) {
        for (const id of x[1][0][1]) if (!ids.has(id)) ids.set(id, ids.size);
        return [69, [[2, x[1][0][1].map((i) => ids.get(i))], walk(x[1][1])]];
      }
      if (x[0] === 10 && x.length === 2 && Array.isArray(x[1]) && x[1].length === 1 &&
          ids.has(x[1][0])) return [10, [ids.get(x[1][0])]];
      return x.map(walk);
    }
    if (x && typeof x === "object") {
      const o = {};
      for (const k of Object.keys(x)) {
        Object.defineProperty(o, k, { value: walk(x[k]), enumerable: true });
      }
      return o;
    }
    return x;
  };
  return walk(j);
}
const out = input.queries.map((q) => {
  const res = {};
  if (input.official) {
    try {
      const v = new Function("r", "return (" + q + "\n)")(official);
      res.official = renumber(official.expr(v).build());
    } catch (e) { res.official = { error: e.message }; }
  }
  try { res.ours = renumber(b.parse(q)); }
  catch (e) {
    res.ours = { error: e.message, name: e.name, printed: e.printed ? e.printed() : null };
  }
  return res;
});
console.log(JSON.stringify(out));
"""

# Common chains, r.row, both function syntaxes, optargs objects, nesting, constants, dates.
QUERIES = [
    "r.db('test').table('heroes').filter(r.row('age').gt(30))",
    'r.table("x").filter(function (d) { return d("n").gt(3); }, {default: true})',
    'r.table("x").insert({a: 1, b: [1, 2, {c: null}]}, {returnChanges: true, conflict: "replace"})',
    'r.table("x").orderBy({index: r.desc("id")}).limit(3)',
    "r.table('x').pluck('a', 'b').orderBy('a', r.desc('b')).skip(10).limit(5)",
    "r.expr([1, 2]).map(x => x.mul(2))",
    "r.expr([1, 2]).map((x) => { return x.mul(2); })",
    "r.do(1, 2, (a, b) => a.add(b))",
    "r.table('x').get(1).do(r.row('a'))",
    "r.table('x').getAll(1, 2, {index: 'n'})",
    "r.table('x').between(1, 2, {index: 'a', leftBound: 'open'})",
    "r.table('x').get(1)('a')('b')",
    "r.table('x').update({n: r.row('n').add(1)})",
    "r.table('x').get('a').replace(r.row.without('b'))",
    "r.table('x').delete({durability: 'soft'})",
    "r.table('x').changes({includeInitial: true, squash: 0.5})",
    "r.table('x').orderBy({index: 'n'}).limit(5).changes()",
    "r.branch(r.row('a').eq(1), 'one', r.row('a').eq(2), 'two', 'many')",
    "r.expr({a: r.row('x')})",
    "r.table('x').map(r.row('a').add(1))",
    "r.table('x').filter(function (doc) { var lim = 10; const s = 'a\\'b'; "
    "return doc('n').lt(lim).and(doc('m').eq(s)); })",
    "r.table('x').concatMap(function (d) { return d('tags'); }).distinct()",
    "r.table('x').group('a').count().ungroup()",
    "r.table('x').group(r.row('a').mod(2)).max('n')",
    "r.table('x').eqJoin('a', r.table('y'), {index: 'b'}).zip()",
    "r.table('x').innerJoin(r.table('y'), (a, b) => a('id').eq(b('xid')))",
    "r.range(10).fold(0, (acc, x) => acc.add(x), {emit: (old, x, acc) => [old]})",
    "r.table('x').indexCreate('ab', [r.row('a'), r.row('b')])",
    "r.table('x').indexCreate('tags', {multi: true})",
    "r.table('x').indexCreate('sum', function (d) { return d('a').add(d('b')); })",
    "r.expr(-1.5e3)",
    "r.expr(60 * 60 * 24 + 0x10 - (2 % 3))",
    "r.now().sub(3600).toISO8601()",
    "r.expr(new Date(0))",
    "r.time(2020, 1, 1, 'Z').toEpochTime()",
    "r.expr(1).toJSON()",
    "r.minval",
    "r.table('x').between(r.minval, r.maxval)",
    "r.js('1 + 1', {timeout: 2})",
    "r.http('http://example.com', {timeout: 1, method: 'GET'})",
    "r.uuid()",
    "r.object('a', 1, 'b', 2)",
    "r.args([1, 2])",
    "r.literal({a: 1})",
    "r.expr({}).merge({a: r.literal()})",
    "r.point(1, 2).distance(r.point(3, 4), {unit: 'km'})",
    "r.circle([1, 2], 10, {numVertices: 8})",
    "r.table('x').getIntersecting(r.point(1, 2), {index: 'g'})",
    "r.dbCreate('a')",
    "r.tableCreate('a', {primaryKey: 'k', durability: 'soft'})",
    "r.db('a').tableDrop('b')",
    "r.table('x').reconfigure({shards: 1, replicas: 1})",
    "r.expr([3, 1, 2]).orderBy(r.row)",
    "r.expr([1]).union([2], {interleave: false})",
    "r.expr('abc').match('^a')('str')",
    "r.expr([1, 2, ]).contains(2)",
    "r.expr({'quoted key': 1, 2: 'two', k: true})",
    'r.expr("\\u0041\\x42\\n" + `tpl`)',
    "r.expr(true).not().or(false)",
    "/* comment */ r.expr(1) // trailing",
    "r.table('x').sample(3).nth(0).default(null)",
    "r.table('x').hasFields({a: {b: true}})",
    "r.table('x').forEach(x => r.table('y').insert({v: x}))",
    "r.table('x').slice(1, 2, {rightBound: 'closed'})",
    "r.expr([1, 2]).reduce((a, b) => a.add(b)).default(0)",
]

# Input that must be refused, with what the message must say and what the caret must cover.
BAD = [
    (
        "r.table('x').fitler(r.row('a'))",
        "`fitler` is not a ReQL command. Did you mean `filter`?",
        "fitler",
    ),
    ("r.table('x'", "Expected `,` but found the end of the query", None),
    ("r.table('x').filter(r.row('a') > 3)", "use .gt()", ">"),
    ("r.table('x').filter(row('a'))", "Did you mean `r.row`?", "row"),
    ('"abc".constructor.constructor("alert(1)")()', "on a JavaScript string", "constructor"),
    ("r.constructor", "`constructor` is not a ReQL command", "constructor"),
    ("r.table('x').__proto__", "`__proto__` is not a ReQL command", "__proto__"),
    ("r.table('x').toString()", "`toString` is not a ReQL command", "toString"),
    ("[1, 2].map(x => x)", "wrap it first, r.expr([1, 2]).map(...)", "map"),
    ("alert(document.cookie)", "Unknown name `alert`", "alert"),
    ("fetch('/api/logout')", "Unknown name `fetch`", "fetch"),
    ("window.location", "Unknown name `window`", "window"),
    ("r.table('x').filter(function (d) { d('a'); })", "may only declare names", "d"),
    ("r.table('x').filter(function (d) { })", "must end with `return", "}"),
    ("r.expr(`a${1}`)", "Template strings with ${...} are not supported", "${"),
    ("r.expr('unterminated)", "Unterminated string", None),
    ("r.table('x'); r.table('y')", "one query at a time", "r"),
    ("r.table", "`r.table` is a command: call it", "r.table"),
    ("r.expr(undefined)", "`undefined` is not a ReQL value", "undefined"),
    ("r.expr(new Foo())", "Only `new Date(...)`", "Foo"),
    ("r.row['name']", "r.row('name'), not r.row['name']", "["),
    ("(function () { return 1; })()", "Only ReQL commands and terms can be called", None),
    ("r.table('x').map(r.add)", "`r.add` is a command", "r.add"),
    ("r.expr(new Date('nope'))", "Invalid date", None),
    ("r.table('x').filter(function (d, d) { return d; })", "Duplicate parameter `d`", "d"),
    ("r.expr([...a])", "Spread (...) is not supported", "..."),
    ("r.expr({[k]: 1})", "Computed keys", "["),
    ("r.expr(1) ? 1 : 2", "use r.branch", None),
    ("r.table('x').filter(x => x('a'))(", "The query ends too early", None),
    ("r.expr(1 +)", "Unexpected `)`", ")"),
    ("r.expr(12abc)", "Unexpected character after a number", None),
    ("r.expr(1) # 2", "Unexpected character `#`", "#"),
    ("", "Type a query first.", None),
    ("r.expr(" * 300 + "1" + ")" * 300, "nests too deeply", None),
]


def node_results(queries: list[str], official: bool) -> list[dict]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if official and not OFFICIAL.is_dir():
        pytest.skip("the official JavaScript driver is not installed (cd tests/js && npm ci)")
    terms = {name: int(value) for name, value in TermType.__members__.items()}
    proc = subprocess.run(
        ["node", "-e", RUNNER, str(OFFICIAL), str(STATIC / "reql.js")],
        input=json.dumps({"terms": terms, "queries": queries, "official": official}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


def test_queries_build_what_the_official_driver_builds():
    results = node_results(QUERIES, official=True)
    for text, res in zip(QUERIES, results, strict=True):
        assert not (isinstance(res["official"], dict) and "error" in res["official"]), text
        assert res["ours"] == res["official"], text


def test_run_and_its_arguments_are_ignored():
    queries = [
        "r.table('x').run(conn, function (err, cursor) { cursor.toArray(console.log); })",
        "r.table('x').run()",
    ]
    expected = node_results(["r.table('x')"], official=True)[0]["official"]
    for res in node_results(queries, official=False):
        assert res["ours"] == expected


def test_bad_input_is_refused_clearly():
    results = node_results([text for text, _, _ in BAD], official=False)
    for (text, message, blamed), res in zip(BAD, results, strict=True):
        ours = res["ours"]
        assert isinstance(ours, dict) and "error" in ours, f"accepted: {text!r}"
        assert message in ours["error"], (text, ours["error"])
        if text.strip():
            assert "line 1, column" in ours["error"], (text, ours["error"])
        if blamed is not None:
            printed = ours["printed"]
            start = printed["carets"].index("^")
            width = printed["carets"].count("^")
            assert printed["text"][start : start + width] == blamed, (text, printed)


def test_object_keys_cannot_reach_prototypes():
    # "__proto__" is a key like any other: sent as data, never setting a prototype
    res = node_results(["r.expr({__proto__: {a: 1}, b: 2})"], official=False)[0]["ours"]
    assert res == {"__proto__": {"a": 1}, "b": 2}
