"""The write path's shortcuts keep what they stand in for (issue 16, storage/writer.py,
query/terms/writes.py):

- a table's row count carried from one write to the next (no read of the stored count)
  is the stored one whatever commits in between: catalog changes, other tables, aborted
  and nested writes, another process's writes;
- the map's fill read only once writes have used up an estimate of the room left: single
  writes, batches and multi-index rows on a small map still grow it in time;
- a write hook read inside the write's own transaction (set by another process too);
- an insert with no optarg of its own takes the query's global ones as before.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _rows(table) -> int:
    return sum(1 for _ in table.scan())


def test_count_through_every_kind_of_commit(tmp_path):
    from rethought.server.storage.lmdb_store import Storage

    st = Storage(str(tmp_path / "d"))
    t = st.table_create("test", "counted")
    other = st.table_create("test", "other")

    def check() -> None:
        assert t.count() == _rows(t)

    for i in range(5):
        with t.write() as w:
            w.insert({"id": i})
        check()
    with t.write() as w:  # a duplicate: nothing written, nothing counted
        assert w.insert({"id": 1}) == {"id": 1}
    check()
    with pytest.raises(RuntimeError):  # an aborted write changes nothing
        with t.write() as w:
            w.insert({"id": 100})
            raise RuntimeError("abort")
    check()
    with t.write() as w:
        w.insert({"id": 5})
    check()
    with other.write() as w:  # another table's count between two of this one's
        w.insert({"id": 0})
    with t.write() as w:
        w.insert({"id": 6})
    check()
    assert other.count() == 1
    st.meta_put("x", {"y": 1})  # a catalog transaction in between
    with t.write() as w:
        w.delete(0)
    check()
    st.table_create("test", "third")
    with t.write() as w:
        w.put({"id": 7})
        with t.write() as inner:  # a nested write of the same table, in a child txn
            inner.insert({"id": 8})
        w.insert({"id": 9})
    check()
    with t.write() as w:
        w.insert({"id": 10})
        with pytest.raises(RuntimeError):
            with t.write() as inner:  # a nested write that fails: its row is undone
                inner.insert({"id": 11})
                raise RuntimeError("abort")
    check()
    with t.write() as w:
        w.insert({"id": 12})
    check()
    assert t.count() == 11  # 0-12 but 0 (deleted) and 11 (undone)
    st.close()
    st = Storage(str(tmp_path / "d"))  # and as stored
    assert st.table_get("test", "counted").count() == 11
    st.close()


_WRITE_ELSEWHERE = """
import sys
from rethought.server.storage.coherence import Coherence
from rethought.server.storage.lmdb_store import Storage
st = Storage(sys.argv[1])
st.coherence = Coherence(st, primary=False)
t = st.table_get("test", "shared")
for i in range(int(sys.argv[2]), int(sys.argv[3])):
    with t.write() as w:
        w.insert({"id": i})
st.close()
"""


def test_count_after_another_process_wrote(tmp_path):
    """Another worker's commits come between two of ours: the count is read again."""
    from rethought.server.storage.coherence import Coherence
    from rethought.server.storage.lmdb_store import Storage

    d = str(tmp_path / "data")
    st = Storage(d)
    st.coherence = Coherence(st, primary=True)
    t = st.table_create("test", "shared")
    for i in range(3):
        with t.write() as w:
            w.insert({"id": i})
    subprocess.run([sys.executable, "-c", _WRITE_ELSEWHERE, d, "100", "110"], check=True)
    with t.write() as w:
        w.insert({"id": 3})
    assert t.count() == 14 == _rows(t)
    st.close()


def test_small_map_grows_under_single_writes_and_batches(tmp_path):
    from rethought.server.storage.lmdb_store import Storage

    st = Storage(str(tmp_path / "d"), map_size=1 << 20)
    t = st.table_create("test", "fill")
    pad = "x" * 1500
    for i in range(3000):  # 4.5 MB of rows through a 1 MB map, one commit each
        with t.write() as w:
            w.insert({"id": i, "pad": pad})
    for b in range(3):  # then batches of 1000 rows in one transaction each
        with t.write() as w:
            for i in range(1000):
                w.insert({"id": 10_000 + b * 1000 + i, "pad": pad})
    assert t.count() == 6000 == _rows(t)
    assert st.env.info()["map_size"] >= 16 << 20
    st.close()


def test_small_map_grows_under_multi_index_rows(tmp_path):
    """Index entries (here 300 per row) are charged against the room as they are put."""
    from rethought.server.storage.lmdb_store import Storage

    st = Storage(str(tmp_path / "d"), map_size=1 << 20)
    t = st.table_create("test", "multi")
    t.index_create("tags", None, multi=True, fn=lambda row: row["tags"])
    for i in range(400):
        with t.write() as w:
            w.insert({"id": i, "tags": [f"tag-{i}-{k}" for k in range(300)]})
    assert t.count() == 400
    assert sum(1 for _ in t.index_scan("tags")) == 400 * 300
    st.close()


# -- through the server ------------------------------------------------------------------


def test_insert_takes_global_optargs(rqe, table_name):
    r, conn, errors = rqe
    r.db("test").table_create(table_name).run(conn)
    tbl = r.db("test").table(table_name)
    try:
        out = tbl.insert({"id": 1, "v": 1}).run(conn, return_changes=True)
        assert out["changes"] == [{"new_val": {"id": 1, "v": 1}, "old_val": None}]
        out = tbl.insert({"id": 1, "v": 2}).run(conn, conflict="replace")
        assert out["replaced"] == 1 and out["errors"] == 0
        out = tbl.insert({"id": 1, "v": 3}).run(conn, conflict="update", durability="hard")
        assert out["replaced"] == 1
        with pytest.raises(errors.ReqlQueryLogicError, match="Durability option `fast`"):
            tbl.insert({"id": 2}).run(conn, durability="fast")
        out = tbl.insert({"id": 1}).run(conn, durability="soft")  # the plain path
        assert out["errors"] == 1 and out["first_error"].startswith("Duplicate primary key")
        assert tbl.get(1).run(conn) == {"id": 1, "v": 3}
        assert tbl.count().run(conn) == 1
    finally:
        r.db("test").table_drop(table_name).run(conn)


def test_global_ignore_write_hook(rqe, table_name):
    r, conn, _ = rqe
    r.db("test").table_create(table_name).run(conn)
    tbl = r.db("test").table(table_name)
    try:
        tbl.set_write_hook(lambda ctx, old, new: new.merge({"hooked": True})).run(conn)
        tbl.insert({"id": 1}).run(conn)
        tbl.insert({"id": 2}).run(conn, ignore_write_hook=True)
        tbl.insert({"id": 3}).run(conn, durability="soft")
        assert tbl.order_by("id").run(conn) == [
            {"id": 1, "hooked": True},
            {"id": 2},
            {"id": 3, "hooked": True},
        ]
        tbl.set_write_hook(None).run(conn)
        tbl.insert({"id": 4}).run(conn)  # removed: read again by the next write
        assert tbl.get(4).run(conn) == {"id": 4}
    finally:
        r.db("test").table_drop(table_name).run(conn)


def test_write_hook_set_through_another_worker(tmp_path):
    """Each write reads the hook in its own transaction: one set through any worker
    applies to the next write through every other."""
    from conftest import ServerProcess
    from rethought import r

    srv = ServerProcess(str(tmp_path / "data"), extra=["--workers", "2"]).start()
    try:
        conns = [r.connect(host=srv.host, port=srv.port) for _ in range(8)]
        r.table_create("hooked").run(conns[0])
        tbl = r.table("hooked")
        for i, c in enumerate(conns):  # plans cached and the table looked up everywhere
            tbl.insert({"id": i}).run(c, durability="soft")
        tbl.set_write_hook(lambda ctx, old, new: new.merge({"h": 1})).run(conns[0])
        for i, c in enumerate(conns):
            tbl.insert({"id": 100 + i}).run(c, durability="soft")
        rows = tbl.filter(r.row["id"] >= 100).run(conns[0])
        assert sorted((row["id"], row.get("h")) for row in rows) == [(100 + i, 1) for i in range(8)]
        for c in conns:
            c.close()
    finally:
        srv.stop()


def test_literal_batches_as_evaluated(rqe, table_name):
    """A MAKE_ARRAY of literal documents is read straight from the plan: the array limit,
    generated keys, nested objects and a second run of the same (cached) plan behave as
    the evaluated array does."""
    r, conn, errors = rqe
    r.db("test").table_create(table_name).run(conn)
    tbl = r.db("test").table(table_name)
    try:
        with pytest.raises(errors.ReqlResourceLimitError, match="Array over size limit `3`"):
            tbl.insert([{"id": i} for i in range(5)]).run(conn, array_limit=3)
        assert tbl.count().run(conn) == 0
        batch = [{"v": i, "o": {"a": {"b": i}}} for i in range(4)]
        first = tbl.insert(batch).run(conn)
        second = tbl.insert(batch).run(conn)  # the same bytes: the cached plan again
        assert first["inserted"] == second["inserted"] == 4
        keys = first["generated_keys"] + second["generated_keys"]
        assert len(set(keys)) == 8
        rows = tbl.run(conn)
        assert sorted((row["v"], row["o"]["a"]["b"]) for row in rows) == [
            (i // 2, i // 2) for i in range(8)
        ]
        docs = [{"id": i, "o": {"x": [1, {"y": i}]}} for i in range(3)]
        out = tbl.insert(docs, return_changes=True).run(conn)
        assert [c["new_val"] for c in out["changes"]] == docs
        again = tbl.insert(docs).run(conn)
        assert again["errors"] == 3 and again["first_error"].startswith("Duplicate primary key")
    finally:
        r.db("test").table_drop(table_name).run(conn)


def test_literal_numbers_canonical(rqe, table_name):
    """Numbers in literal documents are stored as RethinkDB keeps them: an integral float
    is an integer, an integer past 2^53 a float, -0.0 keeps its sign; also in an object
    literal that holds a term (compiled as MAKE_OBJ after its plain fields were read)."""
    import math

    r, conn, _ = rqe
    r.db("test").table_create(table_name).run(conn)
    tbl = r.db("test").table(table_name)
    try:
        tbl.insert(
            [
                {"id": 1, "f": 1.0, "big": 2**60, "o": {"g": 2.0, "h": -0.0}},
                {"id": 2, "f": 3.0, "t": r.expr(5), "o": {"g": 4.0}},
            ]
        ).run(conn)
        one, two = tbl.get(1).run(conn), tbl.get(2).run(conn)
        assert type(one["f"]) is int and one["f"] == 1
        assert type(one["big"]) is float and one["big"] == float(2**60)
        assert type(one["o"]["g"]) is int
        assert one["o"]["h"] == 0 and math.copysign(1.0, one["o"]["h"]) < 0
        assert type(two["f"]) is int and type(two["o"]["g"]) is int and two["t"] == 5
        assert tbl.filter({"f": 1}).count().run(conn) == 1
    finally:
        r.db("test").table_drop(table_name).run(conn)
