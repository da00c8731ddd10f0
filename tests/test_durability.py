"""Hard durability: every write the server acknowledged survives a SIGKILL."""

from __future__ import annotations

import signal
import threading

from conftest import ServerProcess


def test_acknowledged_hard_writes_survive_sigkill(tmp_path, official_r):
    r = official_r
    srv = ServerProcess(str(tmp_path / "data")).start()
    acked: list[int] = []
    lock = threading.Lock()
    try:
        conn = r.connect(host=srv.host, port=srv.port)
        r.table_create("d").run(conn)
        conn.close()

        def writer(offset: int) -> None:
            c = r.connect(host=srv.host, port=srv.port)
            try:
                for i in range(offset, offset + 60):
                    res = r.table("d").insert({"id": i, "v": "x" * 100}).run(c, durability="hard")
                    assert res["inserted"] == 1
                    with lock:
                        acked.append(i)
            finally:
                c.close()

        # Several connections at once: their fsyncs are shared, each ack still means "on disk".
        threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        conn = r.connect(host=srv.host, port=srv.port)
        r.table("d").insert([{"id": -i} for i in range(1, 101)]).run(conn, durability="hard")
        acked.extend(-i for i in range(1, 101))
        conn.close()
    finally:
        srv.stop(signal.SIGKILL)

    srv.start()
    try:
        conn = r.connect(host=srv.host, port=srv.port)
        ids = set(r.table("d")["id"].coerce_to("array").run(conn))
        assert ids >= set(acked) and len(acked) == 340
        conn.close()
    finally:
        srv.stop()


def test_noreply_writes_visible_after_noreply_wait(server, official_r, official_conn, table_name):
    r = official_r
    r.table_create(table_name).run(official_conn)
    for i in range(50):
        r.table(table_name).insert({"id": i}).run(official_conn, noreply=True)
    official_conn.noreply_wait()
    assert r.table(table_name).count().run(official_conn) == 50


def test_concurrent_sync_requests_share_fsyncs(tmp_path):
    """Many hard writes waiting at once are acknowledged after few fsyncs, never before one."""
    import asyncio

    from rethought.server.app import SyncCoalescer
    from rethought.server.storage import Storage

    storage = Storage(str(tmp_path / "db"))
    calls = []
    real_sync = storage.sync

    def counting_sync() -> None:
        calls.append(1)
        real_sync()

    storage.sync = counting_sync

    async def main() -> None:
        syncer = SyncCoalescer(storage)
        await asyncio.gather(*(syncer.sync() for _ in range(100)))
        assert 1 <= len(calls) <= 2
        await syncer.sync()  # a later request gets a fsync of its own
        assert len(calls) >= 2
        await syncer.drain()

    try:
        asyncio.run(main())
    finally:
        storage.close()
