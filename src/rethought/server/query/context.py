"""One query's evaluation state: the session asking, the global optargs, the services.

``QueryContext`` is what every term reaches through ``scope.ctx``; ``evaluate_global`` compiles
and evaluates one global optarg when a term first asks for it. The engine (``query.engine``)
makes a context per START query; ``DETACHED`` stands in for an engine where a term runs with no
storage or feeds (index functions compiled for storage).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ...errors import ReqlCompileError, ReqlError, ReqlQueryLogicError
from ..runtime import values
from .compile import Scope, compile_term
from .profile import Profiler

#: The services of an engine with neither storage nor a changefeed hub.
DETACHED = SimpleNamespace(storage=None, hub=None)


@dataclass
class Session:
    """Per-connection state the engine needs: who is asking, and the default database."""

    user: str = "admin"
    default_db: str = "test"


class GlobalOptargs(dict):
    """A START query's global optargs: name -> raw term, each compiled and evaluated the first
    time a term asks for it (RethinkDB keeps them as functions it calls when needed, so an
    optarg nothing reads never fails). ``db`` is not among them: ``default_db`` reads it.

    Their terms carry no backtrace (RethinkDB compiles them without one), and a compile error
    in one surfaces when it is read, as a runtime error."""

    def __init__(self, raw: dict[str, Any]) -> None:
        super().__init__(raw)
        self.has_db = has_db = "db" in raw
        self.raw_db = self.pop("db") if has_db else None
        self.db_value: Any = None  # the evaluated ``db`` (terms.catalog.default_db)
        self.done: set[str] = set()
        self.ctx: Any = None

    def __getitem__(self, name: str) -> Any:
        v = super().__getitem__(name)
        if name not in self.done:
            v = evaluate_global(self.ctx, v)
            super().__setitem__(name, v)
            self.done.add(name)
        return v

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default

    def items(self) -> Any:
        return [(k, self[k]) for k in self]

    def values(self) -> Any:
        return [self[k] for k in self]


class ConstantOptargs(GlobalOptargs):
    """Global optargs that are all strings, booleans or null (``durability="soft"``,
    ``read_mode="outdated"``): each is its own value (``evaluate_global``), so one object,
    evaluated once, serves every run of a cached plan, and reads are dict's own."""

    __getitem__ = dict.__getitem__  # type: ignore[assignment]
    get = dict.get  # type: ignore[assignment]
    items = dict.items  # type: ignore[assignment]
    values = dict.values  # type: ignore[assignment]

    def __init__(self, raw: dict[str, Any]) -> None:
        super().__init__(raw)
        self.done.update(self)


# Read before evaluation (configured limits, the profiler) or through ``default_db``.
_NOT_CONSTANT = frozenset({"db", "array_limit", "profile"})


def constant_optargs(raw: dict[str, Any]) -> dict[str, Any]:
    """A cached plan's global optargs: ``raw`` as ``ConstantOptargs`` when it can be one
    (``Engine.prepare`` then shares it), else ``raw`` itself."""
    if not raw or not _NOT_CONSTANT.isdisjoint(raw):
        return raw
    for v in raw.values():
        if v is not None and type(v) is not str and type(v) is not bool:
            return raw
    return ConstantOptargs(raw)


def evaluate_global(ctx: Any, raw: Any) -> Any:
    """One global optarg's value (a datum, or a database for ``db``); errors have no frames."""
    t = type(raw)
    if t is str or t is bool or raw is None:  # what its compiled literal evaluates to
        return raw
    try:
        node = compile_term(raw, ())
    except ReqlCompileError as e:  # compiled at run time in RethinkDB: a runtime error
        raise ReqlQueryLogicError(e.message, frames=[]) from None
    try:
        v = node.run(Scope(ctx))
        return v if isinstance(v, values.Database) else values.to_datum(v)
    except ReqlError as e:
        e.frames = []  # no term inside a global optarg has a backtrace
        raise


class QueryContext:
    """Everything a term may need while one query runs (a plain slotted class: one is made
    per query, and a dataclass's generated ``__init__`` with factories cost more)."""

    __slots__ = (
        "engine", "session", "optargs", "db_name", "now", "pending_sync", "pending_commit",
        "feeds", "array_limit", "profiler", "params", "sole_root",
    )  # fmt: skip

    def __init__(
        self,
        engine: Any,
        session: Session,
        optargs: dict[str, Any],
        db_name: str,
        now: float | None = None,
    ) -> None:
        self.engine = engine  # the Engine (or DETACHED): what terms reach as ctx.storage / hub
        self.session = session
        self.optargs = optargs  # the global optargs (a ``GlobalOptargs`` for a START query)
        self.db_name = db_name  # the default database when the query gives no ``db`` optarg
        self.now = time.time() if now is None else now  # r.now() is fixed for the whole query
        self.pending_sync = False  # a hard-durability write committed; fsync before replying
        self.pending_commit: Any = None  # a future: the group commit to wait for first
        self.feeds: list = []  # changefeeds this query opened (server.feeds)
        self.array_limit = 100_000
        self.profiler: Profiler | None = None  # set when the query runs with profile=True
        self.params: tuple = ()  # this run's literal keys / documents (shapes.py)
        # The root of a plan run this once and dropped (not cached): its literals are
        # nobody else's, so a term may hand them out uncopied (an insert's documents).
        self.sole_root: Any = None

    @property
    def storage(self) -> Any:
        return self.engine.storage

    @property
    def hub(self) -> Any:
        return self.engine.hub
