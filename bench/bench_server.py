"""Server throughput through both drivers: inserts (single / batched, hard / soft), point
gets, and rows per second through a cursor. Blocking drivers, one connection each.

    python bench/bench_server.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time

import rethinkdb

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import rate, server, table  # noqa: E402

from rethought import r as ours  # noqa: E402

DRIVERS = {"rethought": ours, "official": rethinkdb.r}


def run(quick: bool) -> str:
    n_single = 300 if quick else 2000
    n_batches = 20 if quick else 100
    n_gets = 1000 if quick else 10000
    n_rows = 20000 if quick else 100000
    results = []
    with server() as port:
        setup = ours.connect(port=port)
        for name in ("hard", "soft"):
            ours.table_create(f"ins_{name}", durability=name).run(setup)
        ours.table_create("rows").run(setup)
        ours.table("rows").insert([{"id": i, "v": "x" * 20} for i in range(n_rows)]).run(setup)
        for drv_name, r in DRIVERS.items():
            c = r.connect(port=port)
            for dur in ("hard", "soft"):
                counter = iter(range(10**9))
                tbl = r.table(f"ins_{dur}")
                ops, cpu = rate(lambda: tbl.insert({"v": next(counter)}).run(c), n_single)
                results.append([f"insert 1 doc ({dur})", drv_name, ops, cpu * 1e6])
                batch = [{"v": i} for i in range(100)]
                ops, cpu = rate(lambda: tbl.insert(batch).run(c), n_batches)
                results.append(
                    [f"insert 100-doc batch ({dur}), docs/s", drv_name, ops * 100, cpu * 1e6 / 100]
                )
            rows = r.table("rows")
            keys = iter(range(10**9))
            ops, cpu = rate(lambda: rows.get(next(keys) % n_rows).run(c), n_gets)
            results.append(["point get", drv_name, ops, cpu * 1e6])
            cpu0, t0 = time.process_time(), time.perf_counter()
            count = sum(1 for _ in rows.run(c))
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            assert count == n_rows
            results.append(
                ["rows through a cursor, rows/s", drv_name, count / wall, cpu * 1e6 / count]
            )
            c.close()
        setup.close()
    return report(results)


def report(results: list[list]) -> str:
    by_op: dict[str, dict[str, list]] = {}
    for op, drv, ops, cpu in results:
        by_op.setdefault(op, {})[drv] = [ops, cpu]
    rows = []
    for op, d in by_op.items():
        o, f = d["rethought"], d["official"]
        rows.append([op, o[0], f[0], o[0] / f[0], o[1], f[1], o[1] / f[1]])
    return table(
        rows,
        [
            "operation",
            "ours ops/s",
            "official ops/s",
            "ratio",
            "ours client CPU µs/op",
            "official client CPU µs/op",
            "CPU ratio",
        ],
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    print(run(ap.parse_args().quick))
