"""Counted, not timed: what each asyncio client makes its process do per query and per row
on a real connection, ours against the official driver's asyncio mode and bench_async.py's
floor client.

- **User-space instructions** (valgrind's callgrind): the driver, the event loop and the
  interpreter, everything but the kernel. The count is the same on every run, whatever the
  machine's load, so the ratio is exact where bench_async.py's CPU times are noisy.
- **System calls** (strace), by name: the kernel's share is paid per call, the same for
  every driver on the same loop.

Each figure is the difference of two runs of one client (N and 3N operations), so start-up
and connecting cancel out. The server runs outside valgrind, on its own.

    python bench/bench_wire_counts.py [--uvloop]

Needs valgrind and strace (Debian packages of those names).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bench_async import connect, floor_client, official_driver  # noqa: E402
from common import server, table  # noqa: E402

from rethought import r as ours  # noqa: E402

QUERIES = 400  # point gets per counted run (and three times as many)
ROWS = 4000  # rows of the table read through a cursor (once, and three times)
CLIENTS = ("floor", "rethought", "official")


async def client(kind: str, port: int, what: str, times: int) -> None:
    """One counted run: ``times`` point gets, or ``times`` reads of the whole table."""
    if kind == "floor":
        transport, point_gets = await floor_client(port, times)
        await point_gets()
        transport.close()
        return
    r = ours if kind == "rethought" else official_driver()
    conn = await connect(kind, r, port)
    rows = r.table("rows")
    if what == "queries":
        for i in range(times):
            await rows.get(i % ROWS).run(conn)
    else:
        for _ in range(times):
            count = 0
            async for _row in await rows.run(conn):
                count += 1
            assert count == ROWS
    await conn.close()


def _command(kind: str, port: int, what: str, times: int, uvloop: bool) -> list[str]:
    args = [sys.executable, __file__, "--client", kind, "--port", str(port)]
    args += ["--what", what, "--times", str(times)] + (["--uvloop"] if uvloop else [])
    return args


def instructions(command: list[str]) -> int:
    err = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    return int(re.search(r"Collected : (\d+)", err).group(1))


def syscalls(command: list[str]) -> collections.Counter:
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(["strace", "-f", "-c", "-o", out.name, *command], check=True)
        counts: collections.Counter = collections.Counter()
        for line in out:  # % time, seconds, usecs/call, calls, [errors,] syscall
            fields = line.split()
            if len(fields) >= 5 and fields[3].isdigit() and fields[-1] != "total":
                counts[fields[-1]] = int(fields[3])
        return counts


def per_operation(kind: str, port: int, what: str, uvloop: bool) -> tuple[float, dict]:
    """(instructions, {system call: calls}) per query or per row of ``kind``."""
    few, many = (QUERIES, 3 * QUERIES) if what == "queries" else (1, 3)
    ops = (many - few) * (1 if what == "queries" else ROWS)
    small, big = (_command(kind, port, what, n, uvloop) for n in (few, many))
    count = (instructions(big) - instructions(small)) / ops
    calls = syscalls(big)
    calls.subtract(syscalls(small))
    per = ops if what == "queries" else ops / 1000  # system calls: per 1,000 rows
    # Calls made less than once per 20 units are start-up noise, not the path's.
    return count, {name: n / per for name, n in calls.items() if n / per >= 0.05}


def _calls(calls: dict) -> str:
    return ", ".join(f"{name} {n:.2g}" for name, n in sorted(calls.items())) or "none"


def run(uvloop: bool) -> str:
    for tool in ("valgrind", "strace"):
        if shutil.which(tool) is None:
            raise SystemExit(f"needs {tool} (Debian package {tool})")
    out = []
    with server() as port:
        setup = ours.connect(port=port)
        ours.table_create("rows").run(setup)
        ours.table("rows").insert([{"id": i, "v": "x" * 20} for i in range(ROWS)]).run(setup)
        setup.close()
        for what, kinds in (("queries", CLIENTS), ("rows", CLIENTS[1:])):
            results = {kind: per_operation(kind, port, what, uvloop) for kind in kinds}
            official = results["official"]
            rows = []
            for kind, (count, calls) in results.items():
                total = sum(calls.values())
                rows.append(
                    [
                        kind,
                        round(count),
                        count / official[0],
                        round(total, 2),
                        total / sum(official[1].values()),
                        _calls(calls),
                    ]
                )
            unit = "query (point get)" if what == "queries" else "row (async for)"
            header = [
                f"per {unit}",
                "instructions",
                "vs official",
                "system calls" if what == "queries" else "system calls per 1,000 rows",
                "vs official",
                "which",
            ]
            out.append(table(rows, header))
    return "\n\n".join(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--uvloop", action="store_true", help="run every client on uvloop")
    ap.add_argument("--client", choices=CLIENTS, help=argparse.SUPPRESS)  # one counted run
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--what", choices=("queries", "rows"), help=argparse.SUPPRESS)
    ap.add_argument("--times", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client is None:
        print(run(args.uvloop))
    else:
        factory = None
        if args.uvloop:
            import uvloop

            factory = uvloop.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(client(args.client, args.port, args.what, args.times))
