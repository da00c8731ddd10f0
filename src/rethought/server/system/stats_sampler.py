"""Publishes the ``stats`` system table's rows to its changefeeds, once a second."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from ..runtime.stats import COUNTERS, TICK_SECONDS


async def run_sampler(storage: Any, hub: Any, stop: asyncio.Event | None = None) -> None:
    """Tick the counters every second and publish changed ``stats`` rows to their feeds."""
    from ..system import table_id
    from ..system.tables import Stats

    ctx = SimpleNamespace(storage=storage)
    stats_id = table_id("stats")
    previous: dict[str, dict] = {}
    while stop is None or not stop.is_set():
        await asyncio.sleep(TICK_SECONDS)
        COUNTERS.tick()
        rows = {repr(row["id"]): row for row in Stats(ctx).rows()}
        changes = [(previous.get(k), row) for k, row in rows.items() if previous.get(k) != row]
        changes += [(row, None) for k, row in previous.items() if k not in rows]
        previous = rows
        if changes:
            hub.publish_to(stats_id, changes)
