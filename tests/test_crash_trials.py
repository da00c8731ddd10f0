"""Crash trials in CI: a short run of tests/crash_harness.py (bench/crash_trials.py is the
long one). Each trial SIGKILLs `rethought serve` at a random moment of a mixed workload
(hard and soft, single and batch inserts, function updates, deletes, server-keyed inserts,
table create/rename/drop, index create/rebuild/drop, reconfigure, durability changes, open
feeds), restarts it, and checks every promise the acknowledgements made."""

from __future__ import annotations

import os

from crash_harness import run_trials

TRIALS = int(os.environ.get("RETHOUGHT_CRASH_TRIALS", "12"))


def test_crash_trials(tmp_path, official_r):
    trials = run_trials(official_r, str(tmp_path), TRIALS, seed=int.from_bytes(os.urandom(2)))
    assert len(trials) == TRIALS
    # The workload really ran: acknowledged hard writes were there to check.
    assert sum(t.hard for t in trials) > 0
