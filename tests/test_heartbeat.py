"""r.connect(heartbeat=seconds) against a real server behind a proxy that can stall (issue
15): a half-open connection (nothing forwarded any more, no FIN) is detected within two
intervals even with nobody reading, and then treated as a drop: pending queries fail, a
reconnect policy brings it back and resumable feeds go on. A busy or merely idle connection
is never dropped."""

from __future__ import annotations

import asyncio
import time

import pytest

from reconnect_proxy import wait_until
from rethought import r
from rethought.client.resume import heartbeat_action
from rethought.errors import ReqlDriverError, ReqlTimeoutError

HEARTBEAT = 0.2


def test_the_decision():
    assert heartbeat_action(received=5, seen=4, ping_pending=False) is None  # bytes came
    assert heartbeat_action(received=5, seen=4, ping_pending=True) is None
    assert heartbeat_action(received=5, seen=5, ping_pending=False) == "ping"  # silent
    assert heartbeat_action(received=5, seen=5, ping_pending=True) == "dead"  # still silent
    with pytest.raises(ReqlDriverError, match="heartbeat must be"):
        r.connect(port=1, heartbeat=-1)


def test_idle_connection_survives_and_pings(proxy):
    c = r.connect(host=proxy.host, port=proxy.port, heartbeat=HEARTBEAT)
    try:
        before = c._core.received
        time.sleep(HEARTBEAT * 6)  # idle: pings go out and come back, nobody else reads
        assert c.is_open()
        assert c._core.received > before  # the answers to the pings
        assert r.expr(1).run(c) == 1
    finally:
        c.close()


def test_blocking_half_open_is_detected_with_nobody_reading(proxy):
    c = r.connect(host=proxy.host, port=proxy.port, heartbeat=HEARTBEAT)
    proxy.stall()
    started = time.monotonic()
    wait_until(lambda: not c.is_open(), timeout=HEARTBEAT * 10)
    assert time.monotonic() - started <= HEARTBEAT * 3 + 2.0  # 2 intervals + slack
    with pytest.raises(ReqlDriverError, match="Connection is closed"):
        r.expr(1).run(c)


def test_blocking_half_open_under_a_waiting_query_reconnects(proxy, conn, test_table):
    c = r.connect(
        host=proxy.host, port=proxy.port, heartbeat=HEARTBEAT, reconnect=r.Reconnect(0.02, 0.1)
    )
    try:
        feed = test_table.changes().run(c)
        plain = test_table.changes().run(c, resumable=False)
        proxy.stall()
        with pytest.raises(ReqlDriverError, match="heartbeat"):
            plain.next(wait=HEARTBEAT * 10)  # waits in recv on a silent socket
        proxy.stall(False)  # the link is back: the reconnect goes through
        test_table.insert({"id": 1}).run(conn)
        assert feed.next(wait=10) == {"old_val": None, "new_val": {"id": 1}}
        assert c.reconnects == 1
    finally:
        c.close()


@pytest.mark.parametrize("loop_type", ["asyncio", "trio"])
def test_async_half_open_fails_waiters(proxy, loop_type):
    async def main():
        c = await r.connect(
            host=proxy.host, port=proxy.port, loop_type=loop_type, heartbeat=HEARTBEAT
        )
        assert await r.expr(1).run(c) == 1
        proxy.stall()
        started = time.monotonic()
        with pytest.raises(ReqlDriverError, match="heartbeat"):
            await r.expr(1).run(c)  # never answered through a stalled link
        assert time.monotonic() - started <= HEARTBEAT * 3 + 2.0  # 2 intervals + slack
        assert not c.is_open()

    if loop_type == "trio":
        import trio

        trio.run(main)
    else:
        asyncio.run(main())


def test_gevent_half_open_is_detected(proxy):
    pytest.importorskip("gevent")
    import gevent

    c = r.connect(host=proxy.host, port=proxy.port, loop_type="gevent", heartbeat=HEARTBEAT)
    proxy.stall()
    with gevent.Timeout(HEARTBEAT * 10):
        while c.is_open():
            gevent.sleep(0.01)
    with pytest.raises(ReqlDriverError):
        r.expr(1).run(c)


def test_blocking_ping_answered_after_other_traffic_then_idle(proxy, test_table):
    # A ping may be outstanding when other answers arrive and the caller stops reading; its
    # answer must still be read (by the heartbeat itself) before the next beat judges.
    c = r.connect(host=proxy.host, port=proxy.port, heartbeat=HEARTBEAT)
    try:
        feed = test_table.changes().run(c)
        for _ in range(4):
            with pytest.raises(ReqlTimeoutError):
                feed.next(wait=HEARTBEAT * 1.5)  # reading meanwhile; pings go and come
            assert r.expr(1).run(c) == 1
            time.sleep(HEARTBEAT * 3)  # nobody reading
            assert c.is_open()
    finally:
        c.close()
