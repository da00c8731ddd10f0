"""Bring-your-own-loop (client/integrator.py) on a plain ``selectors`` loop written here.

The loop below is all an integrator writes: six methods over a selector, a ready queue and a
timer heap. Everything the driver does on it -- handshake, queries, cursors, Handlers -- goes
through the public :class:`rethought.client.integrator.EventLoop` interface.
"""

from __future__ import annotations

import heapq
import itertools
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest

from rethought import r
from rethought.client import integrator
from rethought.errors import ReqlCursorEmpty, ReqlDriverError, ReqlOpFailedError, ReqlTimeoutError


class SelectorLoop(integrator.EventLoop):
    """A minimal event loop; callback errors are collected in ``errors`` (its way to report)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.watches: dict[socket.socket, list] = {}
        self.soon: deque = deque()
        self.timers: list = []
        self.counter = itertools.count()
        self.errors: list[BaseException] = []

    def _update(self, sock: socket.socket) -> None:
        read, write = self.watches.get(sock, (None, None))
        events = (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)
        registered = sock in self.selector.get_map() if sock.fileno() >= 0 else False
        if not events:
            self.watches.pop(sock, None)
            if registered:
                self.selector.unregister(sock)
        elif registered:
            self.selector.modify(sock, events)
        else:
            self.selector.register(sock, events)

    def watch_read(self, sock, callback):
        self.watches.setdefault(sock, [None, None])[0] = callback
        self._update(sock)

    def watch_write(self, sock, callback):
        self.watches.setdefault(sock, [None, None])[1] = callback
        self._update(sock)

    def unwatch(self, sock, read=True, write=True):
        watch = self.watches.get(sock)
        if watch is not None:
            if read:
                watch[0] = None
            if write:
                watch[1] = None
            self._update(sock)

    def call_soon(self, fn, *args):
        self.soon.append((fn, args))

    def call_later(self, delay, fn):
        timer = [time.monotonic() + delay, next(self.counter), fn, False]
        heapq.heappush(self.timers, timer)
        return timer

    def cancel(self, timer):
        timer[3] = True

    def _run(self, fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self.errors.append(exc)

    def run_until(self, done: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            now = time.monotonic()
            assert now < deadline, "the loop timed out"
            for _ in range(len(self.soon)):
                fn, args = self.soon.popleft()
                self._run(fn, *args)
            while self.timers and self.timers[0][0] <= now:
                timer = heapq.heappop(self.timers)
                if not timer[3]:
                    self._run(timer[2])
            if done():
                return
            wait = 0.0 if self.soon else deadline - now
            if self.timers:
                wait = min(wait, max(0.0, self.timers[0][0] - now))
            for key, events in self.selector.select(wait) if self.selector.get_map() else ():
                watch = self.watches.get(key.fileobj)
                if watch and events & selectors.EVENT_READ and watch[0]:
                    self._run(watch[0])
                watch = self.watches.get(key.fileobj)
                if watch and events & selectors.EVENT_WRITE and watch[1]:
                    self._run(watch[1])
            if not self.selector.get_map() and not self.soon and wait:
                time.sleep(min(wait, 0.01))


class Outcome:
    """Collects an AsyncResult's outcome: ``result.callback = o.ok; result.errback = o.fail``."""

    def __init__(self, result: integrator.AsyncResult | None = None) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = False
        if result is not None:
            result.callback, result.errback = self.ok, self.fail

    def ok(self, value: Any) -> None:
        self.value, self.done = value, True

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True


def settle(loop: SelectorLoop, result: integrator.AsyncResult) -> Any:
    outcome = Outcome(result)
    loop.run_until(lambda: outcome.done)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def connect(loop: SelectorLoop, server: Any) -> integrator.Connection:
    return settle(loop, integrator.connect(loop, host=server.host, port=server.port))


def test_queries_and_cursors(server, table_name):
    loop = SelectorLoop()
    conn = connect(loop, server)
    assert conn.is_open()
    settle(loop, r.table_create(table_name).run(conn))
    settle(loop, r.table(table_name).insert([{"id": i} for i in range(3)]).run(conn))
    assert settle(loop, r.table(table_name).get(1).run(conn)) == {"id": 1}
    cursor = settle(loop, r.table(table_name).order_by(index="id").run(conn))
    rows = [settle(loop, cursor.next()) for _ in range(3)]
    assert rows == [{"id": 0}, {"id": 1}, {"id": 2}]
    with pytest.raises(ReqlCursorEmpty):
        settle(loop, cursor.next())
    big = settle(loop, r.range(5000).run(conn))
    assert sum(settle(loop, big.next()) for _ in range(5000)) == sum(range(5000))
    settle(loop, conn.close())
    assert not conn.is_open() and loop.errors == []


def test_errors_reach_the_errback(server):
    loop = SelectorLoop()
    conn = connect(loop, server)
    with pytest.raises(ReqlOpFailedError, match="Table `test.missing` does not exist"):
        settle(loop, r.table("missing").run(conn))
    settle(loop, conn.close(noreply_wait=False))
    with pytest.raises(ReqlDriverError, match="Connection is closed."):
        settle(loop, r.expr(1).run(conn))


def test_missing_callbacks_are_reported_at_the_call(server):
    loop = SelectorLoop()
    conn = connect(loop, server)
    result = r.expr(1).run(conn)  # no callback / errback set: reported on the next tick
    line = result._site.rsplit(":", 1)[1]
    loop.run_until(lambda: bool(loop.errors))
    assert [type(e) for e in loop.errors] == [ReqlDriverError]
    assert str(loop.errors[0]).endswith(f"test_integrator.py:{line} has no callback set.")
    half = r.expr(2).run(conn)
    half.callback = lambda value: None
    loop.errors.clear()
    loop.run_until(lambda: bool(loop.errors))
    assert "has no errback set" in str(loop.errors[0])


def test_a_query_whose_bytes_cannot_be_sent_fails(server):
    """The socket refuses a query's bytes as ``run()`` hands them over (the connection broke
    on our side): the query fails with ReqlDriverError at once, though nothing waited on it
    yet when it failed."""
    loop = SelectorLoop()
    conn = connect(loop, server)
    conn._sock.shutdown(socket.SHUT_WR)  # every send() from now on fails with EPIPE
    with pytest.raises(ReqlDriverError, match="Connection interrupted sending to 127.0.0.1"):
        settle(loop, r.expr(1).run(conn))
    assert not conn.is_open() and loop.errors == []


def test_connection_refused_and_timeout():
    loop = SelectorLoop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ReqlDriverError, match="Could not connect to 127.0.0.1"):
        settle(loop, integrator.connect(loop, host="127.0.0.1", port=port))
    with socket.socket() as listener:  # accepts TCP but never answers the handshake
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        result = integrator.connect(
            loop, host="127.0.0.1", port=listener.getsockname()[1], timeout=0.2
        )
        with pytest.raises(ReqlTimeoutError, match="operation timed out"):
            settle(loop, result)


def test_handler_on_the_integrated_loop(server):
    loop = SelectorLoop()
    conn = connect(loop, server)
    rows: list = []
    handle = r.expr([1, 2, 3]).handle(conn, rows.append)
    loop.run_until(lambda: handle.closed)
    assert rows == [1, 2, 3] and loop.errors == []


# -- Qt: the same interface on a real GUI toolkit's loop -------------------------------------


class QtLoop(integrator.EventLoop):
    """The integrator's six methods on Qt (PySide6): QSocketNotifier and QTimer.

    Qt reports an exception escaping a slot by printing it; this loop collects it in
    ``errors`` instead, so tests can assert on it.
    """

    def __init__(self) -> None:
        qtcore = pytest.importorskip("PySide6.QtCore")
        self.qt = qtcore
        self.app = qtcore.QCoreApplication.instance() or qtcore.QCoreApplication([])
        self.notifiers: dict[tuple[socket.socket, Any], Any] = {}
        self.timers: set = set()
        self.errors: list[BaseException] = []

    def _run(self, fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            self.errors.append(exc)

    def _watch(self, sock: socket.socket, kind: Any, callback: Callable[[], None]) -> None:
        self._unwatch(sock, kind)
        notifier = self.qt.QSocketNotifier(sock.fileno(), kind)
        notifier.activated.connect(lambda *_: self._run(callback))
        self.notifiers[(sock, kind)] = notifier

    def _unwatch(self, sock: socket.socket, kind: Any) -> None:
        notifier = self.notifiers.pop((sock, kind), None)
        if notifier is not None:
            notifier.setEnabled(False)
            notifier.deleteLater()

    def watch_read(self, sock, callback):
        self._watch(sock, self.qt.QSocketNotifier.Type.Read, callback)

    def watch_write(self, sock, callback):
        self._watch(sock, self.qt.QSocketNotifier.Type.Write, callback)

    def unwatch(self, sock, read=True, write=True):
        if read:
            self._unwatch(sock, self.qt.QSocketNotifier.Type.Read)
        if write:
            self._unwatch(sock, self.qt.QSocketNotifier.Type.Write)

    def call_soon(self, fn, *args):
        self.call_later(0, lambda: fn(*args))

    def call_later(self, delay, fn):
        timer = self.qt.QTimer()
        timer.setSingleShot(True)
        self.timers.add(timer)  # Qt does not own a parentless timer: keep it alive

        def fire() -> None:
            self.timers.discard(timer)
            self._run(fn)

        timer.timeout.connect(fire)
        timer.start(int(delay * 1000))
        return timer

    def cancel(self, timer):
        timer.stop()
        self.timers.discard(timer)

    def run_until(self, done: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        flags = self.qt.QEventLoop.ProcessEventsFlag.AllEvents
        while not done():
            assert time.monotonic() < deadline, "the loop timed out"
            self.app.processEvents(flags, 10)
            if not done():
                time.sleep(0.0005)  # processEvents returns when idle; do not spin hot


@pytest.fixture
def qt_loop(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    return QtLoop()


def test_qt_queries_cursors_and_errors(server, table_name, qt_loop):
    conn = connect(qt_loop, server)
    settle(qt_loop, r.table_create(table_name).run(conn))
    settle(qt_loop, r.table(table_name).insert([{"id": i} for i in range(3)]).run(conn))
    cursor = settle(qt_loop, r.table(table_name).order_by(index="id").run(conn))
    assert [settle(qt_loop, cursor.next()) for _ in range(3)] == [{"id": i} for i in range(3)]
    big = settle(qt_loop, r.range(5000).run(conn))
    assert sum(settle(qt_loop, big.next()) for _ in range(5000)) == sum(range(5000))
    with pytest.raises(ReqlOpFailedError, match="Table `test.missing` does not exist"):
        settle(qt_loop, r.table("missing").run(conn))
    with pytest.raises(ReqlTimeoutError):
        settle(qt_loop, r.range(10**9).count().run(conn, timeout=0.1))
    settle(qt_loop, conn.close())
    assert not conn.is_open() and qt_loop.errors == []


def test_qt_feed_handler(server, table_name, qt_loop, official_r, official_conn):
    official_r.table_create(table_name).run(official_conn)
    conn = connect(qt_loop, server)
    changes: list = []
    handle = r.table(table_name).changes().handle(conn, changes.append)
    qt_loop.run_until(lambda: handle.query.answered)
    official_r.table(table_name).insert([{"id": i} for i in range(5)]).run(official_conn)
    qt_loop.run_until(lambda: len(changes) == 5)
    handle.close()
    qt_loop.run_until(lambda: handle.closed)
    assert sorted(c["new_val"]["id"] for c in changes) == list(range(5))
    settle(qt_loop, conn.close())
    assert qt_loop.errors == []
