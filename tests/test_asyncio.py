"""The asyncio driver (``loop_type="asyncio"``) against a real `rethought serve`."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
import time

import pytest

from conftest import ServerProcess
from loop_harness import silent_listener
from rethought import r
from rethought.client import get_loop_type
from rethought.errors import (
    ReqlCursorEmpty,
    ReqlDriverError,
    ReqlOpFailedError,
    ReqlRuntimeError,
    ReqlTimeoutError,
)

# Every scenario runs on the standard loop and on uvloop (what uvicorn, hence FastAPI, picks
# when it is installed): the adapter must rely only on the public asyncio loop API.
LOOPS = {"asyncio": None}
if sys.platform != "win32":
    import uvloop

    LOOPS["uvloop"] = uvloop.new_event_loop
_loop_factory = None


@pytest.fixture(autouse=True, params=sorted(LOOPS))
def event_loop_kind(request):
    global _loop_factory
    _loop_factory = LOOPS[request.param]
    yield request.param
    _loop_factory = None


def run(scenario):
    with asyncio.Runner(loop_factory=_loop_factory) as runner:
        return runner.run(asyncio.wait_for(scenario(), 60))


def test_scenarios_run_on_the_loop_they_name(event_loop_kind):
    async def loop_module():
        return type(asyncio.get_running_loop()).__module__.split(".")[0]

    assert run(loop_module) == event_loop_kind


async def connect(server, **kwargs):
    return await r.connect(host=server.host, port=server.port, loop_type="asyncio", **kwargs)


def test_simple_use_and_cursor(server, table_name):
    async def scenario():
        async with await connect(server) as conn:
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
            cursor = await r.table(table_name).order_by(index="id").run(conn)
            assert [row async for row in cursor] == seen
            big = await r.range(5000).run(conn)
            assert [x async for x in big] == list(range(5000))

    run(scenario)
    assert get_loop_type() == "sync"  # loop_type= left the global choice alone


def test_errors_rethrown_with_carets(server):
    async def scenario():
        async with r.connect(host=server.host, port=server.port, loop_type="asyncio") as conn:
            with pytest.raises(ReqlOpFailedError) as info:
                await r.table("non_existent").run(conn)
            assert str(info.value) == (
                "Table `test.non_existent` does not exist in:\n"
                "r.table('non_existent')\n"
                "^^^^^^^^^^^^^^^^^^^^^^^"
            )
            try:
                await r.table("non_existent").run(conn)
            except r.ReqlRuntimeError:
                caught = True
            assert caught
            # An error after rows: the rows arrive first, then the error raises at the await.
            term = r.range(100000).map(lambda x: r.branch(x < 90000, x, r.error("boom")))
            cursor = await term.run(conn)
            rows = []
            with pytest.raises(ReqlRuntimeError, match="boom"):
                async for row in cursor:
                    rows.append(row)
            assert len(rows) > 0 and rows == list(range(len(rows)))
            assert await r.expr(1).run(conn) == 1  # still usable

    run(scenario)


def test_two_table_changefeeds(server, table_name):
    """Seed 000's ChangefeedNoticer, the asyncio way: feeds on a and b, 10 writes each."""
    tables = [table_name + "_a", table_name + "_b"]

    async def scenario():
        conn = await connect(server)
        for t in tables:
            await r.table_create(t).run(conn)
        seen: dict[str, list] = {t: [] for t in tables}
        ready = {t: asyncio.Event() for t in tables}

        async def print_feed(table):
            feed = await r.table(table).changes().run(conn)
            ready[table].set()
            while await feed.fetch_next():
                seen[table].append(await feed.next())

        async def table_write(table):
            for i in range(10):
                await r.table(table).insert({"id": i}).run(conn)

        feeds = [asyncio.create_task(print_feed(t)) for t in tables]
        await asyncio.gather(*(ready[t].wait() for t in tables))
        await asyncio.gather(*(table_write(t) for t in tables))
        deadline = time.monotonic() + 10
        while any(len(v) < 10 for v in seen.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for task in feeds:
            task.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
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
        results = await asyncio.gather(
            *(r.table(table_name).insert({"id": i}).run(conn) for i in range(50)),
            *(r.expr(i).mul(2).run(conn) for i in range(50)),
        )
        assert all(res["inserted"] == 1 for res in results[:50])
        assert results[50:] == [i * 2 for i in range(50)]
        for feed in feeds:
            ids = sorted([(await feed.next(wait=5))["new_val"]["id"] for _ in range(50)])
            assert ids == list(range(50))
            with pytest.raises(ReqlTimeoutError):
                await feed.next(wait=0.1)
            await feed.close()
        await conn.close()

    run(scenario)


def test_several_waiters_on_one_feed(server, table_name):
    """Three next() calls wait on one feed at once; one gives up early; the other two get the
    changes in the order they asked."""

    async def scenario():
        conn = await connect(server)
        await r.table_create(table_name).run(conn)
        feed = await r.table(table_name).changes().run(conn)
        first, impatient, second = feed.next(), feed.next(wait=0.05), feed.next()
        with pytest.raises(ReqlTimeoutError):
            await impatient
        await r.table(table_name).insert([{"id": 1}]).run(conn)
        await r.table(table_name).insert([{"id": 2}]).run(conn)
        got = [(await first)["new_val"]["id"], (await second)["new_val"]["id"]]
        assert got == [1, 2]
        assert await r.expr(1).run(conn) == 1  # the connection is unharmed
        await feed.close()
        await conn.close()

    run(scenario)


def test_cancellation_stops_the_query(server, table_name):
    async def scenario():
        conn = await connect(server)
        await r.table_create(table_name).run(conn)
        feed = await r.table(table_name).changes().run(conn)
        waiting = asyncio.create_task(feed.next())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0)
        assert feed.query.done and conn._core.pending == []
        # A slow query (minutes of server work, STOPped): cancel the task awaiting it; the token is
        # freed at once, the late answer is ignored and the connection stays usable.
        slow = asyncio.create_task(r.range(10**9).count().run(conn))
        await asyncio.sleep(0.1)
        slow.cancel()
        await asyncio.gather(slow, return_exceptions=True)
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
        waiting = [asyncio.create_task(feed.next()), asyncio.create_task(feed.fetch_next())]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        srv.stop(signal.SIGKILL)
        with pytest.raises(ReqlDriverError):
            await waiting[0]
        assert await waiting[1] is True  # as officially: True, so that next() raises
        with pytest.raises(ReqlDriverError):
            await feed.next()
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
        waiting = asyncio.create_task(feed.next())
        await asyncio.sleep(0.05)
        await conn.close(noreply_wait=False)
        with pytest.raises(ReqlDriverError):
            await waiting
        await conn.reconnect()
        await r.expr(1).run(conn, noreply=True)
        await conn.noreply_wait()
        assert (await conn.server())["name"]
        assert conn.repl() is conn
        assert await r.expr(2).run() == 2
        await conn.close()

    try:
        run(scenario)
    finally:
        from rethought.client import set_repl_connection

        set_repl_connection(None)


def test_connect_errors():
    with silent_listener() as silent:
        port = silent.getsockname()[1]

        async def scenario():
            with pytest.raises(ReqlTimeoutError, match="operation timed out"):
                await r.connect(host="127.0.0.1", port=port, timeout=0.3, loop_type="asyncio")
            silent.close()
            with pytest.raises(ReqlDriverError, match="Could not connect"):
                await r.connect(host="127.0.0.1", port=port, loop_type="asyncio")

        run(scenario)


def test_set_loop_type_and_mixing_loop_types(server, conn):
    """``set_loop_type`` switches r.connect; ``loop_type=`` mixes loops in one process."""
    r.set_loop_type("asyncio")
    try:

        async def scenario():
            aconn = await r.connect(host=server.host, port=server.port)
            assert await r.expr([1, 2]).run(aconn) == [1, 2]
            assert r.expr(3).run(conn) == 3  # a blocking connection, same process
            await aconn.close()

        run(scenario)
    finally:
        r.set_loop_type(None)
    assert trio_result(server) == 4


def trio_result(server):
    trio = pytest.importorskip("trio")

    async def scenario():
        async with r.connect(host=server.host, port=server.port, loop_type="trio") as tconn:
            return await r.expr(4).run(tconn)

    return trio.run(scenario)


def _never_awaited(warnings_seen) -> list:
    return [w for w in warnings_seen if "never awaited" in str(w.message)]


def test_fire_and_forget_takes_effect_at_call_time(server, table_name, official_r, recwarn):
    """A noreply run() and a close() dropped inside a plain callback: the bytes go out when
    called, nothing warns, and the results are still awaitable (and create_task-able)."""

    async def scenario():
        loop = asyncio.get_running_loop()
        conn = await connect(server)
        await r.table_create(table_name).run(conn)
        loop.call_soon(lambda: r.table(table_name).insert({"id": 1}).run(conn, noreply=True))
        await asyncio.sleep(0)  # the callback ran; nobody awaits its result
        await conn.noreply_wait()
        assert await r.table(table_name).count().run(conn) == 1
        pending = r.table(table_name).insert({"id": 2}).run(conn, noreply=True)
        assert await asyncio.create_task(pending) is None
        loop.call_soon(conn.close)  # noreply_wait=True: closes once the server confirms
        for _ in range(100):
            if not conn.is_open():
                break
            await asyncio.sleep(0.01)
        assert not conn.is_open()

    run(scenario)
    gc.collect()
    with official_r.connect(host=server.host, port=server.port) as c:
        assert official_r.table(table_name).count().run(c) == 2
    assert _never_awaited(recwarn) == []


def test_gathered_queries_and_noreply_writes_before_close(server, table_name):
    """100 results gathered as futures come back matched by token; noreply writes issued
    right before ``close(noreply_wait=False)`` still reach the server."""

    async def scenario():
        async with await connect(server) as conn:
            await r.table_create(table_name).run(conn)
            await r.table(table_name).insert([{"id": i} for i in range(100)]).run(conn)
            pending = [r.table(table_name).get(i).run(conn) for i in range(100)]
            assert all(isinstance(p, asyncio.Future) for p in pending)
            assert await asyncio.gather(*pending) == [{"id": i} for i in range(100)]
            for i in range(100, 110):
                r.table(table_name).insert({"id": i}).run(conn, noreply=True)
            await conn.close(noreply_wait=False)
        async with await connect(server) as check:
            for _ in range(200):
                if await r.table(table_name).count().run(check) == 110:
                    break
                await asyncio.sleep(0.01)
            assert await r.table(table_name).count().run(check) == 110

    run(scenario)
