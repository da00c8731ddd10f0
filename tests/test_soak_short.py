"""A client that stops reading is dropped after a bounded time, and does not slow the others
(bench/soak.py is the long soak run; this is its CI slice)."""

from __future__ import annotations

import json
import socket
import struct
import time

from conftest import ServerProcess
from fuzz_harness import Conn, handshake


def test_client_that_stops_reading_is_dropped_without_slowing_others(tmp_path, monkeypatch):
    monkeypatch.setenv("RETHOUGHT_STALLED_CLIENT_SECONDS", "3")
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        stalled = socket.create_connection((srv.host, srv.port), timeout=30)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        handshake(stalled)
        # r.range(1e6).map(x => "x" * 200), 20 times: megabytes the client never reads.
        term = [38, [[173, [1_000_000]], [69, [[2, [1]], "x" * 200]]]]
        payload = json.dumps([1, term]).encode()
        stalled.sendall(b"".join(struct.pack("<qI", t, len(payload)) + payload
                                 for t in range(1, 21)))  # fmt: skip
        other = Conn(srv.host, srv.port)
        started = time.monotonic()
        while time.monotonic() - started < 5:
            t0 = time.monotonic()
            (resp,) = other.run([[1, [24, [1, 2]]]])
            assert resp == {"t": 1, "r": [3]}
            assert time.monotonic() - t0 < 5, "another client's query waited on the stalled one"
            time.sleep(0.25)
        other.close()
        # The server has dropped the stalled client: what is left to read ends in EOF/reset.
        got, closed = 0, False
        stalled.settimeout(10)
        try:
            while chunk := stalled.recv(1 << 20):
                got += len(chunk)
            closed = True
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            pass
        assert closed, f"still connected after {got} bytes"
        assert got < 64 << 20, f"{got} bytes were buffered for a client that did not read"
        stalled.close()
    finally:
        srv.stop()
    assert "it read nothing for 3 s" in srv.log()
    assert "Traceback" not in srv.log()


def test_many_open_cursors_do_not_exhaust_lmdb_readers(tmp_path, official_r):
    """Open cursors wait between batches inside their scans; each used to keep its ended
    read transaction alive, and with LMDB's 126 reader slots gone every read failed
    (MDB_READERS_FULL, found by bench/soak.py after 140 s of load)."""
    r = official_r
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        conn = r.connect(host=srv.host, port=srv.port)
        r.table_create("t").run(conn)
        r.table("t").index_create("g").run(conn)
        r.table("t").insert([{"id": i, "g": i % 3} for i in range(20)]).run(conn)
        r.table("t").index_wait("g").run(conn)
        cursors = []
        for i in range(300):
            q = r.table("t") if i % 2 else r.table("t").between(0, 2, index="g")
            cur = q.run(conn, max_batch_rows=1)
            next(cur)
            cursors.append(cur)
        assert r.table("t").get(5)["id"].run(conn) == 5
        assert r.table("t").count().run(conn) == 20
        assert len(list(r.table("t").get_all(1, index="g").run(conn))) == 7
        for cur in cursors:
            cur.close()
        conn.close()
    finally:
        srv.stop()
