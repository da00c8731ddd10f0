"""Where the server's time per query goes: one workload driven by the official Python driver
against a private server, counted (callgrind) or profiled (cProfile), warm-up excluded.

    python bench/profile_server.py --count [--workload expr] [-n 2000]
    python bench/profile_server.py --cprofile [--workload get] [-n 5000] [--top 40]

``--count`` runs ``rethought serve`` under valgrind's callgrind, zeroes the counters after
the warm-up (``callgrind_control --zero``), runs n queries and dumps: instructions per query
(the whole server process: interpreter, event loop, LMDB, orjson, the kernel's work
excluded), the same on every run within a fraction of a percent, so the figure to compare
before and after a change on a noisy machine. ``--annotate`` also prints the C functions
that own the instructions (inclusive), e.g. orjson, mdb_*, the loop's select.

``--cprofile`` runs the server with cProfile switched on for the measured queries only and
prints the Python functions by own time and cumulative time per query (cProfile's own
overhead inflates small functions; read the shares, not the absolute times).

Workloads: expr (``r.expr(1)``), get (point get), get_same (one key every time), insert (single insert, soft),
insert_batch (one soft insert of 1000 new documents per query: divide by 1000), inflight
(100 point gets in flight on one asyncio connection), get_all (secondary index, 10 rows),
between (``between(k, k+10)`` on the primary key).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import glob
import io
import os
import pstats
import re
import signal
import subprocess
import sys
import tempfile
import time

import rethinkdb
from rethinkdb import RethinkDB

from rethought import event_loop

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import free_port, pin  # noqa: E402

ROWS = 2_000


def _setup(c) -> None:
    r = rethinkdb.r
    if "rows" in r.table_list().run(c):
        return
    r.table_create("rows").run(c)
    r.table_create("ins").run(c)
    rows = r.table("rows")
    for s in range(0, ROWS, 1000):
        rows.insert([{"id": i, "v": i % 1000, "name": f"u{i}"} for i in range(s, s + 1000)]).run(c)
    rows.index_create("v").run(c)
    rows.index_wait("v").run(c)


def _workload(name: str, port: int):
    """A function running k queries of the workload."""
    r = rethinkdb.r
    c = r.connect(port=port)
    rows = r.table("rows")
    state = {"i": 0}

    def run(k: int) -> None:
        i0 = state["i"]
        state["i"] += k
        if name == "expr":
            q = r.expr(1)
            for _ in range(k):
                q.run(c)
        elif name == "get":
            for i in range(i0, i0 + k):
                rows.get(i * 7 % ROWS).run(c)
        elif name == "get_same":  # one row polled: the same bytes every time
            q = rows.get(7)
            for _ in range(k):
                q.run(c)
        elif name == "insert":
            ins = r.table("ins")
            for i in range(i0, i0 + k):
                ins.insert({"id": i, "v": i}).run(c, durability="soft")
        elif name == "insert_batch":  # one query = 1000 new documents
            ins = r.table("ins")
            for i in range(i0, i0 + k):
                docs = [{"id": i * 1000 + j, "v": j, "name": f"u{j}"} for j in range(1000)]
                ins.insert(docs).run(c, durability="soft")
        elif name == "get_all":
            for i in range(i0, i0 + k):
                list(rows.get_all(i % 200, index="v").run(c))
        elif name == "between":
            for i in range(i0, i0 + k):
                list(rows.between(i % ROWS, i % ROWS + 10).run(c))
        elif name == "inflight":
            asyncio.run(_inflight(port, k))
        else:
            raise SystemExit(f"unknown workload {name}")

    return c, run


async def _inflight(port: int, k: int) -> None:
    r = RethinkDB()
    r.set_loop_type("asyncio")
    conn = await r.connect(port=port)
    rows = r.table("rows")
    for base in range(0, k, 100):
        await asyncio.gather(*(rows.get((base + i) % ROWS).run(conn) for i in range(100)))
    await conn.close()


def _start(cmd: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pin(proc.pid, client=False)
    pin(0, client=True)
    deadline = time.monotonic() + 300
    while True:
        try:
            rethinkdb.r.connect(port=port, timeout=5).close()
            return proc
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proc.stderr.read().decode()[-2000:]) from None
            time.sleep(0.5)


def count(workload: str, n: int, annotate: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="rethought-prof-") as d:
        port = free_port()
        out = os.path.join(d, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
        cmd += ["-m", "rethought", "serve", "--driver-port", str(port)]
        cmd += ["--directory", os.path.join(d, "data"), "--no-http-admin"]
        proc = _start(cmd, port)
        try:
            c = rethinkdb.r.connect(port=port)
            _setup(c)
            conn, run = _workload(workload, port)
            run(max(200, n // 5))  # warm-up: caches, lazily built state
            _control("--zero", proc.pid)
            t0 = time.perf_counter()
            run(n)
            wall = time.perf_counter() - t0
            _control("--dump=measured", proc.pid)
            dumps = sorted(glob.glob(out + "*"), key=os.path.getmtime)
            total = _total(dumps[-1])
            print(
                f"{workload}: {total / n:,.0f} instructions per query ({n} queries, "
                f"{wall:.1f} s under valgrind)"
            )
            if annotate:
                text = subprocess.run(
                    ["callgrind_annotate", "--inclusive=yes", dumps[-1]],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                print(_per_query(text, n))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)


def _control(arg: str, pid: int) -> None:
    subprocess.run(["callgrind_control", arg, str(pid)], check=True, capture_output=True)
    time.sleep(0.5)


def _total(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def _per_query(annotated: str, n: int, top: int = 45) -> str:
    """callgrind_annotate's inclusive table, as instructions per query."""
    lines, out = annotated.splitlines(), []
    for line in lines:
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if m:
            out.append(f"{int(m.group(1).replace(',', '')) // n:>10,}  {m.group(2)[:110]}")
        if len(out) >= top:
            break
    return "\n".join(out)


def profiled_server(directory: str, port: int, stats_out: str) -> None:
    """The server, with cProfile on between SIGUSR1 and SIGUSR2 (then stats written)."""
    from rethought.server.app import ServeOptions, Server

    prof = cProfile.Profile()

    async def main() -> None:
        server = Server(
            ServeOptions(directory=directory, driver_port=port, http_port=None),
            say=lambda line: None,
        )
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, prof.enable)

        def done() -> None:
            prof.disable()
            prof.dump_stats(stats_out)

        loop.add_signal_handler(signal.SIGUSR2, done)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await server.close()

    event_loop.run(main())  # the loop ``rethought serve`` runs on (uvloop where installed)


# What each part of a query's path is, by the file (or C function) that owns the time.
PARTS = [
    (
        "framing and sending (wire/net.py, transport writes)",
        ("wire/net.py", "wire/pending_input", "write' of 'uvloop", "'send' of", "'recv' of"),
    ),
    (
        "dispatch, plan lookup (session, plan cache, byte templates)",
        ("wire/session.py", "plan_lookup", "plan_cache", "shape_bytes", "shapes.py", "query_frame"),
    ),
    ("prepare: query context, optargs (engine, context)", ("query/engine.py", "query/context.py")),
    (
        "evaluation (compiled terms, datum)",
        (
            "query/compile.py",
            "query/terms/",
            "query/direct",
            "server/runtime/",
            "rethought/datum/",
            "query/seq",
        ),
    ),
    ("permissions", ("system/access",)),
    (
        "storage: LMDB and its Python (writes, change log, outbox)",
        ("storage/", "lmdb", "Transaction", "Environment", "Cursor"),
    ),
    ("feeds", ("feeds/",)),
    (
        "response encoding (net_responses, orjson)",
        ("net_responses", "orjson", "'dumps'", "'loads'"),
    ),
    ("stats", ("runtime/stats",)),
    (
        "event loop scheduling (asyncio / uvloop Python side)",
        ("asyncio/", "uvloop", "_contextvars", "Future", "Task"),
    ),
]


def parts(stats: pstats.Stats, n: int) -> str:
    """Own time per query by part of the path, waiting in the loop's poll left out. A C
    function's time (a struct pack, ``len``, a socket send) counts for the part that called
    it, in proportion to its callers' calls."""
    idle = ("run_until_complete", "run_forever", "<method 'poll' of 'select.epoll' objects>")

    def part(key: tuple) -> str:
        where = f"{key[0]}:{key[2]}"
        return next((p for p, keys in PARTS if any(k in where for k in keys)), "other")

    by: dict[str, float] = {}
    for key, (_cc, _nc, tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if key[2] in idle:
            continue  # the wait for the next query (uvloop's whole run, the selector's poll)
        own = part(key)
        if key[0] == "~" and own == "other" and callers:  # a C function: its callers' part
            for caller, info in callers.items():
                share = info[2] if isinstance(info, tuple) else 0.0
                by[part(caller)] = by.get(part(caller), 0.0) + share
            continue
        by[own] = by.get(own, 0.0) + tt
    total = sum(by.values())
    rows = sorted(by.items(), key=lambda kv: -kv[1])
    lines = ["| part | µs per query (cProfile) | share |", "|---|---|---|"]
    lines += [f"| {p} | {t * 1e6 / n:.1f} | {t / total:.0%} |" for p, t in rows]
    return "\n".join(lines)


def cprofile(workload: str, n: int, top: int, by_part: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="rethought-prof-") as d:
        port = free_port()
        stats = os.path.join(d, "prof.out")
        cmd = [sys.executable, __file__, "--serve", os.path.join(d, "data"), str(port), stats]
        proc = _start(cmd, port)
        try:
            c = rethinkdb.r.connect(port=port)
            _setup(c)
            conn, run = _workload(workload, port)
            run(max(200, n // 5))
            proc.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
            run(n)
            proc.send_signal(signal.SIGUSR2)
            while not os.path.exists(stats):
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        buf = io.StringIO()
        p = pstats.Stats(stats, stream=buf)
        total = p.total_tt
        print(f"{workload}: {total * 1e6 / n:.1f} µs per query under cProfile ({n} queries)")
        if by_part:
            print(parts(p, n))
            return
        p.sort_stats("tottime").print_stats(top)
        p.sort_stats("cumulative").print_stats(top)
        print(buf.getvalue())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        profiled_server(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        sys.exit(0)
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="expr")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--count", action="store_true", help="instructions under callgrind")
    ap.add_argument("--annotate", action="store_true", help="with --count: C functions")
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--parts", action="store_true", help="with --cprofile: shares by part")
    a = ap.parse_args()
    if a.count:
        count(a.workload, a.n, a.annotate)
    else:
        cprofile(a.workload, a.n, a.top, a.parts)
