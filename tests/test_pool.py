"""r.pool(...) against a real server behind a proxy that counts connections (issue 15): the
size bound holds under 100 concurrent tasks, threads or greenlets, waiters are served first
come first served, broken or dead connections are replaced (health checks), and a closed pool
says so."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from reconnect_proxy import wait_until
from rethought import r
from rethought.client.pool import AsyncPool, BlockingPool
from rethought.errors import ReqlDriverError, ReqlTimeoutError


def test_blocking_pool_bound_under_100_threads(proxy):
    pool = r.pool(host=proxy.host, port=proxy.port, size=4)
    assert isinstance(pool, BlockingPool)
    in_use = []
    peak = [0]
    lock = threading.Lock()

    def work(n: int) -> None:
        with pool.connection() as conn:
            with lock:
                in_use.append(conn)
                peak[0] = max(peak[0], len(set(map(id, in_use))))
            assert r.expr(n).run(conn) == n
            time.sleep(0.002)
            with lock:
                in_use.remove(conn)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] <= 4
    assert proxy.accepted <= 4  # the server saw at most `size` connections
    assert pool.stats() == {"size": 4, "open": proxy.accepted, "idle": proxy.accepted, "waiting": 0}
    pool.close()
    wait_until(lambda: proxy.open_connections == 0)
    with pytest.raises(ReqlDriverError, match="The connection pool is closed"):
        pool.acquire()


def test_blocking_pool_is_first_come_first_served(proxy):
    pool = r.pool(host=proxy.host, port=proxy.port, size=1)
    held = pool.acquire()
    order: list[int] = []

    def wait_in_line(n: int) -> None:
        with pool.connection():
            order.append(n)

    threads = []
    for n in range(10):
        t = threading.Thread(target=wait_in_line, args=(n,))
        t.start()
        threads.append(t)
        wait_until(lambda n=n: pool.stats()["waiting"] == n + 1)  # in line, in this order
    pool.release(held)
    for t in threads:
        t.join()
    assert order == list(range(10))
    with pool.connection():
        with pytest.raises(ReqlTimeoutError, match="No connection of the pool"):
            pool.acquire(timeout=0.05)
    assert pool.stats()["waiting"] == 0  # the timed-out waiter left the line
    pool.close()


def test_blocking_pool_replaces_broken_and_dead_connections(proxy):
    pool = r.pool(host=proxy.host, port=proxy.port, size=2, check_idle=0.0)
    with pool.connection() as conn:
        first = conn
    proxy.cut()  # the idle connection is now dead, though nobody has noticed yet
    with pool.connection() as conn:  # pinged before being handed out: replaced
        assert conn is not first
        assert r.expr("fresh").run(conn) == "fresh"
    assert proxy.accepted == 2
    conn = pool.acquire()
    conn.close()
    pool.release(conn)  # given back closed: dropped, its slot opens a new one
    assert pool.stats()["open"] == 0
    with pool.connection() as conn:
        assert r.expr(1).run(conn) == 1
    pool.close()


def test_a_failed_open_gives_the_slot_to_the_next_in_line(proxy):
    pool = r.pool(host=proxy.host, port=proxy.port, size=1, timeout=2)
    proxy.refuse = True  # accepted, then closed at once
    with pytest.raises(ReqlDriverError, match="Connection (is closed|interrupted)"):
        pool.acquire()
    assert pool.stats()["open"] == 0
    proxy.refuse = False
    with pool.connection() as conn:
        assert r.expr(1).run(conn) == 1
    pool.close()


def test_asyncio_pool_100_tasks_fifo(proxy):
    async def main():
        pool = r.pool(host=proxy.host, port=proxy.port, size=5, loop_type="asyncio")
        assert isinstance(pool, AsyncPool)

        async def work(n: int) -> int:
            async with pool.connection() as conn:
                return await r.expr(n).run(conn)

        assert await asyncio.gather(*(work(n) for n in range(100))) == list(range(100))
        assert proxy.accepted <= 5
        # First come, first served.
        held = [await pool.acquire() for _ in range(5)]
        order: list[int] = []

        async def in_line(n: int) -> None:
            async with pool.connection():
                order.append(n)

        tasks = []
        for n in range(10):
            tasks.append(asyncio.ensure_future(in_line(n)))
            await asyncio.sleep(0)
        assert pool.stats()["waiting"] == 10
        # A cancelled waiter leaves the line without taking a connection.
        tasks[3].cancel()
        for conn in held:
            pool.release(conn)
        await asyncio.gather(*tasks, return_exceptions=True)
        assert order == [0, 1, 2, 4, 5, 6, 7, 8, 9]
        assert pool.stats()["waiting"] == 0 and pool.stats()["open"] <= 5
        await pool.close()
        with pytest.raises(ReqlDriverError, match="closed"):
            await pool.acquire()

    asyncio.run(main())


def test_trio_pool_100_tasks(proxy):
    import trio

    async def main():
        pool = r.pool(host=proxy.host, port=proxy.port, size=3, loop_type="trio")
        results = []

        async def work(n: int) -> None:
            async with pool.connection() as conn:
                results.append(await r.expr(n).run(conn))

        async with trio.open_nursery() as nursery:
            for n in range(100):
                nursery.start_soon(work, n)
        assert sorted(results) == list(range(100))
        assert proxy.accepted <= 3
        await pool.close()

    trio.run(main)


def test_gevent_pool_100_greenlets(proxy):
    pytest.importorskip("gevent")
    import gevent

    pool = r.pool(host=proxy.host, port=proxy.port, size=3, loop_type="gevent")

    def work(n: int) -> int:
        with pool.connection() as conn:
            return r.expr(n).run(conn)

    greenlets = [gevent.spawn(work, n) for n in range(100)]
    gevent.joinall(greenlets, timeout=30, raise_error=True)
    assert [g.value for g in greenlets] == list(range(100))
    assert proxy.accepted <= 3
    pool.close()


def test_tornado_pool(proxy):
    pytest.importorskip("tornado")

    async def main():
        pool = r.pool(host=proxy.host, port=proxy.port, size=2, loop_type="tornado")

        async def work(n: int) -> int:
            async with pool.connection() as conn:
                return await r.expr(n).run(conn)

        assert await asyncio.gather(*(work(n) for n in range(20))) == list(range(20))
        assert proxy.accepted <= 2
        await pool.close()

    asyncio.run(main())


def test_integrator_pool_30_callers(proxy):
    from rethought.client.pool import CallbackPool
    from test_integrator import SelectorLoop

    loop = SelectorLoop()
    pool = r.pool(host=proxy.host, port=proxy.port, size=2, loop=loop)
    assert isinstance(pool, CallbackPool)
    got: list[int] = []
    order: list[int] = []

    def use(n: int):
        def with_conn(conn):
            order.append(n)
            result = r.expr(n).run(conn)

            def answered(value):
                got.append(value)
                pool.release(conn)

            result.callback, result.errback = answered, loop.errors.append

        return with_conn

    for n in range(30):
        result = pool.acquire()
        result.callback, result.errback = use(n), loop.errors.append
    loop.run_until(lambda: len(got) == 30 or loop.errors)
    assert not loop.errors
    assert sorted(got) == list(range(30))
    # First come, first served: 0 and 1 open the two connections (either may be ready
    # first), the 28 others wait in line and are served in order.
    assert [n for n in order if n >= 2] == list(range(2, 30))
    assert proxy.accepted <= 2
    pool.close()
    closed = pool.acquire()
    failures: list = []
    closed.callback, closed.errback = got.append, failures.append
    loop.run_until(lambda: failures)
    assert "The connection pool is closed" in str(failures[0])


TWISTED_POOL = """
import sys
from twisted.internet import defer, reactor
from rethought import r

async def main():
    pool = r.pool(host=sys.argv[1], port=int(sys.argv[2]), size=2, loop_type="twisted")

    async def work(n):
        async with pool.connection() as conn:
            return await r.expr(n).run(conn)

    values = await defer.gatherResults([defer.ensureDeferred(work(n)) for n in range(20)])
    print(values == list(range(20)), pool.stats()["open"])
    await pool.close()

def run():
    d = defer.ensureDeferred(main())
    d.addErrback(lambda f: print("ERROR", f.getErrorMessage()))
    d.addBoth(lambda _: reactor.stop())

reactor.callWhenRunning(run)
reactor.run()
"""


def test_twisted_pool(proxy):
    import subprocess
    import sys

    pytest.importorskip("twisted")
    out = subprocess.run(
        [sys.executable, "-c", TWISTED_POOL, proxy.host, str(proxy.port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.split() == ["True", "2"], out.stdout + out.stderr
    assert proxy.accepted == 2
