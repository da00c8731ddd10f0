"""Compiled plans of START queries seen before, keyed by the query frame's bytes.

Applications send the same queries again and again (``r.expr(1)`` health checks, the same
``order_by(index=...).limit(n)`` page, a dashboard's counts): when a frame's payload is
byte for byte one already compiled, its parse, protocol checks, term walk and compile are
skipped and only evaluation runs.

What a plan holds is a pure function of the bytes: the term tree compiled from them (no
node keeps evaluation state between runs: it lives in the ``Scope`` and the
``QueryContext`` made for each run; a ``Table``'s remembered lookup is only a checked
hint, below) and the global optargs as sent. Nothing in it is
trusted about the catalog or permissions: indexes and databases are looked up by name, and
permissions checked, when the plan runs; a ``Table`` node remembers the table it found last
only as a hint checked every run (``Storage.table_named``), so a table dropped, renamed or
recreated, an index dropped, or a grant revoked after a plan was cached, here or in another
worker, is seen by its next run exactly as by a fresh compile (tests/test_plan_cache.py,
tests/test_plan_cache_invalidation*.py). Queries are only cached once they compiled; a
compile error is raised afresh each time, as are profiled queries (their tree is wrapped
per run) and frames with duplicate object keys (their error depends on the parse).
"""

from __future__ import annotations

from typing import Any

from . import shape_bytes

#: Payloads above this many bytes are not cached: large frames are writes of data that
#: rarely repeat, and holding them would cost memory for nothing.
MAX_PAYLOAD = 4096
#: Plans kept; the least recently used goes when full.
CAPACITY = 1024


class Plan:
    """A START query compiled once: its term (for profiles and errors), global optargs as
    sent, compiled root, the ``noreply`` flag read from them, and ``direct``: whether it
    may run without a query greenlet (direct.py)."""

    __slots__ = ("raw_term", "optargs", "root", "noreply", "direct", "params", "last", "learned")

    def __init__(
        self,
        raw_term: Any,
        optargs: dict,
        root: Any,
        noreply: bool,
        direct: bool = False,
        params: tuple = (),
    ) -> None:
        self.raw_term = raw_term
        self.optargs = optargs
        self.root = root
        self.noreply = noreply
        self.direct = direct
        # A shape's plan cached for one payload's bytes: that payload's params.
        self.params = params
        # A shape's plan: the payload it served last (seen twice running: cached by bytes).
        self.last: bytes | None = None
        # A shape's plan: whether its byte template was looked for (shape_bytes.py).
        self.learned = False


class PlanCache:
    """Bounded least-recently-used maps from payload bytes to ``Plan``, and from a shape's
    bytes to the ``Plan`` its queries share (its root has ``shapes.Param`` nodes)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._plans: dict[bytes, Plan] = {}
        self.hits = 0
        self.misses = 0
        # Plans of queries differing only in literal keys, by shape bytes (shapes.py).
        self._shapes: dict[bytes, Plan] = {}
        self.shape_hits = 0
        self.shape_misses = 0
        # Byte templates of one-key shapes, most recent first (shape_bytes.py).
        self.templates: list = []

    def get(self, payload: bytes) -> Plan | None:
        plan = self._plans.pop(payload, None)
        if plan is None:
            self.misses += 1
            return None
        self._plans[payload] = plan  # most recently used last
        self.hits += 1
        return plan

    def peek(self, payload: bytes) -> Plan | None:
        """The plan for ``payload``, if cached, without counting or reordering: a caller
        that may not use it (``get`` follows) looks first, then calls ``hit``."""
        return self._plans.get(payload)

    def hit(self, payload: bytes, plan: Plan) -> None:
        """Count a use of the plan ``peek`` returned, as most recently used."""
        plans = self._plans
        del plans[payload]
        plans[payload] = plan
        self.hits += 1

    def put(self, payload: bytes, plan: Plan) -> bool:
        """Keep ``plan`` for ``payload``; False when it is not kept (too large)."""
        if len(payload) > MAX_PAYLOAD:
            return False
        plans = self._plans
        if payload not in plans and len(plans) >= self.capacity:
            del plans[next(iter(plans))]  # the least recently used
        plans[payload] = plan
        return True

    def get_shape(self, key: bytes) -> Plan | None:
        """The plan shared by the queries of one shape (shapes.py), by its bytes."""
        plan = self._shapes.pop(key, None)
        if plan is None:
            self.shape_misses += 1
            return None
        self._shapes[key] = plan
        self.shape_hits += 1
        return plan

    def put_shape(self, key: bytes, plan: Plan) -> None:
        if len(key) > MAX_PAYLOAD:
            return
        shapes = self._shapes
        if key not in shapes and len(shapes) >= self.capacity:
            del shapes[next(iter(shapes))]
        shapes[key] = plan

    def add_template(self, template: Any) -> None:
        """Keep a shape's byte template (the oldest goes when full)."""
        self.templates.insert(0, template)
        del self.templates[shape_bytes.CAPACITY :]

    def clear(self) -> None:
        self._plans.clear()
        self._shapes.clear()
        self.templates.clear()

    def __len__(self) -> int:
        return len(self._plans)
