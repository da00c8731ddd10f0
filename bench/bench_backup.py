"""``rethought backup`` speed against copying the data file, and what a backup costs writers.

    python bench/bench_backup.py [--mb 200] [--rounds 3]

Loads a fresh server with about ``--mb`` megabytes of documents (then deletes a quarter of them,
so the file holds free pages, as a file that has lived does), and measures, on the same file:

- ``cp``: copying data.mdb (read + write + fsync). The speed baseline only: a plain copy of a
  running server's file is not consistent (pages change under it mid-copy);
- ``backup``: :func:`rethought.backup.backup` (LMDB compacting copy of one read snapshot, then
  fsync and rename), as ``rethought backup`` runs it; MB/s of the source file and of the
  compacted copy;
- writes acknowledged per second by one writer (10-document hard-durability inserts) before
  and while backups run back to back.

Both copies read the file through the page cache, which holds it after loading (the cache is
not dropped: that would disturb everything else on the machine); each starts after ``sync``,
and the two alternate in going first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from rethought import r  # noqa: E402
from rethought.backup import backup  # noqa: E402
from rethought.testing import SubprocessServer  # noqa: E402

DOC_PAD = 900  # bytes of padding: about 1 KB a document


def load(server: SubprocessServer, mb: int) -> None:
    conn = server.connect()
    r.db("test").table_create("bench").run(conn)
    table = r.db("test").table("bench")
    table.index_create("group").run(conn)
    n = mb * 1000
    for start in range(0, n, 1000):
        table.insert(
            [{"id": i, "group": i % 97, "pad": "x" * DOC_PAD} for i in range(start, start + 1000)],
            durability="soft",
        ).run(conn)
    table.filter(lambda d: d["id"] % 4 == 0).delete(durability="soft").run(conn)
    conn.close()


def copy_file(src: str, dst_dir: str) -> float:
    os.makedirs(dst_dir)
    t = time.perf_counter()
    dst = os.path.join(dst_dir, "data.mdb")
    shutil.copyfile(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t


class Writer:
    """One connection inserting 10-document batches, hard durability, counting acks."""

    def __init__(self, server: SubprocessServer) -> None:
        self.conn = server.connect()
        self.acks: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        table = r.db("test").table("bench")
        n = 10_000_000
        while not self.stop.is_set():
            table.insert([{"id": n + k, "group": -1} for k in range(10)]).run(self.conn)
            self.acks.append(time.perf_counter())
            n += 10

    def rate(self, start: float, end: float) -> float:
        return sum(1 for t in self.acks if start <= t < end) / (end - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200, help="megabytes of documents to load")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rethought-bench-backup-")
    server = SubprocessServer(os.path.join(work, "data")).start()
    try:
        t = time.perf_counter()
        load(server, args.mb)
        src = os.path.join(server.directory, "data.mdb")
        size = os.path.getsize(src)
        print(f"loaded in {time.perf_counter() - t:.1f} s: data.mdb {size / 1e6:,.1f} MB")
        cp_times, bk_times, copy_size = [], [], 0
        for i in range(args.rounds):
            # Alternate which goes first, each after the disk has written back what was
            # pending (the load's pages, the previous round's copy).
            for which in ("cp", "bk") if i % 2 == 0 else ("bk", "cp"):
                os.sync()
                dst = os.path.join(work, f"{which}{i}")
                if which == "cp":
                    cp_times.append(copy_file(src, dst))
                else:
                    res = backup(server.directory, dst)
                    bk_times.append(res.seconds)
                    copy_size = res.bytes
                shutil.rmtree(dst)

        writer = Writer(server)
        writer.thread.start()
        time.sleep(2.0)
        quiet_start, quiet_end = time.perf_counter() - 1.5, time.perf_counter()
        during: list[tuple[float, float]] = []
        for i in range(args.rounds):
            s = time.perf_counter()
            backup(server.directory, os.path.join(work, f"load{i}"))
            during.append((s, time.perf_counter()))
            shutil.rmtree(os.path.join(work, f"load{i}"))
        writer.stop.set()
        writer.thread.join()
        before = writer.rate(quiet_start, quiet_end)
        while_backing = sum(writer.rate(s, e) * (e - s) for s, e in during) / sum(
            e - s for s, e in during
        )
        cp, bk = statistics.median(cp_times), statistics.median(bk_times)
        print()
        print(f"| measure ({args.rounds} rounds, median) | value |")
        print("|---|---|")
        print(f"| data file (source) | {size / 1e6:,.1f} MB |")
        print(f"| compacted backup | {copy_size / 1e6:,.1f} MB |")
        print(f"| cp data.mdb + fsync | {cp:.2f} s, {size / 1e6 / cp:,.0f} MB/s |")
        print(
            f"| rethought backup | {bk:.2f} s, {size / 1e6 / bk:,.0f} MB/s of source, "
            f"{copy_size / 1e6 / bk:,.0f} MB/s written |"
        )
        print(f"| backup time / cp time | {bk / cp:.2f} |")
        print(f"| hard 10-doc inserts/s, no backup | {before:,.0f} |")
        print(f"| hard 10-doc inserts/s, while backups run | {while_backing:,.0f} |")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
