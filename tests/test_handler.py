"""The Handler API (seed 000's em_run / RethinkDB::Handler section, in Python) on every loop.

Each scenario is ``scenario(conn) -> [QueryHandle, ...]``; it runs in the loop's context and
everything after happens in callbacks. A runner waits until every handle is closed and
returns the errors the loop reported its own way (blocking: raised by ``handle.wait()``;
asyncio: the loop's exception handler). Ordering across different queries is not asserted.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable
from typing import Any

import pytest

from rethought import r
from rethought.client.handler import Handler, QueryHandle
from rethought.errors import ReqlDriverError, ReqlOpFailedError, ReqlRuntimeError

TIMEOUT = 20.0
Scenario = Callable[[Any], list]


def loop_connect(module: str, server: Any, **kwargs: Any) -> Any:
    loop = importlib.import_module(f"rethought.client.loops.{module}")
    return loop.connect(host=server.host, port=server.port, **kwargs)


class SyncRunner:
    """Callbacks run on the connection's callback thread; ``handle.wait()`` re-raises."""

    def run(self, server: Any, scenario: Scenario) -> list[BaseException]:
        conn = loop_connect("sync", server)
        errors: list[BaseException] = []
        try:
            for handle in scenario(conn):
                try:
                    done = handle.wait(TIMEOUT)
                except Exception as exc:
                    errors.append(exc)
                else:
                    assert done, f"{handle} did not close"
        finally:
            conn.close(noreply_wait=False)
        return errors


class AsyncioRunner:
    """Callbacks run via ``loop.call_soon``; errors go to the loop's exception handler."""

    module = "asyncio_loop"

    def run(self, server: Any, scenario: Scenario) -> list[BaseException]:
        errors: list[BaseException] = []

        async def main() -> None:
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx.get("exception")))
            conn = await loop_connect(self.module, server)
            try:
                waits = []
                for handle in scenario(conn):
                    done = loop.create_future()
                    handle.add_done_callback(
                        lambda _h, done=done: done.done() or done.set_result(None)
                    )
                    waits.append(done)
                await asyncio.wait_for(asyncio.gather(*waits), TIMEOUT)
            finally:
                await conn.close(noreply_wait=False)

        asyncio.run(main())
        return errors


class TornadoRunner:
    """Tornado runs on asyncio: callbacks via the IOLoop, errors to the loop's handler."""

    def run(self, server: Any, scenario: Scenario) -> list[BaseException]:
        pytest.importorskip("tornado")
        asyncio_runner = AsyncioRunner()
        asyncio_runner.module = "tornado_loop"
        return asyncio_runner.run(server, scenario)


class SelectorRunner:
    """The bring-your-own-loop interface on test_integrator's plain selectors loop."""

    loop_class = "SelectorLoop"

    def run(self, server: Any, scenario: Scenario) -> list[BaseException]:
        import test_integrator
        from test_integrator import connect

        loop = getattr(test_integrator, self.loop_class)()
        conn = connect(loop, server)
        handles = scenario(conn)
        loop.run_until(lambda: all(h.closed for h in handles), TIMEOUT)
        fire(conn.close(noreply_wait=False))
        return loop.errors


class QtRunner(SelectorRunner):
    """The same interface on Qt (test_integrator's QtLoop); skipped without PySide6."""

    loop_class = "QtLoop"


class GeventRunner:
    """Callbacks run in spawned greenlets; errors go to the hub's ``handle_error``."""

    def run(self, server: Any, scenario: Scenario) -> list[BaseException]:
        gevent = pytest.importorskip("gevent")
        hub = gevent.get_hub()
        errors: list[BaseException] = []
        original = hub.handle_error
        hub.handle_error = lambda _ctx, _type, value, _tb: errors.append(value)
        try:
            conn = loop_connect("gevent_loop", server)
            try:
                events = []
                for handle in scenario(conn):
                    event = gevent.event.Event()
                    handle.add_done_callback(lambda _h, event=event: event.set())
                    events.append(event)
                for event in events:
                    assert event.wait(TIMEOUT)
            finally:
                conn.close(noreply_wait=False)
        finally:
            hub.handle_error = original
        return errors


class TrioRunner:
    """The pump runs in the test's nursery: an escaping error is raised there."""

    def run(self, server: Any, scenario: Scenario) -> list[BaseException]:
        trio = pytest.importorskip("trio")
        errors: list[BaseException] = []

        async def main() -> None:
            async with trio.open_nursery() as nursery:
                conn = await loop_connect("trio_loop", server, nursery=nursery)
                try:
                    with trio.fail_after(TIMEOUT):
                        for handle in scenario(conn):
                            done = trio.Event()
                            handle.add_done_callback(lambda _h, done=done: done.set())
                            await done.wait()
                finally:
                    await conn.close(noreply_wait=False)

        try:
            trio.run(main)
        except BaseExceptionGroup as group:
            errors.extend(group.exceptions)
        except Exception as exc:  # trio without strict exception groups
            errors.append(exc)
        return errors


class TwistedRunner:
    """One reactor for the whole session, in a thread (a reactor cannot restart).

    Scenarios run in the reactor thread; errors are what Twisted logs as failures.
    """

    thread: threading.Thread | None = None

    def run(self, server: Any, scenario: Scenario) -> list[BaseException]:
        pytest.importorskip("twisted")
        from twisted.internet import defer, reactor, task, threads
        from twisted.logger import globalLogPublisher

        if TwistedRunner.thread is None:
            TwistedRunner.thread = threading.Thread(
                target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
            )
            TwistedRunner.thread.start()
        errors: list[BaseException] = []

        def observe(event: dict) -> None:
            if "log_failure" in event:
                errors.append(event["log_failure"].value)

        def go() -> defer.Deferred:
            def connected(conn: Any) -> defer.Deferred:
                waits = []
                for handle in scenario(conn):
                    done: defer.Deferred = defer.Deferred()
                    handle.add_done_callback(lambda _h, done=done: done.called or done.callback(0))
                    waits.append(done)
                everything = defer.gatherResults(waits).addTimeout(TIMEOUT, reactor)
                everything.addBoth(
                    lambda res: conn.close(noreply_wait=False).addBoth(lambda _: res)
                )
                # One more reactor turn: an error escaping a callback is logged after the
                # done callbacks ran.
                return everything.addBoth(lambda res: task.deferLater(reactor, 0, lambda: res))

            return loop_connect("twisted_loop", server).addCallback(connected)

        globalLogPublisher.addObserver(observe)
        try:
            threads.blockingCallFromThread(reactor, go)
        finally:
            globalLogPublisher.removeObserver(observe)
        return errors


def fire(result: Any) -> None:
    """Start a result nobody waits for (a noreply write, a close) on whatever loop."""
    from rethought.client.integrator import AsyncResult

    if isinstance(result, AsyncResult):
        result.callback = result.errback = lambda _value: None
    elif asyncio.iscoroutine(result):
        asyncio.ensure_future(result)


RUNNERS = {
    "sync": SyncRunner(),
    "asyncio": AsyncioRunner(),
    "tornado": TornadoRunner(),
    "selectors": SelectorRunner(),
    "qt": QtRunner(),
    "gevent": GeventRunner(),
    "trio": TrioRunner(),
    "twisted": TwistedRunner(),
}


@pytest.fixture(params=sorted(RUNNERS))
def runner(request):
    return RUNNERS[request.param]


@pytest.fixture
def table(official_r, official_conn, table_name):
    """A table ``test``-like: rows {"id": 0..2} (the seed's data)."""
    official_r.table_create(table_name).run(official_conn)
    official_r.table(table_name).insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(official_conn)
    return table_name


class Printer(Handler):
    def __init__(self) -> None:
        self.out: list = []

    def on_open(self):
        self.out.append("open")

    def on_close(self):
        self.out.append("closed")

    def on_error(self, err):
        self.out.append(("err", str(err)))

    def on_val(self, val):
        self.out.append(("val", val))


class KindPrinter(Printer):
    def on_array(self, array):
        self.out.append(("array", array))

    def on_atom(self, atom):
        self.out.append(("atom", atom))

    def on_stream_val(self, val):
        self.out.append(("stream_val", val))


# -- blocks (plain callables) --------------------------------------------------------------


def test_one_argument_block_over_order_by(server, runner, table):
    rows = []
    errors = runner.run(
        server, lambda c: [r.table(table).order_by(index="id").handle(c, rows.append)]
    )
    assert errors == [] and rows == [{"id": 0}, {"id": 1}, {"id": 2}]


def test_handle_closed_after_three_rows(server, runner, official_r, official_conn, table_name):
    official_r.table_create(table_name).run(official_conn)
    official_r.table(table_name).insert([{"id": i} for i in range(10)]).run(official_conn)
    printed = []
    handles: list[QueryHandle] = []
    # On the blocking loop callbacks run on another thread, possibly before handle() returns.
    lock = threading.Lock()

    def block(row):
        if len(printed) >= 3:
            with lock:
                handles[0].close()
        else:
            printed.append(row)

    def scenario(c):
        with lock:
            handles.append(r.table(table_name).order_by(index="id").handle(c, block))
        return handles

    assert runner.run(server, scenario) == []
    assert printed == [{"id": 0}, {"id": 1}, {"id": 2}] and handles[0].closed


def test_two_argument_block_on_missing_table(server, runner):
    seen = []
    errors = runner.run(
        server,
        lambda c: [
            r.table("missing").order_by(index="id").handle(c, lambda e, x: seen.append((e, x)))
        ],
    )
    assert errors == [] and len(seen) == 1
    err, row = seen[0]
    assert row is None and isinstance(err, ReqlOpFailedError)
    assert err.message == "Table `test.missing` does not exist."


def test_one_argument_block_raises_into_the_loop(server, runner):
    rows = []
    errors = runner.run(server, lambda c: [r.table("missing").handle(c, rows.append)])
    assert rows == [] and len(errors) == 1 and isinstance(errors[0], ReqlOpFailedError)
    assert str(errors[0]) == (
        "Table `test.missing` does not exist in:\nr.table('missing')\n^^^^^^^^^^^^^^^^^^"
    )


def test_callable_with_too_many_arguments_is_refused(conn):
    with pytest.raises(ReqlDriverError, match="should accept 0, 1 or 2"):
        r.expr(1).handle(conn, lambda a, b, c: None)


# -- Handler classes -----------------------------------------------------------------------


def test_printer_open_val_closed(server, runner, table):
    printer = Printer()
    assert (
        runner.run(server, lambda c: [r.table(table).order_by(index="id").handle(c, printer)]) == []
    )
    assert printer.out == [
        "open",
        ("val", {"id": 0}),
        ("val", {"id": 1}),
        ("val", {"id": 2}),
        "closed",
    ]


def test_handler_class_is_instantiated(server, runner, table):
    handles = []
    runner.run(server, lambda c: handles.append(r.expr(5).handle(c, Printer)) or handles)
    assert handles[0].handler.out == ["open", ("val", 5), "closed"]


def test_printer_on_error(server, runner):
    printer = Printer()
    assert runner.run(server, lambda c: [r.table("missing").handle(c, printer)]) == []
    assert printer.out == [
        "open",
        ("err", "Table `test.missing` does not exist in:\nr.table('missing')\n^^^^^^^^^^^^^^^^^^"),
        "closed",
    ]


def test_array_atom_and_stream_callbacks(server, runner, table):
    stream, array, atom = KindPrinter(), KindPrinter(), KindPrinter()

    def scenario(c):
        return [
            r.table(table).order_by(index="id").handle(c, stream),
            r.expr([1, 2, 3]).handle(c, array),
            r.table(table).get(1).handle(c, atom),
        ]

    assert runner.run(server, scenario) == []
    assert stream.out == ["open"] + [("stream_val", {"id": i}) for i in range(3)] + ["closed"]
    assert array.out == ["open", ("array", [1, 2, 3]), "closed"]
    assert atom.out == ["open", ("atom", {"id": 1}), "closed"]


def test_fallbacks(server, runner):
    class AtomOnly(Printer):
        def on_atom(self, atom):
            self.out.append(("atom", atom))

    class StreamOnly(Printer):
        def on_stream_val(self, val):
            self.out.append(("stream_val", val))

    atom_only, stream_only, val_only = AtomOnly(), StreamOnly(), Printer()

    def scenario(c):
        return [
            r.expr([1, 2]).handle(c, atom_only),
            r.expr([1, 2]).handle(c, stream_only),
            r.expr([1, 2]).handle(c, val_only),
        ]

    assert runner.run(server, scenario) == []
    assert atom_only.out == ["open", ("atom", [1, 2]), "closed"]
    assert stream_only.out == ["open", ("stream_val", 1), ("stream_val", 2), "closed"]
    assert val_only.out == ["open", ("val", 1), ("val", 2), "closed"]


def test_on_batch_receives_batches_as_they_arrive(server, runner):
    class Batches(Handler):
        def __init__(self):
            self.batches = []

        def on_batch(self, rows):
            self.batches.append(rows)

    handler = Batches()
    assert runner.run(server, lambda c: [r.range(20000).handle(c, handler)]) == []
    # Rows that arrived together come as one batch; their union is the whole stream.
    assert handler.batches and all(type(batch) is list for batch in handler.batches)
    assert [x for batch in handler.batches for x in batch] == list(range(20000))


# -- changefeeds ---------------------------------------------------------------------------


def test_feed_printer(server, runner, official_r, official_conn, table):
    class FeedPrinter(Printer):
        def on_initial_val(self, val):
            self.out.append(("initial_val", val))

        def on_state(self, state):
            self.out.append(("state", state))
            if state == "ready":
                official_r.table(table).insert({"id": 0.5}).run(official_conn)

        def on_change(self, old, new):
            self.out.append(("change", old, new))
            official_r.table_drop(table).run(official_conn)

    printer = FeedPrinter()
    feed = (
        r.table(table)
        .order_by(index="id")
        .limit(2)
        .changes(include_states=True, include_initial=True)
    )
    assert runner.run(server, lambda c: [feed.handle(c, printer)]) == []
    out = printer.out
    assert out[:2] == ["open", ("state", "initializing")]
    assert sorted(x[1]["id"] for x in out[2:4]) == [0, 1] and out[2][0] == "initial_val"
    assert out[4:6] == [("state", "ready"), ("change", {"id": 1}, {"id": 0.5})]
    assert out[6][0] == "err" and out[6][1].startswith("Changefeed aborted (table unavailable)")
    assert out[7:] == ["closed"]


def test_multi_query_printer_receives_handles(server, runner):
    calls = []

    class MultiQueryPrinter(Handler):
        def on_open(self, qh):
            calls.append(("open", qh))

        def on_close(self, qh):
            calls.append(("close", qh))

        def on_val(self, val, qh):
            calls.append(("val", val, qh))

    printer = MultiQueryPrinter()
    handles = []
    runner.run(
        server,
        lambda c: (
            handles.extend([r.expr(1).handle(c, printer), r.expr(2).handle(c, printer)]) or handles
        ),
    )
    h1, h2 = handles
    # Per query the order is fixed; across the two queries it is not guaranteed.
    assert [c for c in calls if c[-1] is h1] == [("open", h1), ("val", 1, h1), ("close", h1)]
    assert [c for c in calls if c[-1] is h2] == [("open", h2), ("val", 2, h2), ("close", h2)]


def test_stop_after_five_changes(server, runner, official_r, official_conn, table_name):
    official_r.table_create(table_name).run(official_conn)
    seen = []

    class FeedPrinter(Handler):
        def __init__(self, limit, conn_box):
            self.counter = limit
            self.conn_box = conn_box
            if self.counter <= 0:
                self.stop()

        def on_open(self):
            # Once the changefeed is open, insert 10 rows (on the same connection).
            fire(r.table(table_name).insert([{}] * 10).run(self.conn_box[0], noreply=True))

        def on_val(self, val):
            seen.append(val)
            self.counter -= 1
            if self.counter <= 0:
                self.stop()

    box: list = []
    printer = FeedPrinter(5, box)
    handles = []

    def scenario(c):
        box.append(c)
        handles.append(r.table(table_name).changes().handle(c, printer))
        return handles

    assert runner.run(server, scenario) == []
    assert len(seen) == 5 and all(v["old_val"] is None for v in seen)
    assert printer.stopped and handles[0].closed
    # A query registered with a stopped handler closes without running.
    late = []
    runner.run(
        server, lambda c: late.append(r.table(table_name).delete().handle(c, printer)) or late
    )
    assert late[0].closed and late[0].query is None
    assert official_r.table(table_name).count().run(official_conn) == 10
    stopped = FeedPrinter(0, box)
    assert stopped.stopped


def test_connection_loss_reports_error_then_close(server, runner, official_r, official_conn, table):
    class Closer(Printer):
        def on_open(self, qh):
            self.out.append("open")
            fire(qh.conn.close(noreply_wait=False))

    printer = Closer()

    def scenario(c):
        return [r.table(table).changes().handle(c, printer)]

    assert runner.run(server, scenario) == []
    assert printer.out == ["open", ("err", "Connection is closed."), "closed"]


def test_exception_in_callback_stops_the_handler(server, runner, table):
    class Broken(Printer):
        def on_val(self, val):
            raise ValueError("boom")

    broken = Broken()
    errors = runner.run(server, lambda c: [r.table(table).order_by(index="id").handle(c, broken)])
    assert [type(e) for e in errors] == [ValueError] and broken.stopped
    assert broken.out == ["open"]


def test_runtime_error_class_for_missing_db(server, runner):
    seen = []
    runner.run(server, lambda c: [r.db("nope").table("x").handle(c, lambda e, x: seen.append(e))])
    assert isinstance(seen[0], ReqlRuntimeError)
