"""Changefeeds see committed changes only, in commit order, each change numbered once.

A feed must never show a change its write did not commit (docs/changefeeds.md: a change
document describes a committed write), and the change log behind positions must never give
one number to two changes. Here the writes that run inside another write's transaction: a
write evaluated while the outer write is applying its rows (a global optarg, such as ``db``,
is evaluated the first time a term needs it: RethinkDB keeps global optargs as functions it
calls when needed). The outer write decides for both: if it fails as a whole, neither was
committed and neither may reach a feed; if it commits, both reach their feeds, in the order
their rows were written. A nested write that fails itself leaves nothing behind, as it would
at top level (RethinkDB's insert reads its stream argument before writing a batch).

Then the other write paths that commit some rows and not others: documents of a batch that
fail (RethinkDB commits the others), write hooks, ``return_changes``, soft durability.
Every check goes through our driver and the official ``rethinkdb`` driver.
"""

from __future__ import annotations

import uuid

import pytest

from rethought import r

WAIT = 10


@pytest.fixture(params=["ours", "official"])
def drv(request, conn, official_conn, official_r):
    """(r, connection) of one of the two drivers."""
    return (r, conn) if request.param == "ours" else (official_r, official_conn)


@pytest.fixture
def names(conn):
    """Three fresh tables: the outer write's, the nested write's, a third one."""
    made = ["fc_" + uuid.uuid4().hex[:10] for _ in range(3)]
    for name in made:
        r.db("test").table_create(name).run(conn)
    yield made
    for name in made:
        r.db("test").table_drop(name).run(conn)


def ready(feed) -> str:
    """The position in a positioned feed's ready state."""
    doc = feed.next(wait=WAIT)
    assert doc["state"] == "ready"
    return doc["position"]


def changes_until(feed, sentinel_id) -> list:
    """The feed's documents up to and including the sentinel row's insert."""
    out = []
    while True:
        doc = feed.next(wait=WAIT)
        out.append(doc)
        if doc.get("new_val") == {"id": sentinel_id}:
            return out


def strip(docs: list) -> list:
    return [{k: v for k, v in d.items() if k != "position"} for d in docs]


def replay(docs: list, rows: dict | None = None) -> dict:
    """The table as a consumer rebuilds it from ``rows`` and its feed; each change must
    start from the row the previous change of that key left (RethinkDB's feeds are in
    commit order)."""
    rows = dict(rows or {})
    for d in docs:
        old, new = d["old_val"], d["new_val"]
        key = (new or old)["id"]
        assert rows.get(key) == old, f"change of {key} out of order: {d}"
        if new is None:
            rows.pop(key, None)
        else:
            rows[key] = new
    return rows


def test_nested_write_of_a_failed_write_is_never_published(drv, names, conn):
    rr, c = drv
    a, b, cc = names
    r.table(a).insert([{"id": 1, "n": 1}, {"id": 2, "n": "x"}]).run(conn)
    feed = rr.table(b).changes(include_positions=True, include_states=True).run(c)
    start = ready(feed)
    # Row 1's function reads a table without a database: the ``db`` optarg is evaluated
    # there, inserting into b. Row 2 then fails the filter (a string plus a number), which
    # fails the whole update: nothing of it, the insert into b included, is committed.
    query = (
        rr.db("test")
        .table(a)
        .filter(lambda row: row["n"].add(1).gt(0))
        .update(lambda row: {"c": rr.table(cc).count()}, non_atomic=True)
    )
    nested = rr.db("test").table(b).insert({"id": "nested"}).do(lambda _: "test")
    with pytest.raises(Exception, match="Expected type STRING but found NUMBER"):
        query.run(c, db=nested)
    assert r.table(b).count().run(conn) == 0
    assert r.table(a).order_by("id").run(conn) == [{"id": 1, "n": 1}, {"id": 2, "n": "x"}]
    r.table(b).insert({"id": "after"}).run(conn)
    docs = changes_until(feed, "after")
    assert strip(docs) == [{"new_val": {"id": "after"}, "old_val": None}]
    feed.close()
    # the aborted insert consumed no position: resuming from the start gives the same
    again = rr.table(b).changes(resume_from=start).run(c)
    got = again.next(wait=WAIT)
    assert got == docs[0]
    again.close()


def test_nested_write_of_a_committed_write_is_published_once(drv, names, conn):
    rr, c = drv
    a, b, cc = names
    r.table(a).insert([{"id": 1}, {"id": 2}]).run(conn)
    feed_a = rr.table(a).changes(include_positions=True, include_states=True).run(c)
    feed_b = rr.table(b).changes(include_positions=True, include_states=True).run(c)
    start_a, start_b = ready(feed_a), ready(feed_b)
    query = rr.db("test").table(a).update(lambda row: {"c": rr.table(cc).count()}, non_atomic=True)
    nested = rr.db("test").table(b).insert({"id": "nested"}).do(lambda _: "test")
    assert query.run(c, db=nested)["replaced"] == 2
    r.table(b).insert({"id": "after"}).run(conn)
    docs_b = changes_until(feed_b, "after")
    assert strip(docs_b) == [
        {"new_val": {"id": "nested"}, "old_val": None},
        {"new_val": {"id": "after"}, "old_val": None},
    ]
    assert len({d["position"] for d in docs_b}) == 2
    docs_a = [feed_a.next(wait=WAIT) for _ in range(2)]
    before = {1: {"id": 1}, 2: {"id": 2}}
    assert replay(docs_a, before) == {1: {"id": 1, "c": 0}, 2: {"id": 2, "c": 0}}
    for feed, start, docs in ((feed_a, start_a, docs_a), (feed_b, start_b, docs_b)):
        feed.close()
        again = rr.table(feed is feed_a and a or b).changes(resume_from=start).run(c)
        assert [again.next(wait=WAIT) for _ in docs] == docs
        again.close()


def test_nested_write_to_the_same_table_keeps_row_order(drv, names, conn):
    rr, c = drv
    a, _, cc = names
    r.table(a).insert([{"id": 1}, {"id": 2}]).run(conn)
    feed = rr.table(a).changes(include_positions=True, include_states=True).run(c)
    start = ready(feed)
    # Row 1 is written first; row 2's function evaluates ``db``, whose write changes row 1
    # again; then row 2 is written. Row 1's two changes must come in that order.
    query = (
        rr.db("test")
        .table(a)
        .update(
            lambda row: {"m": row["id"], "c": rr.branch(row["id"].eq(2), rr.table(cc).count(), 0)},
            non_atomic=True,
        )
    )
    nested = rr.db("test").table(a).get(1).update({"n": 5}).do(lambda _: "test")
    assert query.run(c, db=nested)["replaced"] == 2
    table = {row["id"]: row for row in r.table(a).run(conn)}
    assert table == {1: {"id": 1, "m": 1, "c": 0, "n": 5}, 2: {"id": 2, "m": 2, "c": 0}}
    docs = [feed.next(wait=WAIT) for _ in range(3)]
    assert replay(docs, {1: {"id": 1}, 2: {"id": 2}}) == table
    assert len({d["position"] for d in docs}) == 3
    feed.close()
    again = rr.table(a).changes(resume_from=start).run(c)
    assert [again.next(wait=WAIT) for _ in docs] == docs
    again.close()


def test_nested_write_that_fails_leaves_nothing(drv, names, conn):
    rr, c = drv
    a, b, cc = names
    r.table(a).insert([{"id": 1}, {"id": 2}]).run(conn)
    r.table(b).insert([{"id": 1, "n": 1}, {"id": 2, "n": "x"}]).run(conn)
    feed = rr.table(b).changes(include_states=True).run(c)
    assert feed.next(wait=WAIT) == {"state": "ready"}
    # The nested update writes row 1 of b, then its selection fails on row 2: it writes
    # nothing (as at top level: RethinkDB reads a batch of the selection before writing
    # it), and each row of the outer update fails with its error.
    nested_update = rr.db("test").table(b).filter(lambda row: row["n"].add(1).gt(0))
    nested = nested_update.update({"u": True}).do(lambda _: "test")
    query = rr.db("test").table(a).update(lambda row: {"c": rr.table(cc).count()}, non_atomic=True)
    result = query.run(c, db=nested)
    assert result["errors"] == 2 and "Expected type STRING" in result["first_error"]
    unchanged = [{"id": 1, "n": 1}, {"id": 2, "n": "x"}]
    assert r.table(b).order_by("id").run(conn) == unchanged
    with pytest.raises(Exception, match="Expected type STRING"):
        nested_update.update({"u": True}).run(c)  # the same update at top level
    assert r.table(b).order_by("id").run(conn) == unchanged
    r.table(b).insert({"id": "after"}).run(conn)
    assert changes_until(feed, "after") == [{"new_val": {"id": "after"}, "old_val": None}]
    feed.close()


def test_batch_with_failing_documents(drv, names, conn):
    rr, c = drv
    a = names[0]
    r.table(a).insert({"id": 1, "v": "old"}).run(conn)
    feed = rr.table(a).changes(include_positions=True, include_states=True).run(c)
    start = ready(feed)
    docs = [{"id": 1, "v": "dup"}, {"id": 2}, {"v": "no id", "id": None}, {"id": 3}]
    result = rr.table(a).insert(docs, return_changes=True).run(c)
    assert result["inserted"] == 2 and result["errors"] == 2
    got = [feed.next(wait=WAIT) for _ in range(2)]
    assert strip(got) == [{"new_val": {"id": 2}, "old_val": None},
                          {"new_val": {"id": 3}, "old_val": None}]  # fmt: skip
    # return_changes lists what was committed, as the feed does
    committed = [ch for ch in result["changes"] if "error" not in ch]
    assert committed == strip(got)
    feed.close()
    again = rr.table(a).changes(resume_from=start).run(c)
    assert [again.next(wait=WAIT) for _ in got] == got
    again.close()
    # a batch failing as a whole (its stream argument) commits nothing and numbers nothing
    stream = rr.range(10, 13).map(lambda i: rr.branch(i.eq(12), rr.error("stop"), {"id": i}))
    with pytest.raises(Exception, match="stop"):
        rr.table(a).insert(stream).run(c)
    r.table(a).insert({"id": "after"}).run(conn)
    again = rr.table(a).changes(resume_from=got[-1]["position"]).run(c)
    assert strip([again.next(wait=WAIT)]) == [{"new_val": {"id": "after"}, "old_val": None}]
    again.close()


def test_write_hook_rows_and_failures(drv, names, conn):
    rr, c = drv
    a = names[0]
    # The hook stamps each row and refuses row 2; the others are committed, as stamped.
    r.table(a).set_write_hook(
        lambda ctx, old, new: r.branch(
            new["id"].eq(2), r.error("refused"), new.merge({"hooked": True})
        )
    ).run(conn)
    feed = rr.table(a).changes(include_positions=True, include_states=True).run(c)
    start = ready(feed)
    result = rr.table(a).insert([{"id": 1}, {"id": 2}, {"id": 3}]).run(c)
    assert result["inserted"] == 2 and result["errors"] == 1
    got = [feed.next(wait=WAIT) for _ in range(2)]
    assert replay(got) == {row["id"]: row for row in r.table(a).run(conn)}
    assert all(d["new_val"]["hooked"] for d in got)
    feed.close()
    again = rr.table(a).changes(resume_from=start).run(c)
    assert [again.next(wait=WAIT) for _ in got] == got
    again.close()


def test_soft_deletes(drv, names, conn):
    rr, c = drv
    a = names[0]
    r.table(a).insert([{"id": i} for i in range(4)]).run(conn)
    feed = rr.table(a).changes(include_positions=True, include_states=True).run(c)
    start = ready(feed)
    assert rr.table(a).filter(rr.row["id"] < 3).delete(durability="soft").run(c)["deleted"] == 3
    rr.table(a).get(3).delete().run(c, durability="soft")
    got = [feed.next(wait=WAIT) for _ in range(4)]
    assert strip(got) == [{"new_val": None, "old_val": {"id": i}} for i in range(4)]
    assert len({d["position"] for d in got}) == 4
    feed.close()
    again = rr.table(a).changes(resume_from=start).run(c)
    assert [again.next(wait=WAIT) for _ in got] == got
    again.close()
