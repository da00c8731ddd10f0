"""Server memory after overload: glibc's free pages go back to the OS (runtime/memtrim.py),
and rows waiting in an open cursor hold their own size (wire/net_responses.encode_row)."""

from __future__ import annotations

import os
import sys
import time

import pytest
from rethinkdb import r as rdb

from conftest import ServerProcess
from rethought.server.runtime import memtrim


def rss_anon_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_trim_gives_back_what_glibc_keeps_after_a_peak():
    """300 MB of 3 KB blocks freed with one block left at the heap's top: glibc keeps the
    pages (the server held 2.89 GB with 9 MB in use after 300 streams' first batches)."""
    libc = memtrim._libc()
    if libc is None:
        pytest.skip("not glibc")
    pid = os.getpid()
    start = rss_anon_kib(pid)
    blocks = [bytearray(3000) for _ in range(100_000)]
    top = bytearray(3000)  # allocated last: pins the top of the heap
    peak = rss_anon_kib(pid)
    del blocks
    kept = rss_anon_kib(pid)
    assert peak - start > 250_000 and kept - start > 250_000, (start, peak, kept)
    assert memtrim.trim_if_needed(libc)
    after = rss_anon_kib(pid)
    assert after - start < 60_000, f"RssAnon {start} -> {peak} -> {kept} -> {after} KiB"
    del top


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_open_cursors_hold_their_rows_at_their_size(tmp_path):
    """A stream's rows wait in its batch; each encoded row held orjson's ~4 KiB buffer, so one
    open `r.range` cursor cost the server ~150 MB (a get_all of 200 rows ~0.8 MB)."""
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        pid = srv.proc.pid
        conns = [rdb.connect(srv.host, srv.port) for _ in range(10)]
        rdb.expr(1).run(conns[0])
        start = rss_anon_kib(pid)
        cursors = [rdb.range(10**9).run(c) for c in conns]
        time.sleep(1)
        grown = rss_anon_kib(pid) - start
        assert grown < 150_000, f"10 open cursors grew RssAnon by {grown} KiB"
        for cur in cursors:
            assert next(cur) == 0
    finally:
        srv.stop()
