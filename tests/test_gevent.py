"""The gevent adapter against a real server: seed 000's scenarios written for gevent, the
proof that a waiting query blocks only its greenlet, killing a waiting greenlet, many
queries and feeds on one connection, and connection loss."""

from __future__ import annotations

import signal

import pytest

from conftest import ServerProcess
from loop_harness import NOT_EXISTENT, seed_program
from seeds.harness import seen_lines

gevent = pytest.importorskip("gevent")

from rethought import r  # noqa: E402
from rethought.client.loops import gevent_loop  # noqa: E402

run = seed_program


@pytest.fixture
def gconn(server):
    c = gevent_loop.connect(host=server.host, port=server.port)
    yield c
    c.close(noreply_wait=False)


def test_simple_use(run):
    assert run("gevent_simple_use.py").stdout == "{'id': 0}\n"


def test_using_a_cursor(run):
    assert run("gevent_cursor.py").stdout == "{'id': 0}\n{'id': 1}\n{'id': 2}\n"


def test_rethrown_and_caught_errors(run):
    assert run("gevent_errors.py").stdout == f"{NOT_EXISTENT}Saw error\n"


def test_notice_changes_two_feeds_then_kill(run):
    out = run("gevent_notice_changes.py").stdout
    expected = [{"old_val": None, "new_val": {"id": i}} for i in range(10)]
    assert seen_lines(out) == {"a": expected, "b": expected}
    assert out.endswith("open queries: 0\nticker kept running: True\n")


def test_a_waiting_query_blocks_only_its_greenlet(gconn, table_name):
    r.table_create(table_name).run(gconn)
    feed = r.table(table_name).changes().run(gconn)
    ticks = []

    def ticker():
        for i in range(20):
            ticks.append(i)
            gevent.sleep(0.005)
        r.table(table_name).insert({"id": 1}).run(gconn)

    other = gevent.spawn(ticker)
    change = feed.next()  # waits here while the ticker greenlet runs
    assert change == {"old_val": None, "new_val": {"id": 1}}
    assert len(ticks) == 20
    other.join()
    feed.close()
    r.table_drop(table_name).run(gconn)


def test_killing_a_waiting_greenlet_stops_its_query(gconn, table_name):
    r.table_create(table_name).run(gconn)
    feed = r.table(table_name).changes().run(gconn)
    waiter = gevent.spawn(feed.next)
    gevent.sleep(0.05)
    assert len(gconn._core.pending) == 1
    waiter.kill()
    assert gconn._core.pending == []
    with pytest.raises(r.ReqlCursorEmpty):
        feed.next()
    assert r.table(table_name).count().run(gconn) == 0  # the connection stays usable
    r.table_drop(table_name).run(gconn)


def test_next_with_a_timeout_and_iteration(gconn, table_name):
    r.table_create(table_name).run(gconn)
    feed = r.table(table_name).changes().run(gconn)
    with pytest.raises(r.ReqlTimeoutError):
        feed.next(wait=0.05)
    assert list(r.range(4).run(gconn)) == [0, 1, 2, 3]
    feed.close()
    r.table_drop(table_name).run(gconn)


def test_errors_are_raised_as_the_blocking_api_raises_them(gconn, conn):
    query = r.expr([1]).map(lambda x: x + "a")
    with pytest.raises(r.ReqlQueryLogicError) as blocking:
        query.run(conn)
    with pytest.raises(r.ReqlQueryLogicError) as ours:
        query.run(gconn)
    assert str(ours.value) == str(blocking.value)
    assert "^^^" in str(ours.value)


def test_many_queries_and_two_feeds_on_one_connection(gconn, table_name):
    r.table_create(table_name).run(gconn)
    feed_all = r.table(table_name).changes().run(gconn)
    feed_even = r.table(table_name).filter(r.row["id"] % 2 == 0).changes().run(gconn)

    def collect(feed, count):
        rows = [change["new_val"]["id"] for _, change in zip(range(count), feed, strict=False)]
        feed.close()
        return sorted(rows)

    feeds = [gevent.spawn(collect, feed_all, 50), gevent.spawn(collect, feed_even, 25)]
    inserts = [gevent.spawn(r.table(table_name).insert({"id": i}).run, gconn) for i in range(50)]
    reads = [gevent.spawn(r.expr(i).mul(2).run, gconn) for i in range(50)]
    gevent.joinall(inserts + reads + feeds, raise_error=True, timeout=30)
    assert all(g.value["inserted"] == 1 for g in inserts)
    assert [g.value for g in reads] == [2 * i for i in range(50)]
    assert [g.value for g in feeds] == [list(range(50)), list(range(0, 50, 2))]
    assert gconn._core.pending == []
    r.table_drop(table_name).run(gconn)


def test_connection_loss_fails_every_waiter(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        c = gevent_loop.connect(host=srv.host, port=srv.port)
        r.table_create("lost").run(c)
        feeds = [r.table("lost").changes().run(c) for _ in range(2)]
        waiters = [gevent.spawn(feed.next) for feed in feeds]
        gevent.sleep(0.05)
        srv.stop(signal.SIGKILL)  # abrupt: no goodbye from the server
        gevent.joinall(waiters, timeout=10)
        errors = [w.exception for w in waiters]
        with pytest.raises(r.ReqlDriverError) as after:
            r.expr(1).run(c)
        errors.append(after.value)
    finally:
        srv.stop()
    assert [type(e).__name__ for e in errors] == ["ReqlDriverError"] * 3
    assert all(str(e).startswith("Connection is closed.") for e in errors)
    assert not c.is_open()
