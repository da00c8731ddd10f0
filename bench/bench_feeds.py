"""Changefeed latency and throughput.

- write-to-delivery latency: a writer inserts one row at a time (soft durability); a reader
  blocked on the feed records when each change arrives; median and p99 over N writes.
- feed throughput with 1, 10 and 100 subscribers: one batched insert of M rows, time until
  every subscriber has received every change (changes delivered per second, all feeds).

Both drivers read the feeds, against the same server.

- sustained (``--sustained``): S subscribers (100) on one table, a paced writer inserting
  one-document soft writes at R changes/s (1,000) for D seconds (30), all on our asyncio
  driver in one client process (one connection per subscriber); each document carries its
  send time, each subscriber records when its copy arrived: p50 / p99 / max write-to-delivery
  latency over every (change, subscriber) delivery, the rate reached, server and client CPU.

    python bench/bench_feeds.py [--quick]
    python bench/bench_feeds.py --sustained [--subscribers 100] [--rate 1000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time

import rethinkdb

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import server, server_process, table  # noqa: E402

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


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _sustained(port: int, subscribers: int, rate: int, seconds: float) -> dict:
    conn = await ours.connect(port=port, loop_type="asyncio")
    await ours.table_create("sus").run(conn)
    conns = [await ours.connect(port=port, loop_type="asyncio") for _ in range(subscribers)]
    feeds = [await ours.table("sus").changes().run(c) for c in conns]
    n = int(rate * seconds)
    lat: list[float] = []
    got = [0] * subscribers

    async def read(k: int) -> None:
        feed = feeds[k]
        while got[k] < n:
            change = await feed.next()
            lat.append(time.perf_counter() - change["new_val"]["t"])
            got[k] += 1

    readers = [asyncio.ensure_future(read(k)) for k in range(subscribers)]
    w = await ours.connect(port=port, loop_type="asyncio")
    tbl = ours.table("sus")
    in_flight: set = set()
    behind = 0
    t0 = time.perf_counter()
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            behind += 1  # the writer could not keep the pace (the client or server is full)
        task = asyncio.ensure_future(_write(tbl, w, i))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        if len(in_flight) > 100:
            await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
    write_end = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*readers), 120)
    end = time.perf_counter()
    for c in [*conns, w, conn]:
        await c.close()
    lat.sort()
    ms = [x * 1e3 for x in lat]
    return {
        "writes": n,
        "deliveries": len(ms),
        "write rate": n / (write_end - t0),
        "delivery rate": len(ms) / (end - t0),
        "late sends": behind,
        "p50": ms[len(ms) // 2],
        "p99": ms[int(len(ms) * 0.99)],
        "max": ms[-1],
    }


async def _write(tbl, w, i: int) -> None:
    await tbl.insert({"id": i, "t": time.perf_counter()}).run(w, durability="soft")


def sustained(subscribers: int, rate: int, seconds: float) -> str:
    with server_process() as (port, pid):
        s0, c0 = _cpu(pid), time.process_time()
        t0 = time.perf_counter()
        res = asyncio.run(_sustained(port, subscribers, rate, seconds))
        wall = time.perf_counter() - t0
        res["server CPU share"] = (_cpu(pid) - s0) / wall
        res["client CPU share"] = (time.process_time() - c0) / wall
    rows = [[k, f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"] for k, v in res.items()]
    head = f"{subscribers} subscribers, {rate:,} changes/s for {seconds:g} s (latency in ms)"
    return head + "\n" + table(rows, ["measure", "value"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sustained", action="store_true")
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    if a.sustained:
        print(sustained(a.subscribers, a.rate, a.seconds))
    else:
        print(run(a.quick))
