"""The trio driver (``loop_type="trio"``) against a real `rethought serve`."""

from __future__ import annotations

import signal
import time

import pytest

trio = pytest.importorskip("trio")

from conftest import ServerProcess  # noqa: E402
from loop_harness import silent_listener  # noqa: E402
from rethought import r  # noqa: E402
from rethought.errors import (  # noqa: E402
    ReqlCursorEmpty,
    ReqlDriverError,
    ReqlOpFailedError,
    ReqlRuntimeError,
    ReqlTimeoutError,
)


def run(scenario):
    async def bounded():
        with trio.fail_after(60):
            await scenario()

    trio.run(bounded)


async def connect(server, **kwargs):
    return await r.connect(host=server.host, port=server.port, loop_type="trio", **kwargs)


def test_simple_use_and_cursor(server, table_name):
    async def scenario():
        async with r.connect(host=server.host, port=server.port, loop_type="trio") as conn:
            await r.table_create(table_name).run(conn)
            await r.table(table_name).insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(conn)
            assert await r.table(table_name).get(0).run(conn) == {"id": 0}
            cursor = await r.table(table_name).order_by(index="id").run(conn)
            seen = []
            while await cursor.fetch_next():
                seen.append(await cursor.next())
            assert seen == [{"id": 0}, {"id": 1}, {"id": 2}]
            with pytest.raises(ReqlCursorEmpty):
                await cursor.next()
            async with await r.range(5000).run(conn) as big:
                assert [x async for x in big] == list(range(5000))

    run(scenario)


def test_errors_rethrown_with_carets(server):
    async def scenario():
        conn = await connect(server)
        with pytest.raises(ReqlOpFailedError) as info:
            await r.table("non_existent").run(conn)
        assert str(info.value) == (
            "Table `test.non_existent` does not exist in:\n"
            "r.table('non_existent')\n"
            "^^^^^^^^^^^^^^^^^^^^^^^"
        )
        with pytest.raises(r.ReqlRuntimeError):
            await r.table("non_existent").run(conn)
        term = r.range(100000).map(lambda x: r.branch(x < 90000, x, r.error("boom")))
        rows = []
        with pytest.raises(ReqlRuntimeError, match="boom"):
            async for row in await term.run(conn):
                rows.append(row)
        assert len(rows) > 0 and rows == list(range(len(rows)))
        assert await r.expr(1).run(conn) == 1
        await conn.close()

    run(scenario)


def test_two_table_changefeeds(server, table_name):
    """Seed 000's ChangefeedNoticer on trio: feeds on a and b, 10 writes each, then cancel."""
    tables = [table_name + "_a", table_name + "_b"]

    async def scenario():
        conn = await connect(server)
        for t in tables:
            await r.table_create(t).run(conn)
        seen: dict[str, list] = {t: [] for t in tables}

        async def print_feed(table, task_status=trio.TASK_STATUS_IGNORED):
            feed = await r.table(table).changes().run(conn)
            task_status.started()
            while await feed.fetch_next():
                seen[table].append(await feed.next())

        async def table_write(table):
            for i in range(10):
                await r.table(table).insert({"id": i}).run(conn)

        async with trio.open_nursery() as feeds:
            for t in tables:
                await feeds.start(print_feed, t)
            async with trio.open_nursery() as writers:
                for t in tables:
                    writers.start_soon(table_write, t)
            with trio.move_on_after(10):
                while any(len(v) < 10 for v in seen.values()):
                    await trio.sleep(0.01)
            feeds.cancel_scope.cancel()
        for t in tables:
            assert seen[t] == [{"old_val": None, "new_val": {"id": i}} for i in range(10)]
        assert conn._core.pending == []  # cancelling the feeds freed their tokens
        assert await r.table(tables[0]).count().run(conn) == 10
        await conn.close()

    run(scenario)


def test_many_queries_and_feeds_share_a_connection(server, table_name):
    async def scenario():
        conn = await connect(server)
        await r.table_create(table_name).run(conn)
        feeds = [await r.table(table_name).changes().run(conn) for _ in range(2)]
        results: dict[int, object] = {}

        async def one(i):
            if i < 50:
                results[i] = (await r.table(table_name).insert({"id": i}).run(conn))["inserted"]
            else:
                results[i] = await r.expr(i).mul(2).run(conn)

        async with trio.open_nursery() as nursery:
            for i in range(100):
                nursery.start_soon(one, i)
        assert [results[i] for i in range(100)] == [1] * 50 + [i * 2 for i in range(50, 100)]
        for feed in feeds:
            ids = sorted([(await feed.next(wait=5))["new_val"]["id"] for _ in range(50)])
            assert ids == list(range(50))
            with pytest.raises(ReqlTimeoutError):
                await feed.next(wait=0.1)
            await feed.close()
        await conn.close()

    run(scenario)


def test_write_while_another_task_is_blocked_reading_is_sent(server, conn, test_table):
    # A noreply query is written and not awaited; the only task reading is waiting on an
    # idle feed. The bytes must reach the server without any later read (a resumed feed
    # after a reconnect and a heartbeat ping are written the same way).
    async def scenario():
        c = await connect(server)
        feed = await test_table.changes().run(c)
        async with trio.open_nursery() as nursery:

            async def wait_on_the_feed():
                await feed.next()

            nursery.start_soon(wait_on_the_feed)
            await trio.sleep(0.1)  # it is now blocked in receive_some
            await test_table.insert({"id": 1}).run(c, noreply=True)
            with trio.move_on_after(5):
                while test_table.count().run(conn) == 0:
                    await trio.sleep(0.02)
            assert test_table.count().run(conn) == 1  # seen through another connection
            nursery.cancel_scope.cancel()
        await c.close()

    run(scenario)


def test_cancellation_stops_the_query(server, table_name):
    async def scenario():
        conn = await connect(server)
        await r.table_create(table_name).run(conn)
        feed = await r.table(table_name).changes().run(conn)
        with trio.move_on_after(0.05):
            await feed.next()
        assert feed.query.done and conn._core.pending == []
        # A slow query (minutes of server work, STOPped): leave its cancel scope; the connection stays
        # usable and the late answer is ignored.
        with trio.move_on_after(0.1):
            await r.range(10**9).count().run(conn)
        assert conn._core.pending == []
        assert (await r.table(table_name).insert({"id": 1}).run(conn))["inserted"] == 1
        with pytest.raises(ReqlTimeoutError):
            await r.range(10**9).count().run(conn, timeout=0.2)
        assert await r.expr("ok").run(conn) == "ok"
        await conn.close()

    run(scenario)


def test_connection_loss_fails_pending_queries(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()

    async def scenario():
        conn = await connect(srv)
        await r.table_create("lost").run(conn)
        feed = await r.table("lost").changes().run(conn)
        failures = []

        async def wait_next():
            try:
                await feed.next()
            except ReqlDriverError as exc:
                failures.append(exc)

        async def kill():
            await trio.sleep(0.05)
            await trio.to_thread.run_sync(srv.stop, signal.SIGKILL)

        started = time.monotonic()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_next)
            nursery.start_soon(wait_next)
            nursery.start_soon(kill)
        assert len(failures) == 2
        assert time.monotonic() - started < 5
        with pytest.raises(ReqlDriverError):
            await r.expr(1).run(conn)
        assert not conn.is_open()

    try:
        run(scenario)
    finally:
        srv.stop()


def test_close_fails_pending_and_reconnect(server):
    async def scenario():
        conn = await connect(server, db="rethinkdb")
        assert "server_status" in await r.table_list().run(conn)
        conn.use("test")
        assert "server_status" not in await r.table_list().run(conn)
        feed = await r.db("rethinkdb").table("server_status").changes().run(conn)
        failures = []

        async def wait_next():
            try:
                await feed.next()
            except ReqlDriverError as exc:
                failures.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait_next)
            await trio.sleep(0.05)
            await conn.close(noreply_wait=False)
        assert len(failures) == 1
        await conn.reconnect()
        await r.expr(1).run(conn, noreply=True)
        await conn.noreply_wait()
        assert (await conn.server())["name"]
        await conn.close()

    run(scenario)


def test_connect_timeout():
    with silent_listener() as silent:
        port = silent.getsockname()[1]

        async def scenario():
            with pytest.raises(ReqlTimeoutError, match="operation timed out"):
                await r.connect(host="127.0.0.1", port=port, timeout=0.3, loop_type="trio")

        run(scenario)


def test_handlers_without_a_nursery_run_in_a_system_task(server, table_name, caplog):
    """No nursery given: a system task pumps; a callback's error is logged and kept on
    the handle. Awaited queries share the connection with the pump meanwhile."""
    from rethought.client.handler import Handler

    class Collect(Handler):
        def __init__(self, fail_at=None):
            self.rows = []
            self.fail_at = fail_at

        def on_val(self, val):
            self.rows.append(val)
            if len(self.rows) == self.fail_at:
                raise ValueError("third row")

    async def scenario():
        conn = await connect(server)
        await r.table_create(table_name).run(conn)
        feed, broken = Collect(), Collect(fail_at=3)
        changes = r.table(table_name).changes().handle(conn, feed)
        failing = r.range(10).handle(conn, broken)
        for i in range(5):  # each insert is awaited while the pump reads for the feed
            await r.table(table_name).insert({"id": i}).run(conn)
        with trio.fail_after(10):
            while len(feed.rows) < 5 or not failing.closed:
                await trio.sleep(0.01)
        assert sorted(row["new_val"]["id"] for row in feed.rows) == list(range(5))
        assert broken.rows == [0, 1, 2] and isinstance(failing.error, ValueError)
        changes.close()
        with trio.fail_after(10):
            while conn._pumping:
                await trio.sleep(0.01)
        assert changes.closed and conn._core.pending == []
        await conn.close()

    run(scenario)
    assert any("third row" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)
