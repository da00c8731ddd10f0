"""The asyncio drivers side by side: ours (``loop_type="asyncio"``) and the official driver's
asyncio mode, one connection each, on the same private server.

Measures client CPU time per query (sequential point gets), per row (a cursor read with
``async for``) and the throughput of 100 concurrent queries on one connection. The drivers
take turns for several rounds and each keeps its best figures: a shared machine is noisy.

    python bench/bench_async.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rethinkdb import RethinkDB

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_server import report as server_report  # noqa: E402
from common import server  # noqa: E402

from rethought import r as ours  # noqa: E402

CONCURRENCY = 100


def official_driver() -> Any:
    """A private official ``r`` in asyncio mode (``set_loop_type`` is per instance)."""
    official = RethinkDB()
    official.set_loop_type("asyncio")
    return official


async def connect(name: str, r: Any, port: int) -> Any:
    if name == "rethought":
        return await r.connect(port=port, loop_type="asyncio")
    return await r.connect(port=port)


async def timed(body: Callable[[], Awaitable[int]]) -> tuple[float, float]:
    """(operations per second of wall time, client CPU seconds per operation)."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    n = await body()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return n / wall, cpu / n


async def measure(name: str, r: Any, port: int, sizes: dict) -> list[list]:
    conn = await connect(name, r, port)
    rows = r.table("rows")
    n_rows = sizes["rows"]

    async def point_gets() -> int:
        for i in range(sizes["gets"]):
            await rows.get(i % n_rows).run(conn)
        return sizes["gets"]

    async def cursor_read() -> int:
        count = 0
        async for _row in await rows.run(conn):
            count += 1
        assert count == n_rows
        return count

    async def concurrent() -> int:
        for round_ in range(sizes["rounds"]):
            base = round_ * CONCURRENCY
            batch = [rows.get((base + i) % n_rows).run(conn) for i in range(CONCURRENCY)]
            await asyncio.gather(*batch)
        return sizes["rounds"] * CONCURRENCY

    await point_gets()  # warm up both sides (server caches, code paths)
    results = []
    for label, body in (
        ("point get, one at a time", point_gets),
        ("rows through a cursor (async for), rows/s", cursor_read),
        (f"point get, {CONCURRENCY} concurrent on one connection", concurrent),
    ):
        ops, cpu = await timed(body)
        results.append([label, name, ops, cpu])
    await conn.close()
    return results


def run(quick: bool) -> str:
    sizes = {
        "gets": 500 if quick else 5000,
        "rows": 20000 if quick else 100000,
        "rounds": 10 if quick else 100,
        "repeats": 2 if quick else 5,
    }
    drivers = {"rethought": ours, "official": official_driver()}
    results: list[list] = []
    with server() as port:
        setup = ours.connect(port=port)
        ours.table_create("rows").run(setup)
        data = [{"id": i, "v": "x" * 20} for i in range(sizes["rows"])]
        for start in range(0, len(data), 10000):
            ours.table("rows").insert(data[start : start + 10000]).run(setup)
        setup.close()
        for _ in range(sizes["repeats"]):
            for name, r in drivers.items():
                results += asyncio.run(measure(name, r, port, sizes))
    return report(results)


def report(results: list[list]) -> str:
    """bench_server's ratio table, from each driver's best round (CPU in µs)."""
    best: dict[tuple[str, str], list] = {}
    for op, drv, ops, cpu in results:
        entry = best.setdefault((op, drv), [op, drv, 0.0, float("inf")])
        entry[2], entry[3] = max(entry[2], ops), min(entry[3], cpu * 1e6)
    return server_report(list(best.values()))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick))
