"""r.connect(reconnect=...) against a real server behind a cuttable proxy (issue 15): queries
in flight fail with ReqlDriverError and are never retried, the connection comes back by
itself with backoff, queries sent while it is away fail at once saying so, and it gives up
after the policy's attempts. Blocking, asyncio, trio and gevent run here; every loop's
resumable feeds are tests/test_resumable_feeds_driver.py."""

from __future__ import annotations

import asyncio
import time

import pytest

from reconnect_proxy import wait_until
from rethought import r
from rethought.client.resume import Reconnect
from rethought.errors import ReqlDriverError, ReqlTimeoutError

FAST = {"initial": 0.02, "maximum": 0.1}


def test_policy_backoff_and_bounds():
    policy = Reconnect(initial=0.1, maximum=1.0, factor=2.0, attempts=6)
    assert [policy.delay(n) for n in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, None]
    assert Reconnect().delay(10**6) == 5.0  # no bound on attempts: the maximum forever
    jittered = Reconnect(initial=1.0, maximum=1.0, jitter=0.5)
    assert all(0.5 <= jittered.delay(0) <= 1.0 for _ in range(50))
    for bad in ({"initial": -1}, {"maximum": 0.01}, {"factor": 0.5}, {"attempts": 0}):
        with pytest.raises(ReqlDriverError):
            Reconnect(**bad)
    with pytest.raises(ReqlDriverError, match="reconnect must be"):
        r.connect(port=1, reconnect="yes")
    assert r.Reconnect(attempts=3).attempts == 3


def test_blocking_in_flight_fails_then_comes_back(proxy, conn, test_table):
    c = r.connect(host=proxy.host, port=proxy.port, reconnect=r.Reconnect(**FAST))
    try:
        plain = test_table.changes().run(c, resumable=False)  # in flight, not resumable
        proxy.refuse = True
        proxy.cut()
        with pytest.raises(ReqlDriverError, match="Connection"):
            plain.next(wait=5)
        wait_until(lambda: c.reconnecting)
        with pytest.raises(ReqlDriverError, match="reconnecting .*the query was not sent"):
            test_table.insert({"id": 1}).run(c)
        proxy.refuse = False
        wait_until(lambda: c.is_open())
        assert c.reconnects == 1
        # Nothing was retried behind our back: the insert above never ran.
        assert test_table.count().run(c) == 0
    finally:
        c.close()


def test_blocking_gives_up_after_its_attempts(proxy, test_table):
    c = r.connect(host=proxy.host, port=proxy.port, reconnect=r.Reconnect(0.01, 0.02, attempts=3))
    feed = test_table.changes().run(c)
    proxy.refuse = True
    proxy.cut()
    with pytest.raises(ReqlDriverError, match="Could not reconnect .* after 3 attempts"):
        feed.next(wait=10)
    assert not c.is_open() and not c.reconnecting
    with pytest.raises(ReqlDriverError, match="Connection is closed"):
        r.expr(1).run(c)


def test_close_while_reconnecting_stops_it(proxy, test_table):
    c = r.connect(host=proxy.host, port=proxy.port, reconnect=r.Reconnect(0.2, 0.2))
    feed = test_table.changes().run(c)
    proxy.cut()
    # A blocking connection notices a drop when a thread reads (or a heartbeat pings).
    with pytest.raises(ReqlTimeoutError):
        feed.next(wait=0.05)
    assert c.reconnecting
    c.close()
    with pytest.raises(ReqlDriverError, match="Connection is closed"):
        feed.next(wait=5)
    time.sleep(0.3)  # the pending attempt's time passed: nothing reopened
    assert not c.is_open() and proxy.open_connections == 0


def test_without_a_policy_a_drop_is_final(proxy):
    c = r.connect(host=proxy.host, port=proxy.port)
    proxy.cut()
    with pytest.raises(ReqlDriverError):
        r.expr(1).run(c)
    time.sleep(0.1)
    assert not c.is_open() and proxy.accepted == 1


def test_many_threads_share_one_connection_across_a_drop(proxy, conn, test_table):
    import threading

    c = r.connect(host=proxy.host, port=proxy.port, reconnect=r.Reconnect(**FAST))
    results: list = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(20):
            try:
                value = r.expr([n, i]).run(c)
            except ReqlDriverError:  # in flight at the cut, or sent while reconnecting
                value = None
            with lock:
                results.append(value)
            time.sleep(0.002)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.02)
    proxy.cut()
    for t in threads:
        t.join()
    try:
        assert len(results) == 160
        assert all(v is None or (type(v) is list and len(v) == 2) for v in results)
        assert any(v is not None for v in results)
        wait_until(c.is_open)
        assert r.expr("back").run(c) == "back"
    finally:
        c.close()


@pytest.mark.parametrize("loop_type", ["asyncio", "trio"])
def test_async_in_flight_fails_then_comes_back(proxy, conn, test_table, loop_type):
    async def main():
        c = await r.connect(
            host=proxy.host, port=proxy.port, loop_type=loop_type, reconnect=r.Reconnect(**FAST)
        )
        plain = await test_table.changes().run(c, resumable=False)
        resumable = await test_table.changes().run(c)
        proxy.cut()
        with pytest.raises(ReqlDriverError, match="Connection"):
            await plain.next()
        test_table.insert({"id": loop_type}).run(conn)
        row = await resumable.next()  # waits through the reconnect
        assert row == {"old_val": None, "new_val": {"id": loop_type}}
        assert c.reconnects == 1 and c.is_open()
        assert await r.expr(2).run(c) == 2
        await c.close()

    if loop_type == "trio":
        import trio

        async def bounded():
            with trio.fail_after(20):
                await main()

        trio.run(bounded)
    else:
        asyncio.run(asyncio.wait_for(main(), 20))


def test_gevent_in_flight_fails_then_comes_back(proxy, conn, test_table):
    pytest.importorskip("gevent")
    c = r.connect(
        host=proxy.host, port=proxy.port, loop_type="gevent", reconnect=r.Reconnect(**FAST)
    )
    try:
        plain = test_table.changes().run(c, resumable=False)
        resumable = test_table.changes().run(c)
        proxy.cut()
        with pytest.raises(ReqlDriverError, match="Connection"):
            plain.next()
        test_table.insert({"id": "g"}).run(conn)
        assert resumable.next(wait=10) == {"old_val": None, "new_val": {"id": "g"}}
        assert c.reconnects == 1
    finally:
        c.close()
