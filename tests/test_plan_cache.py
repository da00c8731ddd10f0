"""The cache of compiled plans (server/query/plan_cache.py): the same query bytes sent again
skip the compile, and a cached plan sees every catalog and permission change made after it
was cached exactly as a fresh compile would (RethinkDB looks tables, indexes and grants up
when a query runs, not when it is parsed).

One in-process server (rethought.testing), so the tests can read the cache's hit counter;
the official driver sends the queries (the same bytes each time for the same query).
"""

from __future__ import annotations

import asyncio

import pytest
import rethinkdb
from rethinkdb.errors import ReqlOpFailedError, ReqlPermissionError, ReqlResourceLimitError

from rethought.server.query.plan_cache import MAX_PAYLOAD, Plan, PlanCache
from rethought.testing import start_server

r = rethinkdb.r


@pytest.fixture(scope="module")
def srv():
    with start_server() as handle:
        yield handle


@pytest.fixture
def plans(srv):
    return srv._server._driver.engine.plans


@pytest.fixture
def c(srv):
    conn = r.connect(port=srv.port)
    yield conn
    conn.close()


def test_repeated_bytes_hit_and_answer_alike(c, plans):
    q = r.expr([1, 2, {"a": 3}])
    first = q.run(c)
    hits = plans.hits
    assert q.run(c) == first == [1, 2, {"a": 3}]
    assert q.run(c) == first
    assert plans.hits == hits + 2


def test_compile_errors_are_not_cached(c, plans):
    size = len(plans)
    for _ in range(2):  # the same error each time, from a fresh compile
        with pytest.raises(
            rethinkdb.errors.ReqlCompileError,
            match="Unrecognized global optional argument `bad_optarg`.",
        ):
            r.expr(1).run(c, bad_optarg=1)
        with pytest.raises(rethinkdb.errors.ReqlCompileError, match="Expected 2 arguments but found 1"):
            r.expr(1).default().run(c)
    assert len(plans) == size


def test_table_dropped_and_recreated(c):
    r.db("test").table_create("pc_t").run(c)
    q = r.db("test").table("pc_t").get(1)
    r.db("test").table("pc_t").insert({"id": 1, "v": "old"}).run(c)
    assert q.run(c) == {"id": 1, "v": "old"}
    assert q.run(c) == {"id": 1, "v": "old"}
    r.db("test").table_drop("pc_t").run(c)
    with pytest.raises(ReqlOpFailedError, match="Table `test.pc_t` does not exist."):
        q.run(c)
    r.db("test").table_create("pc_t").run(c)
    assert q.run(c) is None  # the new, empty table
    r.db("test").table("pc_t").insert({"id": 1, "v": "new"}).run(c)
    assert q.run(c) == {"id": 1, "v": "new"}
    r.db("test").table("pc_t").config().update({"name": "pc_t2"}).run(c)
    with pytest.raises(ReqlOpFailedError, match="Table `test.pc_t` does not exist."):
        q.run(c)
    r.db("test").table_drop("pc_t2").run(c)


def test_index_dropped_and_recreated(c):
    r.db("test").table_create("pc_i").run(c)
    t = r.db("test").table("pc_i")
    t.insert([{"id": i, "g": i % 2} for i in range(6)]).run(c)
    t.index_create("g").run(c)
    t.index_wait("g").run(c)
    q = t.get_all(1, index="g").count()
    assert q.run(c) == 3
    assert q.run(c) == 3
    t.index_drop("g").run(c)
    with pytest.raises(ReqlOpFailedError, match="Index `g` was not found on table `test.pc_i`."):
        q.run(c)
    t.index_create("g", lambda row: row["id"] % 3).run(c)  # same name, another function
    t.index_wait("g").run(c)
    assert q.run(c) == 2  # ids 1 and 4
    r.db("test").table_drop("pc_i").run(c)


def test_permissions_revoked_and_granted(srv, c):
    r.db("test").table_create("pc_p").run(c)
    r.db("rethinkdb").table("users").insert({"id": "pc_user", "password": "pw"}).run(c)
    r.db("test").table("pc_p").grant("pc_user", {"read": True}).run(c)
    user = r.connect(port=srv.port, user="pc_user", password="pw")
    try:
        q = r.db("test").table("pc_p").count()
        assert q.run(user) == 0
        assert q.run(user) == 0
        assert q.run(c) == 0  # admin sends the same bytes: one plan, each user's rights
        r.db("test").table("pc_p").grant("pc_user", {"read": False}).run(c)
        with pytest.raises(ReqlPermissionError, match="User `pc_user` does not have the"):
            q.run(user)
        assert q.run(c) == 0
        r.db("test").table("pc_p").grant("pc_user", {"read": True}).run(c)
        assert q.run(user) == 0
    finally:
        user.close()
        r.db("rethinkdb").table("users").get("pc_user").delete().run(c)
        r.db("test").table_drop("pc_p").run(c)


def test_same_plan_concurrently_and_with_functions(srv, c):
    # A cached tree with a function runs for many queries at once (its variables live in
    # each run's scope, not in the nodes).
    r2 = rethinkdb.RethinkDB()
    r2.set_loop_type("asyncio")

    async def many():
        conn = await r2.connect(port=srv.port)
        q = r2.range(5).map(lambda x: x * 2).reduce(lambda a, b: a + b)
        got = await asyncio.gather(*(q.run(conn) for _ in range(50)))
        await conn.close()
        return got

    assert asyncio.run(many()) == [20] * 50


def test_array_limit_error_each_time(c):
    q = r.expr([1, 2, 3]).map(lambda x: x)
    for _ in range(2):
        with pytest.raises(ReqlResourceLimitError, match="Array over size limit `2`."):
            q.run(c, array_limit=2)
    assert q.run(c, array_limit=3) == [1, 2, 3]


def test_lru_bound_and_large_payloads():
    cache = PlanCache(capacity=2)
    p = Plan(None, {}, None, False)
    cache.put(b"a", p)
    cache.put(b"b", p)
    assert cache.get(b"a") is p  # a is now the most recent
    cache.put(b"c", p)
    assert cache.get(b"b") is None and cache.get(b"a") is p and cache.get(b"c") is p
    cache.put(b"x" * (MAX_PAYLOAD + 1), p)
    assert len(cache) == 2
