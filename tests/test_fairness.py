"""Fairness: a long evaluation shares the server with other connections and can be stopped.

Each test starts its own ``rethought serve`` (a stuck server must not break other tests) and
drives it with the official driver; the long query runs on a helper thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import threading
import time

import pytest
import rethinkdb

from conftest import ServerProcess
from engine_harness import wire
from rethought.proto.ql2 import Protocol, QueryType, ResponseType, Version
from rethought.server.runtime import suspend

r = rethinkdb.r

LONG = r.range(10**8).count()  # seconds of evaluation (10**7 takes only ~0.3 s)
BIG = r.table("big")  # 3000 rows (the ``big`` fixture)
# Nine million rows through two nested table scans: finite (an infinite stream would fail
# at once), but far longer than any test waits.
ENDLESS = BIG.concat_map(lambda a: BIG.map(lambda b: a["id"] * 3000 + b["id"])).count()
# Seconds: a bound against hanging, for what normally takes milliseconds and, without the
# feature under test, takes the whole of a query far longer than this.
HANG_BOUND = 20


@pytest.fixture
def srv(tmp_path):
    server = ServerProcess(str(tmp_path / "data")).start()
    yield server
    server.stop()


@pytest.fixture
def big(srv):
    with connect(srv) as c:
        r.table_create("big").run(c)
        BIG.insert(r.range(3000).map(lambda i: {"id": i})).run(c)


def connect(server: ServerProcess):
    return r.connect(host=server.host, port=server.port)


def run_in_thread(fn) -> tuple[threading.Thread, dict]:
    box: dict = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except Exception as e:  # reported by the test
            box["error"] = e

    t = threading.Thread(target=work, daemon=True)
    t.start()
    return t, box


def wait_busy(seconds: float = 0.3) -> None:
    """Give the long query time to start evaluating."""
    time.sleep(seconds)


def test_other_connection_is_served_during_long_count(srv):
    """Needs ``r.range`` to be a ticking source (``suspend.Ticked``, in terms/generate.py)."""
    long_conn = connect(srv)
    t, box = run_in_thread(lambda: LONG.run(long_conn))
    wait_busy()
    with connect(srv) as c:  # the handshake itself needs the event loop
        assert r.expr(1).run(c) == 1
    # Ordering, not timing: without time slicing the answer would wait for the whole count.
    assert t.is_alive(), "answered only after the long count, or the count ended too soon"
    t.join(120)
    assert box == {"value": 10**8}
    long_conn.close()


def test_long_table_scan_shares_the_loop(srv, big):
    long_conn = connect(srv)
    # 3000 rows x 10**6 inner rows (minutes of work): the scan's checkpoints alone keep the
    # loop turning. (3000 x 3000 could end within wait_busy on a fast, idle machine.)
    query = r.table("big").concat_map(lambda row: r.range(10**6)).count()
    t, box = run_in_thread(lambda: query.run(long_conn))
    wait_busy()
    with connect(srv) as c:
        assert r.table("big").get(7).run(c) == {"id": 7}
    assert t.is_alive(), "answered only after the long scan"
    assert "value" not in box
    long_conn.close(noreply_wait=False)
    t.join(HANG_BOUND)
    assert not t.is_alive()


def test_closing_the_connection_stops_the_query(srv, big):
    long_conn = connect(srv)
    run_in_thread(lambda: ENDLESS.run(long_conn))
    wait_busy()
    assert busy_cpu(srv) > 0.3  # the count is running
    long_conn.close(noreply_wait=False)
    assert goes_idle(srv)  # and soon it is not (the count would run for a minute or more)


def goes_idle(server: ServerProcess, windows: int = 10) -> bool:
    """The server falls below a fifth of a CPU within ``windows`` half-second windows."""
    return any(busy_cpu(server) < 0.2 for _ in range(windows))


def busy_cpu(server: ServerProcess, seconds: float = 0.5) -> float:
    """The share of one CPU the server process used over ``seconds`` (Linux /proc)."""

    def ticks() -> int:
        with open(f"/proc/{server.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    before = ticks()
    time.sleep(seconds)
    return (ticks() - before) / os.sysconf("SC_CLK_TCK") / seconds


def test_cursor_close_stops_a_long_batch(srv, big):
    with connect(srv) as c:
        # One row a batch, and each batch looks one row ahead: the batch holding 9 searches
        # the nine million rows left for one after it.
        numbers = BIG.concat_map(lambda a: BIG.map(lambda b: a["id"] * 3000 + b["id"]))
        sparse = numbers.filter(lambda x: x.lt(10) | x.gt(10**9))
        cursor = sparse.run(c, max_batch_rows=1)
        assert [next(cursor) for _ in range(9)] == list(range(9))
        t, box = run_in_thread(lambda: next(cursor, None))  # this CONTINUE runs for long
        assert busy_cpu(srv) > 0.3
        started = time.monotonic()
        cursor.close()
        assert time.monotonic() - started < HANG_BOUND
        t.join(HANG_BOUND)
        assert not t.is_alive()
        assert goes_idle(srv)
        assert r.expr(2).run(c) == 2


def test_stop_of_a_running_start_answers_empty_sequence(srv, big):
    """STOP for a query still in its first evaluation: the START and the STOP both get an
    empty SUCCESS_SEQUENCE (RethinkDB's query_cache.cc). The drivers only STOP cursors, so
    this speaks the wire protocol (the V0_4 handshake: no password, JSON protocol)."""
    sock = socket.create_connection((srv.host, srv.port))
    sock.settimeout(10)
    sock.sendall(struct.pack("<IIi", Version.V0_4, 0, Protocol.JSON))
    assert _read_until_nul(sock) == b"SUCCESS"
    _send(sock, 1, [QueryType.START, _wire(ENDLESS), {}])
    time.sleep(0.3)
    started = time.monotonic()
    _send(sock, 1, [QueryType.STOP])
    replies = [_read_reply(sock), _read_reply(sock)]
    assert time.monotonic() - started < HANG_BOUND
    sock.close()
    assert replies == [(1, ResponseType.SUCCESS_SEQUENCE, [])] * 2


def _wire(q):
    return wire(q)


def _send(sock: socket.socket, token: int, query: list) -> None:
    payload = json.dumps(query).encode()
    sock.sendall(struct.pack("<qI", token, len(payload)) + payload)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def _read_until_nul(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\0"):
        data += _read_exactly(sock, 1)
    return data[:-1]


def _read_reply(sock: socket.socket) -> tuple[int, int, list]:
    token, size = struct.unpack("<qI", _read_exactly(sock, 12))
    body = json.loads(_read_exactly(sock, size))
    return token, body["t"], body["r"]


# -- the mechanism, without a server ----------------------------------------------------------


def test_ticking_is_lazy_and_complete():
    pulled = []

    def source():
        for i in range(5000):
            pulled.append(i)
            yield i

    it = suspend.ticking(source())
    assert next(it) == 0 and pulled == [0]  # no read-ahead
    assert list(it) == list(range(1, 5000))
    assert list(suspend.Ticked(range(3))) == list(suspend.Ticked(range(3))) == [0, 1, 2]


def test_checkpoint_switches_out_and_can_be_cancelled():
    async def main() -> tuple[int, bool]:
        turns = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal turns
            while not stop.is_set():
                turns += 1
                await asyncio.sleep(0)

        def spin() -> None:
            deadline = time.perf_counter() + 0.2
            while time.perf_counter() < deadline:
                suspend.checkpoint()

        bg = asyncio.ensure_future(ticker())
        await suspend.run_sync(spin)
        during = turns
        endless = asyncio.ensure_future(suspend.run_sync(lambda: [spin() for _ in iter(int, 1)]))
        await asyncio.sleep(0.05)
        endless.cancel()
        try:
            await endless
            cancelled = False
        except asyncio.CancelledError:
            cancelled = True
        stop.set()
        await bg
        return during, cancelled

    during, cancelled = asyncio.run(main())
    assert during >= 5  # 200 ms of work, sliced every ~15 ms
    assert cancelled


def test_no_switch_while_a_write_transaction_is_open():
    async def main() -> int:
        turns = 0

        async def ticker() -> None:
            nonlocal turns
            for _ in range(1000):
                turns += 1
                await asyncio.sleep(0)

        def spin_pinned() -> int:
            suspend.pin(True)
            try:
                deadline = time.perf_counter() + 0.1
                before = turns
                while time.perf_counter() < deadline:
                    suspend.checkpoint()
                return turns - before
            finally:
                suspend.pin(False)

        bg = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        seen = await suspend.run_sync(spin_pinned)
        bg.cancel()
        return seen

    assert asyncio.run(main()) == 0
