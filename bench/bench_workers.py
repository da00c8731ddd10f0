"""``rethought serve --workers N``: throughput against N, with a client cheap enough to leave
the server most of the machine.

The client is a raw-socket load generator (V0_4 handshake, precomputed query frames,
responses only counted), in ``--clients`` processes, each with ``--conns`` connections
keeping ``--depth`` queries in flight: it costs a few microseconds per query, the server
tens, so on a small machine the server's CPU is the bottleneck. Neither side is pinned
(the workers need every core). Server CPU is the user + system time of the supervisor and
its workers (``/proc``), per query.

    python bench/bench_workers.py [--workers 1 2] [--seconds 5] [--clients 2] [--conns 16]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import selectors
import socket
import struct
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_peer import server_cpu  # noqa: E402
from common import server_process, table  # noqa: E402

QUERIES = {
    "r.expr(1)": b"[1,1,{}]",
    "point get": b'[1,[16,[[15,[[14,["bench"]],"t"]],5]],{}]',
    # a scan with a filter over 1000 rows: evaluation-heavy
    "filter 1000 rows .count()": (
        b'[1,[43,[[39,[[15,[[14,["bench"]],"small"]],[69,[[2,[1]],[19,[[170,[[13,[]],"v"]],'
        b"500]]]]]]]],{}]"
    ),
    # writes: one LMDB writer at a time across processes, so these measure the cost of
    # sharing the lock (and of telling the other workers), not a gain
    "insert, soft durability": (
        b'[1,[56,[[15,[[14,["bench"]],"w"]],{"v":1}],{"durability":"soft"}],{}]'
    ),
}
V0_4, JSON = 0x400C2D20, 0x7E6970C7
HEAD = struct.Struct("<qI")


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(struct.pack("<III", V0_4, 0, JSON))
    got = b""
    while not got.endswith(b"\0"):
        got += s.recv(64)
    assert got == b"SUCCESS\0", got
    return s


def _client(port: int, query: bytes, conns: int, depth: int, seconds: float, out) -> None:
    """Keep ``depth`` queries in flight on each of ``conns`` connections; count answers."""
    frames = [HEAD.pack(t, len(query)) + query for t in range(depth)]
    burst = b"".join(frames)
    sel = selectors.DefaultSelector()
    socks = [_connect(port) for _ in range(conns)]
    buf = {s: bytearray() for s in socks}
    for s in socks:
        s.setblocking(False)
        s.sendall(burst)
        sel.register(s, selectors.EVENT_READ)
    done = 0
    warm = time.monotonic() + 0.5
    counting = False
    end = warm + seconds
    while True:
        now = time.monotonic()
        if not counting and now >= warm:
            counting, done = True, 0
        if now >= end:
            break
        for key, _ in sel.select(0.1):
            s = key.fileobj
            data = s.recv(1 << 16)
            if not data:
                raise RuntimeError("server closed a connection")
            b = buf[s]
            b += data
            pos, n = 0, 0
            while len(b) - pos >= 12:
                size = HEAD.unpack_from(b, pos)[1]
                if len(b) - pos - 12 < size:
                    break
                pos += 12 + size
                n += 1
            del b[:pos]
            if n:
                done += n
                s.sendall(b"".join(frames[:n]))  # replace the answered ones
    out.put(done)
    for s in socks:
        s.close()


def _load(port: int) -> None:
    from rethinkdb import r

    c = r.connect(port=port)
    r.db_create("bench").run(c)
    r.db("bench").table_create("t").run(c)
    r.db("bench").table_create("small").run(c)
    r.db("bench").table_create("w").run(c)
    r.db("bench").table("t").insert([{"id": i, "v": i} for i in range(10_000)]).run(c)
    r.db("bench").table("small").insert([{"id": i, "v": i} for i in range(1000)]).run(c)
    c.close()


def run(workers: int, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    results = {}
    with server_process(["--workers", str(workers)], pin_server=False) as (port, pid):
        _load(port)
        time.sleep(0.5)
        for name, q in QUERIES.items():
            out: mp.Queue = mp.Queue()
            procs = [
                mp.Process(
                    target=_client, args=(port, q, args.conns, args.depth, args.seconds, out)
                )
                for _ in range(args.clients)
            ]
            cpu0 = server_cpu(pid)
            for p in procs:
                p.start()
            total = sum(out.get() for _ in procs)
            for p in procs:
                p.join()
            cpu = server_cpu(pid) - cpu0
            # the server's CPU over the whole run (its warm-up included): an upper bound
            results[name] = (total / args.seconds, cpu / max(total, 1) * 1e6)
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--only", help="run only the queries whose name contains this")
    args = ap.parse_args()
    if args.only:
        for name in [n for n in QUERIES if args.only not in n]:
            del QUERIES[name]
    by = {w: run(w, args) for w in args.workers}
    base = args.workers[0]
    rows = []
    for name in QUERIES:
        row: list = [name]
        for w in args.workers:
            qps, us = by[w][name]
            row += [qps, us]
        for w in args.workers[1:]:
            row.append(f"{by[w][name][0] / by[base][name][0]:.2f}x")
        rows.append(row)
    header = ["query"]
    for w in args.workers:
        header += [f"q/s, {w} worker(s)", "server CPU us/q"]
    header += [f"{w} vs {base}" for w in args.workers[1:]]
    print(
        f"{os.cpu_count()} CPUs; {args.clients} client processes x {args.conns} connections "
        f"x {args.depth} in flight, {args.seconds:g} s per query"
    )
    print(table(rows, header))


if __name__ == "__main__":
    main()
