"""Finished queries are freed by reference counting on every loop.

A query's objects (its promise, waiter, term tree, rows) must not sit in reference cycles once
it is done: the cyclic collector would then run every few hundred queries and scan the whole
heap, which cost the asyncio driver more CPU per query than all of its own code. Each test
runs point gets, cursor reads (to the end) and a burst of concurrent queries with the
collector off, then counts what only the collector could free.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from rethought import r

ROWS = 50


@pytest.fixture
def table(conn, table_name) -> str:
    r.table_create(table_name).run(conn)
    r.table(table_name).insert([{"id": i} for i in range(ROWS)]).run(conn)
    return table_name


def ours(objects: list) -> Counter:
    """The driver's own objects among ``objects`` (queries, waiters, promises, terms, cursors):
    other threads of the test process (a finished blocking test's reader, say) may leave
    their own garbage meanwhile, which says nothing about the driver."""
    return Counter(
        type(o).__qualname__ for o in objects if type(o).__module__.startswith("rethought")
    )


class Collector:
    """Collector off between ``start()`` and ``garbage()``, which names the driver's objects
    among the unreachable."""

    def start(self) -> None:
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)  # keep what it finds, to say what it was

    def garbage(self) -> Counter:
        try:
            gc.collect()
            return ours(gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    yield c
    gc.set_debug(0)
    gc.enable()


def check(unreachable: Counter) -> None:
    assert not unreachable, f"left to the cyclic collector: {unreachable.most_common(10)}"


async def awaitable_workload(conn, table: str, collector: Collector, gather: Callable) -> Counter:
    """asyncio, trio and tornado: the promises are awaitable."""
    t = r.table(table)
    for i in range(20):  # warm up: lazily created caches are not garbage
        await t.get(i).run(conn)
    collector.start()
    for i in range(300):
        assert await t.get(i % ROWS).run(conn) == {"id": i % ROWS}
    for _ in range(10):
        assert len([row async for row in await t.run(conn)]) == ROWS
    await gather([t.get(i).run(conn) for i in range(ROWS)])
    return collector.garbage()


def test_asyncio(server, table, collector):
    async def main():
        async with r.connect(host=server.host, port=server.port, loop_type="asyncio") as conn:
            return await awaitable_workload(conn, table, collector, lambda ps: asyncio.gather(*ps))

    check(asyncio.run(main()))


def test_tornado(server, table, collector):
    from tornado.ioloop import IOLoop

    async def main():
        conn = await r.connect(host=server.host, port=server.port, loop_type="tornado")
        try:
            return await awaitable_workload(conn, table, collector, lambda ps: asyncio.gather(*ps))
        finally:
            await conn.close()

    check(IOLoop.current().run_sync(main))


def test_trio(server, table, collector):
    import trio

    async def wait(promise):
        await promise

    async def gather(promises):
        async with trio.open_nursery() as nursery:
            for promise in promises:
                nursery.start_soon(wait, promise)

    async def main():
        async with r.connect(host=server.host, port=server.port, loop_type="trio") as conn:
            return await awaitable_workload(conn, table, collector, gather)

    check(trio.run(main))


def test_gevent(server, table, collector):
    import gevent

    conn = r.connect(host=server.host, port=server.port, loop_type="gevent")
    try:
        t = r.table(table)
        for i in range(20):
            t.get(i).run(conn)
        collector.start()
        for i in range(300):
            assert t.get(i % ROWS).run(conn) == {"id": i % ROWS}
        for _ in range(10):
            assert len(list(t.run(conn))) == ROWS
        jobs = [gevent.spawn(t.get(i).run, conn) for i in range(ROWS)]
        gevent.joinall(jobs, raise_error=True)
        check(collector.garbage())
    finally:
        conn.close()


# A reactor cannot restart and other tests run one: the Twisted case has its own interpreter.
TWISTED_PROGRAM = """
import gc, sys
from collections import Counter
from twisted.internet import defer, task
from rethought import r

host, port, table, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

@defer.inlineCallbacks
def main(_reactor):
    conn = yield r.connect(host=host, port=port, loop_type="twisted")
    t = r.table(table)
    for i in range(20):
        yield t.get(i).run(conn)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for i in range(300):
        row = yield t.get(i % rows).run(conn)
        assert row == {"id": i % rows}
    yield defer.gatherResults([t.get(i).run(conn) for i in range(rows)])
    gc.collect()
    print(dict(Counter(
        type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("rethought")
    )))
    yield conn.close()

task.react(main)
"""


def test_twisted(server, table):
    proc = subprocess.run(
        [sys.executable, "-c", TWISTED_PROGRAM, server.host, str(server.port), table, str(ROWS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    check(Counter(ast.literal_eval(proc.stdout.strip())))
