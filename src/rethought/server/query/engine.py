"""The query engine: what ``server.wire.net`` calls to run one START query.

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

from typing import Any

from ...errors import ReqlCompileError, ReqlQueryLogicError
from ...proto.ql2 import TermType as T
from ..feeds import FeedCursor
from ..runtime import values
from . import terms  # noqa: F401  (registers every term family)
from .compile import Scope, Term, blame, compile_term
from .context import ConstantOptargs, GlobalOptargs, QueryContext, Session, evaluate_global  # noqa: F401  (engine.Session etc. for the wire)
from .plan_cache import PlanCache
from .profile import Profiler, instrument
from .terms.insert_one import run_wire as insert_wire
from .terms.tables import Get
from .terms.writes import Insert
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


def _static_true(raw: Any) -> bool:
    """``profile`` as RethinkDB reads it before compiling: true or ``[DATUM, true]``."""
    return raw is True or (type(raw) is list and raw[:1] == [T.DATUM] and raw[1:] == [True])


class Result:
    """What a query evaluated to: ``kind`` (ATOM, STREAM or FEED), its value, the notes
    of its first response, and for a stream the sequence it reads (table_slices.raw_rows
    may read it faster). A plain slotted class: one is made per query."""

    __slots__ = ("kind", "value", "notes", "source")

    def __init__(
        self, kind: str, value: Any, notes: list[int] | None = None, source: Any = None
    ) -> None:
        self.kind = kind
        self.value = value
        self.notes = [] if notes is None else notes
        self.source = source


class Prepared:
    """A compiled query with its context; ``wire``: its answer goes to the wire as it is
    (the session's cached plans), so a point get may answer with the stored row's bytes."""

    __slots__ = ("root", "ctx", "wire")

    def __init__(self, root: Term, ctx: QueryContext, wire: bool = False) -> None:
        self.root = root
        self.ctx = ctx
        self.wire = wire


#: The global optargs of every cached plan run with none (nothing is ever stored in them:
#: ``__getitem__`` evaluates only names present, and ``db_value`` only with ``db``).
_NO_OPTARGS = GlobalOptargs({})


_DATUM_TYPES = values.DATUM_TYPES


class Engine:
    """Owns storage and the changefeed hub; compiles and evaluates queries."""

    def __init__(self, storage: Any, hub: Any = None) -> None:
        self.storage = storage
        self.hub = hub
        if hub is not None and storage is not None:
            storage.drop_listeners.append(hub.table_dropped)
            storage.commit_listeners.append(hub.committed)  # feeds get committed changes only
        self.plans = PlanCache()  # compiled START queries by payload bytes (plan_cache.py)

    def prepare(
        self, raw_term: Any, raw_optargs: dict[str, Any], session: Session, root: Any = None
    ) -> Prepared:
        """Compile a START query, or take ``root`` already compiled from the same bytes (a
        cached plan, which passed the walk and the optarg checks when it was compiled).
        A cached plan's answer is ``wire``: ``Result.value`` may then be an
        ``orjson.Fragment`` (a point get's stored row), which only dumping reads."""
        if root is not None and not raw_optargs:  # most cached plans: nothing to evaluate
            return Prepared(
                root, QueryContext(self, session, _NO_OPTARGS, session.default_db), True
            )
        if root is not None and type(raw_optargs) is ConstantOptargs:  # evaluated once
            return Prepared(
                root, QueryContext(self, session, raw_optargs, session.default_db), True
            )
        if root is None:
            # query_cache_t::create: the term walker over the query, then each global optarg
            # in turn is walked and its name checked (add_optarg's rcheck_toplevel).
            walk_term(raw_term)
            for name, raw in raw_optargs.items():
                walk_term(raw, False)
                if name not in RUN_OPTARGS:
                    raise ReqlCompileError(
                        f"Unrecognized global optional argument `{name}`.", frames=[]
                    )
            root = compile_term(raw_term)
            wire = False
        else:
            wire = True
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
        return Prepared(root, ctx, wire)

    def execute(self, prepared: Prepared) -> Result:
        ctx = prepared.ctx
        root = prepared.root
        if prepared.wire and type(root) is Get:  # a point get: no feed, no sequence
            return Result(ATOM, root.run_wire(Scope(ctx)))
        try:
            if prepared.wire and type(root) is Insert:  # in one step: terms/insert_one.py
                value = insert_wire(root, Scope(ctx))  # (or ``root.run`` when it is not one)
            else:
                value = root.run(Scope(ctx))
            if type(value) in _DATUM_TYPES and not ctx.feeds:
                return Result(ATOM, value)  # a datum already: skips the ABC checks below
            if ctx.feeds:
                if isinstance(value, values.Sequence):
                    cursor = FeedCursor(value, ctx.feeds)
                    return Result(FEED, cursor, cursor.notes)
                self._close_feeds(ctx)  # e.g. changes().type_of(): the feed was never read
            if isinstance(value, values.Sequence) and value.type_name != "SELECTION<ARRAY>":
                return Result(STREAM, iter(value), source=value)
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
