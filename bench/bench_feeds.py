"""Changefeed latency and throughput.

- write-to-delivery latency: a writer inserts one row at a time (soft durability); a reader
  blocked on the feed records when each change arrives; median and p99 over N writes.
- feed throughput with 1, 10 and 100 subscribers: one batched insert of M rows, time until
  every subscriber has received every change (changes delivered per second, all feeds).

Both drivers read the feeds, against the same server.

    python bench/bench_feeds.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

import rethinkdb

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import server, table  # noqa: E402

from rethought import r as ours  # noqa: E402

DRIVERS = {"rethought": ours, "official": rethinkdb.r}


def latency(r, port: int, n: int) -> tuple[float, float]:
    c, w = r.connect(port=port), r.connect(port=port)
    feed = r.table("lat").changes().run(c)
    arrived: list[float] = []
    sent: list[float] = []

    def read() -> None:
        for _ in range(n):
            feed.next(wait=30)
            arrived.append(time.perf_counter())

    t = threading.Thread(target=read)
    t.start()
    for i in range(n):
        sent.append(time.perf_counter())
        r.table("lat").insert({"i": i}).run(w, durability="soft")
        while len(arrived) <= i:  # one write in flight at a time: pure latency
            time.sleep(0)
    t.join()
    feed.close()
    c.close()
    w.close()
    lat = sorted((a - s) * 1e3 for a, s in zip(arrived, sent, strict=True))
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1]


def throughput(r, port: int, subscribers: int, rows: int) -> float:
    # One connection per subscriber: the official blocking driver cannot share a connection
    # between threads reading different feeds (ours can; that is measured in bench_async).
    conns = [r.connect(port=port) for _ in range(subscribers)]
    feeds = [r.table("thr").changes().run(c) for c in conns]
    done = threading.Barrier(subscribers + 1)

    def read(feed) -> None:
        for _ in range(rows):
            feed.next(wait=60)
        done.wait()

    threads = [threading.Thread(target=read, args=(f,)) for f in feeds]
    for t in threads:
        t.start()
    w = r.connect(port=port)
    t0 = time.perf_counter()
    r.table("thr").insert([{"x": i} for i in range(rows)]).run(w, durability="soft")
    done.wait()
    elapsed = time.perf_counter() - t0
    for t in threads:
        t.join()
    for f in feeds:
        f.close()
    for c in [*conns, w]:
        c.close()
    return subscribers * rows / elapsed


def run(quick: bool) -> str:
    n_lat = 200 if quick else 1000
    rows = 200 if quick else 1000
    out = []
    with server() as port:
        setup = ours.connect(port=port)
        ours.table_create("lat").run(setup)
        ours.table_create("thr").run(setup)
        for name, r in DRIVERS.items():
            med, p99 = latency(r, port, n_lat)
            out.append(
                [
                    f"write-to-delivery latency, ms (median / p99), {n_lat} writes",
                    name,
                    f"{med:.2f} / {p99:.2f}",
                ]
            )
        for subs in (1, 10, 100):
            for name, r in DRIVERS.items():
                rate = throughput(r, port, subs, rows)
                out.append([f"changes delivered/s, {subs} subscriber(s), {rows} rows", name, rate])
    return table(out, ["measure", "feed reader", "value"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick))
