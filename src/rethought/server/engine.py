"""The query engine: what ``server.net`` calls to run one START query.

``Engine.prepare`` compiles the term tree and the global optargs; ``Engine.execute`` evaluates
it and says what came out:

- ``Result.atom(value)``: a datum, sent as SUCCESS_ATOM;
- ``Result.stream(iterator)``: a lazy sequence, sent in batches (SUCCESS_PARTIAL ... then
  SUCCESS_SEQUENCE), each CONTINUE pulling the next batch;
- ``Result.feed(cursor)``: a changefeed (``server.feeds.FeedCursor``): ``await
  cursor.next_batch()`` gives the next rows, waiting for changes; ``cursor.done`` turns true
  when a finite pipeline over the feed (``changes().limit(2)``) ends; ``close()`` unsubscribes.

Evaluation is synchronous (LMDB reads are fast and local); the only awaits are the fsync of a
hard-durability write (``QueryContext.pending_sync``) and feeds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import ReqlCompileError, ReqlError, ReqlQueryLogicError
from ..proto.ql2 import TermType as T
from . import (
    terms,  # noqa: F401  (registers every term family)
    values,
)
from .compile import Scope, Term, blame, compile_term
from .feeds import FeedCursor
from .profile import Profiler, instrument
from .walker import walk_term

ATOM, STREAM, FEED = "atom", "stream", "feed"

#: Optarg names RethinkDB accepts on a START query (optargs.cc's ``acceptable_optargs``): the
#: union of every term's optargs, the underscore names RethinkDB uses internally, and
#: ``use_outdated`` (kept so TABLE can say why it is refused).
RUN_OPTARGS = frozenset(
    """
    _EVAL_FLAGS_ _NO_RECURSE_ _SHORTCUT_ array_limit attempts auth base binary_format
    changefeed_queue_size conflict data db default default_timezone dry_run durability
    emergency_repair emit fill final_emit first_batch_scaledown_factor float geo geo_system
    group_format header identifier_format ignore_write_hook include_initial include_offsets
    include_states include_types index interleave ordered left_bound max_batch_bytes
    max_batch_rows max_batch_seconds max_dist max_results method min_batch_rows multi non_atomic
    nonvoting_replica_tags noreply num_vertices overwrite page page_limit params primary_key
    primary_replica_tag profile read_mode redirects replicas result_format return_changes
    return_vals right_bound shards squash time_format timeout unit use_outdated verify wait_for
    """.split()
)


@dataclass
class Session:
    """Per-connection state the engine needs: who is asking, and the default database."""

    user: str = "admin"
    default_db: str = "test"


def _static_true(raw: Any) -> bool:
    """``profile`` as RethinkDB reads it before compiling: true or ``[DATUM, true]``."""
    return raw is True or (type(raw) is list and raw[:1] == [T.DATUM] and raw[1:] == [True])


class GlobalOptargs(dict):
    """A START query's global optargs: name -> raw term, each compiled and evaluated the first
    time a term asks for it (RethinkDB keeps them as functions it calls when needed, so an
    optarg nothing reads never fails). ``db`` is not among them: ``default_db`` reads it.

    Their terms carry no backtrace (RethinkDB compiles them without one), and a compile error
    in one surfaces when it is read, as a runtime error."""

    def __init__(self, raw: dict[str, Any]) -> None:
        super().__init__((k, v) for k, v in raw.items() if k != "db")
        self.has_db = "db" in raw
        self.raw_db = raw.get("db")
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


def evaluate_global(ctx: Any, raw: Any) -> Any:
    """One global optarg's value (a datum, or a database for ``db``); errors have no frames."""
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


@dataclass
class QueryContext:
    """Everything a term may need while one query runs."""

    engine: Engine
    session: Session
    optargs: dict[str, Any]  # the global optargs (a ``GlobalOptargs`` for a START query)
    db_name: str  # the default database when the query gives no ``db`` optarg
    now: float = field(default_factory=time.time)  # r.now() is fixed for the whole query
    pending_sync: bool = False  # a hard-durability write committed; fsync before replying
    feeds: list = field(default_factory=list)  # changefeeds this query opened (server.feeds)
    array_limit: int = 100_000
    profiler: Profiler | None = None  # set when the query runs with profile=True

    @property
    def storage(self) -> Any:
        return self.engine.storage

    @property
    def hub(self) -> Any:
        return self.engine.hub


@dataclass
class Result:
    kind: str
    value: Any
    notes: list[int] = field(default_factory=list)


@dataclass
class Prepared:
    root: Term
    ctx: QueryContext


class Engine:
    """Owns storage and the changefeed hub; compiles and evaluates queries."""

    def __init__(self, storage: Any, hub: Any = None) -> None:
        self.storage = storage
        self.hub = hub
        if hub is not None and storage is not None:
            storage.drop_listeners.append(hub.table_dropped)

    def prepare(self, raw_term: Any, raw_optargs: dict[str, Any], session: Session) -> Prepared:
        # query_cache_t::create: the term walker over the query, then each global optarg in
        # turn is walked and its name checked (add_optarg's rcheck_toplevel: no backtrace).
        walk_term(raw_term)
        for name, raw in raw_optargs.items():
            walk_term(raw, False)
            if name not in RUN_OPTARGS:
                raise ReqlCompileError(
                    f"Unrecognized global optional argument `{name}`.", frames=[]
                )
        root = compile_term(raw_term)
        ctx = QueryContext(self, session, GlobalOptargs(raw_optargs), session.default_db)
        ctx.optargs.ctx = ctx
        if "array_limit" in ctx.optargs:
            # configured_limits_t, made before evaluation: as_int, then check_limit.
            limit = blame(values.as_int, None, ctx.optargs["array_limit"], ())
            if limit < 1:
                raise ReqlQueryLogicError(
                    f"Illegal array size limit `{limit}`.  (Must be >= 1.)", frames=[]
                )
            ctx.array_limit = limit
        if _static_true(raw_optargs.get("profile")):
            ctx.profiler = Profiler()
            root = instrument(root, ctx.profiler)
        return Prepared(root, ctx)

    def execute(self, prepared: Prepared) -> Result:
        ctx = prepared.ctx
        try:
            value = prepared.root.run(Scope(ctx))
            if ctx.feeds:
                if isinstance(value, values.Sequence):
                    cursor = FeedCursor(value, ctx.feeds)
                    return Result(FEED, cursor, cursor.notes)
                self._close_feeds(ctx)  # e.g. changes().type_of(): the feed was never read
            if isinstance(value, values.Sequence) and value.type_name != "SELECTION<ARRAY>":
                return Result(STREAM, iter(value))
            if isinstance(value, (values.Func, values.Database)):
                kind = "FUNCTION" if isinstance(value, values.Func) else "DATABASE"
                raise ReqlQueryLogicError(
                    f"Query result must be of type DATUM, GROUPED_DATA, or STREAM (got {kind})."
                )
            return Result(ATOM, values.materialize(value))
        except BaseException:
            self._close_feeds(ctx)
            raise

    @staticmethod
    def _close_feeds(ctx: QueryContext) -> None:
        for f in ctx.feeds:
            f.close()
        ctx.feeds.clear()
