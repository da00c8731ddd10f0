"""The Tornado adapter against a real server: every Tornado program of seed 000, run with
only the import line (and the server address) changed, plus concurrency, cancellation and
connection loss on one connection."""

from __future__ import annotations

import asyncio
import gc
import signal

import pytest

from conftest import ServerProcess
from loop_harness import NOT_EXISTENT, seed_program
from seeds.harness import seen_lines

pytest.importorskip("tornado")

from tornado import gen  # noqa: E402
from tornado.concurrent import Future  # noqa: E402
from tornado.ioloop import IOLoop  # noqa: E402

from rethought import r  # noqa: E402
from rethought.client.loops import tornado_loop  # noqa: E402

run = seed_program


def test_simple_use(run):
    assert run("tornado_simple_use.py").stdout == "True\n{'id': 0}\n"


def test_using_a_cursor(run):
    assert run("tornado_cursor.py").stdout == "{'id': 0}\n{'id': 1}\n{'id': 2}\n"


def test_rethrown_and_caught_errors(run):
    assert run("tornado_errors.py").stdout == f"{NOT_EXISTENT}Saw error\n"


def test_background_feed_fails_when_the_connection_closes(run):
    proc = run("tornado_feed.py")
    lines = proc.stdout.splitlines()
    assert lines == [str({"new_val": {"id": 10 + i}, "old_val": None}) for i in range(3)]
    assert "ReqlDriverError: Connection is closed." in proc.stderr


def test_changefeed_noticer(run):
    out = run("tornado_noticer.py").stdout
    expected = [{"old_val": None, "new_val": {"id": i}} for i in range(10)]
    assert seen_lines(out) == {"a": expected, "b": expected}
    assert out.endswith("open queries: 0\n")  # the sentinel stopped both feeds


def _run(server, body):
    """Run ``body(conn)`` on a fresh asyncio loop (Tornado's IOLoop wraps it)."""

    async def main():
        conn = await tornado_loop.connect(host=server.host, port=server.port)
        try:
            return await body(conn)
        finally:
            await conn.close(noreply_wait=False)

    return asyncio.run(main())


def test_futures_are_tornado_futures(server):
    async def body(conn):
        query = r.expr(1).run(conn)
        assert isinstance(query, Future)
        assert await query == 1
        cursor = await r.range(3).run(conn)
        assert isinstance(cursor.fetch_next(), Future)
        return [row async for row in cursor]

    assert _run(server, body) == [0, 1, 2]


def test_many_queries_and_two_feeds_on_one_connection(server, table_name):
    async def collect(feed, count):
        rows = []
        while len(rows) < count and (await feed.fetch_next()):
            rows.append(await feed.next())
        await feed.close()
        return sorted(c["new_val"]["id"] for c in rows)

    async def body(conn):
        await r.table_create(table_name).run(conn)
        feed_all = await r.table(table_name).changes().run(conn)
        feed_even = await r.table(table_name).filter(r.row["id"] % 2 == 0).changes().run(conn)
        feeds = [collect(feed_all, 50), collect(feed_even, 25)]
        queries = [r.table(table_name).insert({"id": i}).run(conn) for i in range(50)]
        queries += [r.expr(i).mul(2).run(conn) for i in range(50)]
        results = await gen.multi(queries)
        assert all(res["inserted"] == 1 for res in results[:50])
        assert results[50:] == [2 * i for i in range(50)]
        seen = await gen.multi(feeds)
        await r.table_drop(table_name).run(conn)
        return seen, len(conn._core.pending)

    seen, pending = _run(server, body)
    assert seen == [list(range(50)), list(range(0, 50, 2))]
    assert pending == 0


def test_cancelling_or_settling_next_stops_the_feed(server, table_name):
    async def body(conn):
        await r.table_create(table_name).run(conn)
        feed = await r.table(table_name).changes().run(conn)
        waiting = feed.next()
        waiting.cancel()
        await asyncio.sleep(0.05)
        assert conn._core.pending == []
        feed = await r.table(table_name).changes().run(conn)
        waiting = feed.next()
        waiting.set_result("sentinel")
        await asyncio.sleep(0.05)
        assert conn._core.pending == []
        assert not await feed.fetch_next()  # the stopped feed is finished
        await r.table_drop(table_name).run(conn)

    _run(server, body)


def test_errors_are_raised_as_the_blocking_api_raises_them(server, conn):
    query = r.expr([1]).map(lambda x: x + "a")
    with pytest.raises(r.ReqlQueryLogicError) as blocking:
        query.run(conn)

    async def body(conn):
        with pytest.raises(r.ReqlQueryLogicError) as info:
            await query.run(conn)
        return str(info.value)

    assert _run(server, body) == str(blocking.value)
    assert "^^^" in str(blocking.value)


def test_connection_loss_fails_every_waiter(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()

    async def main():
        conn = await tornado_loop.connect(host=srv.host, port=srv.port)
        await r.table_create("lost").run(conn)
        feeds = [await r.table("lost").changes().run(conn) for _ in range(2)]
        waits = [feeds[0].next(), feeds[1].next()]
        await asyncio.sleep(0.05)
        srv.stop(signal.SIGKILL)  # abrupt: no goodbye from the server
        results = await asyncio.gather(*waits, return_exceptions=True)
        after = await asyncio.gather(r.expr(1).run(conn), return_exceptions=True)
        return results + after

    try:
        errors = asyncio.run(asyncio.wait_for(main(), 30))
    finally:
        srv.stop()
    assert [type(e).__name__ for e in errors] == ["ReqlDriverError"] * 3
    assert all(str(e).startswith("Connection is closed.") for e in errors)


def test_fire_and_forget_inside_a_callback(server, table_name, official_r, recwarn):
    async def body(conn):
        await r.table_create(table_name).run(conn)
        IOLoop.current().add_callback(
            lambda: r.table(table_name).insert({"id": 1}).run(conn, noreply=True)
        )
        await asyncio.sleep(0.01)
        await conn.noreply_wait()
        IOLoop.current().add_callback(conn.close)
        for _ in range(100):
            if not conn.is_open():
                break
            await asyncio.sleep(0.01)
        return conn.is_open()

    assert _run(server, body) is False
    gc.collect()
    with official_r.connect(host=server.host, port=server.port) as c:
        assert official_r.table(table_name).count().run(c) == 1
    assert [w for w in recwarn if "never awaited" in str(w.message)] == []
