"""Changefeeds end to end, through our driver and through the official one.

Expected documents are RethinkDB's, as its docs and seed 000 show them.
"""

from __future__ import annotations

import threading
import time

import pytest

from conftest import ServerProcess
from rethought import r as our_r


@pytest.fixture(params=["rethought", "official"])
def client(request, server, official_r):
    """(r, conn, second conn for writes) through one driver or the other."""
    rr = our_r if request.param == "rethought" else official_r
    c = rr.connect(host=server.host, port=server.port)
    w = rr.connect(host=server.host, port=server.port)
    yield rr, c, w
    c.close()
    w.close()


def take(feed, n, wait=5):
    return [feed.next(wait=wait) for _ in range(n)]


def test_feed_printer_sequence(client, table_name):
    """Seed 000's FeedPrinter: states, two initial values, a change, then the abort error."""
    r, c, w = client
    r.table_create(table_name).run(w)
    r.table(table_name).insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(w)
    feed = (
        r.table(table_name)
        .order_by(index="id")
        .limit(2)
        .changes(include_states=True, include_initial=True)
        .run(c)
    )
    first = take(feed, 4)
    assert first[0] == {"state": "initializing"}
    assert sorted(first[1:3], key=lambda d: d["new_val"]["id"]) == [
        {"new_val": {"id": 0}},
        {"new_val": {"id": 1}},
    ]
    assert first[3] == {"state": "ready"}
    r.table(table_name).insert({"id": 0.5}).run(w)
    assert feed.next(wait=5) == {"old_val": {"id": 1}, "new_val": {"id": 0.5}}
    r.table_drop(table_name).run(w)
    with pytest.raises(r.ReqlRuntimeError) as info:
        feed.next(wait=5)
    assert "Changefeed aborted (table unavailable)" in str(info.value)


def test_table_feed_insert_update_delete(client, table_name):
    r, c, w = client
    r.table_create(table_name).run(w)
    feed = r.table(table_name).changes().run(c)
    r.table(table_name).insert({"id": 1}).run(w)
    r.table(table_name).get(1).update({"v": 1}).run(w)
    r.table(table_name).get(1).delete().run(w)
    assert take(feed, 3) == [
        {"old_val": None, "new_val": {"id": 1}},
        {"old_val": {"id": 1}, "new_val": {"id": 1, "v": 1}},
        {"old_val": {"id": 1, "v": 1}, "new_val": None},
    ]
    feed.close()


def test_point_feed_with_initial_and_transforms_after(client, table_name):
    r, c, w = client
    r.table_create(table_name).run(w)
    point = r.table(table_name).get(1).changes(include_initial=True).run(c)
    assert point.next(wait=5) == {"new_val": None}
    updates = (
        r.table(table_name)
        .get(1)
        .changes()
        .filter(r.row["new_val"]["v"] > 2)["new_val"]["v"]
        .run(c)
    )
    r.table(table_name).insert({"id": 1, "v": 1}).run(w)
    for v in (4, 1, 7):
        r.table(table_name).get(1).update({"v": v}).run(w)
    r.table(table_name).insert({"id": 2, "v": 100}).run(w)  # another row: not seen
    assert point.next(wait=5) == {"old_val": None, "new_val": {"id": 1, "v": 1}}
    assert take(updates, 2) == [4, 7]


def test_range_feeds_and_transforms_before(client, table_name):
    r, c, w = client
    r.table_create(table_name).run(w)
    r.table(table_name).index_create("color").run(w)
    r.table(table_name).index_wait().run(w)
    between = r.table(table_name).between(10, 20).changes().run(c)
    get_all = r.table(table_name).get_all("red", index="color").changes().run(c)
    plucked = r.table(table_name).filter({"color": "blue"}).pluck("id").changes().run(c)
    r.table(table_name).insert(
        [
            {"id": 5, "color": "red"},
            {"id": 15, "color": "blue"},
            {"id": 25, "color": "green"},
        ]
    ).run(w)
    assert between.next(wait=5) == {"old_val": None, "new_val": {"id": 15, "color": "blue"}}
    assert get_all.next(wait=5) == {"old_val": None, "new_val": {"id": 5, "color": "red"}}
    assert plucked.next(wait=5) == {"old_val": None, "new_val": {"id": 15}}
    # A row moving out of the filter shows as new_val None.
    r.table(table_name).get(15).update({"color": "red"}).run(w)
    assert plucked.next(wait=5) == {"old_val": {"id": 15}, "new_val": None}
    assert get_all.next(wait=5) == {
        "old_val": None,
        "new_val": {"id": 15, "color": "red"},
    }


def test_include_types_and_offsets(client, table_name):
    r, c, w = client
    r.table_create(table_name).run(w)
    r.table(table_name).insert([{"id": 1}, {"id": 3}]).run(w)
    feed = (
        r.table(table_name)
        .order_by(index="id")
        .limit(2)
        .changes(include_initial=True, include_offsets=True, include_types=True)
        .run(c)
    )
    initial = take(feed, 2)
    assert {d["type"] for d in initial} == {"initial"}
    assert sorted((d["new_offset"], d["new_val"]["id"]) for d in initial) == [(0, 1), (1, 3)]
    r.table(table_name).insert({"id": 2}).run(w)
    assert feed.next(wait=5) == {
        "old_val": {"id": 3},
        "new_val": {"id": 2},
        "old_offset": 1,
        "new_offset": 1,
        "type": "change",
    }
    with pytest.raises(r.ReqlQueryLogicError, match="Cannot include offsets for range"):
        r.table(table_name).changes(include_offsets=True).run(c)


def test_overflow_sends_error_document_and_feed_goes_on(client, table_name):
    r, c, w = client
    r.table_create(table_name).run(w)
    feed = r.table(table_name).changes(changefeed_queue_size=5).run(c)
    # Writers are never blocked by a feed nobody reads.
    r.table(table_name).insert([{"id": i} for i in range(12)]).run(w)
    docs = take(feed, 6)
    assert docs[0] == {"error": "Changefeed cache over array size limit, skipped 7 elements."}
    assert [d["new_val"]["id"] for d in docs[1:]] == [7, 8, 9, 10, 11]
    r.table(table_name).insert({"id": 99}).run(w)
    assert feed.next(wait=5) == {"old_val": None, "new_val": {"id": 99}}


def test_squash_and_limit(client, table_name):
    r, c, w = client
    r.table_create(table_name).run(w)
    normal = r.table(table_name).changes().limit(2).run(c)
    squashed = r.table(table_name).changes(squash=0.5).limit(1).run(c)
    r.table(table_name).insert({"id": 100}).run(w)
    r.table(table_name).get(100).update({"a": 1}).run(w)
    assert list(normal) == [
        {"new_val": {"id": 100}, "old_val": None},
        {"new_val": {"a": 1, "id": 100}, "old_val": {"id": 100}},
    ]
    assert list(squashed) == [{"new_val": {"a": 1, "id": 100}, "old_val": None}]
    with pytest.raises(r.ReqlQueryLogicError, match="Expected BOOL or a positive NUMBER"):
        r.table(table_name).changes(squash=-10).run(c)
    with pytest.raises(r.ReqlQueryLogicError, match="Cannot call a terminal"):
        r.table(table_name).changes().order_by("id").run(c)


def test_union_of_feeds_interleaves(client, table_name):
    r, c, w = client
    other = table_name + "_b"
    r.table_create(table_name).run(w)
    r.table_create(other).run(w)
    feed = r.table(table_name).changes().union(r.table(other).changes()).run(c)
    r.table(other).insert({"id": "b"}).run(w)
    r.table(table_name).insert({"id": "a"}).run(w)
    got = take(feed, 2)
    assert sorted(d["new_val"]["id"] for d in got) == ["a", "b"]


def test_next_wait_times_out(conn, table_name):
    our_r.table_create(table_name).run(conn)
    feed = our_r.table(table_name).changes().run(conn)
    started = time.monotonic()
    with pytest.raises(our_r.ReqlTimeoutError):
        feed.next(wait=0.3)
    assert time.monotonic() - started < 3


def test_soak_every_feed_sees_every_change_once_in_order(server, official_r, table_name):
    """20 feeds, 2,000 writes from 4 connections: each feed gets each change exactly once,
    and each document's changes in the order they were made."""
    setup = our_r.connect(host=server.host, port=server.port)
    our_r.table_create(table_name, durability="soft").run(setup)
    feed_conns = [our_r.connect(host=server.host, port=server.port) for _ in range(2)]
    feeds = [our_r.table(table_name).changes().run(feed_conns[i % 2]) for i in range(20)]
    writers, per_writer = 4, 500  # each writer inserts 50 docs, then updates them 9 times

    def write(wid: int) -> None:
        wc = official_r.connect(host=server.host, port=server.port)
        tbl = official_r.table(table_name)
        docs = [f"w{wid}-{i}" for i in range(50)]
        for d in docs:
            tbl.insert({"id": d, "v": 0}).run(wc)
        for v in range(1, 10):
            for d in docs:
                tbl.get(d).update({"v": v}).run(wc)
        wc.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    results: list[list] = [[] for _ in feeds]
    for i, feed in enumerate(feeds):
        while len(results[i]) < writers * per_writer:
            results[i].append(feed.next(wait=30))
    for t in threads:
        t.join()
    for got in results:
        assert len(got) == writers * per_writer
        seen: dict[str, int] = {}
        for change in got:
            doc = change["new_val"]
            old = change["old_val"]
            expected_prev = seen.get(doc["id"], -1)
            assert (old["v"] if old else -1) == expected_prev
            assert doc["v"] == expected_prev + 1
            seen[doc["id"]] = doc["v"]
        assert len(seen) == 200 and set(seen.values()) == {9}
    for c in feed_conns:
        c.close()
    setup.close()


def test_server_shutdown_ends_feeds_with_error(tmp_path, official_r):
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        c = our_r.connect(host=srv.host, port=srv.port)
        our_r.table_create("t").run(c)
        feed = our_r.table("t").changes().run(c)
        srv.stop()
        with pytest.raises(our_r.ReqlError):
            feed.next(wait=10)
    finally:
        srv.stop()
