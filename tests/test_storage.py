"""LMDB storage: catalog, rows, secondary indexes, scans, durability (real LMDB in tmp dirs)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest

from rethought.datum import MAXVAL, MINVAL, make_binary, sort_key
from rethought.errors import ReqlQueryLogicError
from rethought.server.storage import Storage


@pytest.fixture
def storage(tmp_path):
    s = Storage(str(tmp_path / "data"))
    yield s
    s.close()


def _entries(storage: Storage, db) -> int:
    with storage.env.begin() as txn:
        return txn.stat(db)["entries"]


def _no_open_reads(storage: Storage) -> bool:
    lines = storage.env.readers().strip().splitlines()[1:]
    return all(line.split()[-1] == "-" for line in lines if "no active" not in line)


def _field(name):
    return lambda row: [row[name]]


# -- catalog ----------------------------------------------------------------------------------


def test_first_start_creates_test_db(storage):
    assert storage.db_list() == ["test"]
    assert storage.db_get("test").name == "test"
    assert storage.table_list("test") == []


def test_db_and_table_lifecycle(storage):
    db = storage.db_create("app")
    assert storage.db_list() == ["app", "test"]
    t = storage.table_create("app", "users", primary_key="name", durability="soft")
    assert (t.db, t.name, t.primary_key, t.durability) == (db, "users", "name", "soft")
    assert storage.table_get("app", "users") is t and storage.table_by_id(t.id) is t
    assert storage.table_get("test", "users") is None
    with pytest.raises(ValueError):
        storage.table_create("app", "users")
    with pytest.raises(ValueError):
        storage.db_create("app")

    with t.write() as w:
        w.put({"name": "ann", "age": 3})
    t.index_create("age", {"fn": "json"}, fn=_field("age"))
    dropped_db, tables = storage.db_drop("app")
    assert dropped_db is db and tables == [t]
    assert storage.db_list() == ["test"] and storage.table_by_id(t.id) is None
    assert _entries(storage, storage.rows_db) == 0
    assert _entries(storage, storage.index_db) == 0
    assert list(t.scan()) == []


def test_table_drop_removes_rows_and_indexes(storage):
    t = storage.table_create("test", "a")
    other = storage.table_create("test", "b")
    with t.write() as w:
        for i in range(50):
            w.put({"id": i, "v": i % 5})
    with other.write() as w:
        w.put({"id": 1})
    t.index_create("v", None, fn=_field("v"))
    assert storage.table_drop("test", "a") is t
    assert storage.table_list("test") == ["b"]
    assert _entries(storage, storage.rows_db) == 1
    assert _entries(storage, storage.index_db) == 0
    fresh = storage.table_create("test", "a")
    assert fresh.count() == 0 and list(fresh.scan()) == []
    with pytest.raises(KeyError):
        with t.write():
            pass


def test_table_rename(storage):
    t = storage.table_create("test", "a")
    storage.table_rename(t, "b")
    assert storage.table_list("test") == ["b"] and storage.table_get("test", "b") is t


# -- rows -------------------------------------------------------------------------------------


def test_put_get_delete_count(storage):
    t = storage.table_create("test", "t")
    with t.write() as w:
        assert w.put({"id": 1, "x": "a"}) is None
        assert w.put({"id": 1, "x": "b"}) == {"id": 1, "x": "a"}
        assert w.get(1) == {"id": 1, "x": "b"}
        w.put({"id": "k", "n": [1.0, 2.5, -0.0]})
        assert w.delete(99) is None
    assert w.changes == [
        (None, {"id": 1, "x": "a"}),
        ({"id": 1, "x": "a"}, {"id": 1, "x": "b"}),
        (None, {"id": "k", "n": [1, 2.5, 0]}),
        (None, None),
    ]
    assert t.get(1.0) == {"id": 1, "x": "b"}
    got = t.get("k")
    assert got == {"id": "k", "n": [1, 2.5, 0]} and type(got["n"][0]) is int
    assert t.count() == 2
    with t.write() as w:
        assert w.delete(1) == {"id": 1, "x": "b"}
    assert t.count() == 1 and t.get(1) is None


def test_aborted_write_leaves_nothing(storage):
    t = storage.table_create("test", "t")
    with pytest.raises(RuntimeError):
        with t.write() as w:
            w.put({"id": 1})
            raise RuntimeError("boom")
    assert t.get(1) is None and t.count() == 0


def test_key_errors(storage):
    t = storage.table_create("test", "t")
    with pytest.raises(ReqlQueryLogicError, match="Primary keys must be"):
        t.get(None)
    with pytest.raises(ReqlQueryLogicError, match="Primary key too long"):
        t.get("x" * 200)
    with t.write() as w:
        with pytest.raises(ReqlQueryLogicError, match="must have primary key `id`"):
            w.put({"x": 1})
        with pytest.raises(ReqlQueryLogicError, match="NULL byte"):
            w.put({"id": "a\x00"})
    assert t.count() == 0


def test_every_key_kind_roundtrips(storage):
    t = storage.table_create("test", "t")
    keys = [
        -1.5,
        0,
        2**53,
        "",
        "é😀",
        True,
        [1, ["a"]],
        make_binary(b"\x00\xff"),
        {"$reql_type$": "TIME", "epoch_time": 1.5, "timezone": "-07:00"},
    ]
    with t.write() as w:
        for k in keys:
            w.put({"id": k})
    assert [r["id"] for r in t.scan()] == sorted(keys, key=sort_key)
    for k in keys:
        assert t.get(k) == {"id": k}


# -- scans ------------------------------------------------------------------------------------

MIXED = [
    -3,
    -1.5,
    0,
    1,
    2,
    2.5,
    10,
    "",
    "a",
    "ab",
    "b",
    False,
    True,
    [],
    [1],
    [1, 2],
    {"$reql_type$": "TIME", "epoch_time": 5, "timezone": "+00:00"},
]
BOUNDS = [MINVAL, MAXVAL, -2, 0, 1, 2, 3, "a", "aa", True, [1], [1, MAXVAL], None]


def _model(keys, lo, hi, lo_open, hi_open, reverse):
    def inside(k):
        sk, sl, sh = sort_key(k), sort_key(lo), sort_key(hi)
        return (sl < sk or (not lo_open and sl == sk)) and (sk < sh or (not hi_open and sk == sh))

    return sorted((k for k in keys if inside(k)), key=sort_key, reverse=reverse)


def test_scan_bounds_match_model(storage):
    t = storage.table_create("test", "t")
    with t.write() as w:
        for k in MIXED:
            w.put({"id": k})
    rng = random.Random(7)
    for _ in range(400):
        lo, hi = rng.choice(BOUNDS), rng.choice(BOUNDS)
        flags = (rng.random() < 0.5, rng.random() < 0.5, rng.random() < 0.5)
        got = [r["id"] for r in t.scan(lo, hi, *flags)]
        assert got == _model(MIXED, lo, hi, *flags), (lo, hi, flags)


def test_index_scan_bounds_match_model(storage):
    t = storage.table_create("test", "t")
    with t.write() as w:
        for i, k in enumerate(MIXED):
            w.put({"id": i, "v": k})
    t.index_create("v", None, fn=_field("v"))
    rng = random.Random(8)
    for _ in range(400):
        lo, hi = rng.choice(BOUNDS), rng.choice(BOUNDS)
        flags = (rng.random() < 0.5, rng.random() < 0.5, rng.random() < 0.5)
        got = [v for v, _ in t.index_scan("v", lo, hi, *flags)]
        assert got == _model(MIXED, lo, hi, *flags), (lo, hi, flags)
    # the primary key's name works as an index too
    assert [v for v, _ in t.index_scan("id", 2, 4)] == [2, 3]


def test_index_order_ties_by_primary_key(storage):
    t = storage.table_create("test", "t")
    with t.write() as w:
        for i in range(60):
            w.put({"id": i, "g": i % 3})
    t.index_create("g", None, fn=_field("g"))
    ids = [r["id"] for _, r in t.index_scan("g")]
    assert ids == sorted(range(60), key=lambda i: (i % 3, i))
    rev = [r["id"] for _, r in t.index_scan("g", reverse=True)]
    assert rev == ids[::-1]


def test_long_index_values_keep_order(storage):
    # RethinkDB regression 3444: truncated index keys must still sort by the real value.
    t = storage.table_create("test", "t")
    a, z = "A" * 400, "Z" * 400
    with t.write() as w:
        w.put({"id": "a", "A": a + "1", "Z": z + "0"})
        w.put({"id": "aa", "A": a + "0", "Z": z + "1"})
        for i in range(100):
            w.put({"id": f"x{i:03}", "A": a + str(i % 10) * 300, "Z": "0"})
    t.index_create("A", None, fn=_field("A"))
    t.index_create("Z", None, fn=_field("Z"))
    first = next(iter(t.index_scan("A")))[1]["id"]
    assert first == "aa"
    assert next(iter(t.index_scan("A", reverse=True)))[1]["id"] == "x099"
    assert [r["id"] for r in t.index_get_all("A", a + "1")] == ["a"]
    values = [v for v, _ in t.index_scan("A")]
    assert values == sorted(values) and len(values) == 102
    assert [r["id"] for _, r in t.index_scan("Z", z, MAXVAL)] == ["a", "aa"]
    assert [r["id"] for _, r in t.index_scan("Z", z + "1", MAXVAL)] == ["aa"]
    assert [r["id"] for _, r in t.index_scan("Z", z + "0", z + "1", False, True, True)] == ["a"]


def test_chunked_scan_interleaved_with_writes(storage):
    t = storage.table_create("test", "t")
    with t.write() as w:
        for i in range(0, 6000, 2):
            w.put({"id": i})
    it = t.scan()
    seen = [next(it)["id"] for _ in range(100)]
    # Between chunks no read transaction may be open: writes proceed and are seen ahead.
    assert _no_open_reads(storage)
    with t.write() as w:
        w.put({"id": 5999})  # ahead of the cursor: will be seen
        w.put({"id": 1})  # behind it: will not
        w.delete(4000)
    seen += [r["id"] for r in it]
    assert 5999 in seen and 1 not in seen and 4000 not in seen
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 3000

    rev = t.scan(reverse=True)
    head = [next(rev)["id"] for _ in range(50)]
    with t.write() as w:
        w.delete(1000)  # far ahead of what the scan has read
        w.put({"id": 3})
    rest = [r["id"] for r in rev]
    assert head[0] == 5999 and 3 in rest and 1000 not in rest
    assert head + rest == sorted(head + rest, reverse=True)


def test_chunked_index_scan_interleaved_with_writes(storage):
    t = storage.table_create("test", "t")
    with t.write() as w:
        for i in range(3000):
            w.put({"id": i, "v": i // 3})
    t.index_create("v", None, fn=_field("v"))
    it = t.index_scan("v", 10, 900)
    first = [next(it)[1]["id"] for _ in range(200)]
    with t.write() as w:
        w.put({"id": 2999, "v": 899})  # moves into range, ahead of the cursor
    rest = [r["id"] for _, r in it]
    assert first[0] == 30 and 2999 in rest and len(first) + len(rest) == 2671


# -- index maintenance ------------------------------------------------------------------------


def test_index_maintenance(storage):
    t = storage.table_create("test", "t")
    t.index_create("tags", {"f": 1}, multi=True, fn=lambda r: r.get("tags", []))
    t.index_create("v", None, fn=_field("v"))
    with t.write() as w:
        w.put({"id": 1, "v": 5, "tags": ["a", "b", "a"]})
        w.put({"id": 2, "v": 5, "tags": ["b"]})
        w.put({"id": 3, "tags": ["c"]})  # no "v": left out of index v
        w.put({"id": 4, "v": None})  # null: not a valid index key
    # A multi index keeps one entry per array element, repeats included, as RethinkDB does.
    assert _entries(storage, storage.index_db) == 5 + 2
    assert [r["id"] for r in t.index_get_all("tags", "a")] == [1, 1]
    assert t.index_values("tags", {"tags": ["a", "b", "a"]}) == ["a", "b"]
    assert t.index_values("v", {"id": 9}) == [] and t.index_values("v", {"v": None}) == []
    assert [r["id"] for r in t.index_get_all("tags", "b")] == [1, 2]
    assert [r["id"] for r in t.index_get_all("v", 5)] == [1, 2]
    with t.write() as w:
        w.put({"id": 1, "v": 6, "tags": ["c"]})  # replace
        w.delete(2)
    assert [r["id"] for r in t.index_get_all("tags", "b")] == []
    assert [r["id"] for r in t.index_get_all("tags", "c")] == [1, 3]
    assert [r["id"] for r in t.index_get_all("v", 6)] == [1]
    assert t.index_get_all("v", 5) is not None and list(t.index_get_all("v", 5)) == []
    assert _entries(storage, storage.index_db) == 2 + 1
    info = t.index_info("tags")
    assert (info.name, info.function, info.multi, info.geo, info.ready) == (
        "tags",
        {"f": 1},
        True,
        False,
        True,
    )


def test_index_rename_and_drop(storage):
    t = storage.table_create("test", "t")
    with t.write() as w:
        w.put({"id": 1, "a": 1, "b": 2})
    t.index_create("a", "fa", fn=_field("a"))
    t.index_create("b", "fb", fn=_field("b"))
    with pytest.raises(ValueError):
        t.index_rename("a", "b")
    t.index_rename("a", "b", overwrite=True)
    assert t.index_list() == ["b"] and t.index_info("b").function == "fa"
    assert [v for v, _ in t.index_scan("b")] == [1]
    t.index_rename("b", "c")
    assert t.index_list() == ["c"] and t.index_info("b") is None
    assert t.index_drop("c").name == "c"
    assert t.index_list() == [] and _entries(storage, storage.index_db) == 0


# -- durability -------------------------------------------------------------------------------


def test_survives_reopen(tmp_path):
    path = str(tmp_path / "d")
    s = Storage(path)
    s.db_create("app")
    t = s.table_create("app", "t", primary_key="pk")
    with t.write() as w:
        for i in range(10):
            w.put({"pk": i, "v": -i})
    t.index_create("v", {"wire": "fn"}, fn=_field("v"))
    s.meta_put("users/admin", {"password": None})
    s.meta_put("users/bob", {"password": "x"})
    s.meta_put("other", 1)
    s.close()

    compiled = []

    def compiler(function, multi, geo):
        compiled.append((function, multi, geo))
        return _field("v")

    s = Storage(path, index_compiler=compiler)
    t = s.table_get("app", "t")
    assert s.db_list() == ["app", "test"] and t.primary_key == "pk" and t.count() == 10
    assert [r["pk"] for _, r in t.index_scan("v")] == list(range(9, -1, -1))
    with t.write() as w:
        w.put({"pk": 100, "v": -100})
    assert compiled == [({"wire": "fn"}, False, False)]
    assert next(iter(t.index_scan("v")))[1]["pk"] == 100
    assert s.meta_items("users/") == [
        ("users/admin", {"password": None}),
        ("users/bob", {"password": "x"}),
    ]
    assert s.meta_delete("other") and s.meta_get("other") is None
    s.close()


def test_index_without_compiler_goes_stale_then_rebuilds(tmp_path):
    path = str(tmp_path / "d")
    s = Storage(path)
    t = s.table_create("test", "t")
    t.index_create("v", "f", fn=_field("v"))
    s.close()
    s = Storage(path)
    t = s.table_get("test", "t")
    with t.write() as w:
        w.put({"id": 1, "v": 7})
    assert t.index_info("v").ready is False
    s.set_index_compiler(lambda f, m, g: _field("v"))
    assert t.index_info("v").ready is True
    assert [r["id"] for r in t.index_get_all("v", 7)] == [1]
    s.close()


def test_sigkill_after_sync_loses_nothing(tmp_path):
    path = str(tmp_path / "d")
    script = textwrap.dedent(
        f"""
        import sys, time
        from rethought.server.storage import Storage
        s = Storage({path!r})
        t = s.table_create("test", "t")
        t.index_create("v", None, fn=lambda r: [r["v"]])
        for i in range(200):
            with t.write() as w:
                w.put({{"id": i, "v": i % 10}})
        s.sync()
        print("synced", flush=True)
        time.sleep(60)
        """
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*sys.path, env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"synced"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    s = Storage(path, index_compiler=lambda f, m, g: _field("v"))
    t = s.table_get("test", "t")
    assert t.count() == 200 and len(list(t.scan())) == 200
    assert len(list(t.index_get_all("v", 3))) == 20
    s.close()


def test_map_grows_when_full(tmp_path):
    s = Storage(str(tmp_path / "d"), map_size=1 << 20)
    t = s.table_create("test", "t")
    with t.write() as w:
        for i in range(3000):
            w.put({"id": i, "pad": "x" * 1000})
    assert w.changes[-1] == (None, {"id": 2999, "pad": "x" * 1000})
    assert t.count() == 3000 and s.env.info()["map_size"] > 1 << 20
    s.close()


def test_nested_writes_share_one_transaction(storage):
    a = storage.table_create("test", "a")
    with a.write() as w:
        for i in range(100):
            w.put({"id": i})
    b = storage.table_create("test", "b")
    # An update over a scan, with a write to another table inside (for_each + insert).
    with a.write() as w:
        for row in a.scan():
            w.put({**row, "seen": True})
            with b.write() as inner:
                inner.put({"id": row["id"]})
        storage.meta_put("k", 1)  # a catalog / meta change inside a write does not deadlock
    assert a.count() == 100 and b.count() == 100 and storage.meta_get("k") == 1
    assert all(r["seen"] for r in a.scan())
    with pytest.raises(RuntimeError):
        with a.write() as w:
            w.delete(0)
            with b.write() as inner:
                inner.delete(0)
            raise RuntimeError
    assert a.get(0) is not None and b.get(0) is not None and b.count() == 100
