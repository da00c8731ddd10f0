"""One client connection's queries: START / CONTINUE / STOP / NOREPLY_WAIT / SERVER_INFO.

``ConnectionSession.handle(token, payload)`` is called by ``server.wire.net`` for every frame, in
arrival order. Each query runs in its own task, so many tokens are in flight at once and their
responses interleave; evaluation itself is synchronous (see ``server.query.engine``), and the loop is
yielded between batches and while a hard-durability write waits for its fsync. Each evaluation
step (``engine.execute``, each batch pulled from a stream) runs in a query greenlet
(``server.runtime.suspend``), so a term waiting for I/O (``r.http``, ``r.js``) suspends only its query,
and a long evaluation switches out at ``suspend.checkpoint`` every few milliseconds. A stream
batch goes out by its ``max_batch_seconds`` deadline even mid-scan (``server.stream_batches``).

Stopping follows RethinkDB's ``query_cache.cc``: STOP cancels the task evaluating the query
(a START still running, or the CONTINUE pulling a batch); the cancellation surfaces at the
query's next checkpoint, the interrupted request is answered with an empty SUCCESS_SEQUENCE,
then the STOP itself. A closed connection cancels everything it was running except noreply
queries (fire-and-forget writes the client already sent).

The wording of every protocol error follows RethinkDB's ``json.cc``, ``term_storage.cc`` and
``query_cache.cc``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ...errors import ReqlError, ReqlOpIndeterminateError, ReqlQueryLogicError
from ...proto.ql2 import QueryType, ResponseType
from ..query import engine as engine_mod
from ..query import json_dups, plan_lookup, shapes, table_slices
from ..query.context import constant_optargs
from ..query.direct import inline_safe, optargs_safe
from ..query.plan_cache import MAX_PAYLOAD, Plan, PlanCache
from ..runtime import suspend
from ..runtime.stats import COUNTERS
from . import net_responses as resp
from .query_frame import (
    UNPARSEABLE,
    BadQuery,
    check_query,
    parse_query,
    profile_doc,
    static_bool,
)
from .stream_batches import StreamBatches

log = logging.getLogger("rethought.net")
_ATOM = engine_mod.ATOM

#: Queries one connection may run at once before the reader waits (RethinkDB: 1024).
MAX_CONCURRENT_QUERIES = 1024


class _Query:
    """A START whose result is still open: a stream being batched or a feed."""

    __slots__ = (
        "token", "ctx", "batcher", "feed", "notes", "profile", "_lock", "task", "stopped", "noreply"
    )  # fmt: skip

    def __init__(self, token: int, profile: bool = False, noreply: bool = False) -> None:
        self.token = token
        self.profile = profile
        self.noreply = noreply
        self.ctx: Any = None
        self.batcher: StreamBatches | None = None
        self.feed: Any = None
        self.notes: list[int] = []
        self._lock: asyncio.Lock | None = None  # made when first needed (most never need it)
        self.task: asyncio.Task | None = None  # the task evaluating it now, for STOP
        self.stopped = False

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a START or CONTINUE answers, so a STOP waits for it."""
        lock = self._lock
        if lock is None:
            lock = self._lock = asyncio.Lock()
        return lock


class _AfterCommit:
    """A soft write's answer, evaluated inline, that may go out once its group commits."""

    __slots__ = ("token", "frame", "commit")

    def __init__(self, token: int, frame: bytes, commit: asyncio.Future) -> None:
        self.token = token
        self.frame = frame
        self.commit = commit


class ConnectionSession:
    """Query state of one authenticated connection."""

    def __init__(
        self,
        engine: Any,
        send: Callable[[bytes], Awaitable[None]],
        sync: Callable[[], Awaitable[None]],
        server_info: dict[str, Any],
        user: str = "admin",
    ) -> None:
        self.engine = engine
        self.send = send
        self.sync = sync
        self.server_info = server_info
        self.session = engine_mod.Session(user=user)
        self.queries: dict[int, _Query] = {}
        self.running: dict[int, _Query] = {}  # STARTs not yet answered
        self.noreply_tasks: set[asyncio.Task] = set()
        self.tasks: set[asyncio.Task] = set()
        self.slots = asyncio.Semaphore(MAX_CONCURRENT_QUERIES)
        self.closing = False  # shutdown has ended every result: frames are ignored
        plans = getattr(engine, "plans", None)  # one cache for every connection
        self.plans: PlanCache = PlanCache() if plans is None else plans
        # Set by the connection: waits while the client is slow to read (server.net), so
        # batches are not computed only to queue up behind a full socket.
        self.writable: Callable[[], Awaitable[None]] | None = None
        # Set by the connection: send without waiting, and whether that would go out now.
        self.send_now: Callable[[bytes], None] | None = None
        self.can_send_now: Callable[[], bool] = lambda: False
        self._parsed: tuple[bytes, Any] | None = None  # handle_now's parse, for handle

    # -- dispatch ---------------------------------------------------------------------------

    def handle_now(self, token: int, payload: bytes) -> bool:
        """Answer a frame right now, from the connection's data callback, when nothing has
        to wait: a START whose plan is cached (by its bytes or its shape, plan_lookup.py),
        with a free query slot and a socket taking frames. Evaluated inline as ``_begin``
        does; a query that must go on (a stream, a feed, an fsync, a wait) continues in its
        task. False: the caller queues the frame for ``handle`` (in order, with every frame
        after it)."""
        if self.closing:
            return True  # ignored, as handle() would
        plan, params, raw_term, parsed, exact = plan_lookup.lookup(self.plans, payload)
        if parsed is not None:
            self._parsed = (payload, parsed)  # for handle(), when it is not answered here
        if (
            plan is None
            or token in self.queries
            or token in self.running
            or self.slots._value <= 0  # locked() walks its waiters in Python
            or not self.can_send_now()
        ):
            return False
        if exact:
            self.plans.hit(payload, plan)
        COUNTERS.query()
        noreply = plan.noreply
        # The query slot is free (checked above) and nothing here yields to the loop: it is
        # taken only by a query that goes on in a task, not by one answered right here.
        begun = self._run_inline(
            token, noreply, raw_term, plan.optargs, plan.root, None, None, params, plan.direct
        )
        if type(begun) is bytes:
            if not noreply:
                assert self.send_now is not None
                self.send_now(begun)
            return True
        _take_free_slot(self.slots)
        if type(begun) is _AfterCommit:
            self._answer_after_commit(begun)
            return True
        self._go_on(token, noreply, raw_term, plan.optargs, plan.root, begun)
        return True

    async def handle(self, token: int, payload: bytes) -> None:
        """Parse one frame and start answering it; returns once the query is under way."""
        if self.closing:
            return  # the server is shutting down; its errors are sent
        plan = self.plans.get(payload)
        if plan is not None:  # these bytes compiled before: parse and compile are skipped
            await self._begin(
                token,
                plan.raw_term,
                plan.optargs,
                plan.noreply,
                plan.root,
                params=plan.params,
                direct=plan.direct,
            )
            return
        parsed, self._parsed = self._parsed, None
        try:
            if parsed is not None and parsed[0] is payload:
                query, dups = parsed[1], {}  # parsed by handle_now, no duplicate keys
            else:
                query, dups = parse_query(payload)
        except RecursionError:
            err = ReqlQueryLogicError("Maximum expression depth exceeded.")
            await self.send(resp.from_exception(token, err))
            return
        except ValueError:
            await self.send(resp.client_error(token, UNPARSEABLE))
            return
        try:
            qtype, raw_term, optargs = check_query(query)
        except BadQuery as e:
            await self.send(resp.client_error(token, f"Server could not parse query: {e}"))
            return
        if qtype == QueryType.START:
            noreply = static_bool(optargs, "noreply")
            if dups:
                if token in self.queries or token in self.running:
                    await self.send(resp.client_error(token, f"ERROR: duplicate token {token}"))
                    return
                if err := json_dups.duplicate_error(raw_term, optargs, dups):
                    await self.slots.acquire()  # counted as a query, as before
                    COUNTERS.query()
                    self.slots.release()
                    if not noreply:
                        await self.send(resp.from_exception(token, err))
                    return
            profile = static_bool(optargs, "profile")
            # Cached once compiled: not profiled queries (their tree is wrapped per run) nor
            # ones whose parse found duplicate keys.
            key = None if profile or dups else payload
            shape = None
            if key is not None and len(payload) <= MAX_PAYLOAD:
                shape = shapes.shape_of(query)
                if shape is not None:
                    plan = self.plans.get_shape(shape.key)
                    if plan is not None:  # compiled before for another key
                        await self._begin(
                            token,
                            raw_term,
                            optargs,
                            noreply,
                            plan.root,
                            params=shape.params,
                            direct=plan.direct,
                        )
                        return
            await self._begin(token, raw_term, optargs, noreply, None, profile, key, shape)
        elif qtype == QueryType.CONTINUE:
            self._spawn(self._continue(token))
        elif qtype == QueryType.STOP:
            self._spawn(self._stop(token))
        elif qtype == QueryType.NOREPLY_WAIT:
            self._spawn(self._noreply_wait(token))
        else:
            await self.send(
                resp.response(token, ResponseType.SERVER_INFO, [orjson.dumps(self.server_info)])
            )

    async def _begin(
        self,
        token: int,
        raw_term: Any,
        optargs: dict,
        noreply: bool,
        root: Any,
        profile: bool = False,
        key: bytes | None = None,
        shape: shapes.Shape | None = None,
        params: tuple = (),
        direct: bool = False,
    ) -> None:
        """Start evaluating a START (compiled already when ``root`` is given, run with
        ``params`` when shared by a shape, without a greenlet when ``direct``; its plan is
        cached under ``key``, or ``shape``, once it compiles)."""
        if token in self.queries or token in self.running:
            await self.send(resp.client_error(token, f"ERROR: duplicate token {token}"))
            return
        await self.slots.acquire()
        COUNTERS.query()
        begun = (
            None
            if profile
            else self._run_inline(
                token, noreply, raw_term, optargs, root, key, shape, params, direct
            )
        )
        if type(begun) is bytes:  # answered without a task
            self.slots.release()
            if not noreply:
                await self.send(begun)
            return
        if type(begun) is _AfterCommit:
            self._answer_after_commit(begun)
            return
        self._go_on(token, noreply, raw_term, optargs, root, begun, profile, key)

    def _go_on(
        self,
        token: int,
        noreply: bool,
        raw_term: Any,
        optargs: dict,
        root: Any,
        begun: Any,
        profile: bool = False,
        key: bytes | None = None,
    ) -> None:
        """Carry a START on in its own task (holding the query slot taken for it)."""
        q = _Query(token, profile, noreply)
        task = q.task = self._spawn(self._start(q, raw_term, optargs, root, key, begun))
        self.running[token] = q
        if noreply:
            self.noreply_tasks.add(task)
            task.add_done_callback(self.noreply_tasks.discard)

    def _prepare(
        self,
        noreply: bool,
        raw_term: Any,
        optargs: dict,
        root: Any,
        key: bytes | None,
        shape: shapes.Shape | None = None,
        params: tuple = (),
    ) -> tuple[Any, Any]:
        """Compile a START (or take its cached plan's ``root``), remember the plan under
        ``key`` when it may be cached (under ``shape`` when it has literal keys to share),
        and read its batching options."""
        if root is None:
            prepared = self.engine.prepare(raw_term, optargs, self.session)
            plan = Plan(raw_term, constant_optargs(optargs), prepared.root, noreply)
            shared = shape is not None and shapes.parameterize(prepared.root, shape)
            plan.direct = inline_safe(prepared.root) and optargs_safe(optargs)
            if shared:
                self.plans.put_shape(shape.key, plan)
                params = shape.params
            elif key is None or not self.plans.put(key, plan):
                prepared.ctx.sole_root = prepared.root  # run this once, then dropped
        else:  # a cached plan
            prepared = self.engine.prepare(raw_term, optargs, self.session, root)
        prepared.ctx.params = params
        return prepared, resp.BatchSpec.of(prepared.ctx.optargs)

    def _run_inline(
        self,
        token: int,
        noreply: bool,
        raw_term: Any,
        optargs: dict,
        root: Any,
        key: bytes | None,
        shape: shapes.Shape | None = None,
        params: tuple = (),
        direct: bool = False,
    ) -> Any:
        """Compile and evaluate a START here and now, up to its first wait (on this stack
        when ``direct``: its cached plan never waits, see query/direct.py). Returns the
        answer's frame when it is done: an atom needing no fsync (a point get, a soft
        insert, ``r.expr``) or an error; a task then costs more than the query did. Else
        ``(prepared, spec, done, result)`` for the task that goes on (``_evaluate``): a
        stream or feed to batch, a hard write's fsync, or a job still waiting
        (``result`` is then the awaitable of ``suspend.start_sync``). Nothing here yields
        to the loop, so no STOP or close can come between."""
        try:
            prepared, spec = self._prepare(noreply, raw_term, optargs, root, key, shape, params)
            ctx = prepared.ctx
            if direct:
                done, result = True, self.engine.execute(prepared)
            else:
                done, result = suspend.start_sync(self.engine.execute, prepared)
            if not done or result.kind is not _ATOM or ctx.pending_sync:
                return prepared, spec, done, result
            commit = ctx.pending_commit
            if commit is not None:
                if noreply:  # noreply_wait waits for its task
                    return prepared, spec, done, result
                return _AfterCommit(token, resp.atom(token, result.value), commit)
            return resp.atom(token, result.value)
        except Exception as e:
            return self._error_frame(token, e)  # nothing opened yet: nothing to forget

    def _answer_after_commit(self, begun: _AfterCommit) -> None:
        """Send a soft write's answer once the group it joined has committed (or its
        error if the commit failed), holding its query slot until then: a callback on the
        group's future, where a task would cost more than the write did."""

        def answer(commit: asyncio.Future) -> None:
            self.slots.release()
            frame = begun.frame
            exc = commit.exception()
            if exc is not None:
                frame = self._error_frame(begun.token, exc)  # type: ignore[arg-type]
            if self.send_now is not None:
                self.send_now(frame)
            else:  # a session with no socket of its own (the web console's)
                self._spawn(self.send(frame))

        begun.commit.add_done_callback(answer)

    def _spawn(self, coro: Awaitable[None]) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # -- START ------------------------------------------------------------------------------

    async def _start(
        self,
        q: _Query,
        raw_term: Any,
        optargs: dict,
        root: Any = None,
        key: bytes | None = None,
        begun: Any = None,
    ) -> None:
        # Held until the answer is sent, so a STOP waits for it (RethinkDB's entry mutex).
        async with q.lock:
            try:
                frame, ctx = await self._evaluate(q, raw_term, optargs, root, key, begun)
            finally:
                q.task = None  # the rest cannot be stopped: the answer is decided
                self.running.pop(q.token, None)
                self.slots.release()
            if q.noreply:
                self._forget(q)
                await self._flush_writes(ctx)
                return
            await self.send(frame)

    async def _evaluate(
        self,
        q: _Query,
        raw_term: Any,
        optargs: dict,
        root: Any = None,
        key: bytes | None = None,
        begun: Any = None,
    ) -> tuple[bytes, Any]:
        """The START's answer (and its query context, once compiled); ``begun``: what
        ``_run_inline`` started."""
        token = q.token
        started = time.perf_counter()
        ctx = None
        try:
            if begun is not None:
                prepared, spec, done, result = begun
                ctx = prepared.ctx
                if not done:
                    result = await result
            else:
                prepared, spec = self._prepare(q.noreply, raw_term, optargs, root, key)
                ctx = prepared.ctx
                # In a query greenlet, so a term may wait for I/O (r.http, r.js).
                result = await suspend.run_sync(self.engine.execute, prepared)
            q.ctx = ctx
            q.notes = result.notes
            if result.kind == engine_mod.STREAM:
                raw = table_slices.raw_rows(result.source)
                q.batcher = StreamBatches(
                    result.value if raw is None else raw, spec, raw is not None
                )
                rtype, rows = await self._stream_batch(q)
            elif result.kind == engine_mod.FEED:
                q.feed = result.value
                self.queries[token] = q
                rtype, rows = await self._feed_batch(q, first=True)
            await self._flush_writes(ctx)
            if result.kind == engine_mod.ATOM:  # encoded once durable: encoding may fail too
                rtype, rows = ResponseType.SUCCESS_ATOM, [resp.dumps(result.value)]
            profile = None
            if q.profile:
                if ctx.profiler is not None and ctx.profiler.tasks:
                    profile = ctx.profiler.tasks  # the term tree, as RethinkDB reports it
                else:
                    profile = profile_doc(raw_term, time.perf_counter() - started)
            frame = resp.response(token, rtype, rows, notes=q.notes, profile=profile)
        except (Exception, asyncio.CancelledError) as e:
            frame = self._failed(q, e)
        return frame, ctx

    def _failed(self, q: _Query, exc: BaseException) -> bytes:
        """The answer to a START or CONTINUE whose evaluation raised ``exc``: the query is
        over. A cancellation that is not STOP's (the connection closed) is re-raised."""
        self._forget(q)
        token = q.token
        if isinstance(exc, asyncio.CancelledError):
            if not q.stopped:
                raise exc
            _stopped_here()
            # STOP interrupted the evaluation, a batch being computed or a waiting feed:
            # RethinkDB answers the interrupted request with an empty SUCCESS_SEQUENCE.
            return resp.response(token, ResponseType.SUCCESS_SEQUENCE, [], notes=q.notes)
        return self._error_frame(token, exc)

    @staticmethod
    def _error_frame(token: int, exc: Exception) -> bytes:
        """The error answer to a query whose evaluation raised ``exc``."""
        if isinstance(exc, RecursionError):
            exc = ReqlQueryLogicError("Maximum expression depth exceeded.")
        if isinstance(exc, ReqlError):
            return resp.from_exception(token, exc)
        log.exception("unexpected error in query %d", token)
        return resp.internal_error(token, exc)

    async def _flush_writes(self, ctx: Any) -> None:
        """Hard durability: acknowledge only what is on disk."""
        if ctx is not None and ctx.pending_commit is not None:
            commit, ctx.pending_commit = ctx.pending_commit, None
            # A group commit (storage/group.py), shared: a STOP here must not cancel it.
            await asyncio.shield(commit)
        if ctx is not None and ctx.pending_sync:
            ctx.pending_sync = False
            await self.sync()

    def _forget(self, q: _Query) -> None:
        """Drop an open result (closing its feed)."""
        if self.queries.get(q.token) is q:
            del self.queries[q.token]
        if q.feed is not None:
            q.feed.close()
        if q.batcher is not None:
            q.batcher.close()

    # -- batches ----------------------------------------------------------------------------

    async def _stream_batch(self, q: _Query) -> tuple[int, list[bytes]]:
        """(response type, encoded rows) of the stream's next batch, by its deadline."""
        assert q.batcher is not None
        if self.writable is not None:
            await self.writable()
        rows, done = await q.batcher.next_batch()
        COUNTERS.read(len(rows))
        if done:
            self.queries.pop(q.token, None)
            return ResponseType.SUCCESS_SEQUENCE, rows
        self.queries[q.token] = q
        return ResponseType.SUCCESS_PARTIAL, rows

    async def _feed_batch(self, q: _Query, first: bool = False) -> tuple[int, list[bytes]]:
        """The feed's next rows; the first batch goes out at once, even empty (RethinkDB's
        START of a changefeed answers immediately), later ones wait for changes."""
        rows = await q.feed.next_batch(wait=not first)
        encoded = [resp.encode_row(row) for row in rows]
        if q.feed.done:  # a finite pipeline over the feed (changes().limit(n)) has ended
            self._forget(q)
            return ResponseType.SUCCESS_SEQUENCE, encoded
        return ResponseType.SUCCESS_PARTIAL, encoded

    # -- CONTINUE / STOP / NOREPLY_WAIT -----------------------------------------------------

    async def _continue(self, token: int) -> None:
        q = self.queries.get(token)
        if q is None:
            await self.send(resp.client_error(token, f"Token {token} not in stream cache."))
            return
        try:
            async with q.lock:
                if self.queries.get(token) is not q:  # stopped while we waited for the lock
                    frame = resp.response(token, ResponseType.SUCCESS_SEQUENCE, [], notes=[])
                else:
                    started = time.perf_counter()
                    q.task = asyncio.current_task()
                    if q.feed is not None:
                        rtype, rows = await self._feed_batch(q)
                    else:
                        rtype, rows = await self._stream_batch(q)
                    await self._flush_writes(q.ctx)
                    profile = None
                    if q.profile:
                        profile = profile_doc(None, time.perf_counter() - started)
                    frame = resp.response(token, rtype, rows, notes=q.notes, profile=profile)
        except (Exception, asyncio.CancelledError) as e:
            frame = self._failed(q, e)
        finally:
            q.task = None
        await self.send(frame)

    async def _stop(self, token: int) -> None:
        q = self.queries.pop(token, None) or self.running.get(token)
        if q is None:
            await self.send(resp.client_error(token, f"Token {token} not in stream cache."))
            return
        q.stopped = True
        if q.task is not None:
            q.task.cancel()
        if q.feed is not None:
            q.feed.close()
        async with q.lock:  # let the START / CONTINUE in progress answer first, as RethinkDB does
            if q.batcher is not None:
                q.batcher.close()  # a stream cut between batches: end its suspended scan
        await self.send(resp.response(token, ResponseType.SUCCESS_SEQUENCE, [], notes=[]))

    async def _noreply_wait(self, token: int) -> None:
        if token in self.queries or token in self.running:
            await self.send(resp.client_error(token, f"ERROR: duplicate token {token}"))
            return
        pending = list(self.noreply_tasks)
        if pending:
            await asyncio.wait(pending)
        await self.send(resp.response(token, ResponseType.WAIT_COMPLETE, []))

    # -- shutdown ---------------------------------------------------------------------------

    async def shutdown(self, grace: float = 10.0) -> None:
        """Server shutdown: every open cursor or feed gets an error, running queries finish."""
        err = ReqlOpIndeterminateError("Server is shutting down.")
        await self._end_with(err)
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=grace)
        # A feed or stream whose START was still running above opened meanwhile: it ends the
        # same way, not by the connection closing under it. Later frames go unanswered.
        self.closing = True
        await self._end_with(err)

    async def _end_with(self, err: ReqlError) -> None:
        for q in self._end_open_results():
            try:
                await self.send(resp.from_exception(q.token, err))
            except (ConnectionError, OSError):
                pass

    def abort(self) -> None:
        """The client went away: stop its running queries, waiting feeds and open results.

        Noreply queries are left to finish: a write the client already sent must still happen.
        """
        for q in list(self.running.values()):
            if q.task is not None and not q.noreply:
                q.task.cancel()  # surfaces at the query's next checkpoint
        self._end_open_results()

    def _end_open_results(self) -> list[_Query]:
        """Drop every open cursor and feed, stopping the batch each may be computing."""
        ended = list(self.queries.values())
        for q in ended:
            if q.task is not None:
                q.task.cancel()
            self._forget(q)
        return ended


def _take_free_slot(slots: asyncio.Semaphore) -> None:
    """Acquire a semaphore known not to be locked, from plain code: its ``acquire`` then
    returns without waiting (asyncio has no non-blocking acquire)."""
    coro = slots.acquire()
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("an unlocked semaphore waited")


def _stopped_here() -> None:
    """This task's cancellation was STOP doing its job: the task goes on to answer, so clear
    the pending cancel (later ``asyncio.timeout`` blocks in it must not see it)."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
