"""Let synchronous term code wait for asynchronous I/O without blocking the event loop.

Terms are plain synchronous Python (fast, simple, easy to test). A few must wait for I/O:
``r.http`` fetches a URL, ``r.js`` may run for a while. The server runs each evaluation step
inside a greenlet (``run_sync``); a term calls ``block_on(make_awaitable)``, which switches
back to the event loop's coroutine, awaits the I/O there, and resumes the term with the
result. Outside a query greenlet (unit tests calling ``Engine.execute`` directly)
``block_on`` runs the awaitable to completion on a private loop instead (on a helper thread
when the calling thread already runs an event loop, which cannot be re-entered).

SQLAlchemy's asyncio support bridges sync and async code the same way. The event loop's side
always enters a query greenlet through ``resume``: ``run_sync`` runs one job in a pooled
worker, and a changefeed's pipeline (``feeds.FeedCursor``) lives in a ``Pump`` that hands
its rows back one switch at a time.

The same switch makes long evaluations fair. Hot iteration paths call ``checkpoint()`` (or
wrap a row source in ``ticking``); once the running query greenlet has had the thread for
``SLICE`` seconds, the checkpoint switches out to the event loop for one turn, so other
connections (even handshakes) are served while a ``count`` over ten million rows runs. The
checkpoint is also where a query dies: when STOP or a closed connection cancels the task
driving the greenlet, the ``CancelledError`` is raised inside the term code at that point.

And it is where a stream batch ends on time: a ``Resumable`` job (``stream_batches`` fills a
batch in one) runs with a cut-off time; a checkpoint past it hands ``CUT`` back to the event
loop with the evaluation suspended where it stands (deep inside a sparse filter's scan, say),
and the next ``step`` goes on from there. So a batch can be sent, even empty, while no row has
come out yet, as RethinkDB's ``max_batch_seconds`` promises.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any

from greenlet import GreenletExit, getcurrent, greenlet


class _Request:
    """What a suspended greenlet (``origin``) asks its driver to await."""

    __slots__ = ("make", "origin")

    def __init__(self, make: Callable[[], Awaitable[Any]], origin: greenlet) -> None:
        self.make = make
        self.origin = origin


class QueryGreenlet(greenlet):
    """A greenlet evaluating (part of) a query; ``block_on`` may suspend it."""


# -- time slices ------------------------------------------------------------------------------

#: How long a query greenlet may keep the thread before a checkpoint lets the loop run.
SLICE = 0.015
#: Rows ``ticking`` passes through between two checkpoints (at C speed, ~30 us of bare rows).
TICK = 1024

_INF = float("inf")
NEVER = _INF  #: a ``cut_at`` that never comes
_NOTHING = object()
_clock = time.perf_counter
# When the running query greenlet's slice ends; infinite outside query greenlets, so code run
# directly (unit tests, the index builder) never pays more than the comparison.
_deadline = _INF
# When the running job's batch is due (``resume``'s ``cut_at``): a checkpoint past it hands
# ``CUT`` back instead of yielding one turn.
_cut_at = _INF
# Open write transactions (see ``pin``): switching out inside one would let another query's
# write join that transaction, so checkpoints wait until it is closed.
_pins = 0


def checkpoint() -> None:
    """Give the event loop a turn if this query greenlet's time slice is over.

    Cheap enough for once per row (a clock read and a comparison). Raises the query's
    ``CancelledError`` when it was stopped while switched out.
    """
    if _clock() >= _deadline:
        _slice_over()


def _slice_over() -> None:
    global _deadline
    if _pins:
        return  # the deadline stays passed: the first checkpoint after the commit yields
    g = getcurrent()
    if not isinstance(g, QueryGreenlet):
        _deadline = _INF  # a stale deadline seen outside any query: nothing to share
        return
    # Only a top-level greenlet is cut: a nested one (a feed union's input) is resumed by its
    # parent greenlet, which a cut would bypass.
    if _clock() >= _cut_at and not isinstance(g.parent, QueryGreenlet):
        g.parent.switch(CUT)  # the next resume() goes on from here, with a fresh slice
        return
    block_on(_next_turn)  # resume() starts a fresh slice when it switches back in


async def _next_turn() -> None:
    await asyncio.sleep(0)


def set_cut(cut_at: float) -> None:
    """From inside a running job: move its cut-off time (a ``clock()`` time) for the rest of
    this ``resume``."""
    global _cut_at, _deadline
    _cut_at = cut_at
    _deadline = min(_deadline, cut_at)


def pin(on: bool) -> None:
    """Count a write transaction opening (``on``) or closing: no switching out meanwhile."""
    global _pins
    _pins += 1 if on else -1


def ticking(rows: Iterable[Any]) -> Iterator[Any]:
    """``rows`` unchanged and as lazily, with a ``checkpoint`` every ``TICK`` rows.

    For row sources whose own step is too cheap for a per-row call (``r.range``): the rows
    flow through C iterators (``chain`` / ``islice``), so the cost is a few ns per row.
    """
    return chain.from_iterable(_ticks(iter(rows)))


class Ticked:
    """A re-iterable ``rows`` (a ``range``, a list) that is ``ticking`` on every pass."""

    __slots__ = ("rows",)

    def __init__(self, rows: Iterable[Any]) -> None:
        self.rows = rows

    def __iter__(self) -> Iterator[Any]:
        return ticking(self.rows)


def _ticks(it: Iterator[Any]) -> Iterator[Iterable[Any]]:
    while True:
        checkpoint()
        # Pull one row only when the consumer wants it (no read-ahead); stop at the end.
        first = next(it, _NOTHING)
        if first is _NOTHING:
            return
        yield (first,)
        yield islice(it, TICK - 1)


def block_on(make_awaitable: Callable[[], Awaitable[Any]]) -> Any:
    """Await ``make_awaitable()`` from synchronous term code and return its result."""
    g = getcurrent()
    if isinstance(g, QueryGreenlet):
        # Query greenlets may nest (a changefeed union runs each input in a child greenlet):
        # the request goes to the outermost one's parent, the coroutine driving them all,
        # which resumes this greenlet directly with the result.
        driver = g.parent
        while isinstance(driver, QueryGreenlet):
            driver = driver.parent
        return driver.switch(_Request(make_awaitable, g))
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(make_awaitable))
    return _run_on_helper_thread(make_awaitable)


def _run_on_helper_thread(make: Callable[[], Awaitable[Any]]) -> Any:
    """Last resort for code on a loop's thread but outside a query greenlet: correct, but it
    holds that loop up until the I/O is done (session.py keeps every evaluation in greenlets)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(_await(make))
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=work, name="rethought-block-on", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


async def _await(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()


async def resume(g: QueryGreenlet, *args: Any, cut_at: float = _INF) -> Any:
    """Switch into query greenlet ``g`` (with ``args``) for a fresh time slice, service the I/O
    requests of ``g`` (or of query greenlets nested in it) and return the first value it hands
    back that is not one: ``CUT`` when a checkpoint found ``cut_at`` (a ``clock()`` time)
    passed, ``g`` then being suspended at that checkpoint.

    The one way event-loop code runs query greenlets: ``run_sync`` runs a job in a pooled
    worker with it, ``feeds.FeedCursor`` takes its pipeline's rows from a ``Pump`` with it.
    """
    global _deadline, _cut_at
    here = getcurrent()
    if g.parent is not here:
        g.parent = here  # a parked worker or a feed's pump, resumed by another coroutine
    try:
        _cut_at = cut_at
        _deadline = min(_clock() + SLICE, cut_at)
        out = g.switch(*args)
        while isinstance(out, _Request):
            cut_at = _cut_at  # as the job left it (``set_cut``)
            _deadline = _cut_at = _INF  # the loop serves others while this awaits
            try:
                result = await out.make()
            except BaseException as exc:  # the term sees the failure where it waited
                _cut_at = cut_at
                _deadline = min(_clock() + SLICE, cut_at)
                out = out.origin.throw(exc)
            else:
                _cut_at = cut_at
                _deadline = min(_clock() + SLICE, cut_at)
                out = out.origin.switch(result)
    finally:
        _deadline = _cut_at = _INF
    return out


#: What a ``Pump`` hands back once its rows have run out.
END = object()
#: What ``resume`` returns when a checkpoint found its ``cut_at`` passed.
CUT = object()

clock = _clock  # the clock ``cut_at`` is read on


class Pump(QueryGreenlet):
    """A query greenlet producing the rows of ``rows``: each switch into it returns the next
    row (handed back to whoever switched in, its parent), then ``END``. Code running in it
    may hand back a marker of its own the same way (``parent.switch(marker)``: a changefeed
    with nothing to deliver hands back ``feeds.WAIT``) and goes on at the next switch.

    The event loop's side steps it with ``resume``; another query greenlet may switch into
    one directly (``feeds.interleave`` runs each input of a union in its own pump).
    """

    def __init__(self, rows: Iterable[Any]) -> None:
        super().__init__()
        self._rows = rows

    def run(self) -> Any:
        for row in self._rows:  # iterated here, so even the first step runs in the pump
            self.parent.switch(row)
        return END


# Starting a fresh greenlet costs ~10 us (its first switch sets up a stack); switching into a
# parked one costs ~1 us. Every query and every batch runs through run_sync, so finished
# workers are parked per thread (greenlets are bound to their thread) and reused.
_MAX_IDLE_WORKERS = 64
_idle = threading.local()


class _Failed:
    """A worker's job raised: carried back to run_sync, which re-raises it."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Done:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _work_loop(job: tuple[Callable[..., Any], tuple]) -> None:
    """A reusable query greenlet: run each job it is switched in with, report, park."""
    while True:
        fn, args = job
        try:
            out: Any = _Done(fn(*args))
        except GreenletExit:
            raise  # the worker itself is being discarded
        except BaseException as exc:
            out = _Failed(exc)
        del fn, args
        job = getcurrent().parent.switch(out)


def _worker() -> QueryGreenlet:
    pool = getattr(_idle, "workers", None)
    if pool is None:
        pool = _idle.workers = []
    if pool:
        return pool.pop()
    return QueryGreenlet(_work_loop)


async def run_sync(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a query greenlet; it may ``block_on`` I/O. Returns its result."""
    w = _worker()
    out = await resume(w, (fn, args))
    pool = _idle.workers
    if len(pool) < _MAX_IDLE_WORKERS:
        pool.append(w)
    if type(out) is _Done:
        return out.value
    raise out.exc


def start_sync(fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """Run ``fn(*args)`` in a pooled query greenlet right now, from plain (non-async) code on
    the loop's thread, up to its first wait: ``(True, result)`` when it finished (raising what
    it raised), else ``(False, awaitable)``, which a task awaits to serve the job's waits
    (I/O, a slice's end) and get its result, as ``run_sync`` would have.

    The session answers most queries this way without a task: a point get or an insert
    never waits, and a task costs more than the query (session.py)."""
    global _deadline, _cut_at
    w = _worker()
    here = getcurrent()
    if w.parent is not here:
        w.parent = here
    _cut_at = _INF
    _deadline = _clock() + SLICE
    try:
        out = w.switch((fn, args))
    finally:
        _deadline = _cut_at = _INF
    if isinstance(out, _Request):
        return False, _finish(w, out)
    return True, _settle(w, out)


async def _finish(w: QueryGreenlet, out: _Request) -> Any:
    """The rest of a ``start_sync`` job that had to wait: serve its waits, as ``resume``."""
    global _deadline, _cut_at
    here = getcurrent()
    if w.parent is not here:
        w.parent = here
    try:
        while isinstance(out, _Request):
            try:
                result = await out.make()
            except BaseException as exc:  # the term sees the failure where it waited
                _cut_at = _INF
                _deadline = _clock() + SLICE
                out = out.origin.throw(exc)
            else:
                _cut_at = _INF
                _deadline = _clock() + SLICE
                out = out.origin.switch(result)
            _deadline = _cut_at = _INF  # the loop serves others while this awaits
    finally:
        _deadline = _cut_at = _INF
    return _settle(w, out)


def _settle(w: QueryGreenlet, out: Any) -> Any:
    """Park a worker whose job returned; its result, or raise what it raised."""
    pool = _idle.workers
    if len(pool) < _MAX_IDLE_WORKERS:
        pool.append(w)
    if type(out) is _Done:
        return out.value
    raise out.exc


class Resumable:
    """A job, ``fn()``, run in a pooled query greenlet by steps of bounded time: each ``step``
    runs it until it returns or until a checkpoint finds the step's cut-off time passed; the
    next step goes on where the last one was cut.

    The job keeps its worker only while it is cut; ``close`` ends a cut job (its generators'
    ``finally`` blocks run) when its result is no longer wanted.
    """

    __slots__ = ("_fn", "_held", "_stepping")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn
        self._held: QueryGreenlet | None = None  # the worker of a cut job
        self._stepping = False

    async def step(self, cut_at: float) -> tuple[bool, Any]:
        """``(True, result)`` once the job has returned (it raises what the job raised), or
        ``(False, None)`` when it was cut at ``cut_at`` (a ``clock()`` time)."""
        w, self._held = self._held, None
        self._stepping = True
        try:
            if w is None:
                w = _worker()
                out = await resume(w, (self._fn, ()), cut_at=cut_at)
            else:
                out = await resume(w, cut_at=cut_at)
        finally:
            self._stepping = False
        if out is CUT:
            self._held = w
            return False, None
        pool = _idle.workers
        if len(pool) < _MAX_IDLE_WORKERS:
            pool.append(w)
        if type(out) is _Done:
            return True, out.value
        raise out.exc

    def close(self) -> None:
        """Discard a cut job. A step under way is left alone: the task running it is being
        cancelled by whoever closes, and the cancellation ends the job."""
        w, self._held = self._held, None
        if w is not None and not self._stepping:
            w.parent = getcurrent()  # so the dying worker comes back here
            w.throw(GreenletExit)
