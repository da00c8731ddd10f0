"""The asyncio drivers side by side: ours (``loop_type="asyncio"``) and the official driver's
asyncio mode, one connection each, on the same private server.

Measures client CPU time per query (sequential point gets), per row (a cursor read with
``async for``) and the throughput of 100 concurrent queries on one connection. The drivers
take turns for several rounds and each keeps its best figures: a shared machine is noisy.

A third client gives the floor under any asyncio driver: a bare ``asyncio.Protocol`` that
writes a prebuilt point-get frame and waits on a future for the answer's bytes (no query
building, no JSON). Its CPU per query is the event loop and the kernel's share, which no
driver on the same loop can go below; the table of costs above that floor follows.

    python bench/bench_async.py [--quick] [--uvloop]

``--uvloop`` runs all three clients on uvloop instead of the standard loop (uvicorn, hence
FastAPI, uses it whenever it is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from rethinkdb import RethinkDB

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_server import report as server_report  # noqa: E402
from common import server, table  # noqa: E402

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


class FloorProtocol(asyncio.Protocol):
    """The floor client: counts answer bytes until a whole frame is in, then wakes."""

    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= 12:
            end = 12 + struct.unpack_from("<I", self.buffer, 8)[0]
            if len(self.buffer) >= end:
                self.buffer = self.buffer[end:]
                self.waiter.set_result(None)


async def floor_client(port: int, count: int) -> tuple[asyncio.Transport, Callable]:
    """The floor client on a connection our driver opened (it did the handshake): its
    transport, and a coroutine function running ``count`` point gets as bare frames."""
    conn = await ours.connect(port=port, loop_type="asyncio")
    transport, protocol = conn._transport, FloorProtocol()
    transport.set_protocol(protocol)
    loop = asyncio.get_running_loop()
    payload = orjson.dumps([1, ours.table("rows").get(1).build()])  # START
    header = struct.Struct("<QI")
    frames = [header.pack(1000 + i, len(payload)) + payload for i in range(count)]

    async def point_gets() -> int:
        for frame in frames:
            protocol.waiter = loop.create_future()
            transport.write(frame)
            await protocol.waiter
        return len(frames)

    return transport, point_gets


async def measure_floor(port: int, sizes: dict) -> list[list]:
    transport, point_gets = await floor_client(port, sizes["gets"])
    await point_gets()
    ops, cpu = await timed(point_gets)
    transport.close()
    return [["point get, one at a time", "floor", ops, cpu]]


def run(quick: bool, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None) -> str:
    sizes = {
        # Many short rounds rather than a few long ones: the best round is the one that
        # background load on a shared machine happened to miss.
        "gets": 500 if quick else 1000,
        "rows": 20000 if quick else 100000,
        "rounds": 10 if quick else 20,
        "repeats": 2 if quick else 15,
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
                with asyncio.Runner(loop_factory=loop_factory) as runner:
                    results += runner.run(measure(name, r, port, sizes))
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                results += runner.run(measure_floor(port, sizes))
    return report(results)


def report(results: list[list]) -> str:
    """bench_server's ratio table, from each driver's best round (CPU in µs), then the
    point-get CPU above the floor."""
    best: dict[tuple[str, str], list] = {}
    for op, drv, ops, cpu in results:
        entry = best.setdefault((op, drv), [op, drv, 0.0, float("inf")])
        entry[2], entry[3] = max(entry[2], ops), min(entry[3], cpu * 1e6)
    floor = best.pop(("point get, one at a time", "floor"))[3]
    ours_cpu = best[("point get, one at a time", "rethought")][3]
    official_cpu = best[("point get, one at a time", "official")][3]
    above = [
        [
            "point get, one at a time",
            floor,
            ours_cpu - floor,
            official_cpu - floor,
            (ours_cpu - floor) / (official_cpu - floor),
        ]
    ]
    header = [
        "operation",
        "floor CPU µs/op",
        "ours above floor",
        "official above floor",
        "ratio",
    ]
    return server_report(list(best.values())) + "\n\n" + table(above, header)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--uvloop", action="store_true", help="run every client on uvloop")
    args = ap.parse_args()
    factory = None
    if args.uvloop:
        import uvloop

        factory = uvloop.new_event_loop
    print(run(args.quick, factory))
