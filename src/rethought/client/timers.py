"""Timers kept by the driver itself, for a loop whose own timers cannot call back into it
(trio: only a task that awaits can run anything). Sans-IO: the caller passes the clock."""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable

__all__ = ["TimerHeap"]


class TimerHeap:
    """Deadlines and their functions; ``run(now)`` fires the due ones in deadline order."""

    def __init__(self) -> None:
        self._heap: list = []
        self._ids = itertools.count()  # ties fire in the order they were armed

    def add(self, deadline: float, fn: Callable[[], None]) -> Callable[[], None]:
        """Arm ``fn`` for ``deadline``; returns the function that disarms it."""
        entry = [deadline, next(self._ids), fn]
        heapq.heappush(self._heap, entry)
        return lambda: entry.__setitem__(2, None)

    def run(self, now: float) -> float:
        """Fire every timer due at ``now`` (skipping disarmed ones); the next deadline, or
        inf if none is armed."""
        heap = self._heap
        while heap and (heap[0][2] is None or heap[0][0] <= now):
            fn = heapq.heappop(heap)[2]
            if fn is not None:
                fn()
        return heap[0][0] if heap else math.inf
