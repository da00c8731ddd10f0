"""``order_by(index=).limit(n).changes()`` step by step, as RethinkDB 2.4.4 does it, through
our driver and the official one.

Expected values come from RethinkDB's source (changefeed.cc limit_manager_t::commit and the
limit subscriber's note_change_impl; btree.cc): a secondary-index top n is committed after
each row modification, a primary-key top n once per write batch; a message whose old and new
rows are equal once the transforms before ``limit`` ran (``pluck``) at the same offset is not
sent; a row that leaves is paired with one that comes in. The yaml tests
test/rql_test/changefeeds/limit_pattern.py_one.yaml and limit_item_replacements.py_one.yaml
of 2.4.4 check parts of it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["ours", "official"])
def rq(request, server, test_table):
    if request.param == "ours":
        from rethought import r
    else:
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    name = test_table._args[1].data
    t = r.db("test").table(name)
    t.insert([{"id": i, "v": i} for i in (1, 2, 3)]).run(conn)
    t.index_create("v").run(conn)
    t.index_wait("v").run(conn)
    yield r, conn, t
    conn.close()


def fetch(r, feed, n):
    return [feed.next(wait=5) for _ in range(n)]


def nothing(r, feed):
    with pytest.raises(r.ReqlTimeoutError):
        feed.next(wait=0.3)
    return True


def feed_of(t, index, **kw):
    return t.order_by(index=index).pluck("id").limit(kw.pop("n", 1)).changes(**kw)


def test_index_top_commits_each_row_primary_top_each_batch(rq):
    r, conn, t = rq
    by_v = feed_of(t, "v").run(conn)
    by_id = feed_of(t, "id").run(conn)
    by_v_desc = feed_of(t, r.desc("v")).run(conn)
    # one batch: id 0 inserted, then deleted by the conflict function
    res = t.insert([{"id": 0, "v": 0}, {"id": 0}], conflict=lambda i, o, n: None).run(conn)
    assert (res["inserted"], res["deleted"]) == (1, 1)
    assert fetch(r, by_v, 2) == [
        {"new_val": {"id": 0}, "old_val": {"id": 1}},
        {"new_val": {"id": 1}, "old_val": {"id": 0}},
    ]
    assert nothing(r, by_id)  # the batch as a whole changed nothing
    assert nothing(r, by_v_desc)  # never better than v 3


def test_equal_after_transforms_is_not_sent(rq):
    r, conn, t = rq
    by_id = feed_of(t, "id").run(conn)
    t.get(1).update({"v": 9}).run(conn)  # the top row changes, its plucked id does not
    assert nothing(r, by_id)
    t.insert({"id": 0, "v": 5}).run(conn)
    assert fetch(r, by_id, 1) == [{"new_val": {"id": 0}, "old_val": {"id": 1}}]
    full = t.order_by(index="id").limit(1).changes().run(conn)
    t.get(0).update({"v": 6}).run(conn)  # without the pluck it is a change
    assert fetch(r, full, 1) == [{"new_val": {"id": 0, "v": 6}, "old_val": {"id": 0, "v": 5}}]


def test_the_next_row_is_read_when_the_top_leaves(rq):
    r, conn, t = rq
    by_id = feed_of(t, "id").run(conn)
    by_v = feed_of(t, "v").run(conn)
    rows = [{"id": 1, "v": 5}] + [{"id": i, "v": i} for i in range(10, 30)]
    res = t.insert(rows, conflict=lambda i, o, n: None).run(conn)
    assert (res["inserted"], res["deleted"]) == (20, 1)
    assert fetch(r, by_id, 1) == [{"new_val": {"id": 2}, "old_val": {"id": 1}}]
    assert fetch(r, by_v, 1) == [{"new_val": {"id": 2}, "old_val": {"id": 1}}]
    assert nothing(r, by_id)


def test_offsets_and_types(rq):
    r, conn, t = rq
    feed = feed_of(t, "v", n=2, include_offsets=True, include_types=True).run(conn)
    t.insert({"id": 0, "v": 0}).run(conn)
    # the new best row comes in at 0, the worst (offset 1) leaves
    assert fetch(r, feed, 1) == [
        {
            "new_val": {"id": 0},
            "new_offset": 0,
            "old_val": {"id": 2},
            "old_offset": 1,
            "type": "change",
        }
    ]
    t.get(1).update({"v": -1}).run(conn)  # moves from 1 to 0: same row, other offset
    assert fetch(r, feed, 1) == [
        {
            "new_val": {"id": 1},
            "new_offset": 0,
            "old_val": {"id": 1},
            "old_offset": 1,
            "type": "change",
        }
    ]
    t.get_all(2, 3).delete().run(conn)  # not in the top two
    assert nothing(r, feed)
    t.get(0).delete().run(conn)  # and nothing left to take its place
    assert fetch(r, feed, 1) == [
        {
            "new_val": None,
            "new_offset": None,
            "old_val": {"id": 0},
            "old_offset": 1,
            "type": "remove",
        }
    ]
    t.insert({"id": 7, "v": 7}).run(conn)
    assert fetch(r, feed, 1) == [
        {"new_val": {"id": 7}, "new_offset": 1, "old_val": None, "old_offset": None, "type": "add"}
    ]
