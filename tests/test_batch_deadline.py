"""A stream batch goes out by its ``max_batch_seconds`` deadline even when no row has come out
yet (a sparse filter over a big table), and the stream goes on where it was cut at CONTINUE.

No absolute timings: each test measures the full scan itself and compares.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import struct
import time

import pytest

from engine_harness import wire
from rethought.proto.ql2 import Protocol, QueryType, ResponseType, Version
from rethought.server.runtime import suspend
from rethought.server.wire.net_responses import BatchSpec
from rethought.server.wire.stream_batches import StreamBatches

ROWS = 60_000
LAST = ROWS - 1


@pytest.fixture(scope="module")
def big(server):
    """A table of ROWS rows ``{id, x}``, filled once for the module."""
    import rethinkdb

    r = rethinkdb.r
    name = "batch_deadline_big"
    with r.connect(host=server.host, port=server.port) as c:
        if name not in r.table_list().run(c):
            r.table_create(name).run(c)
            for lo in range(0, ROWS, 10_000):
                r.table(name).insert(r.range(lo, lo + 10_000).map(lambda i: {"id": i, "x": i})).run(
                    c
                )
    return name


def _sparse(r, table: str):
    return r.table(table).filter(lambda d: d["x"] == LAST)


def _scan_seconds(r, conn, table: str) -> float:
    """How long the sparse filter's whole scan takes (as one atom: no batching involved)."""
    started = time.perf_counter()
    assert _sparse(r, table).count().run(conn) == 1
    return time.perf_counter() - started


def test_first_batch_arrives_before_scan_ends_our_driver(conn, big):
    from rethought import r

    scan = _scan_seconds(r, conn, big)
    started = time.perf_counter()
    cursor = _sparse(r, big).run(conn, max_batch_seconds=0.01)
    first = time.perf_counter() - started
    assert list(cursor) == [{"id": LAST, "x": LAST}]
    total = time.perf_counter() - started
    assert first < scan / 3, (first, scan)
    assert first < total / 3, (first, total)


def test_first_batch_arrives_before_scan_ends_official_driver(official_r, official_conn, big):
    r = official_r
    scan = _scan_seconds(r, official_conn, big)
    started = time.perf_counter()
    cursor = _sparse(r, big).run(official_conn, max_batch_seconds=0.01)
    first = time.perf_counter() - started
    assert list(cursor) == [{"id": LAST, "x": LAST}]
    assert first < scan / 3, (first, scan)


class _Wire:
    """The bare protocol (V0_4 handshake, JSON), to see each batch as the server sends it."""

    def __init__(self, server) -> None:
        self.sock = socket.create_connection((server.host, server.port))
        self.sock.settimeout(30)
        self.sock.sendall(struct.pack("<IIi", Version.V0_4, 0, Protocol.JSON))
        reply = b""
        while not reply.endswith(b"\0"):
            reply += self._exactly(1)
        assert reply == b"SUCCESS\0"

    def send(self, token: int, query: list) -> None:
        payload = json.dumps(query).encode()
        self.sock.sendall(struct.pack("<qI", token, len(payload)) + payload)

    def read(self) -> dict:
        _token, size = struct.unpack("<qI", self._exactly(12))
        return json.loads(self._exactly(size))

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def test_empty_partial_batches_then_the_row(server, big, official_r):
    """On the wire: an empty SUCCESS_PARTIAL at the first deadline, then the row once found,
    with the stream's end; the CONTINUE resumed the same scan (nothing lost or repeated)."""
    w = _Wire(server)
    try:
        query = wire(_sparse(official_r, big))
        w.send(1, [QueryType.START, query, {"max_batch_seconds": 0.01}])
        replies = [w.read()]
        while replies[-1]["t"] == ResponseType.SUCCESS_PARTIAL:
            w.send(1, [QueryType.CONTINUE])
            replies.append(w.read())
    finally:
        w.close()
    # The first batch is cut empty; the next may not be (the official Python driver would
    # stop asking after two empty batches), so it waits for the row and ends the stream.
    assert replies == [
        {"t": ResponseType.SUCCESS_PARTIAL, "r": [], "n": []},
        {"t": ResponseType.SUCCESS_SEQUENCE, "r": [{"id": LAST, "x": LAST}], "n": []},
    ]


def test_stop_between_cut_batches(server, big, official_r):
    """STOP while the scan is suspended between batches ends it; the connection goes on."""
    w = _Wire(server)
    try:
        w.send(1, [QueryType.START, wire(_sparse(official_r, big)), {"max_batch_seconds": 0.02}])
        assert w.read()["t"] == ResponseType.SUCCESS_PARTIAL
        w.send(1, [QueryType.STOP])
        assert w.read() == {"t": ResponseType.SUCCESS_SEQUENCE, "r": [], "n": []}
        w.send(2, [QueryType.START, wire(official_r.expr(7)), {}])
        assert w.read()["r"] == [7]
    finally:
        w.close()


# -- the mechanism, without a server ----------------------------------------------------------


def _slow_rows(found: set[int], n: int, closed: list[bool]):
    """Rows 0..n-1 of which only those in ``found`` come out, ~1 ms of work each."""
    try:
        for i in range(n):
            until = time.perf_counter() + 0.001
            while time.perf_counter() < until:
                suspend.checkpoint()
            if i in found:
                yield i
    finally:
        closed.append(True)


def _drain(batches: StreamBatches) -> list[tuple[list[int], bool]]:
    async def go() -> list[tuple[list[int], bool]]:
        out = []
        while True:
            rows, done = await batches.next_batch()
            out.append(([json.loads(row) for row in rows], done))
            if done:
                return out

    return asyncio.run(go())


def test_cut_batches_lose_and_repeat_nothing():
    closed: list[bool] = []
    found = {0, 1, 2, 50, 51, 120, 199}
    spec = BatchSpec({"max_batch_seconds": 0.01})
    out = _drain(StreamBatches(_slow_rows(found, 200, closed), spec))
    assert [row for rows, _ in out for row in rows] == sorted(found)
    assert any(rows == [] for rows, _ in out)  # some batches were cut with nothing found
    for (before, _), (after, _) in itertools.pairwise(out):
        assert before or after  # never two empty batches in a row
    assert [done for _, done in out] == [False] * (len(out) - 1) + [True]
    assert closed == [True]


def test_row_limits_still_apply_with_cuts():
    closed: list[bool] = []
    spec = BatchSpec({"max_batch_rows": 2, "max_batch_seconds": 10})
    out = _drain(StreamBatches(_slow_rows(set(range(5)), 5, closed), spec))
    # The first batch is scaled down (to 1 row); one row ahead is read before a full batch
    # goes, so the batch holding 4 knows it is the last.
    assert out == [([0], False), ([1, 2], False), ([3, 4], True)]
    assert closed == [True]


def test_close_ends_a_cut_scan():
    closed: list[bool] = []
    batches = StreamBatches(_slow_rows({999}, 1000, closed), BatchSpec({"max_batch_seconds": 0.01}))

    async def go() -> tuple[list[bytes], bool]:
        first = await batches.next_batch()
        batches.close()
        return first

    assert asyncio.run(go()) == ([], False)
    assert closed == [True]  # the suspended generator was finalized, not left to the GC
