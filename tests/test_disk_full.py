"""Disk full and map full: writes fail with a ReqlOpFailedError that says why, reads keep
working, nothing is corrupted, and writes work again once there is room.

The full disk is a real one: an 8 MiB tmpfs mounted for the test (it needs root, as mount
does; skipped otherwise), filled with a file. The memory map that cannot grow is a real one
too: a child process whose address space is limited (RLIMIT_AS) while its map has to double.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ServerProcess

FULL = "Cannot perform write: the file system holding the data directory is full"


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: str) -> None:
    """Fill the file system holding ``path`` to the last byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def _rows(start: int, n: int) -> list[dict]:
    return [{"id": i, "grp": i % 5, "pad": "x" * 2000} for i in range(start, start + n)]


def test_disk_full_fails_writes_cleanly_and_recovers(small_fs, official_r):
    r = official_r
    errors = official_r.errors
    srv = ServerProcess(str(small_fs / "data"))
    srv.log_path = str(small_fs.parent / "server.log")  # the log must not fill the tmpfs
    srv.start()
    try:
        conn = r.connect(host=srv.host, port=srv.port)
        r.table_create("t").run(conn)
        r.table("t").index_create("grp").run(conn)
        r.table("t").index_wait("grp").run(conn)
        r.table("t").insert(_rows(0, 200)).run(conn, durability="hard")
        feed = r.table("t").changes().run(conn)
        _fill(str(small_fs / "filler"))

        # Writes until one meets the full disk (free pages inside the file may take a few).
        acked = 200
        failure = None
        for _ in range(100):
            try:
                res = r.table("t").insert(_rows(acked, 50)).run(conn, durability="hard")
                assert res["inserted"] == 50
                acked += 50
            except errors.ReqlOpFailedError as e:
                failure = e
                break
        assert failure is not None, "the full disk never failed a write"
        assert FULL in str(failure), str(failure)

        # Reads keep working and see exactly what was acknowledged.
        assert r.table("t").count().run(conn) == acked
        assert r.table("t").get(7).run(conn)["grp"] == 2
        assert r.table("t").get_all(3, index="grp").count().run(conn) == acked // 5
        assert r.db("rethinkdb").table("table_status").count().run(conn) >= 1
        # Other writes fail the same way or succeed; schema and data stay as acknowledged.
        for query in (
            r.table("t").get(1).update({"grp": 99, "pad": "y" * 100000}),
            r.table("t").index_create("big", r.row["pad"]),
            r.table_create("u"),
        ):
            try:
                query.run(conn)
            except errors.ReqlOpFailedError as e:
                assert FULL in str(e), str(e)
        indexes = r.table("t").index_list().run(conn)
        cfg = r.table("t").config()["indexes"].run(conn)
        assert sorted(indexes) == sorted(cfg)
        assert r.db("test").table_list().run(conn) == r.db("rethinkdb").table(
            "table_config"
        ).filter({"db": "test"})["name"].order_by(r.row).coerce_to("array").run(conn)

        # Room again: writes work, on the same connection and the same feed.
        os.remove(small_fs / "filler")
        res = r.table("t").insert(_rows(100000, 50)).run(conn, durability="hard")
        assert res["inserted"] == 50
        change = next(feed)
        assert change["old_val"] is None and change["new_val"]["id"] >= 100000
        r.table_create("after").run(conn)
        conn.close()
    finally:
        srv.stop()

    # Nothing corrupt: a restart finds every acknowledged row, in the table and its index.
    srv.start()
    try:
        conn = r.connect(host=srv.host, port=srv.port)
        ids = set(r.table("t")["id"].run(conn))
        assert set(range(acked)) | set(range(100000, 100050)) <= ids
        assert r.table("t").count().run(conn) == len(ids)
        for g in range(5):
            want = sorted(d["id"] for d in r.table("t").filter({"grp": g}).run(conn))
            got = sorted(d["id"] for d in r.table("t").get_all(g, index="grp").run(conn))
            assert got == want
        assert "after" in r.db("test").table_list().run(conn)
        conn.close()
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()


def test_disk_full_fails_every_write_of_a_group(small_fs, official_r):
    """Concurrent soft writes share a commit (storage/group.py); when that commit meets the
    full disk, each of them gets the error, none is lost or hangs, and exactly the
    acknowledged rows are there after a restart."""
    import asyncio

    errors = official_r.errors
    srv = ServerProcess(str(small_fs / "data"))
    srv.log_path = str(small_fs.parent / "server.log")
    srv.start()
    r2 = official_r.__class__()
    r2.set_loop_type("asyncio")
    acked: set[int] = set()
    failures: list[str] = []

    async def round_of(conns: list, base: int) -> None:
        pad = "x" * 3000
        res = await asyncio.gather(
            *(
                r2.table("g").insert({"id": base + i, "pad": pad}).run(c, durability="soft")
                for i, c in enumerate(conns)
            ),
            return_exceptions=True,
        )
        for i, x in enumerate(res):
            if isinstance(x, errors.ReqlOpFailedError):
                failures.append(str(x))
            else:
                assert x["inserted"] == 1, x
                acked.add(base + i)

    async def main() -> None:
        c0 = await r2.connect(host=srv.host, port=srv.port)
        await r2.table_create("g").run(c0)
        conns = [await r2.connect(host=srv.host, port=srv.port) for _ in range(30)]
        _fill(str(small_fs / "filler"))
        for rnd in range(60):
            await asyncio.wait_for(round_of(conns, rnd * 100), 30)
            if len(failures) >= 30:
                break
        assert await r2.table("g").count().run(c0) == len(acked)
        for c in [c0, *conns]:
            await c.close()

    try:
        asyncio.run(main())
    finally:
        srv.stop()
    assert failures, "the full disk never failed a write"
    assert all(FULL in f for f in failures), failures[:3]
    os.remove(small_fs / "filler")
    srv.start()
    try:
        conn = official_r.connect(host=srv.host, port=srv.port)
        assert set(official_r.table("g")["id"].run(conn)) == acked
        conn.close()
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()


MAP_CHILD = textwrap.dedent(
    """
    import resource, sys
    from rethought.errors import ReqlOpFailedError
    from rethought.server.storage import Storage

    s = Storage(sys.argv[1], map_size=1 << 20)
    t = s.table_create("test", "t")
    row = lambda i: {"id": i, "pad": "x" * 4000}
    # Room for what is mapped now, not for a map twice as big.
    vm = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (vm + (24 << 20), hard))
    n = 0
    try:
        while n < 100000:
            with t.write() as w:
                for i in range(n, n + 50):
                    w.put(row(i))
            n += 50
        print("never failed")
    except ReqlOpFailedError as e:
        print("failed:", e)
    assert t.count() == n and t.get(n - 1)["id"] == n - 1, "reads after the failure"
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    with t.write() as w:
        w.put(row(n))
    print("count", t.count(), "expected", n + 1, "map", s.env.info()["map_size"])
    s.close()
    """
)


def test_map_that_cannot_grow_fails_writes_cleanly(tmp_path):
    res = subprocess.run(
        [sys.executable, "-c", MAP_CHILD, str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith(
        "failed: Cannot perform write: the storage engine's memory map cannot grow"
    ), res.stdout
    count, expected = lines[1].split()[1], lines[1].split()[3]
    assert count == expected, res.stdout
