"""Group commit (storage/group.py): many connections inserting at once, on each event loop.

A raw-socket client (bench_workers.py's: V0_4 handshake, precomputed frames) keeps one
single-document insert in flight on each of ``--conns`` connections; server and client are
pinned to separate CPUs. Reported per event loop and durability: inserts/s, the server's
CPU per insert (/proc), and LMDB commits per insert, read off the data file's last
transaction id before and after (a reader of the same environment): 1.0 means no write
shared another's commit, 0.1 that groups of ten formed. CPU and commits are divided by the
rows the table holds at the end (the client's 0.5 s warm-up included).

    python bench/bench_group_commit.py [--conns 50] [--seconds 5] [--loops uvloop asyncio]
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing as mp
import os
import sys
import time

import lmdb

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_peer import server_cpu  # noqa: E402
from bench_workers import _client  # noqa: E402
from common import server_process, table  # noqa: E402

INSERT = b'[1,[56,[[15,[[14,["bench"]],"w"]],{"v":1}],{"durability":"%s"}],{}]'


def _last_txnid(pid: int) -> int:
    """The server's LMDB last committed transaction id, read through its data file."""
    cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    directory = cmd[cmd.index(b"--directory") + 1].decode()
    found = glob.glob(os.path.join(directory, "**", "data.mdb"), recursive=True)
    env = lmdb.open(os.path.dirname(found[0]), readonly=True, lock=True, max_dbs=16)
    try:
        return env.info()["last_txnid"]
    finally:
        env.close()


def _setup(port: int) -> None:
    from rethinkdb import r

    c = r.connect(port=port)
    r.db_create("bench").run(c)
    r.db("bench").table_create("w").run(c)
    c.close()


def run(loop: str, durability: str, args: argparse.Namespace) -> tuple[float, float, float]:
    with server_process(["--event-loop", loop]) as (port, pid):
        _setup(port)
        time.sleep(0.3)
        out: mp.Queue = mp.Queue()
        query = INSERT % durability.encode()
        proc = mp.Process(target=_client, args=(port, query, args.conns, 1, args.seconds, out))
        cpu0, txn0 = server_cpu(pid), _last_txnid(pid)
        proc.start()
        done = out.get()
        proc.join()
        cpu, txns = server_cpu(pid) - cpu0, _last_txnid(pid) - txn0
        # CPU and commits over the whole run, its 0.5 s warm-up included, so per row written
        # in it (the table's count); the rate counts the answers after the warm-up only.
        rows = _count(port)
        return done / args.seconds, cpu / max(rows, 1) * 1e6, txns / max(rows, 1)


def _count(port: int) -> int:
    from rethinkdb import r

    c = r.connect(port=port)
    try:
        return r.db("bench").table("w").count().run(c)
    finally:
        c.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--loops", nargs="+", default=["uvloop", "asyncio"])
    ap.add_argument("--durability", nargs="+", default=["soft", "hard"])
    args = ap.parse_args()
    rows = []
    for durability in args.durability:
        for loop in args.loops:
            qps, us, commits = run(loop, durability, args)
            rows.append([durability, loop, qps, us, f"{commits:.3f}"])
    print(f"{args.conns} connections x 1 insert in flight, {args.seconds:g} s each")
    print(
        table(
            rows,
            ["durability", "event loop", "inserts/s", "server CPU us/insert", "commits/insert"],
        )
    )


if __name__ == "__main__":
    main()
