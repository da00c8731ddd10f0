"""The lookups a compiled plan remembers (its table, a user's grants: see
tests/test_plan_cache_invalidation.py) are checked against what ANOTHER worker process
committed (`rethought serve --workers 2`, storage/coherence.py): a plan warmed in one worker
sees a drop, rename, database drop, grant, revoke or user deletion made through the other
one on its very next run. Through our driver and the official one."""

from __future__ import annotations

import time
import uuid

import pytest

from conftest import ServerProcess

WARM = 3


def _pid(r, conn) -> int:
    return r.db("rethinkdb").table("server_status").nth(0)["process"]["pid"].run(conn)


def _two_workers(connect, r, tries: int = 64) -> tuple:
    """Two connections that reached different workers."""
    by: dict[int, object] = {}
    for _ in range(tries):
        c = connect()
        pid = _pid(r, c)
        if pid in by:
            c.close()
            continue
        by[pid] = c
        if len(by) == 2:
            return tuple(by.values())
    raise AssertionError("connections reached one worker only")


@pytest.fixture(scope="module")
def wserver(tmp_path_factory):
    srv = ServerProcess(
        str(tmp_path_factory.mktemp("pcw") / "data"), extra=["--workers", "2"]
    ).start()
    deadline = time.monotonic() + 20
    while "Worker 1 ready" not in srv.log():
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.05)
    yield srv
    srv.stop()


@pytest.fixture(params=["ours", "official"])
def two(request, wserver):
    """(r, errors, connect, a, b): admin connections on the two workers."""
    if request.param == "ours":
        from rethought import errors, r
    else:
        import rethinkdb.errors as errors
        from rethinkdb import r

    def connect(**kw):
        return r.connect(host=wserver.host, port=wserver.port, **kw)

    a, b = _two_workers(connect, r)
    yield r, errors, connect, a, b
    a.close()
    b.close()


def _name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _warm(q, conn, want) -> None:
    for _ in range(WARM):
        assert q.run(conn) == want


def test_table_dropped_and_recreated_in_another_worker(two):
    r, errors, _, a, b = two
    name = _name()
    r.table_create(name).run(a)
    r.table(name).insert({"id": 1, "v": "old"}).run(a)
    q = r.table(name).get(1)
    _warm(q, b, {"id": 1, "v": "old"})
    r.table_drop(name).run(a)
    with pytest.raises(errors.ReqlOpFailedError, match=f"Table `test.{name}` does not exist"):
        q.run(b)
    r.table_create(name).run(a)
    r.table(name).insert({"id": 1, "v": "new"}).run(a)
    try:
        assert q.run(b) == {"id": 1, "v": "new"}
    finally:
        r.table_drop(name).run(a)


def test_table_renamed_in_another_worker(two):
    r, errors, _, a, b = two
    old, new = _name(), _name()
    r.table_create(old).run(a)
    r.table(old).insert({"id": 1}).run(a)
    q = r.table(old).get(1)
    _warm(q, b, {"id": 1})
    r.table(old).config().update({"name": new}).run(a)
    try:
        with pytest.raises(errors.ReqlOpFailedError, match=f"Table `test.{old}` does not"):
            q.run(b)
        assert r.table(new).get(1).run(b) == {"id": 1}
    finally:
        r.table_drop(new).run(a)


def test_database_dropped_in_another_worker(two):
    r, errors, _, a, b = two
    db, name = _name("db"), _name()
    r.db_create(db).run(a)
    r.db(db).table_create(name).run(a)
    q = r.db(db).table(name).get(1)
    _warm(q, b, None)
    r.db_drop(db).run(a)
    with pytest.raises(errors.ReqlOpFailedError, match=f"Database `{db}` does not exist"):
        q.run(b)


def _user_on(r, connect, admin, worker_conn, user: str):
    """A connection of ``user`` on the worker ``worker_conn`` is on."""
    want = _pid(r, worker_conn)
    for _ in range(64):
        c = connect(user=user, password="pw")
        if _pid(r, c) == want:
            return c
        c.close()
    raise AssertionError("no user connection reached that worker")


def test_grants_revoked_and_user_deleted_in_another_worker(two):
    r, errors, connect, a, b = two
    name, user = _name(), _name("u")
    users = r.db("rethinkdb").table("users")
    r.table_create(name).run(a)
    users.insert({"id": user, "password": "pw"}).run(a)
    r.db("rethinkdb").grant(user, {"read": True}).run(a)  # server_status: its worker
    r.table(name).grant(user, {"read": True}).run(a)
    conn = _user_on(r, connect, a, b, user)
    denied = f"User `{user}` does not have the required `read` permission"
    try:
        q = r.table(name).get(1)
        _warm(q, conn, None)
        r.table(name).grant(user, {"read": False}).run(a)
        with pytest.raises(errors.ReqlPermissionError, match=denied):
            q.run(conn)
        r.table(name).grant(user, {"read": True}).run(a)
        _warm(q, conn, None)
        users.get(user).delete().run(a)
        with pytest.raises(errors.ReqlPermissionError, match=denied):
            q.run(conn)
    finally:
        conn.close()
        users.get(user).delete().run(a)
        r.table_drop(name).run(a)


# -- in one test process: a plan's lookups against another process's commits, with no
# wake-up from the other workers (their pipe makes a worker look at once; this checks the
# lookups themselves look) ------------------------------------------------------------------

_ELSEWHERE = """
import sys
from rethought.server.storage.coherence import Coherence
from rethought.server.storage.lmdb_store import Storage
st = Storage(sys.argv[1])
st.coherence = Coherence(st, primary=False)
exec(sys.argv[2])
st.close()
"""


def _elsewhere(directory: str, code: str) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", _ELSEWHERE, directory, code], check=True)


@pytest.fixture
def engine_on_shared_dir(tmp_path):
    from rethought.server.query.engine import Engine
    from rethought.server.storage.coherence import Coherence
    from rethought.server.storage.lmdb_store import Storage

    d = str(tmp_path / "data")
    st = Storage(d)
    st.coherence = Coherence(st, primary=True)
    yield d, st, Engine(st)
    st.close()


def _plan_runner(engine, term, user: str = "admin"):
    """Run ``term`` as a cached plan does (compiled once, its root reused)."""
    import orjson
    from rethinkdb import r

    from engine_harness import wire
    from rethought.server.query.engine import Session

    raw = wire(term(r))
    session = Session(user=user)
    root = engine.prepare(raw, {}, session).root

    def run():
        value = engine.execute(engine.prepare(raw, {}, session, root)).value
        return orjson.loads(orjson.dumps(value))

    return run


def test_in_process_table_dropped_renamed_and_recreated_elsewhere(engine_on_shared_dir):
    from rethought.errors import ReqlOpFailedError

    d, st, engine = engine_on_shared_dir
    with st.table_create("test", "t", durability="soft").write() as w:
        w.put({"id": 1, "v": "old"})
    for term in (lambda r: r.table("t").get(1), lambda r: r.db("test").table("t").get(1)):
        run = _plan_runner(engine, term)
        for _ in range(WARM):
            assert run() == {"id": 1, "v": "old"}
        _elsewhere(d, "st.table_drop('test', 't')")
        with pytest.raises(ReqlOpFailedError, match=r"Table `test\.t` does not exist\."):
            run()
        _elsewhere(d, "st.table_create('test', 't')")
        assert run() is None
        _elsewhere(d, "st.table_rename(st.table_get('test', 't'), 'u')")
        with pytest.raises(ReqlOpFailedError, match=r"Table `test\.t` does not exist\."):
            run()
        _elsewhere(d, "st.table_rename(st.table_get('test', 'u'), 't')")
        assert run() is None
        _elsewhere(
            d,
            "t = st.table_get('test', 't')\nwith t.write() as w: w.put({'id': 1, 'v': 'new'})",
        )
        assert run() == {"id": 1, "v": "new"}
        _elsewhere(d, "st.table_drop('test', 't')")
        with st.table_create("test", "t", durability="soft").write() as w:
            w.put({"id": 1, "v": "old"})


def test_in_process_database_dropped_elsewhere(engine_on_shared_dir):
    from rethought.errors import ReqlOpFailedError

    d, st, engine = engine_on_shared_dir
    st.db_create("d")
    st.table_create("d", "t")
    run = _plan_runner(engine, lambda r: r.db("d").table("t").get(1))
    for _ in range(WARM):
        assert run() is None
    _elsewhere(d, "st.db_drop('d')")
    with pytest.raises(ReqlOpFailedError, match=r"Database `d` does not exist\."):
        run()


def test_in_process_grants_and_users_changed_elsewhere(engine_on_shared_dir):
    from rethought.errors import ReqlPermissionError
    from rethought.server.system import users

    d, st, engine = engine_on_shared_dir
    table = st.table_create("test", "t")
    users.set_password(st, "u", "pw")
    grant = "st.meta_put('permissions/u', {'tables': {%r: {'db': %r, 'permissions': %s}}})"
    _elsewhere(d, grant % (table.id, table.db.id, "{'read': True}"))
    run = _plan_runner(engine, lambda r: r.table("t").get(1), user="u")
    for _ in range(WARM):
        assert run() is None
    _elsewhere(d, grant % (table.id, table.db.id, "{'read': False}"))
    with pytest.raises(ReqlPermissionError, match="User `u` does not have the required `read`"):
        run()
    _elsewhere(d, grant % (table.id, table.db.id, "{'read': True}"))
    for _ in range(WARM):
        assert run() is None
    _elsewhere(d, "st.meta_delete('users/u')")
    with pytest.raises(ReqlPermissionError, match="User `u` does not have the required `read`"):
        run()
