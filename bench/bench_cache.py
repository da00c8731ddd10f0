"""Why a query costs more on the wire than in a loop: the driver's work per point get with no
I/O at all, once with warm caches and once after evicting them, against the floor's work.

Each step sends a point get into a stand-in transport, feeds the connection the answer's
frame and awaits the result: everything ``await r.table(...).get(i).run(conn)`` does except
the system calls and the loop's select. Between steps the benchmark may overwrite a buffer
(untimed) the size of a CPU cache, as the kernel, the server and other tenants do while the
client sleeps in ``epoll_wait`` on a real connection. The floor's step is what
bench_async.py's floor client does: write a prebuilt frame, recognise the answer's frame,
settle a future.

    python bench/bench_cache.py [--instructions]

``--instructions`` counts instead of timing: it runs the warm steps under valgrind's
callgrind (which counts executed instructions, the same count whatever else the machine is
doing) and reports instructions per step: ours, the official driver's asyncio connection
(its writer answering at once into the stream its reader task reads) and the floor's. Use it to judge a change to
the query path on a noisy machine: compare the count before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import struct
import subprocess
import sys
import time

import orjson

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_async import FloorProtocol, official_driver  # noqa: E402
from common import pin, table  # noqa: E402

from rethought import r  # noqa: E402
from rethought.client.core import ClientCore  # noqa: E402
from rethought.client.loops import asyncio_loop  # noqa: E402

HEADER = struct.Struct("<QL")
ANSWER = orjson.dumps({"t": 1, "r": [{"id": 1, "v": "x" * 20}]})
STEPS, ROUNDS = 3000, 5


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def ours_step(loop: asyncio.AbstractEventLoop):
    conn = asyncio_loop.Connection(asyncio_loop.connect_params(port=1))
    conn._loop, conn._transport = loop, _NullTransport()
    conn._core = core = ClientCore()
    core.handshake.done = True
    rows = r.table("rows")

    async def step(i: int) -> None:
        pending = rows.get(i).run(conn)
        conn._feed(HEADER.pack(core._next_token - 1, len(ANSWER)) + ANSWER)
        await pending

    return step


def official_step(loop: asyncio.AbstractEventLoop):
    """The official driver's asyncio connection, its stream writer replaced by one that
    answers each query at once into the stream its reader task reads."""
    from rethinkdb.asyncio_net import net_asyncio

    official = official_driver()
    conn = net_asyncio.Connection("localhost", 1, None, "", "admin", None, 20, {}, 10)
    instance = conn._instance = net_asyncio.ConnectionInstance(conn, loop)
    instance._streamreader = stream = asyncio.StreamReader(loop=loop)

    class _AnsweringWriter:
        def write(self, data: bytes) -> None:
            token = struct.unpack_from("<q", data)[0]
            stream.feed_data(HEADER.pack(token, len(ANSWER)) + ANSWER)

    instance._streamwriter = _AnsweringWriter()
    instance._reader_task = loop.create_task(instance._reader())
    rows = official.table("rows")

    async def step(i: int) -> None:
        await rows.get(i).run(conn)

    return step


def floor_step(loop: asyncio.AbstractEventLoop):
    """bench_async.py's floor client, its transport replaced by a list."""
    frame = HEADER.pack(1, len(ANSWER)) + ANSWER
    sent: list[bytes] = []
    protocol = FloorProtocol()

    async def step(i: int) -> None:
        protocol.waiter = waiter = loop.create_future()
        sent.append(frame)
        sent.clear()
        protocol.data_received(frame)
        await waiter

    return step


async def measure(make_step, evict_kib: int) -> float:
    """Median over rounds of the mean µs per step (only the step is timed)."""
    step = make_step(asyncio.get_running_loop())
    junk, zeros = bytearray(evict_kib << 10), bytes(evict_kib << 10)
    for i in range(500):
        await step(i)
    clock, rounds = time.perf_counter_ns, []
    for _ in range(ROUNDS):
        total = 0
        for i in range(STEPS):
            if evict_kib:
                junk[:] = zeros
            t0 = clock()
            await step(i)
            total += clock() - t0
        rounds.append(total / STEPS / 1000)
    return sorted(rounds)[ROUNDS // 2]


def main() -> str:
    pin(0, client=True)  # the CPU bench_async.py's clients run on
    rows = []
    for evict in (0, 512, 2048):
        ours = asyncio.run(measure(ours_step, evict))
        floor = asyncio.run(measure(floor_step, evict))
        label = "warm caches" if not evict else f"{evict} KiB evicted before each step"
        rows.append([label, ours, floor, ours - floor])
    return table(rows, ["before each step", "ours µs", "floor µs", "ours above floor µs"])


STEPS_OF = {"ours": ours_step, "official": official_step, "floor": floor_step}


async def _run_steps(kind: str, count: int) -> None:
    step = STEPS_OF[kind](asyncio.get_running_loop())
    await asyncio.sleep(0)  # let the official driver's reader task start
    for i in range(count):
        await step(i)


def _instructions(kind: str, count: int) -> int:
    """Instructions callgrind counts for this script running ``count`` steps of ``kind``."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
        + [__file__, "--steps", str(count), "--kind", kind],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def instructions() -> str:
    """Instructions per warm step: the difference of two runs, so start-up cancels out."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (Debian package valgrind)")
    rows = []
    for kind in STEPS_OF:
        few, many = _instructions(kind, 1000), _instructions(kind, 3000)
        rows.append([kind, (many - few) // 2000])
    return table(rows, ["step", "instructions per step"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--instructions", action="store_true", help="count under callgrind")
    ap.add_argument("--steps", type=int, help=argparse.SUPPRESS)  # one counted run
    ap.add_argument("--kind", choices=("ours", "official", "floor"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.steps is not None:
        asyncio.run(_run_steps(args.kind, args.steps))
    elif args.instructions:
        print(instructions())
    else:
        print(main())
