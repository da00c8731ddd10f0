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
    # Each identifier_format is its own table (system/live.py routes "uuid" feeds apart).
    routes = {"name": stats_id, "uuid": f"{stats_id}|uuid"}
    previous: dict[str, dict[str, dict]] = {fmt: {} for fmt in routes}
    while stop is None or not stop.is_set():
        await asyncio.sleep(TICK_SECONDS)
        COUNTERS.tick()
        for fmt, key in routes.items():
            if fmt != "name" and not getattr(hub, "watched", lambda key: False)(key):
                previous[fmt] = {}  # nobody reads it: no rows computed for it
                continue
            before = previous[fmt]
            rows = {repr(row["id"]): row for row in Stats(ctx, fmt).rows()}
            changes = [(before.get(k), row) for k, row in rows.items() if before.get(k) != row]
            changes += [(row, None) for k, row in before.items() if k not in rows]
            previous[fmt] = rows
            if changes:
                hub.publish_to(key, changes)
