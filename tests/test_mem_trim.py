"""Memory freed after a peak goes back to the OS (server/runtime/memtrim.py): many streams'
first batches at once peak the server's heap; once their connections close, RssAnon must come
back near where it was instead of glibc keeping the pages (it kept 2.89 GB for 9 MB in use)."""

from __future__ import annotations

import sys
import time

import pytest
from rethinkdb import r as rdb

from conftest import ServerProcess

STREAMS = 40


def rss_anon_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_heap_given_back_after_a_peak_of_stream_batches(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        pid = srv.proc.pid
        conns = [rdb.connect(srv.host, srv.port) for _ in range(STREAMS)]
        rdb.expr(1).run(conns[0])
        start = rss_anon_kib(pid)
        cursors = [rdb.range(10**9).run(c) for c in conns]  # first batches only
        peak = rss_anon_kib(pid)
        for cur, c in zip(cursors, conns, strict=True):
            cur.close()
            c.close()
        assert peak > start + 100_000, f"no peak to give back: {start} -> {peak} KiB"
        deadline = time.monotonic() + 40  # the trimmer looks every 10 s
        now = peak
        while time.monotonic() < deadline:
            now = rss_anon_kib(pid)
            if now < start + 60_000:
                break
            time.sleep(1)
        assert now < start + 60_000, f"RssAnon {start} -> peak {peak} -> {now} KiB"
    finally:
        srv.stop()
