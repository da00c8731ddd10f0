"""Resumable changefeeds (ours, issue 15): changes(include_positions=True) and
changes(resume_from=P) over the per-table change log, through our driver and the official
`rethinkdb` driver.

The change documents themselves are RethinkDB's ({"old_val", "new_val"} per write, in commit
order, docs/changefeeds.md); what is checked here is that a resumed feed delivers exactly the
documents a live feed would have delivered meanwhile, once each, in order, and that a client
that does not ask sees no position at all.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import lmdb
import pytest

from conftest import ServerProcess
from rethought import r
from rethought.errors import ReqlOpFailedError, ReqlQueryLogicError

WAIT = 10


def take(feed, n: int) -> list:
    return [feed.next(wait=WAIT) for _ in range(n)]


def strip(docs: list) -> list:
    """The documents without their positions (to compare with RethinkDB's shapes)."""
    return [{k: v for k, v in d.items() if k != "position"} for d in docs]


def position_of(tbl, conn) -> str:
    """A position at the current end of the table's log (a positioned feed's ready state)."""
    feed = tbl.changes(include_positions=True, include_states=True).run(conn)
    doc = feed.next(wait=WAIT)
    feed.close()
    assert doc["state"] == "ready"
    return doc["position"]


@pytest.fixture(params=["ours", "official"])
def drv(request, conn, official_conn, official_r):
    """(r, connection) of one of the two drivers."""
    return (r, conn) if request.param == "ours" else (official_r, official_conn)


@pytest.fixture
def tname(conn):
    name = "fr_" + uuid.uuid4().hex[:10]
    r.db("test").table_create(name).run(conn)
    yield name
    if name in r.db("test").table_list().run(conn):
        r.db("test").table_drop(name).run(conn)


def test_positions_only_when_asked(drv, tname, conn):
    rr, c = drv
    plain = rr.table(tname).changes(include_states=True).run(c)
    positioned = rr.table(tname).changes(include_positions=True, include_states=True).run(c)
    assert plain.next(wait=WAIT) == {"state": "ready"}
    ready = positioned.next(wait=WAIT)
    assert ready["state"] == "ready" and type(ready["position"]) is str
    r.table(tname).insert({"id": 1}).run(conn)
    assert plain.next(wait=WAIT) == {"new_val": {"id": 1}, "old_val": None}
    doc = positioned.next(wait=WAIT)
    assert set(doc) == {"new_val", "old_val", "position"}
    assert doc["position"] != ready["position"]
    plain.close()
    positioned.close()


def test_resume_after_writes_while_disconnected(drv, tname, conn, server):
    rr, c = drv
    tbl = rr.table(tname)
    start = position_of(tbl, c)
    r.table(tname).insert([{"id": 1, "n": 1}, {"id": 2, "n": 2}]).run(conn)
    r.table(tname).get(1).update({"n": 10}).run(conn)
    r.table(tname).get(2).delete().run(conn)
    feed = tbl.changes(resume_from=start, include_states=True).run(c)
    docs = take(feed, 5)
    assert strip(docs) == [
        {"new_val": {"id": 1, "n": 1}, "old_val": None},
        {"new_val": {"id": 2, "n": 2}, "old_val": None},
        {"new_val": {"id": 1, "n": 10}, "old_val": {"id": 1, "n": 1}},
        {"new_val": None, "old_val": {"id": 2, "n": 2}},
        {"state": "ready"},
    ]
    assert all(type(d["position"]) is str for d in docs)
    # live after the replay; resuming from any delivered position gives the rest again
    r.table(tname).insert({"id": 3}).run(conn)
    assert strip([feed.next(wait=WAIT)]) == [{"new_val": {"id": 3}, "old_val": None}]
    feed.close()
    again = tbl.changes(resume_from=docs[2]["position"]).run(c)
    assert [d["new_val"] for d in take(again, 2)] == [None, {"id": 3}]
    again.close()


def test_replay_through_filters_maps_and_selections(drv, tname, conn):
    rr, c = drv
    tbl = rr.table(tname)
    r.table(tname).index_create("n").run(conn)
    r.table(tname).index_wait("n").run(conn)
    start = position_of(tbl, c)
    r.table(tname).insert([{"id": i, "n": i} for i in range(6)]).run(conn)
    r.table(tname).get(4).update({"n": 1}).run(conn)
    queries = {
        "filter+pluck": tbl.filter(rr.row["n"] >= 3).pluck("id"),
        "map": tbl.map(lambda d: d["n"] * 2),
        "get": tbl.get(4),
        "between": tbl.between(1, 3, index="n"),
        "get_all": tbl.get_all(1, index="n"),
    }
    expected = {
        "filter+pluck": [
            {"new_val": {"id": 3}, "old_val": None},
            {"new_val": {"id": 4}, "old_val": None},
            {"new_val": {"id": 5}, "old_val": None},
            {"new_val": None, "old_val": {"id": 4}},
        ],
        "map": [{"new_val": 2 * i, "old_val": None} for i in range(6)]
        + [{"new_val": 2, "old_val": 8}],
        "get": [
            {"new_val": {"id": 4, "n": 4}, "old_val": None},
            {"new_val": {"id": 4, "n": 1}, "old_val": {"id": 4, "n": 4}},
        ],
        "between": [
            {"new_val": {"id": 1, "n": 1}, "old_val": None},
            {"new_val": {"id": 2, "n": 2}, "old_val": None},
            {"new_val": {"id": 4, "n": 1}, "old_val": None},
        ],
        "get_all": [
            {"new_val": {"id": 1, "n": 1}, "old_val": None},
            {"new_val": {"id": 4, "n": 1}, "old_val": None},
        ],
    }
    for name, query in queries.items():
        feed = query.changes(resume_from=start).run(c)
        assert strip(take(feed, len(expected[name]))) == expected[name], name
        feed.close()


def test_union_resume(drv, tname, conn):
    rr, c = drv
    tbl = rr.table(tname)
    query = tbl.filter({"n": 0}).union(tbl.get_all(5))
    feed = query.changes(include_positions=True, include_states=True).run(c)
    ready = take(feed, 2)  # one ready state per input; the last holds both inputs' parts
    assert [d["state"] for d in ready] == ["ready", "ready"]
    feed.close()
    r.table(tname).insert([{"id": 5, "n": 5}, {"id": 6, "n": 6}, {"id": 10, "n": 0}]).run(conn)
    feed = query.changes(resume_from=ready[-1]["position"]).run(c)
    got = take(feed, 2)
    assert sorted(strip(got), key=lambda d: d["new_val"]["id"]) == [
        {"new_val": {"id": 5, "n": 5}, "old_val": None},
        {"new_val": {"id": 10, "n": 0}, "old_val": None},
    ]
    feed.close()
    # resuming from the first of the two: only the second comes again
    again = query.changes(resume_from=got[0]["position"]).run(c)
    assert strip([again.next(wait=WAIT)]) == strip([got[1]])
    again.close()


def test_seam_with_racing_writes(drv, tname, conn, server):
    rr, c = drv
    tbl = rr.table(tname)
    start = position_of(tbl, c)
    total = 400
    first_written = threading.Event()

    def writer() -> None:
        wc = r.connect(host=server.host, port=server.port)
        for i in range(total):
            r.table(tname).insert({"id": i}).run(wc)
            if i == 50:
                first_written.set()
        wc.close()

    t = threading.Thread(target=writer)
    t.start()
    first_written.wait(WAIT)  # the resume starts while the writer is mid-way
    feed = tbl.changes(resume_from=start).run(c)
    ids = [d["new_val"]["id"] for d in take(feed, total)]
    t.join()
    assert ids == list(range(total))  # every change once, in commit order, across the seam
    with pytest.raises(Exception, match="[Tt]imed out|Timeout"):
        feed.next(wait=0.3)
    feed.close()


def test_two_feeds_resuming_on_one_connection(drv, tname, conn):
    rr, c = drv
    tbl = rr.table(tname)
    start = position_of(tbl, c)
    r.table(tname).insert([{"id": i, "even": i % 2 == 0} for i in range(6)]).run(conn)
    evens = tbl.filter({"even": True}).changes(resume_from=start).run(c)
    alls = tbl.changes(resume_from=start).run(c)
    got_all, got_even = [], []
    for _ in range(3):
        got_all += [alls.next(wait=WAIT)["new_val"]["id"] for _ in range(2)]
        got_even.append(evens.next(wait=WAIT)["new_val"]["id"])
    assert got_all == [0, 1, 2, 3, 4, 5] and got_even == [0, 2, 4]
    evens.close()
    alls.close()


def test_order_by_limit_resume_resends_top_n(drv, tname, conn):
    rr, c = drv
    r.table(tname).insert([{"id": i} for i in range(5)]).run(conn)
    query = rr.table(tname).order_by(index=rr.desc("id")).limit(2)
    feed = query.changes(include_positions=True, include_states=True).run(c)
    ready = feed.next(wait=WAIT)
    feed.close()
    r.table(tname).insert({"id": 9}).run(conn)
    resumed = query.changes(resume_from=ready["position"], include_types=True).run(c)
    initial = take(resumed, 2)
    assert sorted(d["new_val"]["id"] for d in initial) == [4, 9]
    assert {d["type"] for d in initial} == {"initial"}
    r.table(tname).insert({"id": 10}).run(conn)
    change = resumed.next(wait=WAIT)
    assert (change["new_val"], change["old_val"]["id"], change["type"]) == ({"id": 10}, 4, "change")
    assert type(change["position"]) is str
    resumed.close()


def test_initial_value_position_starts_afresh(drv, tname, conn):
    rr, c = drv
    r.table(tname).insert([{"id": 1}, {"id": 2}]).run(conn)
    feed = rr.table(tname).changes(include_initial=True, include_positions=True).run(c)
    first = feed.next(wait=WAIT)
    feed.close()  # dropped during the initial values
    again = rr.table(tname).changes(include_initial=True, resume_from=first["position"]).run(c)
    assert sorted(d["new_val"]["id"] for d in take(again, 2)) == [1, 2]
    again.close()


def test_positioned_feed_never_skips(tname, conn):
    start = position_of(r.table(tname), conn)
    feed = r.table(tname).changes(resume_from=start, changefeed_queue_size=2).run(conn)
    r.table(tname).insert([{"id": i} for i in range(20)]).run(conn)
    docs = take(feed, 20)
    assert [d["new_val"]["id"] for d in docs] == list(range(20))  # no "skipped" notice
    feed.close()


def test_retention_expiry_is_a_clear_error(drv, tname, conn):
    rr, c = drv
    tbl = rr.table(tname)
    r.table(tname).config().update({"changefeed_log": {"max_changes": 3}}).run(conn)
    start = position_of(tbl, c)
    r.table(tname).insert([{"id": i} for i in range(2)]).run(conn)
    mid = position_of(tbl, c)
    for i in range(2, 5):
        r.table(tname).insert({"id": i}).run(conn)
    with pytest.raises(Exception) as err:
        tbl.changes(resume_from=start).run(c)
    assert type(err.value).__name__ == "ReqlOpFailedError"
    assert "is older than the oldest retained change of table `test." + tname in str(err.value)
    feed = tbl.changes(resume_from=mid).run(c)  # the last 3 changes are kept
    assert [d["new_val"]["id"] for d in take(feed, 3)] == [2, 3, 4]
    feed.close()
    # an age bound: nothing older than it is replayed, even on an idle table
    r.table(tname).config().update(
        {"changefeed_log": {"max_changes": None, "max_age_seconds": 0.3}}
    ).run(conn)
    aged = position_of(tbl, c)
    r.table(tname).insert({"id": 100}).run(conn)
    time.sleep(0.5)
    with pytest.raises(Exception, match="older than the oldest retained change"):
        tbl.changes(resume_from=aged).run(c)


def test_malformed_positions(drv, tname, conn):
    rr, c = drv
    tbl = rr.table(tname)
    for bad, message in (
        (5, "Expected type STRING but found NUMBER"),
        ("not a position", "`not a position` is not a changefeed position"),
        ("AQ", "`AQ` is not a changefeed position"),
    ):
        with pytest.raises(Exception, match=message) as err:
            tbl.changes(resume_from=bad).run(c)
        assert type(err.value).__name__ == "ReqlQueryLogicError"
    other = "fr_" + uuid.uuid4().hex[:10]
    r.db("test").table_create(other).run(conn)
    try:
        foreign = position_of(r.table(other), conn)
        with pytest.raises(Exception, match="is not a position of table `test." + tname):
            tbl.changes(resume_from=foreign).run(c)
        with pytest.raises(Exception, match="on 1 table\\(s\\), this one is on 2"):
            tbl.union(tbl).changes(resume_from=foreign).run(c)
    finally:
        r.db("test").table_drop(other).run(conn)
    with pytest.raises(Exception, match="Cannot include positions in a squashed changefeed"):
        tbl.changes(include_positions=True, squash=True).run(c)
    with pytest.raises(Exception, match="system table `rethinkdb.stats`"):
        rr.db("rethinkdb").table("stats").changes(include_positions=True).run(c)


def test_config_setting_and_stats(tname, conn):
    tbl = r.table(tname)
    assert "changefeed_log" not in tbl.config().run(conn)  # RethinkDB's document
    tbl.config().update({"changefeed_log": {"max_changes": 7}}).run(conn)
    assert tbl.config().run(conn)["changefeed_log"]["max_changes"] == 7
    for bad, message in (
        (5, "In `changefeed_log`: Expected an object or null, got: 5"),
        ({"x": 1}, "In `changefeed_log`: Unexpected key(s) `x`."),
        ({"max_changes": 0}, "In `changefeed_log.max_changes`: Expected a positive integer"),
        ({"max_age_seconds": "1"}, "In `changefeed_log.max_age_seconds`: Expected a positive"),
    ):
        res = tbl.config().update({"changefeed_log": bad}).run(conn)
        assert res["errors"] == 1 and message in res["first_error"]
    tbl.insert([{"id": i, "pad": "x" * 100} for i in range(10)]).run(conn)
    rows = r.db("rethinkdb").table("stats").filter(lambda s: s["id"][0] == "table_server").run(conn)
    mine = [row for row in rows if row["table"] == tname][0]
    log = mine["storage_engine"]["changefeed_log"]
    assert log["changes"] == 7 and log["max_changes"] == 7 and log["bytes"] > 7 * 100
    tbl.config().update({"changefeed_log": None}).run(conn)
    assert "changefeed_log" not in tbl.config().run(conn)


def test_drop_table_drops_log(tname, conn):
    start = position_of(r.table(tname), conn)
    r.table(tname).insert({"id": 1}).run(conn)
    r.db("test").table_drop(tname).run(conn)
    r.db("test").table_create(tname).run(conn)  # same name, new table: a new log
    with pytest.raises(ReqlOpFailedError, match="is not a position of table"):
        r.table(tname).changes(resume_from=start).run(conn)


def _log_keys(directory: str) -> list[bytes]:
    env = lmdb.open(directory, max_dbs=8, readonly=True, lock=False)
    try:
        db = env.open_db(b"changelog", create=False)
        with env.begin(db=db) as txn:
            return [k for k, _ in txn.cursor()]
    finally:
        env.close()


def test_restart_and_sigkill_keep_the_log(tmp_path, official_r):
    directory = str(tmp_path / "data")
    srv = ServerProcess(directory, extra=["--changefeed-log-max-changes", "50"]).start()
    try:
        c = r.connect(host=srv.host, port=srv.port)
        r.table_create("t").run(c)
        r.table_create("gone").run(c)
        start = position_of(r.table("t"), c)
        r.table("t").insert([{"id": 1}, {"id": 2}]).run(c)
        r.table("gone").insert({"id": 1}).run(c)
        gone_id = r.table("gone").config().run(c)["id"]
        r.table_drop("gone").run(c)
        c.close()
        srv.stop()  # a clean restart between the feed and its resume
        srv.start()
        c = r.connect(host=srv.host, port=srv.port)
        r.table("t").insert({"id": 3}).run(c)
        feed = r.table("t").changes(resume_from=start).run(c)
        docs = take(feed, 3)
        assert [d["new_val"]["id"] for d in docs] == [1, 2, 3]
        c.close()
        # a hard write acknowledged, then SIGKILL: the change is in the log after restart
        oc = official_r.connect(host=srv.host, port=srv.port)
        res = official_r.table("t").insert({"id": 4}).run(oc, durability="hard")
        assert res["inserted"] == 1
        srv.stop(signal.SIGKILL)
        srv.start()
        oc = official_r.connect(host=srv.host, port=srv.port)
        feed = official_r.table("t").changes(resume_from=docs[-1]["position"]).run(oc)
        doc = feed.next(wait=WAIT)
        assert strip([doc]) == [{"new_val": {"id": 4}, "old_val": None}]
        assert doc["position"] not in {d["position"] for d in docs}
        stats = official_r.db("rethinkdb").table("stats").run(oc)
        limits = [
            s["storage_engine"]["changefeed_log"] for s in stats if s["id"][0] == "table_server"
        ]
        assert limits[0]["max_changes"] == 50  # the serve flag's default
        oc.close()
    finally:
        srv.stop()
    keys = _log_keys(directory)
    assert keys and not any(uuid.UUID(gone_id).bytes in k for k in keys)
    assert os.path.exists(directory)


def test_errors_are_the_right_types(tname, conn):
    with pytest.raises(ReqlQueryLogicError):
        r.table(tname).changes(resume_from="###").run(conn)


# -- the log itself, on a storage in this process (no server) -------------------------------


def _sum_entry_bytes(storage, table) -> int:
    from rethought.server.storage import changelog

    start = changelog.ENTRY + table._prefix
    with storage.env.begin(db=storage.changelog.db) as txn:
        return sum(len(k) + len(v) for k, v in txn.cursor() if k[:17] == start)


def test_log_numbers_bytes_and_trims(tmp_path):
    from rethought.server.storage import Storage, changelog

    path = str(tmp_path / "data")
    storage = Storage(path)
    storage.changelog.defaults = changelog.Limits(max_changes=32, max_age_seconds=None)
    t = storage.table_create("test", "t", durability="soft")
    log = storage.changelog
    firsts = []
    for i in range(100):
        with t.write() as w:
            w.put({"id": i})
            if i % 10 == 0:
                w.put({"id": 1000 + i})
        firsts.append(w.log_first)
    # numbers follow commits, one per change
    assert firsts[:3] == [1, 3, 4] and firsts[-1] == 110
    state = log.state(t)
    assert state.last_no == 110 and state.changes == 32  # the count bound, exactly
    assert log.bytes(t) == _sum_entry_bytes(storage, t)
    # an aborted write leaves neither entry nor numbers nor bytes behind
    try:
        with t.write() as w:
            w.put({"id": "x"})
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    with t.write() as w:
        w.put({"id": "y"})
    assert w.log_first == 111 and log.bytes(t) == _sum_entry_bytes(storage, t)
    rows, first = log.read(t, 100, 111)
    assert first == 80 and [no for no, _, _ in rows] == list(range(101, 112))
    assert rows[-1][2] == {"id": "y"} and rows[0][1] is None
    # an age bound empties the log; the numbering goes on, also after a reopen
    log.set_setting(t, changelog.Limits(max_changes=None, max_age_seconds=0.05))
    time.sleep(0.1)
    log.sweep([t])
    assert log.state(t).changes == 0 and log.bytes(t) == 0 == _sum_entry_bytes(storage, t)
    storage.close()
    storage = Storage(path)
    t = storage.table_get("test", "t")
    assert storage.changelog.state(t).last_no == 111
    with t.write() as w:
        w.delete("y")
    assert w.log_first == 112
    assert storage.changelog.read(t, 111, 112)[0] == [(112, {"id": "y"}, None)]
    storage.close()


def test_position_ahead_of_the_log(tname, conn):
    from rethought.server.feeds import resume as feed_resume

    tid = uuid.UUID(r.table(tname).config()["id"].run(conn)).bytes
    ahead = feed_resume.encode([feed_resume.Part(tid, 10**6)])
    with pytest.raises(ReqlOpFailedError, match="is ahead of the change log of table"):
        r.table(tname).changes(resume_from=ahead).run(conn)


def test_point_feed_resume_sends_no_initial_value(drv, tname, conn):
    rr, c = drv
    r.table(tname).insert({"id": 1, "n": 0}).run(conn)
    feed = rr.table(tname).get(1).changes(include_initial=True, include_positions=True).run(c)
    initial = feed.next(wait=WAIT)
    r.table(tname).get(1).update({"n": 1}).run(conn)
    change = feed.next(wait=WAIT)
    feed.close()
    assert strip([initial]) == [{"new_val": {"id": 1, "n": 0}}]
    r.table(tname).get(1).update({"n": 2}).run(conn)
    r.table(tname).get(2).update({"n": 9}).run(conn)  # another row: not this feed's
    resumed = rr.table(tname).get(1).changes(include_initial=True, resume_from=change["position"])
    resumed = resumed.run(c)
    assert strip([resumed.next(wait=WAIT)]) == [
        {"new_val": {"id": 1, "n": 2}, "old_val": {"id": 1, "n": 1}}
    ]
    resumed.close()
