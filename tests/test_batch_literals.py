"""A batch insert's literal array, fast paths against the general ones.

- compile.py ``_array_items``: a MAKE_ARRAY's elements compiled in one loop (plain-data
  objects and scalars made ``Datum`` nodes without a ``compile_term`` call) give the tree,
  and the errors, that compiling each element with ``compile_term`` gave.
- terms/writes.py: an insert at the root of a plan run once and dropped (not cached,
  ``QueryContext.sole_root``) takes its literal documents uncopied; results, stored rows,
  change-feed events and errors are those of the copying path (a cached plan's, or the
  array evaluated by a term).
"""

from __future__ import annotations

import copy
import sys

import orjson
import pytest

from rethought.errors import ReqlError
from rethought.proto.ql2 import TermType as T
from rethought.server.query import compile as compile_mod
from rethought.server.query import terms  # noqa: F401 - fills the term registry
from rethought.server.query.compile import MAX_NESTING, Datum, compile_term


def _raw(v):
    """``v`` as the wire gives it (term types plain ints), a fresh copy each call."""
    return orjson.loads(orjson.dumps(v))


def _tree(node):
    """A compiled node as comparable data."""
    return (
        type(node).__name__,
        node.value if isinstance(node, Datum) else None,
        type(node.value) if isinstance(node, Datum) else None,
        repr(node.value) if isinstance(node, Datum) else None,  # -0.0 against 0
        node.frames,
        node.determinism,
        node.may_group,
        node.group_probe,
        [_tree(a) for a in node.args],
        {k: _tree(v) for k, v in node.optargs.items()},
        getattr(node, "literal_ok", None),
    )


def _general(items: list, literal_ok=False):
    """The MAKE_ARRAY compiled as every term is: each element through ``compile_term``."""
    args = [
        compile_term(a, (i,), 1, (), compile_mod._literal_ok_child(T.MAKE_ARRAY, i, literal_ok))
        for i, a in enumerate(items)
    ]
    spliced = any(type(a) is list and a[:1] == [T.ARGS] for a in items)
    cls = compile_mod.Spliced if spliced else None
    return args, cls


def _deep(n: int, leaf):
    v = leaf
    for _ in range(n):
        v = {"a": v}
    return v


ITEMS = [
    {"id": 1, "v": 2.0, "name": "u1"},
    {"id": 2, "o": {"g": 4.0, "h": -0.0, "big": 2**60}},
    {"id": 3, "l": [T.MAKE_ARRAY, [1, 2, {"x": 1.0}]]},  # an array inside: a MAKE_OBJ
    {"id": 4, "t": [T.ADD, [1, 2]]},  # a term inside
    {"$reql_type$": "TIME", "epoch_time": 1.5, "timezone": "+00:00"},
    {"$reql_type$": "LITERAL", "value": 1},
    {"o": {"$reql_type$": "BINARY", "data": "AA=="}},
    {},
    1,
    2.0,
    -0.0,
    2**60,
    1.5,
    True,
    False,
    None,
    "s",
    [T.MAKE_ARRAY, [1, {"a": 1.0}]],
    [T.ADD, [1, 2]],
    _deep(50, 1.0),
]


def test_array_items_compile_as_each_element_did():
    fast = compile_term(_raw([T.MAKE_ARRAY, ITEMS]))
    args, _ = _general(_raw(ITEMS))
    assert [_tree(a) for a in fast.args] == [_tree(a) for a in args]
    assert type(fast).__name__ == "MakeArray" and fast.frames == ()
    # canonical numbers in the stored values, as datum.canonical makes them
    assert type(fast.args[0].value["v"]) is int and type(fast.args[1].value["o"]["big"]) is float


ADD, ARGS, LITERAL, MAKE_ARRAY = int(T.ADD), int(T.ARGS), int(T.LITERAL), int(T.MAKE_ARRAY)


@pytest.mark.parametrize(
    "make",
    [
        lambda: [{"a": 1}, [ARGS, [[MAKE_ARRAY, [1, 2]]]]],  # r.args spliced into the array
        lambda: [[LITERAL, [1]], {"a": [LITERAL, [1]]}],  # stray literals, compiled as before
        lambda: [{"a": 1}, [999, []]],  # a compile error after a plain document
        lambda: [{"a": 1}, [ADD, [1]], [998, []]],  # the first error wins
        lambda: [_deep(MAX_NESTING + 5, 1)],  # too deep inside a document
        lambda: [_deep(MAX_NESTING - 3, [ADD, [1, 2]])],
        lambda: [_deep(MAX_NESTING - 2, 1)],
    ],
)
def test_array_items_errors_and_splices_as_before(make, monkeypatch):
    monkeypatch.setattr(sys, "getrecursionlimit", sys.getrecursionlimit)  # restored after
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 15000))  # as the server (app.py)
    try:
        fast = compile_term([MAKE_ARRAY, make()])
    except ReqlError as e:
        fast_err = (type(e), e.message, e.frames)
    else:
        fast_err = None
    try:
        args, cls = _general(make())
    except ReqlError as e:
        general_err = (type(e), e.message, e.frames)
    else:
        general_err = None
    assert fast_err == general_err
    if fast_err is None:
        assert [_tree(a) for a in fast.args] == [_tree(a) for a in args]
        assert (type(fast) is compile_mod.Spliced) == (cls is compile_mod.Spliced)


def test_array_items_at_the_depth_limit():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 15000))  # as the server (app.py)
    """An array nested to the limit: its elements raise the depth error as before."""
    raw: object = 1
    for _ in range(MAX_NESTING):
        raw = [MAKE_ARRAY, [raw, {"a": 1}]]
    with pytest.raises(ReqlError, match="Maximum expression depth exceeded"):
        compile_term(raw)


def _anon(v):
    """A row or change value with its generated key left out."""
    if type(v) is dict and v.get("v") == "no key":
        return {k: x for k, x in v.items() if k != "id"}
    return v


def _normal(result: dict) -> dict:
    out = dict(result)
    out.pop("generated_keys", None)
    out["changes"] = [{k: _anon(v) for k, v in c.items()} for c in out.get("changes", [])]
    return out


def _batch(n: int) -> list:
    """Documents large enough that the query's bytes are not cached (a one-run plan)."""
    docs: list = []
    for i in range(n):
        docs.append({"id": i, "v": float(i), "o": {"a": {"b": i}, "s": "x" * 20}})
    docs += [
        {"id": 3, "dup": True},  # a duplicate of an earlier document
        {"v": "no key", "o": {"k": 1}},  # a generated key
        5,  # not an object
        {"id": {"bad": 1}},  # not a primary key
        {"id": "k" * 200},  # too long a key
        {"id": "nested", "o": {"m": {"n": 2}}},
    ]
    return docs


@pytest.mark.parametrize("array_inside", [False, True])
def test_sole_run_batch_as_the_copying_paths(rqe, table_name, array_inside):
    """The same documents inserted by a one-run plan (uncopied), by a plan evaluated
    through ``r.expr(...).do`` (the array evaluated, copied), give the same results, rows,
    feed events, errors; with an array in a document, both take the evaluated path."""
    r, conn, errors = rqe
    a, b = table_name + "_a", table_name + "_b"
    r.db("test").table_create(a).run(conn)
    r.db("test").table_create(b).run(conn)
    ta, tb = r.db("test").table(a), r.db("test").table(b)
    try:
        feed_a = ta.changes().run(conn)
        feed_b = tb.changes().run(conn)
        docs = _batch(120)
        if array_inside:  # then a MAKE_OBJ among the documents: the evaluated array
            docs[-1]["o"]["l"] = [1, {"m": 2}]
        one = ta.insert(docs, return_changes=True).run(conn, durability="soft")
        two = (
            r.expr(docs)
            .do(lambda d: tb.insert(d, return_changes=True))
            .run(conn, durability="soft")
        )
        assert one["inserted"] == 122 and one["errors"] == 4
        assert len(one["generated_keys"]) == len(two["generated_keys"]) == 1
        assert _normal(one) == _normal(two)
        rows_a = sorted((_anon(row) for row in ta.run(conn)), key=repr)
        rows_b = sorted((_anon(row) for row in tb.run(conn)), key=repr)
        assert rows_a == rows_b and len(rows_a) == 122
        ev_a = [_anon(feed_a.next(wait=10)["new_val"]) for _ in range(122)]
        ev_b = [_anon(feed_b.next(wait=10)["new_val"]) for _ in range(122)]
        assert ev_a == ev_b
        assert ev_a == [_anon(c["new_val"]) for c in one["changes"] if "error" not in c]
        # The same bytes again (still not cached): every given key is now a duplicate.
        again = ta.insert(docs).run(conn, durability="soft")
        assert again["errors"] == 125 and again["inserted"] == 1
        again_b = r.expr(docs).do(lambda d: tb.insert(d)).run(conn, durability="soft")
        assert _normal(again) == _normal(again_b)
        assert again["first_error"] == "Expected type OBJECT but found NUMBER."
        assert _anon(ta.get(7).run(conn)) == docs[7]
    finally:
        r.db("test").table_drop(a).run(conn)
        r.db("test").table_drop(b).run(conn)


def test_sole_root_only_for_plans_not_kept(engine_run):
    """In the engine: an insert whose root is marked as run once hands out the plan's
    literals; otherwise (a plan that may run again) it copies them, and a second run of
    the same compiled root inserts what the first did."""
    from rethinkdb import r

    from engine_harness import wire
    from rethought.server.query.context import Session

    engine = engine_run.engine
    engine_run(r.db("test").table_create("t"))
    docs = [{"id": i, "o": {"a": i}} for i in range(5)]
    raw = wire(r.db("test").table("t").insert(docs, return_changes=True))

    prepared = engine.prepare(copy.deepcopy(raw), {}, Session())
    literals = [a.value for a in prepared.root.args[1].args]
    res = engine.execute(prepared).value
    assert [c["new_val"] for c in res["changes"]] == docs
    assert all(c["new_val"] is not lit for c, lit in zip(res["changes"], literals, strict=True))
    res["changes"][0]["new_val"]["o"]["a"] = "changed"  # the plan keeps its literals
    assert literals[0] == {"id": 0, "o": {"a": 0}}
    again = engine.execute(engine.prepare(raw, {}, Session(), prepared.root)).value
    assert again["errors"] == 5

    engine_run(r.db("test").table("t").delete())
    prepared = engine.prepare(copy.deepcopy(raw), {}, Session())
    prepared.ctx.sole_root = prepared.root
    literals = [a.value for a in prepared.root.args[1].args]
    res = engine.execute(prepared).value
    assert [c["new_val"] for c in res["changes"]] == docs
    assert all(c["new_val"] is lit for c, lit in zip(res["changes"], literals, strict=True))


@pytest.mark.parametrize("depth", [MAX_NESTING - 2, MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1])
def test_array_items_near_the_depth_limit(depth):
    """Elements compiled at the depths where the limit bites: the same nodes or the same
    error as ``compile_term`` on each (an empty object is fine at the limit, a field not)."""
    for items in ([{}], [{"a": 1}], [1, "s"], [{"a": {}}], [{"a": {"b": 1}}], [{}, {"a": 1.0}]):
        try:
            fast = compile_mod._array_items(_raw(items), (7,), depth, (), False)[0]
        except ReqlError as e:
            fast = (type(e), e.message)
        try:
            general = [compile_term(a, (7, i), depth, (), False) for i, a in enumerate(_raw(items))]
        except ReqlError as e:
            general = (type(e), e.message)
        if type(fast) is tuple:
            assert fast == general, (depth, items)
        else:
            assert [_tree(a) for a in fast] == [_tree(a) for a in general], (depth, items)


def test_positive_number_keys_in_one_pack():
    """encode_primary packs a positive number as its negation's bits (its bits with the
    sign bit set): the bytes of the two-step form, for integers and floats alike."""
    import random
    import struct

    from rethought.datum.keys import encode_primary

    dbl, u64, tagged = struct.Struct(">d"), struct.Struct(">Q"), struct.Struct(">BQ")
    rnd = random.Random(16)
    values = [1, 2, 7, 2**53, 2**53 + 1, 2**60, 5e-324, 0.1, 1.5, 1e308, float("inf")]
    values += [rnd.random() * 10 ** rnd.randint(-300, 300) for _ in range(2000)]
    values += [rnd.randint(1, 2**53) for _ in range(2000)]
    for v in values:
        assert encode_primary(v) == tagged.pack(0x40, u64.unpack(dbl.pack(v))[0] | 1 << 63), v
