"""The long crash-trial run (tests/crash_harness.py; tests/test_crash_trials.py is the short
one in CI): ``python bench/crash_trials.py [--trials N] [--seed S] [--per-dir K]``.

Prints one line per trial and a summary; exits non-zero at the first broken promise, naming
the trial and its seed (rerun with that seed to reproduce the workload; the kill moment is
random in time, so a rare interleaving may take several runs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from crash_harness import run_trials  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(2)))
    ap.add_argument("--per-dir", type=int, default=5, help="trials per data directory")
    args = ap.parse_args()
    import rethinkdb

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-trials-") as base:
        done = 0
        totals = {"ops": 0, "hard": 0, "soft": 0, "soft_survived": 0}
        # One trial at a time through run_trials' own loop, so each line prints as it ends.
        for i in range(0, args.trials, args.per_dir):
            n = min(args.per_dir, args.trials - i)
            try:
                trials = run_trials(
                    rethinkdb.r, f"{base}/{i}", n, seed=args.seed + i, per_dir=args.per_dir
                )
            except AssertionError as e:
                print(f"FAILED after {done} trials: {e}", flush=True)
                return 1
            for t in trials:
                done += 1
                print(
                    f"trial {done}: killed after {t.kill_after}s, {t.ops} ops so far, "
                    f"{t.hard} hard / {t.soft_survived} of {t.soft} soft keys, {t.tables} "
                    f"tables, {t.indexes} indexes, in flight {[f[0] for f in t.in_flight]}",
                    flush=True,
                )
            last = trials[-1]
            for k in ("ops", "hard", "soft", "soft_survived"):
                totals[k] += getattr(last, k)
    elapsed = time.monotonic() - started
    print(
        f"{done} trials passed in {elapsed:.0f}s (seed {args.seed}): {totals['ops']} operations, "
        f"{totals['hard']} hard-acknowledged keys checked at the end of each directory, "
        f"{totals['soft_survived']} of {totals['soft']} soft keys survived",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
