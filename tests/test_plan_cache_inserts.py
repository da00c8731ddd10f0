"""Single inserts of literal documents share one compiled plan (server/query/shapes.py: the
document of ``table.insert({...})`` is a parameter when it is plain data).

Each answer through the shared plan is checked against RethinkDB's documented results and
against the same query compiled afresh (the plan cache emptied first), through both
drivers; caches must follow table and permission changes as a fresh compile does.
"""

from __future__ import annotations

import uuid

import pytest
import rethinkdb
from rethinkdb import errors as official_errors

from rethought import errors as our_errors
from rethought import r as ours
from rethought.server.query.shapes import MARK


@pytest.fixture(params=["ours", "official"])
def rc(request, srv):
    """(r, connection) through one of the two drivers."""
    rr = ours if request.param == "ours" else rethinkdb.r
    conn = rr.connect(port=srv.port)
    yield rr, conn
    conn.close()


@pytest.fixture
def tbl(rc):
    rr, c = rc
    name = "pi_" + uuid.uuid4().hex[:10]
    rr.db("test").table_create(name).run(c)
    yield rr.db("test").table(name)
    rr.db("test").table_drop(name).run(c)


ReqlOpFailedError = (official_errors.ReqlOpFailedError, our_errors.ReqlOpFailedError)
ReqlPermissionError = (official_errors.ReqlPermissionError, our_errors.ReqlPermissionError)


def _inserted(n: int = 1, **more) -> dict:
    out = {"deleted": 0, "errors": 0, "inserted": n, "replaced": 0, "skipped": 0, "unchanged": 0}
    out.update(more)
    return out


def test_new_documents_share_one_plan_and_land_as_sent(rc, tbl, plans):
    rr, c = rc
    docs = [
        {"id": 0, "v": 0},
        {"id": 1, "v": "one", "nested": {"a": {"b": None}, "c": True}},
        {"id": "s", "w": 1.5, "big": 2**53},
        {"id": 2.0, "x": -0.0},  # 2.0 is the key 2
        {"id": 3, "obj": {}},
        {"id": 4, MARK: 0},  # the marker's own key, as data
    ]
    tbl.insert(docs[0]).run(c)
    hits = plans.shape_hits
    for d in docs[1:]:
        assert tbl.insert(d).run(c) == _inserted()
    assert plans.shape_hits >= hits + len(docs) - 1  # one plan for every document
    # Arrays are MAKE_ARRAY terms on the wire: such a document is compiled, as before.
    assert tbl.insert({"id": 5, "a": [1, {"b": [2]}], "e": []}).run(c) == _inserted()
    assert tbl.get(5).run(c) == {"id": 5, "a": [1, {"b": [2]}], "e": []}
    docs.append({"id": 5, "a": [1, {"b": [2]}], "e": []})
    assert tbl.get(2).run(c) == {"id": 2, "x": -0.0}
    assert tbl.get(1).run(c) == docs[1]
    assert tbl.get("s").run(c) == {"id": "s", "w": 1.5, "big": 2**53}
    assert tbl.get(4).run(c) == {"id": 4, MARK: 0}
    assert tbl.count().run(c) == len(docs)
    # A marker-shaped document in its place is a document like any other.
    assert tbl.insert({MARK: 0}).run(c)["inserted"] == 1


def test_generated_keys_are_new_each_run(rc, tbl):
    rr, c = rc
    keys = []
    for i in range(5):
        got = tbl.insert({"v": i}).run(c)
        assert got["inserted"] == 1 and len(got["generated_keys"]) == 1
        keys += got["generated_keys"]
    assert len(set(keys)) == 5
    assert sorted(tbl.get(k)["v"].run(c) for k in keys) == list(range(5))


def test_errors_and_conflicts_as_a_fresh_compile(rc, tbl, plans):
    rr, c = rc
    tbl.insert({"id": 1, "v": "a"}).run(c)
    tbl.insert({"id": 2, "v": "b"}).run(c)
    shared = tbl.insert({"id": 1, "v": "again"}).run(c)  # through the shared plan
    plans.clear()
    fresh = tbl.insert({"id": 1, "v": "again"}).run(c)
    assert shared == fresh
    assert shared["errors"] == 1 and shared["inserted"] == 0
    assert shared["first_error"].startswith("Duplicate primary key `id`:")
    # Bad keys: the checks run when the plan runs, with RethinkDB's texts.
    for bad in ({"id": None}, {"id": "k" * 200}, {"id": {"a": 1}}):
        got = tbl.insert(bad).run(c)
        plans.clear()
        assert tbl.insert(bad).run(c) == got
        assert got["errors"] == 1
    # conflict modes, each its own shape.
    assert tbl.insert({"id": 1, "v": "r"}, conflict="replace").run(c) == _inserted(0, replaced=1)
    assert tbl.insert({"id": 2, "v": "u2"}, conflict="replace").run(c)["replaced"] == 1
    assert tbl.insert({"id": 1, "w": 9}, conflict="update").run(c)["replaced"] == 1
    assert tbl.insert({"id": 2, "v": "u2"}, conflict="update").run(c)["unchanged"] == 1
    assert tbl.get(1).run(c) == {"id": 1, "v": "r", "w": 9}
    got = tbl.insert({"id": 2, "v": "c"}, return_changes=True).run(c)
    assert got["changes"] == [] and got["errors"] == 1  # RethinkDB: no change for an error
    got = tbl.insert({"id": 5, "v": "n"}, return_changes=True).run(c)
    assert got["changes"] == [{"new_val": {"id": 5, "v": "n"}, "old_val": None}]
    got = tbl.insert({"id": 6, "v": "n2"}, return_changes=True).run(c)
    assert got["changes"] == [{"new_val": {"id": 6, "v": "n2"}, "old_val": None}]


def test_document_in_a_function_is_copied_each_time(rc, tbl):
    rr, c = rc
    for base in (10, 20):  # the second through the shared plan
        once = tbl.insert({"id": base, "n": 1})
        got = rr.range(3).for_each(lambda i: once).run(c)  # noqa: B023
        assert got["inserted"] == 1 and got["errors"] == 2
        fresh = tbl.insert({"v": base}, return_changes=True)
        got = rr.range(2).for_each(lambda i: fresh).run(c)  # noqa: B023
        rows = [ch["new_val"] for ch in got["changes"]]
        assert [row["v"] for row in rows] == [base, base]
        assert rows[0]["id"] != rows[1]["id"]  # a generated key each, in its own copy
        assert sorted(got["generated_keys"]) == sorted(row["id"] for row in rows)
    assert tbl.filter({"v": 10}).count().run(c) == 2


def test_documents_with_terms_or_pseudo_types_are_not_shared_but_right(rc, tbl):
    rr, c = rc
    for i in range(2):
        tbl.insert({"id": i, "t": rr.epoch_time(i), "e": rr.expr(i) + 1}).run(c)
        tbl.insert({"id": 10 + i, "b": rr.binary(b"ab")}).run(c)
    assert tbl.get(1)["e"].run(c) == 2
    assert tbl.get(1)["t"].to_epoch_time().run(c) == 1
    assert tbl.get(11)["b"].count().run(c) == 2


def test_shared_insert_sees_table_dropped_and_permissions(srv, rc, plans):
    rr, c = rc
    name = "pi_d" + uuid.uuid4().hex[:8]
    rr.db("test").table_create(name).run(c)
    t = rr.db("test").table(name)
    t.insert({"id": 1}).run(c)
    t.insert({"id": 2}).run(c)
    rr.db("test").table_drop(name).run(c)
    with pytest.raises(ReqlOpFailedError, match=f"Table `test.{name}` does not exist."):
        t.insert({"id": 3}).run(c)
    rr.db("test").table_create(name).run(c)
    assert t.insert({"id": 4}).run(c) == _inserted()
    assert t.count().run(c) == 1
    user = "pi_u" + uuid.uuid4().hex[:6]
    rr.db("rethinkdb").table("users").insert({"id": user, "password": "pw"}).run(c)
    t.grant(user, {"read": True, "write": True}).run(c)
    uc = rr.connect(port=srv.port, user=user, password="pw")
    try:
        assert t.insert({"id": 5}).run(uc) == _inserted()
        t.grant(user, {"write": False}).run(c)
        with pytest.raises(ReqlPermissionError, match=f"User `{user}` does not have the"):
            t.insert({"id": 6}).run(uc)
        assert t.insert({"id": 7}).run(c) == _inserted()  # admin, same shape
    finally:
        uc.close()
        rr.db("rethinkdb").table("users").get(user).delete().run(c)
        rr.db("test").table_drop(name).run(c)


def test_plans_that_may_wait_keep_their_greenlet(rc, tbl, plans):
    """Point gets, inserts and literals run without a query greenlet once cached
    (query/direct.py); a plan with a term that waits keeps it, and still answers."""
    rr, c = rc
    tbl.index_create("v").run(c)
    for _ in range(3):  # the second and third run the cached plan
        assert tbl.index_wait("v").run(c)[0]["ready"] is True
        assert tbl.insert({"v": 1}).run(c)["inserted"] == 1
        assert rr.expr([1, "a"]).run(c) == [1, "a"]
        assert rr.js("1 + 2").run(c) == 3
    direct = {plan.raw_term[0]: plan.direct for plan in plans._plans.values()}
    direct.update({plan.raw_term[0]: plan.direct for plan in plans._shapes.values()})
    assert direct[rethinkdb.ql2_pb2.Term.TermType.INSERT] is True
    assert direct[rethinkdb.ql2_pb2.Term.TermType.INDEX_WAIT] is False
    assert direct[rethinkdb.ql2_pb2.Term.TermType.JAVASCRIPT] is False


def test_same_point_get_twice_running_is_cached_by_its_bytes(rc, tbl, plans):
    rr, c = rc
    tbl.insert([{"id": i, "v": i * 2} for i in range(5)]).run(c)
    tbl.get(0).run(c)  # the shape's plan
    hits = plans.hits
    for _ in range(4):
        assert tbl.get(3).run(c) == {"id": 3, "v": 6}  # twice running: then by its bytes
    assert plans.hits >= hits + 2
    assert [tbl.get(i).run(c) for i in (1, 3, 4, 3)] == [
        {"id": 1, "v": 2},
        {"id": 3, "v": 6},
        {"id": 4, "v": 8},
        {"id": 3, "v": 6},
    ]
    for _ in range(3):  # the same document again and again: one insert, then errors
        got = tbl.insert({"id": 9, "v": 1}).run(c)
    assert got["errors"] == 1 and got["first_error"].startswith("Duplicate primary key `id`")
    assert tbl.get(9).run(c) == {"id": 9, "v": 1}
