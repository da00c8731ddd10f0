"""What ``rethinkdb.stats`` reports: query and document counters, and their rates per second.

The counters are cheap integer additions on the paths that already exist: a START counts a
query, every batch of a sequence counts the documents it returns (read_docs), every committed
write counts the documents it changed (written_docs), per table and for the server.

Rates come from a sampler (``server.system.stats_sampler``) that wakes once a second, as RethinkDB's perfmon collections and its
timer-driven changefeed on ``stats`` (caching_cfeed_backend.cc: a 1000 ms repeating timer) do.
Each tick it also recomputes the ``stats`` rows and publishes the ones that changed, so
``r.db('rethinkdb').table('stats').changes()`` is a live feed, shared by every subscriber
(one timer per server, not per client).
"""

from __future__ import annotations

import time
from collections.abc import Callable

TICK_SECONDS = 1.0


class Counters:
    """Process-wide totals and the rates the last tick measured."""

    def __init__(self) -> None:
        self.queries_total = 0
        self.read_docs_total = 0
        self.written_docs_total = 0
        self.table_reads: dict[str, int] = {}
        self.table_writes: dict[str, int] = {}
        self.rates: dict[str, float] = {}
        self.table_rates: dict[str, tuple[float, float]] = {}
        self.connections: Callable[[], int] = lambda: 0
        self._last: tuple[float, int, int, int, dict, dict] | None = None

    def query(self) -> None:
        self.queries_total += 1

    def read(self, n: int, table_id: str | None = None) -> None:
        self.read_docs_total += n
        if table_id is not None:
            self.table_reads[table_id] = self.table_reads.get(table_id, 0) + n

    def wrote(self, table_id: str, n: int) -> None:
        self.written_docs_total += n
        self.table_writes[table_id] = self.table_writes.get(table_id, 0) + n

    def tick(self, now: float | None = None) -> None:
        """Turn the totals since the previous tick into per-second rates."""
        now = time.monotonic() if now is None else now
        reads, writes = dict(self.table_reads), dict(self.table_writes)
        current = (now, self.queries_total, self.read_docs_total, self.written_docs_total)
        if self._last is not None:
            then, q0, r0, w0, reads0, writes0 = self._last
            span = max(now - then, 1e-3)
            self.rates = {
                "queries_per_sec": round((current[1] - q0) / span, 3),
                "read_docs_per_sec": round((current[2] - r0) / span, 3),
                "written_docs_per_sec": round((current[3] - w0) / span, 3),
            }
            self.table_rates = {
                t: (
                    round((reads.get(t, 0) - reads0.get(t, 0)) / span, 3),
                    round((writes.get(t, 0) - writes0.get(t, 0)) / span, 3),
                )
                for t in set(reads) | set(writes)
            }
        self._last = (*current, reads, writes)

    def rate(self, name: str) -> float:
        return self.rates.get(name, 0)

    def table_rate(self, table_id: str) -> tuple[float, float]:
        return self.table_rates.get(table_id, (0, 0))


COUNTERS = Counters()
