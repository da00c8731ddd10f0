"""Query profiles (``run(conn, profile=True)``) in RethinkDB's shape.

A profile is a list of tasks ``{"description": "Evaluating map.", "duration(ms)": 0.12,
"sub_tasks": [...]}``, nested as the terms evaluated one another. Only a profiled query pays
for it: ``instrument`` wraps each node of that query's compiled tree in a ``Profiled`` proxy,
once, after compilation. Time spent later while a lazy stream is read batch by batch is not
attributed to a term (RethinkDB reports those reads as separate tasks too).
"""

from __future__ import annotations

import time
from typing import Any

from ...proto.ql2 import TermType
from .compile import Datum, Scope, Term

# Terms whose children are read structurally at evaluation time (node types, clones):
# their subtree is left unwrapped so profiling never changes what a query does.
_OPAQUE = frozenset({TermType.CHANGES})


class Profiler:
    """The task tree of one query."""

    __slots__ = ("tasks", "current")

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.current = self.tasks


class Profiled(Term):
    """A proxy that times its node and files the task under whichever term ran it."""

    __slots__ = ("inner", "profiler", "description")

    def __init__(self, inner: Term, profiler: Profiler) -> None:
        self.inner = inner
        self.profiler = profiler
        self.args = inner.args
        self.optargs = inner.optargs
        self.frames = inner.frames
        self.determinism = inner.determinism
        try:
            name = TermType(inner.tt).name.lower()
        except ValueError:
            name = type(inner).__name__.lower()
        self.description = f"Evaluating {name}."

    @property
    def tt(self) -> int:  # type: ignore[override]
        return self.inner.tt

    def __getattr__(self, name: str) -> Any:  # term-specific attributes (var_id, value, ...)
        return getattr(self.inner, name)

    def run(self, scope: Scope) -> Any:
        prof = self.profiler
        task: dict[str, Any] = {"description": self.description, "duration(ms)": 0.0}
        subs: list[dict[str, Any]] = []
        parent = prof.current
        parent.append(task)
        prof.current = subs
        started = time.perf_counter()
        try:
            return self.inner.run(scope)
        finally:
            task["duration(ms)"] = round((time.perf_counter() - started) * 1000, 6)
            task["sub_tasks"] = subs
            prof.current = parent


def instrument(root: Term, profiler: Profiler) -> Term:
    """Wrap ``root`` and its descendants (literals excepted) for profiling."""
    if isinstance(root, Datum):
        return root
    if root.tt not in _OPAQUE:
        root.args[:] = [instrument(a, profiler) for a in root.args]
        for k, v in list(root.optargs.items()):
            root.optargs[k] = instrument(v, profiler)
    return Profiled(root, profiler)
