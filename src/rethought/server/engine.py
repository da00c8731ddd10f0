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

from ..errors import ReqlQueryLogicError
from . import (
    terms,  # noqa: F401  (registers every term family)
    values,
)
from .compile import Scope, Term, compile_term
from .feeds import FeedCursor

ATOM, STREAM, FEED = "atom", "stream", "feed"

#: Global optargs a START query may carry (``run(conn, **opts)``); others are rejected.
RUN_OPTARGS = frozenset(
    {
        "db",
        "read_mode",
        "durability",
        "noreply",
        "profile",
        "array_limit",
        "time_format",
        "group_format",
        "binary_format",
        "use_outdated",
        "min_batch_rows",
        "max_batch_rows",
        "max_batch_bytes",
        "max_batch_seconds",
        "first_batch_scaledown_factor",
    }
)


@dataclass
class Session:
    """Per-connection state the engine needs: who is asking, and the default database."""

    user: str = "admin"
    default_db: str = "test"


@dataclass
class QueryContext:
    """Everything a term may need while one query runs."""

    engine: Engine
    session: Session
    optargs: dict[str, Any]
    db_name: str
    now: float = field(default_factory=time.time)  # r.now() is fixed for the whole query
    pending_sync: bool = False  # a hard-durability write committed; fsync before replying
    feeds: list = field(default_factory=list)  # changefeeds this query opened (server.feeds)
    array_limit: int = 100_000

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
        root = compile_term(raw_term)
        ctx = QueryContext(self, session, {}, session.default_db)
        scope = Scope(ctx)
        for name, raw in raw_optargs.items():
            node = compile_term(raw, (name,))
            if name == "db":
                db = node.run(scope)
                if not isinstance(db, values.Database):
                    raise values.expected(db, "DATABASE")
                ctx.db_name = db.name
            else:
                ctx.optargs[name] = values.to_datum(node.run(scope))
        limit = ctx.optargs.get("array_limit")
        if limit is not None:
            if type(limit) is not int or limit < 1:
                raise ReqlQueryLogicError(f"Illegal array size limit `{limit}`.  (Must be >= 1.)")
            ctx.array_limit = limit
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
            if isinstance(value, values.Sequence):
                return Result(STREAM, iter(value))
            return Result(ATOM, values.to_datum(value))
        except BaseException:
            self._close_feeds(ctx)
            raise

    @staticmethod
    def _close_feeds(ctx: QueryContext) -> None:
        for f in ctx.feeds:
            f.close()
        ctx.feeds.clear()
