"""A table's row count rides in its change log (issue 16): each write's log entry carries
the count after the write, the log's tail key carries it once trimming empties the log, and
a data directory written before the count moved there keeps it in the catalog until the
table's next write (server/storage/changelog.py).

Checked through real servers and the official `rethinkdb` driver: `count()` (the stored
count) against the rows a scan returns, after every kind of write (single and batch inserts
with errors, replacements, upserts, deletes of present and missing rows, a write nested in
another's function, concurrent writes that share a commit), across restarts and a SIGKILL,
with the log trimmed to nothing, and on a directory rewritten into the old format.
"""

from __future__ import annotations

import os
import signal
import struct
import threading
import time

import lmdb
import pytest
from rethinkdb import RethinkDB

from conftest import ServerProcess

HEAD = struct.Struct(">dI")  # an entry's commit time and number of changes
COUNTED = 0x8000_0000  # the number's bit saying a row count (">q") follows the head
COUNT_KEY = b"count\x00"  # where the catalog kept the count before


@pytest.fixture
def served(tmp_path):
    """(server, official r, connection) on a fresh data directory."""
    srv = ServerProcess(str(tmp_path / "data")).start()
    rr = RethinkDB()
    c = rr.connect(port=srv.port)
    yield srv, rr, c
    c.close()
    srv.stop()


def _reconnect(srv, rr):
    return rr.connect(port=srv.port)


def _check(rr, c, name: str) -> int:
    """The stored count equals the rows a scan returns; returns it."""
    stored = rr.table(name).count().run(c)
    scanned = len(list(rr.table(name).run(c)))
    assert stored == scanned, f"{name}: count() {stored}, scan {scanned}"
    return stored


def test_count_follows_every_kind_of_write(served):
    srv, rr, c = served
    rr.table_create("t").run(c)
    rr.table_create("u").run(c)
    t = rr.table("t")
    assert _check(rr, c, "t") == 0
    t.insert({"id": 1}).run(c)
    t.insert({"id": 1}).run(c)  # a duplicate: an error, nothing written
    assert _check(rr, c, "t") == 1
    res = t.insert([{"id": i} for i in range(2, 12)] + [{"id": 1}, {"id": 5}]).run(c)
    assert (res["inserted"], res["errors"]) == (10, 2)
    assert _check(rr, c, "t") == 11
    t.get(3).replace({"id": 3, "x": 1}).run(c)  # replaced: no new row
    t.insert([{"id": 4, "y": 2}, {"id": 40}], conflict="replace").run(c)  # one new
    assert _check(rr, c, "t") == 12
    t.get(5).delete().run(c)
    t.get(500).delete().run(c)  # missing: nothing deleted
    t.get(6).replace(None).run(c)  # a replacement by null deletes
    assert _check(rr, c, "t") == 10
    t.filter(lambda row: row["id"] > 8).delete().run(c)  # 9, 10, 11, 40
    t.filter(lambda row: row["id"] < 3).update({"z": 1}).run(c)
    assert _check(rr, c, "t") == 6
    # A write evaluated inside another's transaction (the ``db`` optarg is evaluated where
    # the update's function first needs it): both tables' counts move with the one commit,
    # and when the outer write fails, neither does.
    rr.table_create("v").run(c)
    nested = rr.db("test").table("u").insert({"id": 1}).do(lambda _: "test")
    outer = (
        rr.db("test").table("t").update(lambda row: {"c": rr.table("v").count()}, non_atomic=True)
    )
    assert outer.run(c, db=nested)["replaced"] == 6
    assert (_check(rr, c, "t"), _check(rr, c, "u")) == (6, 1)
    t.insert({"id": 50, "n": "x"}).run(c)
    failing = (
        rr.db("test")
        .table("t")
        .filter(lambda row: row["n"].default(0).add(1).gt(0))
        .update(lambda row: {"c": rr.table("v").count()}, non_atomic=True)
    )
    nested = rr.db("test").table("u").insert({"id": 2}).do(lambda _: "test")
    with pytest.raises(Exception, match="Expected type STRING but found NUMBER"):
        failing.run(c, db=nested)
    assert (_check(rr, c, "t"), _check(rr, c, "u")) == (7, 1)
    t.get(50).delete().run(c)

    # Concurrent single inserts on many connections (they share commits: group commit).
    def writer(k: int) -> None:
        wc = _reconnect(srv, rr)
        for i in range(25):
            rr.table("u").insert({"id": f"{k}-{i}"}).run(wc, durability="soft")
            rr.table("u").insert({"id": f"{k}-{i}"}).run(wc, durability="soft")  # duplicate
        wc.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert _check(rr, c, "u") == 201

    c.close()
    srv.stop()
    srv.start()
    c = _reconnect(srv, rr)
    assert (_check(rr, c, "t"), _check(rr, c, "u")) == (6, 201)
    rr.table("u").insert([{"id": i} for i in range(100)]).run(c, durability="soft")
    c.close()
    srv.stop(signal.SIGKILL)  # what the OS has is kept: the count with its rows
    srv.start()
    c = _reconnect(srv, rr)
    assert _check(rr, c, "u") == 300  # ids 0-99, of which 1 was there
    rr.table_drop("u").run(c)
    rr.table_create("u").run(c)  # a new table under the old name: a new, empty log
    assert _check(rr, c, "u") == 0
    c.close()


def test_count_when_the_log_is_trimmed_to_nothing(served):
    srv, rr, c = served
    rr.table_create("t").run(c)
    t = rr.table("t")
    t.insert([{"id": i} for i in range(30)]).run(c)
    t.get(0).delete().run(c)
    time.sleep(1.2)
    # Setting the age bound trims at once: every entry is older than it, so the log is
    # empty and only its tail key keeps the count.
    t.config().update({"changefeed_log": {"max_age_seconds": 1}}).run(c)
    stats = (
        rr.db("rethinkdb")
        .table("stats")
        .filter(lambda s: (s["id"][0] == "table_server") & (s["table"] == "t"))
        .nth(0)
        .run(c)
    )
    assert stats["storage_engine"]["changefeed_log"]["changes"] == 0
    assert _check(rr, c, "t") == 29
    c.close()
    srv.stop()
    srv.start()
    c = _reconnect(srv, rr)
    assert _check(rr, c, "t") == 29
    t.insert({"id": 100}).run(c)
    t.get(1).delete().run(c)
    assert _check(rr, c, "t") == 29
    c.close()


def _to_old_format(directory: str) -> dict[bytes, int]:
    """Rewrite a stopped server's data directory as servers before this change wrote it:
    entries without the row count, 8-byte tail keys, the count in the catalog. Returns
    the counts by table prefix."""
    env = lmdb.open(directory, max_dbs=16, map_size=1 << 30)
    counts: dict[bytes, int] = {}
    try:
        with env.begin(write=True) as txn:
            log = env.open_db(b"changelog", txn=txn)
            catalog = env.open_db(b"catalog", txn=txn)
            old: dict[bytes, bytes] = {}
            for key, raw in txn.cursor(db=log):
                if key[:1] == b"E":
                    at, n = HEAD.unpack_from(raw)
                    assert n & COUNTED, "a new server's entry carries the count"
                    counts[key[1:17]] = struct.unpack_from(">q", raw, HEAD.size)[0]
                    old[key] = HEAD.pack(at, n ^ COUNTED) + raw[HEAD.size + 8 :]
                elif key[:1] == b"T":
                    assert len(raw) == 16, "a new server's tail key carries the count"
                    counts[key[1:17]] = struct.unpack(">Qq", raw)[1]
                    old[key] = raw[:8]
            for key, raw in old.items():
                txn.put(key, raw, db=log)
            for prefix, n in counts.items():
                txn.put(COUNT_KEY + prefix, struct.pack(">q", n), db=catalog)
    finally:
        env.close()
    return counts


def _newest_entry_counted(directory: str) -> list[bool]:
    """For each table's log: whether its newest entry carries the count."""
    env = lmdb.open(directory, max_dbs=16, map_size=1 << 30, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            newest: dict[bytes, bytes] = {}
            for key, raw in txn.cursor(db=env.open_db(b"changelog", txn=txn, create=False)):
                if key[:1] == b"E":
                    newest[key[1:17]] = raw
            return [bool(HEAD.unpack_from(raw)[1] & COUNTED) for raw in newest.values()]
    finally:
        env.close()


def test_a_directory_from_before_the_count_moved(served):
    srv, rr, c = served
    rr.table_create("t").run(c)
    rr.table_create("empty_log").run(c)
    t = rr.table("t")
    t.insert([{"id": i} for i in range(8)]).run(c)
    feed = t.changes(include_positions=True, include_states=True).run(c)
    position = feed.next(wait=10)["position"]
    feed.close()
    t.get(0).delete().run(c)
    t.insert({"id": 8}).run(c)
    t.get(1).update({"x": 1}).run(c)
    rr.table("empty_log").insert([{"id": i} for i in range(5)]).run(c)
    time.sleep(1.2)
    rr.table("empty_log").config().update({"changefeed_log": {"max_age_seconds": 1}}).run(c)
    c.close()
    srv.stop()

    counts = _to_old_format(srv.directory)
    assert sorted(counts.values()) == [5, 8]
    srv.start()
    c = _reconnect(srv, rr)
    assert (_check(rr, c, "t"), _check(rr, c, "empty_log")) == (8, 5)
    # The old entries still replay for a resumed feed.
    resumed = t.changes(resume_from=position).run(c)
    replayed = [resumed.next(wait=10) for _ in range(3)]
    resumed.close()
    assert [(d["old_val"], d["new_val"]) for d in replayed] == [
        ({"id": 0}, None),
        (None, {"id": 8}),
        ({"id": 1}, {"id": 1, "x": 1}),
    ]
    # The next write logs the count (old count + its change); the catalog's is not read again.
    t.insert({"id": 9}).run(c)
    rr.table("empty_log").get(0).delete().run(c)
    assert (_check(rr, c, "t"), _check(rr, c, "empty_log")) == (9, 4)
    c.close()
    srv.stop()
    assert _newest_entry_counted(srv.directory) == [True, True]
    srv.start()
    c = _reconnect(srv, rr)
    assert (_check(rr, c, "t"), _check(rr, c, "empty_log")) == (9, 4)
    c.close()
    assert os.path.exists(os.path.join(srv.directory, "data.mdb"))
