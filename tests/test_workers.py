"""`rethought serve --workers 2`: several server processes on one data directory.

Every test talks to a real 2-worker server through our driver and the official one, and
tells the workers apart by the pid `server_status` reports on each connection.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid

import pytest

from conftest import ServerProcess

WORKERS = 2


def _pid(r, conn) -> int:
    return r.db("rethinkdb").table("server_status").nth(0)["process"]["pid"].run(conn)


def _spread(connect, r, each: int = 2, tries: int = 64) -> dict[int, list]:
    """Connections until every worker has ``each`` of them: pid -> connections."""
    by: dict[int, list] = {}
    extra = []
    for _ in range(tries):
        c = connect()
        pid = _pid(r, c)
        if len(by.setdefault(pid, [])) < each:
            by[pid].append(c)
        else:
            extra.append(c)
        if len(by) == WORKERS and all(len(v) >= each for v in by.values()):
            break
    for c in extra:
        c.close()
    assert len(by) == WORKERS, f"connections reached {len(by)} worker(s)"
    return by


def _worker1_pid(srv: ServerProcess) -> int:
    m = re.search(r"Worker 1 ready \(pid (\d+)\)", srv.log())
    assert m, srv.log()
    return int(m.group(1))


def _wait(cond, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def wserver(tmp_path_factory):
    srv = ServerProcess(
        str(tmp_path_factory.mktemp("workers") / "data"), extra=["--workers", str(WORKERS)]
    ).start()
    _wait(lambda: "Worker 1 ready" in srv.log(), what="worker 1")
    yield srv
    srv.stop()


def _driver_on_every_worker(r, wserver):
    by = _spread(lambda: r.connect(host=wserver.host, port=wserver.port), r)
    yield r, by
    for c in _all(by):
        c.close()


@pytest.fixture(scope="module")
def ours(wserver):
    from rethought import r

    yield from _driver_on_every_worker(r, wserver)


@pytest.fixture(scope="module")
def theirs(wserver):
    from rethinkdb import r

    yield from _driver_on_every_worker(r, wserver)


def _all(by: dict[int, list]) -> list:
    return [c for cs in by.values() for c in cs]


def _fresh_table(r, conn) -> str:
    name = "t_" + uuid.uuid4().hex[:8]
    r.table_create(name).run(conn)
    return name


def test_writes_on_one_connection_seen_by_every_other(ours, theirs):
    r, by = ours
    ro, oby = theirs
    conns = _all(by)
    name = _fresh_table(r, conns[0])
    for i, c in enumerate(conns + _all(oby)):
        # each write on one connection, read back at once on every other, both drivers
        (r if c in conns else ro).table(name).insert(
            {"id": i, "w": _pid(r, c) if c in conns else 0}
        ).run(c)
        for d in conns:
            assert r.table(name).get(i).run(d)["id"] == i
        for d in _all(oby):
            assert ro.table(name).count().run(d) == i + 1


def test_feed_on_every_worker_sees_every_write_once_in_order(ours, theirs):
    r, by = ours
    ro, oby = theirs
    conns = _all(by)
    name = _fresh_table(r, conns[0])
    feeds = [r.table(name).changes().run(c) for c in conns]
    feeds += [ro.table(name).changes().run(c) for c in _all(oby)]
    positioned = [r.table(name).changes(include_positions=True).run(c) for c in conns]
    writers = conns + _all(oby)
    n_threads, per_thread = len(writers), 15

    def write(k: int, c) -> None:
        rr = r if c in conns else ro
        for j in range(per_thread):
            rr.table(name).insert({"id": k * 1000 + j}).run(c)

    threads = [threading.Thread(target=write, args=(k, c)) for k, c in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = n_threads * per_thread
    orders = []
    for f in feeds:
        got = [next(f)["new_val"]["id"] for _ in range(total)]
        assert len(set(got)) == total  # each change once
        for k in range(n_threads):  # one connection's writes in its order
            mine = [x for x in got if x // 1000 == k]
            assert mine == sorted(mine)
        orders.append(got)
    assert all(o == orders[0] for o in orders)  # every worker: the same (commit) order
    for f in positioned:
        docs = [next(f) for _ in range(total)]
        assert [d["new_val"]["id"] for d in docs] == orders[0]
    # nothing more than the writes: a marker write is the next change everywhere
    r.table(name).insert({"id": -1}).run(conns[-1])
    for f in feeds:
        assert next(f)["new_val"]["id"] == -1
    for f in feeds + positioned:
        f.close()


def test_feed_positions_resume_on_another_worker(ours):
    r, by = ours
    (a, *_), (b, *_) = by.values()
    name = _fresh_table(r, a)
    feed = r.table(name).changes(include_positions=True).run(a)
    r.table(name).insert([{"id": i} for i in range(3)]).run(b)
    docs = [next(feed) for _ in range(3)]
    feed.close()
    r.table(name).insert({"id": 3}).run(a)
    again = r.table(name).changes(resume_from=docs[0]["position"]).run(b)
    assert [next(again)["new_val"]["id"] for _ in range(3)] == [1, 2, 3]
    again.close()


def test_table_and_index_created_in_one_worker_used_from_another(ours, theirs, wserver):
    r, by = ours
    one = _worker1_pid(wserver)
    w1, w0 = by[one][0], next(cs[0] for pid, cs in by.items() if pid != one)
    name = "t_" + uuid.uuid4().hex[:8]
    r.table_create(name).run(w1)
    r.table(name).insert([{"id": i, "g": i % 7} for i in range(5000)]).run(w0)
    # created in the non-primary: built by the primary, used from both
    r.table(name).index_create("g").run(w1)
    r.table(name).index_wait("g").run(w1)
    r.table(name).insert([{"id": 10_000 + i, "g": 3} for i in range(5)]).run(w1)
    expect = sum(1 for i in range(5000) if i % 7 == 3) + 5
    for c in (w0, w1):
        assert r.table(name).get_all(3, index="g").count().run(c) == expect
    ro, oby = theirs
    for c in _all(oby):
        assert ro.table(name).index_status("g").nth(0)["ready"].run(c) is True
        assert ro.table(name).between(3, 4, index="g").count().run(c) == expect
    # an index created in the primary, written through the other worker at once
    r.table(name).index_create("neg", r.row["id"] * -1).run(w0)
    r.table(name).insert({"id": 20_000, "g": 0}).run(w1)
    r.table(name).index_wait("neg").run(w1)
    assert r.table(name).get_all(-20_000, index="neg").count().run(w0) == 1
    # dropped in one worker: gone from the other
    r.table(name).index_drop("g").run(w0)
    assert "g" not in r.table(name).index_list().run(w1)
    with pytest.raises(Exception, match="Index `g` was not found"):
        r.table(name).get_all(3, index="g").run(w1)
    # renamed and dropped tables
    r.table(name).config().update({"name": name + "_r"}).run(w1)
    assert r.table(name + "_r").count().run(w0) == 5006
    feed = r.table(name + "_r").changes().run(w0)
    r.table_drop(name + "_r").run(w1)
    with pytest.raises(Exception, match="table unavailable|does not exist"):
        next(feed)
    with pytest.raises(Exception, match="does not exist"):
        r.table(name + "_r").count().run(w0)


def test_permission_revoke_is_effective_on_every_worker(ours, wserver):
    r, by = ours
    (a, *_), (b, *_) = by.values()
    user = "u" + uuid.uuid4().hex[:6]
    name = _fresh_table(r, a)
    r.db("rethinkdb").table("users").insert({"id": user, "password": "pw"}).run(a)
    # the user may read server_status, to tell which worker it has
    r.db("rethinkdb").grant(user, {"read": True}).run(b)
    r.table(name).grant(user, {"read": True, "write": True}).run(a)
    ubys = _spread(
        lambda: r.connect(host=wserver.host, port=wserver.port, user=user, password="pw"), r, 1
    )
    for cs in ubys.values():
        r.table(name).insert({"id": uuid.uuid4().hex}).run(cs[0])
    r.table(name).grant(user, {"write": False}).run(a)
    for cs in ubys.values():
        with pytest.raises(Exception, match="does not have the required `write` permission"):
            r.table(name).insert({"id": "x"}).run(cs[0])
        cs[0].close()


def test_kill_9_of_a_worker(tmp_path):
    from rethought import r

    srv = ServerProcess(str(tmp_path / "data"), extra=["--workers", "2"]).start()
    try:
        _wait(lambda: "Worker 1 ready" in srv.log(), what="worker 1")
        by = _spread(lambda: r.connect(host=srv.host, port=srv.port), r, 1)
        name = _fresh_table(r, next(iter(by.values()))[0])
        victim, survivor = list(by)
        keep = by[survivor][0]
        feed = r.table(name).changes().run(keep)
        r.table(name).insert({"id": 1}).run(by[victim][0])
        assert next(feed)["new_val"]["id"] == 1
        os.kill(victim, signal.SIGKILL)
        assert r.table(name).get(1).run(keep) == {"id": 1}  # committed: kept
        r.table(name).insert({"id": 2}).run(keep)
        assert next(feed)["new_val"]["id"] == 2

        def replaced() -> bool:
            c = r.connect(host=srv.host, port=srv.port)
            try:
                return _pid(r, c) not in (victim, survivor)
            finally:
                c.close()

        _wait(replaced, what="a replacement worker")
        by2 = _spread(lambda: r.connect(host=srv.host, port=srv.port), r, 1)
        new = next(p for p in by2 if p != survivor)
        r.table(name).insert({"id": 3}).run(by2[new][0])
        assert next(feed)["new_val"]["id"] == 3
        assert r.table(name).count().run(by2[new][0]) == 3
        assert "exited with -9" in srv.log()
    finally:
        assert srv.stop() == 0


def test_sigterm_stops_every_worker(tmp_path):
    from rethought import r

    srv = ServerProcess(str(tmp_path / "data"), extra=["--workers", "2"]).start()
    _wait(lambda: "Worker 1 ready" in srv.log(), what="worker 1")
    by = _spread(lambda: r.connect(host=srv.host, port=srv.port), r, 1)
    name = _fresh_table(r, next(iter(by.values()))[0])
    for pid, (c,) in by.items():
        r.table(name).insert({"id": pid}).run(c)  # hard durability: on disk when answered
    assert srv.stop(signal.SIGTERM) == 0
    for pid in by:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert srv.log().count("Storage engine shut down.") >= 1
    # the data is all there for a single-process server
    again = ServerProcess(srv.directory).start()
    try:
        c = r.connect(host=again.host, port=again.port)
        assert sorted(r.table(name)["id"].run(c)) == sorted(by)
        c.close()
    finally:
        again.stop()


def test_catalog_changes_through_both_workers_merge(ours):
    r, by = ours
    (a, *_), (b, *_) = by.values()
    name = _fresh_table(r, a)
    r.table(name).insert([{"id": i, "x": i, "y": -i} for i in range(200)]).run(b)
    errors = []

    def create(c, idx: str) -> None:
        try:
            r.table(name).index_create(idx).run(c)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    # indexes created at the same time through both workers, then one right after another
    pairs = [(a, "x"), (b, "y"), (a, "z0"), (b, "z1")]
    threads = [threading.Thread(target=create, args=p) for p in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(4):
        r.table(name).index_create(f"s{i}").run((a, b)[i % 2])
    r.table(name).config().update({"durability": "soft"}).run(b)
    r.table(name).index_rename("s0", "s0r").run(a)
    want = sorted(["x", "y", "z0", "z1", "s0r", "s1", "s2", "s3"])
    for c in (a, b):
        r.table(name).index_wait().run(c)
        assert r.table(name).index_list().run(c) == want
        assert r.table(name).config()["durability"].run(c) == "soft"
        assert r.table(name).get_all(5, index="x").count().run(c) == 1
        assert r.table(name).get_all(-5, index="y").count().run(c) == 1


# -- a write racing a table_drop in another process (storage level, two real processes) ----

_DROP_ELSEWHERE = """
import sys
from rethought.server.storage.coherence import Coherence
from rethought.server.storage.lmdb_store import Storage
st = Storage(sys.argv[1])
st.coherence = Coherence(st, primary=False)
st.table_drop("test", sys.argv[2])
st.close()
"""


def _drop_in_another_process(directory: str, name: str) -> None:
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", _DROP_ELSEWHERE, directory, name], check=True)


def _rows_under(st, table) -> int:
    with st.env.begin(db=st.rows_db) as txn:
        cur = txn.cursor()
        if not cur.set_range(table._prefix):
            return 0
        return sum(1 for k in cur.iternext(values=False) if k.startswith(table._prefix))


@pytest.mark.parametrize("grow", [False, True])
def test_write_after_a_drop_in_another_worker_writes_nothing(tmp_path, grow):
    """This process looked the table up before another worker dropped it: its write's
    transaction sees the drop (the catalog check as it begins, or again after growing the
    map mid-write) and fails as RethinkDB does for a missing table, leaving no rows."""
    from rethought.errors import ReqlOpFailedError
    from rethought.server.storage.coherence import Coherence
    from rethought.server.storage.lmdb_store import Storage

    d = str(tmp_path / "data")
    st = Storage(d, map_size=1 << 20)
    st.coherence = Coherence(st, primary=True)
    table = st.table_create("test", "race")
    with table.write() as w:
        w.put({"id": 0})
    rows = [{"id": i, "pad": "x" * 2000} for i in range(1, 2000)]  # more than the map holds
    if grow:
        grow_now = st.grow

        def grow_then_drop_elsewhere() -> None:  # the map grows with the lock let go
            grow_now()
            st.grow = grow_now
            _drop_in_another_process(d, "race")

        st.grow = grow_then_drop_elsewhere
    else:
        _drop_in_another_process(d, "race")
    assert not table.dropped  # nothing in this process has looked at the catalog since
    with pytest.raises(ReqlOpFailedError, match=r"Table `test\.race` does not exist\."):
        with table.write() as w:
            for row in rows if grow else rows[:1]:
                w.put(row)
    assert table.dropped
    assert _rows_under(st, table) == 0
    assert st.table_get("test", "race") is None
    st.close()
