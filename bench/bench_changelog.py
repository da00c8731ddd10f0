"""What the change log costs writers, and how fast a feed resumes.

    python bench/bench_changelog.py [--quick]

Inserts: a server as shipped against one with the change log switched off
(``ChangeLog.record`` replaced by a no-op in that process only: the server has no such
option, since a log with holes would make positions lie). Rounds alternate between them
(A B, B A, ...), a fresh server each. On a VM shared with other work, interference only ever
slows a round down, so the best round of each (and the least server CPU time per document,
read from /proc) is the figure to compare; the ratio of the medians is shown too.

Storage: the same comparison in this process, on the storage layer alone (one write
transaction of 1 or 100 rows at a time, CPU time), which shows the log's own cost without
the network, the query compiler or another process's noise.

Engine: whole insert queries (wire JSON to commit and publish) through the server's engine
in this process, CPU time: the server-side cost per insert, without the network.

Resume: a feed takes its position, 10,000 changes are committed (batches of 500), then
``changes(resume_from=P)`` runs; the time until the 10,000th replayed change is in the
client's hands (our driver and the official one; also through a filter that keeps half).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import rethinkdb

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import cpu_seconds, server_process, table  # noqa: E402

from rethought import r as ours  # noqa: E402

NO_LOG = (
    "import sys; from rethought.server.storage import changelog; "
    "changelog.ChangeLog.record = lambda self, txn, table, raws: None; "
    "from rethought.cli import main; main(sys.argv[1:])"
)


def serve(log: bool):
    """A private server, with or without the change log; yields (port, pid)."""
    return server_process(head=None if log else ["-c", NO_LOG], start_timeout=90)


def insert_rounds(rounds: int, per_round: dict[str, int]) -> list[list]:
    """Rounds alternating between a server with and one without the log (a fresh server
    each round: two servers alive at once measured the first-started one slower, whichever
    it was); rows of [workload, docs/s with, without, ratio, server CPU µs/doc ...]."""
    samples: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    counter = iter(range(10**9))
    for round_no in range(rounds):
        order = (True, False) if round_no % 2 == 0 else (False, True)
        for log in order:
            with serve(log) as (port, pid):
                c = ours.connect(port=port)
                for dur in ("hard", "soft"):
                    ours.table_create(f"ins_{dur}", durability=dur).run(c)
                for workload, n in per_round.items():
                    dur, size = workload.split("/")
                    size_n = int(size)
                    tbl = ours.table(f"ins_{dur}")
                    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                    for _ in range(n // size_n):
                        if size_n == 1:
                            tbl.insert({"v": next(counter), "pad": "x" * 40}).run(c)
                        else:
                            docs = [{"v": next(counter), "pad": "x" * 40} for _ in range(size_n)]
                            tbl.insert(docs).run(c)
                    wall = time.perf_counter() - t0
                    cpu = cpu_seconds(pid) - cpu0
                    samples.setdefault((workload, log), []).append((n / wall, cpu * 1e6 / n))
                c.close()
    rows = []
    for workload in per_round:
        on = samples[(workload, True)]
        off = samples[(workload, False)]
        best_on, best_off = max(s[0] for s in on), max(s[0] for s in off)
        med_ratio = statistics.median(s[0] for s in on) / statistics.median(s[0] for s in off)
        cpu_on, cpu_off = min(s[1] for s in on), min(s[1] for s in off)
        dur, size = workload.split("/")
        label = f"insert {size}-doc {'batch' if size != '1' else 'query'} ({dur})"
        rows.append(
            [
                label,
                best_on,
                best_off,
                best_on / best_off,
                med_ratio,
                cpu_on,
                cpu_off,
                cpu_on / cpu_off,
            ]
        )
    return rows


def storage_rounds(rounds: int, n: int) -> list[list]:
    """The log's own cost, without a network or a query: one-row write transactions on a
    storage in this process, client CPU µs each, record on and off alternately (best and
    median round)."""
    from rethought.server.storage import Storage, changelog

    record = changelog.ChangeLog.record
    out = []
    with tempfile.TemporaryDirectory(prefix="rethought-bench-") as d:
        storage = Storage(d)
        for size in (1, 100):
            tbl = storage.table_create("test", f"s{size}", durability="soft")
            times: dict[bool, list[float]] = {True: [], False: []}
            key = iter(range(10**9))
            for _ in range(rounds):
                for log in (True, False):
                    changelog.ChangeLog.record = record if log else (lambda *a: None)
                    t0 = time.process_time()
                    for _ in range(n // size):
                        with tbl.write() as w:
                            for _ in range(size):
                                w.put({"id": next(key), "pad": "x" * 40})
                    times[log].append((time.process_time() - t0) * 1e6 / n)
            changelog.ChangeLog.record = record
            on, off = times[True], times[False]
            label = f"storage write of {size} row(s), CPU µs per row"
            out.append([label + " (best)", min(on), min(off), min(on) / min(off)])
            med_on, med_off = statistics.median(on), statistics.median(off)
            out.append([label + " (median)", med_on, med_off, med_on / med_off])
        storage.close()
    return out


def engine_rounds(rounds: int, n: int) -> list[list]:
    """Whole insert queries through the server's engine in this process (wire JSON in,
    compile, evaluate, write, commit, publish), no network: CPU µs per query, log on and off
    alternately."""
    from rethought.server.feeds import ChangefeedHub
    from rethought.server.query.engine import Engine, Session
    from rethought.server.storage import Storage, changelog

    record = changelog.ChangeLog.record
    out = []
    with tempfile.TemporaryDirectory(prefix="rethought-bench-") as d:
        storage = Storage(d)
        engine = Engine(storage, hub=ChangefeedHub())
        session = Session()
        for size in (1, 100):
            storage.table_create("test", f"e{size}", durability="soft")
            key = iter(range(10**9))

            def insert(size: int = size) -> None:
                docs = [{"v": next(key), "pad": "x" * 40} for _ in range(size)]
                term = [56, [[15, [f"e{size}"]], docs[0] if size == 1 else [2, docs]]]
                engine.execute(engine.prepare(term, {}, session))

            times: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(rounds):
                for log in (True, False):
                    changelog.ChangeLog.record = record if log else (lambda *a: None)
                    t0 = time.process_time()
                    for _ in range(n // size):
                        insert()
                    times[log].append((time.process_time() - t0) * 1e6 / n)
            changelog.ChangeLog.record = record
            label = f"insert query of {size} doc(s) through the engine, CPU µs per doc"
            on, off = min(times[True]), min(times[False])
            out.append([label + " (best)", on, off, on / off])
            on, off = statistics.median(times[True]), statistics.median(times[False])
            out.append([label + " (median)", on, off, on / off])
        storage.close()
    return out


def resume_latency(pending: int) -> list[list]:
    """Seconds from sending resume_from to holding the last of ``pending`` replayed changes."""
    rows = []
    with serve(True) as (port, _):
        setup = ours.connect(port=port)
        ours.table_create("feed").run(setup)
        tbl = ours.table("feed")
        feed = tbl.changes(include_positions=True, include_states=True).run(setup)
        position = feed.next(wait=5)["position"]
        feed.close()
        for i in range(0, pending, 500):
            tbl.insert([{"id": j, "pad": "x" * 40} for j in range(i, i + 500)]).run(setup)
        for drv_name, r in (("rethought", ours), ("official", rethinkdb.r)):
            c = r.connect(port=port)
            for label, query, want in (
                ("whole table", r.table("feed"), pending),
                ("filter keeping half", r.table("feed").filter(r.row["id"] % 2 == 0), pending // 2),
            ):
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    cur = query.changes(resume_from=position).run(c)
                    for _ in range(want):
                        cur.next()
                    times.append(time.perf_counter() - t0)
                    cur.close()
                best = min(times)
                rows.append([f"resume, {pending} pending, {label}", drv_name, best, want / best])
            c.close()
        setup.close()
    return rows


def run(quick: bool) -> str:
    per_round = {"hard/1": 500, "soft/1": 2000, "hard/100": 10000, "soft/100": 20000}
    if quick:
        per_round = {k: v // 10 for k, v in per_round.items()}
    inserts = insert_rounds(2 if quick else 10, per_round)
    storage = storage_rounds(5 if quick else 20, 2000)
    storage += engine_rounds(5 if quick else 20, 1000)
    resumes = resume_latency(2000 if quick else 10000)
    out = table(
        inserts,
        [
            "workload",
            "with log docs/s (best round)",
            "without log docs/s (best round)",
            "throughput ratio (best)",
            "throughput ratio (medians)",
            "with log server CPU µs/doc (least)",
            "without log server CPU µs/doc (least)",
            "CPU ratio",
        ],
    )
    out += "\n\n" + table(storage, ["storage (in process)", "with log", "without log", "ratio"])
    out += "\n\n" + table(resumes, ["resume", "driver", "seconds (best of 3)", "changes/s"])
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick))
