"""Our server against a peer server, side by side in one run, through the official Python
driver: throughput and the **server's** CPU per operation on the paths applications use.

The peer is reqlite (the JavaScript RethinkDB-compatible server that keeps everything in
memory, run from a checkout with its npm dependencies installed: ``--reqlite DIR``) or any
server already listening (``--peer-port PORT``, with ``--peer-pid PID`` to read its CPU;
e.g. a real RethinkDB). Both servers are pinned to one CPU and the client to another
(bench/common.py); the servers take turns, workload by workload, for two rounds (the second
starts with the other server), and each server keeps its better round. Server CPU is the
difference of ``utime + stime`` in ``/proc/<pid>/stat`` (the server's process and its
children) before and after each workload, divided by the operations.

    python bench/bench_peer.py --reqlite /tmp/reqlite [--quick] [--rounds 2]
    python bench/bench_peer.py --peer-port 28015 --peer-pid 1234

A floor is measured in the same run: a bare Python TCP echo (a blocking socket round trip
of a point-get-sized frame against an echo server on the servers' CPU). So is the client's
ceiling: the official driver running ``r.expr(1)`` sequentially against an instant server
(a blocking Python loop on the servers' CPU answering every frame with ``[1]``, after our
server did the handshake through it): no server can be faster than that for this client,
which bounds what a ratio of sequential rates can show.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from typing import Any

import rethinkdb
from rethinkdb import RethinkDB

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import free_port, pin, server_process, table  # noqa: E402

DB = "bench"
N_ROWS = 100_000
CONCURRENCY = 100
TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def server_cpu(pid: int | None) -> float:
    """Seconds of CPU (user + system) the server process and its children have used."""
    if pid is None:
        return float("nan")
    total = 0
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICK


def rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    total = 0
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


@contextmanager
def reqlite(directory: str):
    """reqlite from a checkout (``node bin/reqlite``); yields (port, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        ["node", os.path.join(directory, "bin", "reqlite"), "--port-offset", str(port - 28015)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=directory,
    )
    pin(proc.pid, client=False)
    try:
        _wait_listening(port, proc)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def echo_server():
    """A bare Python TCP echo server (the floor), pinned where the servers are."""
    port = free_port()
    code = (
        "import socket,sys\n"
        "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        f"s.bind(('127.0.0.1',{port}));s.listen()\n"
        "c,_=s.accept();c.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\n"
        "while (d:=c.recv(65536)):c.sendall(d)\n"
    )
    with _pinned_script(code, port):
        yield port


@contextmanager
def _pinned_script(code: str, port: int):
    """Run a small Python server (``code``, listening on ``port``) on the servers' CPU."""
    proc = subprocess.Popen([sys.executable, "-c", code])
    pin(proc.pid, client=False)
    try:
        _wait_listening(port, proc, probe=False)
        yield
    finally:
        proc.kill()
        proc.wait()


def _wait_listening(port: int, proc: subprocess.Popen, probe: bool = True) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if probe:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            else:
                with open("/proc/net/tcp") as f:
                    if f":{port:04X} " not in f.read():
                        raise OSError
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start") from None
            time.sleep(0.05)


@contextmanager
def instant_server(upstream: int):
    """A server answering every query frame at once with ``[1]`` (the client's ceiling). The
    handshake is relayed to ``upstream`` (a real server) until it has sent its three
    messages; from then on frames are answered here, on the servers' CPU."""
    port = free_port()
    code = (
        "import socket,struct,select\n"
        "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        f"s.bind(('127.0.0.1',{port}));s.listen()\n"
        "while True:\n"
        " c,_=s.accept();c.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\n"
        f" u=socket.create_connection(('127.0.0.1',{upstream}));nul=0\n"
        " while nul<3:\n"
        "  for x in select.select([c,u],[],[])[0]:\n"
        "   d=x.recv(65536)\n"
        "   if x is u: nul+=d.count(0); c.sendall(d)\n"
        "   else: u.sendall(d)\n"
        " u.close();h=struct.Struct('<qI');body=b'{\"t\":1,\"r\":[1]}';buf=b''\n"
        " while (d:=c.recv(65536)):\n"
        "  buf+=d;out=[]\n"
        "  while len(buf)>=12:\n"
        "   t,n=h.unpack_from(buf)\n"
        "   if len(buf)<12+n: break\n"
        "   buf=buf[12+n:];out.append(h.pack(t,len(body))+body)\n"
        "  if out: c.sendall(b''.join(out))\n"
    )
    with _pinned_script(code, port):
        yield port


def ceiling(port: int, seconds: float) -> float:
    """The official driver's sequential ``r.expr(1)`` rate against the instant server."""
    c = rethinkdb.r.connect(port=port)
    q = rethinkdb.r.expr(1)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        q.run(c)
        n += 1
    rate = n / (time.perf_counter() - t0)
    c.close()
    return rate


def floor(port: int, seconds: float) -> float:
    """Round trips per second of a 60-byte frame on a blocking socket."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    frame = b"x" * 60
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s.sendall(frame)
        got = 0
        while got < len(frame):
            got += len(s.recv(65536))
        n += 1
    rate = n / (time.perf_counter() - t0)
    s.close()
    return rate


class Target:
    """One server under test: its port, its pid (for CPU), and connections to it."""

    def __init__(self, name: str, port: int, pid: int | None) -> None:
        self.name, self.port, self.pid = name, port, pid
        self.r = rethinkdb.r
        self.conn = self.r.connect(port=self.port)
        self.rss = float("nan")
        self.seq = 0  # fresh keys / table names per round

    def setup(self) -> None:
        r, c = self.r, self.conn
        if DB not in r.db_list().run(c):
            r.db_create(DB).run(c)
        db = r.db(DB)
        have = db.table_list().run(c)
        for name in ("rows", "ins_one", "ins_batch", "feed"):
            if name not in have:
                db.table_create(name).run(c)
        rows = db.table("rows")
        if rows.count().run(c) != N_ROWS:
            for start in range(0, N_ROWS, 1000):
                docs = [
                    {"id": i, "v": i % 10_000, "name": f"user{i}", "n": i}
                    for i in range(start, start + 1000)
                ]
                rows.insert(docs, durability="soft").run(c)
        if "v" not in rows.index_list().run(c):
            rows.index_create("v").run(c)
            rows.index_wait("v").run(c)
        self.rss = rss_mib(self.pid)


def measure(target: Target, body: Callable[[], int]) -> tuple[float, float, float]:
    """(operations per second, server CPU µs per op, client CPU µs per op) of one body."""
    s0, c0, t0 = server_cpu(target.pid), time.process_time(), time.perf_counter()
    n = body()
    wall = time.perf_counter() - t0
    return n / wall, (server_cpu(target.pid) - s0) * 1e6 / n, (time.process_time() - c0) * 1e6 / n


def _until(n: int, budget: float, op: Callable[[int], Any]) -> int:
    """Run op(i) n times or until ``budget`` seconds have passed; how many ran."""
    t0 = time.perf_counter()
    for i in range(n):
        op(i)
        if time.perf_counter() - t0 > budget:
            return i + 1
    return n


def workloads(sizes: dict[str, int], budget: float) -> list[tuple[str, str, Callable]]:
    """(label, unit, body(target) -> count) for each workload of issue 16's table."""

    def expr(t: Target) -> int:
        q, c = t.r.expr(1), t.conn
        return _until(sizes["seq"], budget, lambda i: q.run(c))

    def get_seq(t: Target) -> int:
        rows, c = t.r.db(DB).table("rows"), t.conn
        return _until(sizes["seq"], budget, lambda i: rows.get(i * 7919 % N_ROWS).run(c))

    def expr_inflight(t: Target) -> int:
        return asyncio.run(_inflight(t.port, sizes["inflight_rounds"], budget, _expr))

    def get_inflight(t: Target) -> int:
        return asyncio.run(_inflight(t.port, sizes["inflight_rounds"], budget, _get))

    def insert_soft(t: Target) -> int:
        tbl, c = t.r.db(DB).table("ins_one"), t.conn
        t.seq += 1
        base = t.seq * 10**7
        return _until(
            sizes["inserts"],
            budget,
            lambda i: tbl.insert({"id": base + i, "v": i}).run(c, durability="soft"),
        )

    def insert_batch(t: Target) -> int:
        tbl, c = t.r.db(DB).table("ins_batch"), t.conn
        t.seq += 1
        base = t.seq * 10**7

        def op(b: int) -> None:
            docs = [{"id": base + b * 1000 + i, "v": i, "name": "x"} for i in range(1000)]
            tbl.insert(docs, durability="soft").run(c)

        return 1000 * _until(sizes["batches"], budget, op)

    def scan(t: Target) -> int:
        count = sum(1 for _ in t.r.db(DB).table("rows").run(t.conn))
        assert count == N_ROWS, count
        return count

    def get_all(t: Target) -> int:
        rows, c = t.r.db(DB).table("rows"), t.conn

        def op(i: int) -> None:
            got = rows.get_all(i * 31 % 10_000, index="v").run(c)
            assert len(list(got)) == 10

        return _until(sizes["indexed"], budget, op)

    def order_limit(t: Target) -> int:
        q, c = t.r.db(DB).table("rows").order_by(index="id").limit(100), t.conn

        def op(i: int) -> None:
            assert len(list(q.run(c))) == 100

        return _until(sizes["indexed"], budget, op)

    def feed(t: Target) -> int:
        return feed_throughput(t, sizes["feed_rows"])

    return [
        ("r.expr(1) sequential", "q", expr),
        ("point get, sequential", "op", get_seq),
        (f"r.expr(1), {CONCURRENCY} in flight on one asyncio connection", "q", expr_inflight),
        (f"point get, {CONCURRENCY} in flight on one asyncio connection", "op", get_inflight),
        ("single insert, soft", "doc", insert_soft),
        ("insert, batches of 1000 (soft)", "doc", insert_batch),
        (f"full table scan ({N_ROWS // 1000}k rows)", "row", scan),
        ("get_all on a secondary index (10 rows)", "op", get_all),
        (f"order_by(index).limit(100) on {N_ROWS // 1000}k rows", "op", order_limit),
        ("changefeed throughput (1 subscriber, one batch)", "change", feed),
    ]


def _expr(r: Any, i: int) -> Any:
    return r.expr(1)


def _get(r: Any, i: int) -> Any:
    return r.db(DB).table("rows").get(i * 7919 % N_ROWS)


async def _inflight(port: int, rounds: int, budget: float, query: Callable) -> int:
    """CONCURRENCY queries ``query(r, i)`` at a time on one asyncio connection."""
    r = RethinkDB()
    r.set_loop_type("asyncio")
    conn = await r.connect(port=port)
    done, t0 = 0, time.perf_counter()
    for k in range(rounds):
        base = k * CONCURRENCY
        await asyncio.wait_for(
            asyncio.gather(*(query(r, base + i).run(conn) for i in range(CONCURRENCY))),
            60,
        )
        done += CONCURRENCY
        if time.perf_counter() - t0 > budget:
            break
    await conn.close(noreply_wait=False)  # reqlite never answers NOREPLY_WAIT
    return done


def feed_throughput(t: Target, n: int) -> int:
    """One subscriber (its own connection, a thread blocked on the feed) and one batched
    insert of n rows: the count is measured until the subscriber holds every change."""
    r = t.r
    sub = r.connect(port=t.port)
    tbl = r.db(DB).table("feed")
    cursor = tbl.changes().run(sub)
    got = threading.Event()

    def read() -> None:
        for _ in range(n):
            cursor.next(wait=120)
        got.set()

    reader = threading.Thread(target=read)
    reader.start()
    t.seq += 1
    base = t.seq * 10**7
    tbl.insert([{"id": base + i, "x": i} for i in range(n)], durability="soft").run(t.conn)
    got.wait(180)
    reader.join()
    cursor.close()
    sub.close(noreply_wait=False)
    return n


def run(args: argparse.Namespace) -> str:
    quick = args.quick
    sizes = {
        "seq": 1000 if quick else 5000,
        "inflight_rounds": 20 if quick else 100,
        "inserts": 500 if quick else 3000,
        "batches": 5 if quick else 20,
        "indexed": 200 if quick else 2000,
        "feed_rows": 1000 if quick else 5000,
    }
    budget = 1.0 if quick else args.budget
    pin(0, client=True)
    with ExitStack() as stack:
        targets = [Target("rethought", *stack.enter_context(server_process()))]
        if args.peer_port:
            targets.append(Target("peer", args.peer_port, args.peer_pid))
        else:
            port, pid = stack.enter_context(reqlite(args.reqlite))
            targets.append(Target("reqlite", port, pid))
        for t in targets:
            t.setup()
        echo = stack.enter_context(echo_server())
        floor_rate = floor(echo, 1.0 if quick else 2.0)
        instant = stack.enter_context(instant_server(targets[0].port))
        ceiling_rate = ceiling(instant, 1.0 if quick else 2.0)
        results: dict[tuple[str, str], list[float]] = {}
        work = workloads(sizes, budget)
        if args.only:
            work = [w for w in work if any(o in w[0] for o in args.only)]
        for rnd in range(args.rounds):
            for label, unit, body in work:
                order = targets if rnd % 2 == 0 else targets[::-1]
                for t in order:
                    ops, scpu, ccpu = measure(t, lambda t=t, body=body: body(t))
                    best = results.setdefault((label, t.name), [0.0, float("inf"), 0.0])
                    if ops > best[0]:
                        best[0], best[2] = ops, ccpu
                    best[1] = min(best[1], scpu)
                    print(
                        f"  round {rnd + 1} {t.name:9} {label}: {ops:,.0f}/s, "
                        f"server {scpu:.1f} µs/{unit}",
                        file=sys.stderr,
                    )
    ours, peer = targets[0].name, targets[1].name
    rows = []
    for label, unit, _ in work:
        o, p = results[(label, ours)], results[(label, peer)]
        rows.append(
            [label, p[0], o[0], o[0] / p[0], f"{p[1]:.1f} → {o[1]:.1f} µs/{unit}", o[1] / p[1]]
        )
    rows.append(
        [
            "RSS with 100k docs, MiB",
            targets[1].rss,
            targets[0].rss,
            targets[0].rss / targets[1].rss,
            "",
            "",
        ]
    )
    out = table(
        rows,
        [
            "workload",
            f"{peer} /s",
            "rethought /s",
            "ours/peer",
            f"server CPU per op, {peer} → ours",
            "CPU ours/peer",
        ],
    )
    return out + (
        f"\n\nFloor (bare Python TCP echo, same pinning): {floor_rate:,.0f} round trips/s"
        f"\nCeiling (the official driver's r.expr(1) against an instant server): "
        f"{ceiling_rate:,.0f} q/s"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--reqlite", default="/tmp/reqlite", help="a reqlite checkout (npm installed)")
    ap.add_argument("--peer-port", type=int, help="a peer server already listening here")
    ap.add_argument("--peer-pid", type=int, help="the peer server's pid (for its CPU)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds at most per workload")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", help="workloads whose label contains one of these")
    print(run(ap.parse_args()))
