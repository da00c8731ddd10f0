"""Initial values of a secondary-index feed read batch by batch with changes spliced in, as
RethinkDB 2.4.4's splice_stream_t (changefeed.cc), through our driver and the official one.

From the source: a change that comes while the initial values are read keeps only the sides
that lie in the part already read (``discard``); a row moved from the part read to the part
not read yet is sent as ``{old_val, type: "uninitial"}`` (vals_to_change with
discard_new_val) and read again later; a row moved the other way is sent as
``{new_val, type: "initial"}``; a change wholly in the unread part is not sent (the read
shows it).
"""

from __future__ import annotations

import pytest

N = 5000  # several responses of initial values: the read is not over when the writes come


@pytest.fixture(params=["ours", "official"])
def rq(request, server, test_table):
    if request.param == "ours":
        from rethought import r
    else:
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    t = r.db("test").table(test_table._args[1].data)
    t.index_create("v").run(conn)
    t.index_wait("v").run(conn)
    t.insert([{"id": i, "v": i} for i in range(N)]).run(conn)
    yield r, conn, t
    conn.close()


def test_changes_during_the_initial_read(rq):
    r, conn, t = rq
    feed = (
        t.between(r.minval, r.maxval, index="v")
        .changes(include_initial=True, include_types=True, include_states=True)
        .run(conn)
    )
    first = [feed.next(wait=5) for _ in range(3)]
    assert first[0] == {"state": "initializing", "type": "state"}
    assert first[1:] == [
        {"new_val": {"id": 0, "v": 0}, "type": "initial"},
        {"new_val": {"id": 1, "v": 1}, "type": "initial"},
    ]
    t.get(0).update({"v": 10 * N}).run(conn)  # read -> not read yet
    t.get(N - 1).update({"v": -1}).run(conn)  # not read yet -> read
    t.get(N - 2).update({"w": 1}).run(conn)  # wholly in the part not read
    docs = []
    while not docs or docs[-1] != {"state": "ready", "type": "state"}:
        docs.append(feed.next(wait=5))
    feed.close()
    assert {"old_val": {"id": 0, "v": 0}, "type": "uninitial"} in docs
    assert {"new_val": {"id": N - 1, "v": -1}, "type": "initial"} in docs
    initial = [d["new_val"] for d in docs if d.get("type") == "initial"]
    # id 0 read again with its new value; N-1 once, by the change; N-2 as it is now
    assert initial.count({"id": 0, "v": 10 * N}) == 1
    assert {"id": N - 2, "v": N - 2, "w": 1} in initial
    assert not any(d.get("type") == "change" for d in docs)
    seen = {d["id"] for d in initial} | {1}
    assert seen == set(range(N))


def test_changes_after_the_initial_read_are_plain(rq):
    r, conn, t = rq
    feed = t.between(0, 10, index="v").changes(include_initial=True, include_types=True)
    feed = feed.run(conn)
    got = [feed.next(wait=5) for _ in range(10)]
    assert [d["new_val"]["id"] for d in got] == list(range(10))
    t.get(3).update({"v": 20}).run(conn)
    assert feed.next(wait=5) == {"old_val": {"id": 3, "v": 3}, "new_val": None, "type": "remove"}
    feed.close()
