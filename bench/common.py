"""Shared pieces of the benchmarks: a private server, timing, and a results table.

Benchmarks compare side by side in one run (ours vs the official driver, against the same
server) and report ratios, because absolute numbers on a shared machine are noisy.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(pid: int, client: bool) -> None:
    """With two or more CPUs, keep the server and the benchmark client on separate ones:
    the scheduler then never moves them onto one core mid-measurement, which made the CPU
    per operation of otherwise identical rounds differ by half."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(pid, {cpus[0]} if client else set(cpus[1:]))


@contextmanager
def server(extra: list[str] | None = None):
    """A fresh `rethought serve` on a temporary directory; yields its port."""
    with server_process(extra) as (port, _pid):
        yield port


@contextmanager
def server_process(
    extra: list[str] | None = None,
    head: list[str] | None = None,
    start_timeout: float = 30,
    pin_server: bool = True,
):
    """A fresh `rethought serve` on a temporary directory; yields (port, pid). ``head``
    replaces ``-m rethought`` (e.g. ``["-c", code]`` to run a patched server);
    ``pin_server=False`` pins neither side (``--workers`` servers need every core)."""
    with tempfile.TemporaryDirectory(prefix="rethought-bench-") as d:
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                *(head or ["-m", "rethought"]),
                "serve",
                "--driver-port",
                str(port),
                "--directory",
                os.path.join(d, "data"),
                "--no-http-admin",
                *(extra or []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if pin_server:
            pin(proc.pid, client=False)
            pin(0, client=True)  # this process: the benchmark's client
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("server did not start") from None
                    time.sleep(0.05)
            yield port, proc.pid
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def rate(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """Run fn n times; (operations per second of wall time, client CPU seconds per op)."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return n / wall, cpu / n


def table(rows: list[list[Any]], header: list[str]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        out.append("| " + " | ".join(_fmt(x) for x in row) + " |")
    return "\n".join(out)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        if x >= 100:
            return f"{x:,.0f}"
        if x >= 1:
            return f"{x:.2f}"
        return f"{x:.3g}"
    return str(x)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
