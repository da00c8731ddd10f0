"""The long fuzzing run (tests/fuzz_harness.py; tests/test_fuzz_terms.py and
tests/test_fuzz_wire.py are the short hypothesis runs in CI):
``python bench/fuzz.py [--inputs N] [--minutes M] [--seed S]``.

The same generators as the CI runs, driven by seeded ``random.Random`` instead of
hypothesis's engine (hypothesis adds milliseconds per example; a million inputs need the
raw rate). Each round is one of: a batch of 20 pipelined term trees (well-typed or mutated)
on one connection, or one wire script (a handshake of some protocol version, SCRAM messages,
frames). An *input* is one query or one handshake message or frame. Every minute the server's
RSS and open descriptors are printed (memory must stay bounded) and a fresh connection must
get 1 + 2 = 3. Stops at the first violation, printing the seed of the round to replay.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import ServerProcess  # noqa: E402
from fuzz_harness import (  # noqa: E402
    TABLE,
    Conn,
    TermGen,
    Violation,
    run_script,
    still_serving,
    wire_script,
)


def _proc_figures(pid: int) -> tuple[int, int]:
    """(RSS in KiB, open descriptors) of process ``pid``."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def _seed_table(srv: ServerProcess) -> None:
    c = Conn(srv.host, srv.port)
    c.run([[1, [60, [TABLE]]]])
    docs = [{"id": i, "n": i % 5, "s": str(i), "grp": [i % 3]} for i in range(30)]
    c.run([[1, [56, [[15, [TABLE]], [2, docs]]]]])
    c.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1_000_000)
    ap.add_argument("--minutes", type=float, default=0, help="stop after this long (0: never)")
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(3)))
    ap.add_argument("--replay", type=int, help="run only the round with this seed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as base:
        srv = ServerProcess(f"{base}/data").start()
        _seed_table(srv)
        inputs = rounds = 0
        counts = {"terms": 0, "ill_terms": 0, "wire": 0}
        started = last_report = time.monotonic()
        master = random.Random(args.seed)
        first = _proc_figures(srv.proc.pid)
        print(f"seed {args.seed}; server RSS {first[0]} KiB, {first[1]} fds at start", flush=True)
        try:
            while inputs < args.inputs:
                seed = args.replay if args.replay is not None else master.randrange(1 << 62)
                rnd = random.Random(seed)
                kind = rnd.choice(["terms", "ill_terms", "wire", "wire"])
                try:
                    if kind == "wire":
                        inputs += run_script(srv.host, srv.port, wire_script(rnd), rnd)
                    else:
                        gen = TermGen(rnd, ill=0.0 if kind == "terms" else rnd.choice([0.05, 0.25]))
                        c = Conn(srv.host, srv.port)
                        try:
                            inputs += len(c.run([gen.query() for _ in range(20)]))
                        finally:
                            c.close()
                except Violation as e:
                    print(f"VIOLATION in round {rounds} ({kind}, --replay {seed}): {e}", flush=True)
                    return 1
                except Exception as e:  # the fuzz client itself failed: replayable too
                    print(f"CLIENT FAILURE in round {rounds} ({kind}, --replay {seed}): {e!r}")
                    raise
                counts[kind] += 1
                rounds += 1
                if srv.proc.poll() is not None:
                    print(f"SERVER DIED in round {rounds} (--replay {seed})", flush=True)
                    return 1
                now = time.monotonic()
                if now - last_report >= 60 or inputs >= args.inputs:
                    last_report = now
                    still_serving(srv.host, srv.port)
                    rss, fds = _proc_figures(srv.proc.pid)
                    print(
                        f"{now - started:.0f}s: {inputs} inputs, {rounds} rounds {counts}, "
                        f"{inputs / (now - started):.0f}/s, server RSS {rss} KiB, {fds} fds",
                        flush=True,
                    )
                if args.replay is not None:
                    break
                if args.minutes and now - started >= args.minutes * 60:
                    break
        finally:
            log = srv.log()
            srv.stop()
        if "Traceback" in log:
            print("SERVER LOG HAS A TRACEBACK:\n" + log[log.index("Traceback") - 500 :][:4000])
            return 1
        elapsed = time.monotonic() - started
        print(f"done: {inputs} inputs in {rounds} rounds, {elapsed:.0f}s, no violation", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
