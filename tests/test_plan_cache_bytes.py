"""Byte templates of one-position shapes (server/query/shape_bytes.py): a point get with a
new key is matched by the bytes around its key, without a parse, and answers exactly as a
fresh compile: every key type, keys the template cannot read (floats, escapes, big
integers) through the parse, and other tables' gets through their own plans. A single
insert's new document is matched by the bytes around it and only it is parsed: documents
that are not plain, duplicate-free objects go through the whole parse and answer as a fresh
compile."""

from __future__ import annotations

import orjson
import pytest
import rethinkdb

from rethought.server.query import shape_bytes, shapes

r = rethinkdb.r


@pytest.fixture
def c(srv):
    conn = r.connect(port=srv.port)
    yield conn
    conn.close()


@pytest.fixture
def tables(c):
    keys = [0, 1, 7, -3, 123456789012345, 2**53, 2.5, "a", "é✓", 'q"uote', "back\\slash", "tab\t"]
    for name in ("pcb_a", "pcb_b"):
        r.db("test").table_create(name).run(c)
        r.table(name).insert([{"id": k, "t": name} for k in keys]).run(c)
    yield keys
    for name in ("pcb_a", "pcb_b"):
        r.db("test").table_drop(name).run(c)


def test_every_key_gets_its_own_row(srv, c, tables):
    plans = srv._server._driver.engine.plans
    for _ in range(2):
        for name in ("pcb_a", "pcb_b"):
            for k in tables:
                assert r.table(name).get(k).run(c) == {"id": k, "t": name}
            for k in (2, -4, "b", "", "ü", 2**60, 1.5):
                assert r.table(name).get(k).run(c) is None
    assert plans.templates, "the one-key get shapes have byte templates"
    with pytest.raises(rethinkdb.errors.ReqlQueryLogicError, match="contains NULL byte"):
        r.table("pcb_a").get("x\x00").run(c)
    with pytest.raises(rethinkdb.errors.ReqlQueryLogicError, match="Primary key too long"):
        r.table("pcb_a").get("z" * 200).run(c)


def test_templates_after_the_table_is_dropped(c, tables):
    for k in (0, 1, 7):
        r.table("pcb_a").get(k).run(c)
    r.db("test").table_drop("pcb_a").run(c)
    with pytest.raises(rethinkdb.errors.ReqlOpFailedError, match="pcb_a` does not exist"):
        r.table("pcb_a").get(1).run(c)
    r.db("test").table_create("pcb_a").run(c)
    assert r.table("pcb_a").get(1).run(c) is None


def _template(payload: bytes):
    query = orjson.loads(payload)
    return shape_bytes.learn(payload, query, shapes.shape_of(query), "plan")


def test_match_reads_only_whole_tokens():
    t = _template(b'[1,[16,[[15,[[14,["test"]],"x"]],5]],{}]')
    assert t is not None
    ok = {b"0": 0, b"-12": -12, b'"ab"': "ab", '"é"'.encode(): "é", b'""': ""}
    for token, value in ok.items():
        assert shape_bytes.match([t], b'[1,[16,[[15,[[14,["test"]],"x"]],' + token + b"]],{}]") == (
            "plan",
            (value,),
        )
    for token in (
        b"-0",
        b"1.5",
        b"1e3",
        b"01",
        b"1234567890123456",
        b'"a\\n"',
        b'"\t"',
        b'"\xff"',
        b"null",
        b"true",
        b"[1]",
        b'"a","b"',
        b"1,2",
    ):
        payload = b'[1,[16,[[15,[[14,["test"]],"x"]],' + token + b"]],{}]"
        assert shape_bytes.match([t], payload) is None, token


def test_no_template_for_several_positions():
    assert _template(b'[1,[78,[[15,[[14,["test"]],"x"]],1,2]],{}]') is None  # get_all
    array = orjson.loads(b'[1,[56,[[15,[[14,["test"]],"x"]],[2,[{"a":1}]]]],{}]')
    assert shapes.shape_of(array) is None  # an array of documents: no position


_INSERT = (b'[1,[56,[[15,[[14,["test"]],"x"]],', b']],{"durability":"soft"}]')


def test_insert_documents_match_only_plain_whole_objects():
    before, after = _INSERT
    t = _template(before + b'{"id":1,"v":"a"}' + after)
    assert t is not None and t.depth is not None
    ok = {
        b'{"id":2}': {"id": 2},
        b"{}": {},
        '{"a":{"b":{"c":1.5}},"s":"é\\n","n":null,"t":true}'.encode(): {
            "a": {"b": {"c": 1.5}},
            "s": "é\n",
            "n": None,
            "t": True,
        },
        b'{"k":-0.0}': {"k": 0.0},
    }
    for middle, doc in ok.items():
        assert shape_bytes.match([t], before + middle + after) == ("plan", (doc,)), middle
    deep = b'{"x":' * 1200 + b"1" + b"}" * 1200
    for middle in (
        b'{"a":[2,[1,2]]}',  # a term inside: not plain data
        b'{"a":[1,2]}',
        b'{"t":{"$reql_type$":"TIME","epoch_time":1,"timezone":"+00:00"}}',
        b'{"a":1,"a":2}',  # duplicate keys: the parse reports them
        b'{"a": 1}',  # not orjson's own form
        b'{"s":"\\u00e9"}',
        b"5",
        b'"s"',
        b"[2,[]]",
        b'{"a":1}]],[{"b":2}',  # more than one value in the middle
        b'{"a":1},{"b":2}',
        b'{"n":123456789012345678901234567890}',
        deep,
        b'{"a":"\xff"}',
    ):
        assert shape_bytes.match([t], before + middle + after) is None, middle[:40]


def test_insert_documents_are_canonical_as_compile_makes_them():
    """A template's document is checked and made canonical by shape_bytes' own walk: the
    same document, value types included, as literals.py's ``plain_canonical`` gives."""
    import orjson

    from rethought.server.query.literals import plain_canonical

    before, after = _INSERT
    t = _template(before + b'{"id":1,"v":"a"}' + after)
    for middle in (
        b'{"id":1.0,"f":2.5,"z":-0.0,"i":-7}',
        b'{"big":1152921504606846976,"neg":-1152921504606846976,"edge":9007199254740992}',
        b'{"e":1e+300,"n":{"m":{"x":3.0,"y":[]}}}',
        b'{"n":{"m":{"x":3.0,"y":"s"}},"b":false,"u":null}',
        b'{"$reql_type$":"x"}',
        b'{"n":{"$reql_type$":"TIME"}}',
    ):
        expect = orjson.loads(middle)
        ok = plain_canonical(expect, 90)
        got = shape_bytes.match([t], before + middle + after)
        if not ok:
            assert got is None, middle
            continue
        assert got is not None, middle
        (doc,) = got[1]
        assert doc == expect and repr(doc) == repr(expect), middle


def test_new_keys_through_both_drivers(rqe):
    rr, conn, errors = rqe
    name = "pcb_drivers"
    rr.db("test").table_create(name).run(conn)
    try:
        keys = [5, -5, 0, "k", "ключ", "a b", 10**15 - 1]
        rr.table(name).insert([{"id": k, "n": i} for i, k in enumerate(keys)]).run(conn)
        for _ in range(3):
            for i, k in enumerate(keys):
                assert rr.table(name).get(k).run(conn) == {"id": k, "n": i}
                assert rr.table(name).get(k)["n"].run(conn) == i
            assert rr.table(name).get(6).run(conn) is None
        with pytest.raises(errors.ReqlQueryLogicError, match="Primary key too long"):
            rr.table(name).get("y" * 300).run(conn)
    finally:
        rr.db("test").table_drop(name).run(conn)


def test_new_documents_through_both_drivers(rqe):
    rr, conn, errors = rqe
    name = "pcb_docs"
    rr.db("test").table_create(name).run(conn)
    try:
        docs = [
            {"id": i, "v": f"é{i}", "o": {"n": i / 2, "deep": {"x": None, "b": i % 2 == 0}}}
            for i in range(12)
        ]
        for d in docs:
            got = rr.table(name).insert(d).run(conn, durability="soft")
            assert got["inserted"] == 1 and got["errors"] == 0
        assert rr.table(name).order_by("id").run(conn) == docs
        got = rr.table(name).insert({"id": 3, "v": "again"}).run(conn, durability="soft")
        assert got["errors"] == 1 and got["first_error"].startswith("Duplicate primary key")
        got = rr.table(name).insert({"v": "no key"}).run(conn, durability="soft")
        assert got["inserted"] == 1 and len(got["generated_keys"]) == 1
        key = got["generated_keys"][0]
        assert rr.table(name).get(key).run(conn) == {"id": key, "v": "no key"}
        # A document the template cannot take (an array: a MAKE_ARRAY term) still lands.
        rr.table(name).insert({"id": 100, "a": [1, 2]}).run(conn, durability="soft")
        assert rr.table(name).get(100)["a"].run(conn) == [1, 2]
    finally:
        rr.db("test").table_drop(name).run(conn)


def test_raw_documents_answer_as_a_fresh_compile(srv, c, plans):
    """Frames a driver would never send, through the learned template and after the caches
    are emptied: the same answers (duplicate keys, nesting beyond the limit, a pseudo-type)."""
    from tests.test_protocol import Wire

    r.db("test").table_create("pcb_raw").run(c)
    wire = Wire(srv)
    try:
        before = b'[1,[56,[[15,[[14,["test"]],"pcb_raw"]],'
        after = b']],{"durability":"soft"}]'
        for i in range(3):  # the shape plan, then its template
            wire.send(i, before + b'{"id":%d}' % i + after)
            assert wire.read()[1]["r"][0]["inserted"] == 1
        assert any(t.depth is not None for t in plans.templates)
        deep = b'{"x":' * 1100 + b"1" + b"}" * 1100
        for n, (key, middle) in enumerate(
            (
                (10, b'{"id":10,"a":1,"a":2}'),
                (None, deep),
                (11, b'{"id":11,"t":{"$reql_type$":"TIME","epoch_time":5,"timezone":"+00:00"}}'),
                (12, b'{"id":12,"t":{"$reql_type$":"NOPE"}}'),
                (13, b'{"id":13,"a":[2,[1,[2,[]]]]}'),
            )
        ):
            payload = before + middle + after
            wire.send(100 + n, payload)
            templated = wire.read()[1]
            if key is not None:
                r.table("pcb_raw").get(key).delete().run(c)
            plans.clear()
            plans.templates.clear()
            wire.send(200 + n, payload)
            assert wire.read()[1] == templated, middle[:40]
        assert r.table("pcb_raw").get(13)["a"].run(c) == [1, []]
        assert r.table("pcb_raw").get(11)["t"].to_epoch_time().run(c) == 5
    finally:
        wire.close()
        r.db("test").table_drop("pcb_raw").run(c)
