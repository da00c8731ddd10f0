"""Byte templates of one-key shapes (server/query/shape_bytes.py): a point get with a new
key is matched by the bytes around its key, without a parse, and answers exactly as a
fresh compile: every key type, keys the template cannot read (floats, escapes, big
integers) through the parse, and other tables' gets through their own plans."""

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


def test_no_template_for_several_keys_or_documents():
    assert _template(b'[1,[78,[[15,[[14,["test"]],"x"]],1,2]],{}]') is None  # get_all
    assert _template(b'[1,[56,[[15,[[14,["test"]],"x"]],{"id":1}]],{}]') is None  # insert


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
