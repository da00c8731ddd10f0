"""Resumable changefeeds through the driver (issue 15): a consumer on every loop keeps its
feed across network cuts and server kills, and sees each acknowledged change exactly once,
in commit order. Consumers are programs (tests/resume_consumer.py), all running at once.

The short soak here cuts the network twice and kills the server twice under 120
hard-durability inserts; the full one from the issue (10,000 inserts, 5 SIGKILLs) is
bench/soak_resumable.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import ServerProcess
from reconnect_proxy import Proxy
from rethought import r
from rethought.client.core import ClientCore, start_args
from rethought.errors import ReqlDriverError, ReqlQueryLogicError

HERE = os.path.dirname(os.path.abspath(__file__))
CONSUMER = os.path.join(HERE, "resume_consumer.py")
LOOPS = [
    ("sync", "cursor"),
    ("sync", "handler"),
    ("gevent", "cursor"),
    ("gevent", "handler"),
    ("asyncio", "cursor"),
    ("asyncio", "handler"),
    ("trio", "cursor"),
    ("trio", "handler"),
    ("tornado", "cursor"),
    ("twisted", "cursor"),
    ("twisted", "handler"),
    ("integrator", "handler"),
]


class Consumer:
    """A consumer program; its output lines are collected by a thread."""

    def __init__(self, loop: str, mode: str, host: str, port: int, table: str, last: int):
        self.name = f"{loop}-{mode}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, CONSUMER, loop, mode, host, str(port), table, str(last)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, line: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.lines:
            assert self.proc.poll() is None or line in self.lines, (self.name, self.lines)
            assert time.monotonic() < deadline, (self.name, line, self.lines[-5:])
            time.sleep(0.02)

    def ids(self) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.startswith("C ")]

    def states(self) -> list[str]:
        return [line.split()[1] for line in self.lines if line.startswith("S ")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def start_consumers(host: str, port: int, table: str, last: int) -> list[Consumer]:
    consumers = [Consumer(loop, mode, host, port, table, last) for loop, mode in LOOPS]
    for consumer in consumers:
        consumer.wait_for("S ready")
    return consumers


@pytest.fixture
def feed_table(conn):
    name = "resume_" + uuid.uuid4().hex[:10]
    if "test" not in r.db_list().run(conn):
        r.db_create("test").run(conn)
    r.db("test").table_create(name).run(conn)
    yield name
    r.db("test").table_drop(name).run(conn)


def _insert_acknowledged(table, writer, i: int) -> None:
    """Insert ``{"id": i}`` with hard durability, retrying through drops (never behind the
    writer's back: the driver fails it, the writer retries); a retry may meet its own
    committed insert, which counts as acknowledged too."""
    while True:
        try:
            result = table.insert({"id": i}, durability="hard").run(writer)
        except ReqlDriverError:
            time.sleep(0.05)
            continue
        assert result["inserted"] == 1 or "Duplicate primary key" in result["first_error"]
        return


def test_every_loop_resumes_across_cuts_and_server_kills(tmp_path):
    # One consumer per loop through a proxy: two network cuts, a half-open stall (found by
    # the heartbeats), then the soak, short: the server SIGKILLed and restarted
    # twice under hard-durability inserts (120 in all).
    srv = ServerProcess(str(tmp_path / "data")).start()
    proxy = Proxy(srv.host, srv.port)
    writer = r.connect(host=srv.host, port=srv.port, reconnect=r.Reconnect(0.05, 0.3))
    r.db("test").table_create("soak").run(writer)
    table = r.db("test").table("soak")
    consumers = start_consumers(proxy.host, proxy.port, "soak", 120)
    try:
        for i in range(1, 121):
            if i == 20:
                assert proxy.cut() == len(consumers)
            if i == 40:
                _wait_until(lambda: all(c.states().count("ready") >= 2 for c in consumers))
                assert proxy.cut() == len(consumers)
            if i == 50:  # half-open links: only the heartbeat (1 s) can tell
                _wait_until(lambda: all(c.states().count("ready") >= 3 for c in consumers))
                assert proxy.stall_existing() == len(consumers)
            if i in (60, 90):
                srv.stop(signal.SIGKILL)
                srv.start()
            _insert_acknowledged(table, writer, i)
        for consumer in consumers:
            consumer.wait_for("DONE", timeout=120)
            ids = consumer.ids()
            # Exactly once and in commit order: every insert was acknowledged (the writer
            # retried the failed ones), so each consumer saw 1..120.
            assert ids == list(range(1, 121)), (consumer.name, ids)
            # Told of each drop, "ready" again after each resume (the kills may fall in one
            # outage for a consumer still reconnecting from the cut before them).
            states = consumer.states()
            assert states[:6] == ["ready", *["reconnecting", "ready"] * 2, "reconnecting"], states
            assert states.count("reconnecting") <= 5, (consumer.name, states)
    finally:
        for consumer in consumers:
            consumer.stop()
        writer.close(noreply_wait=False)
        proxy.close()
        srv.stop()


def _wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_two_resumable_feeds_on_one_connection(server, conn, feed_table):
    # Two resumable feeds (with a filter, with a map) and a plain one share a connection
    # that is cut twice; each resumable one goes on from its own position.
    proxy = Proxy(server.host, server.port)
    table = r.db("test").table(feed_table)
    c = r.connect(host=proxy.host, port=proxy.port, reconnect=r.Reconnect(0.05, 0.3))
    try:
        evens = table.filter(r.row["id"] % 2 == 0).changes().run(c)
        odds = table.filter(r.row["id"] % 2 == 1).map(r.row.merge({"odd": True})).changes()
        odds = odds.run(c)
        plain = table.changes()["new_val"].run(c)  # a transform after changes(): not resumable
        table.insert([{"id": 1}, {"id": 2}]).run(conn)
        assert evens.next(wait=5)["new_val"] == {"id": 2}
        assert odds.next(wait=5)["new_val"] == {"id": 1, "odd": True}
        for batch in ([3, 4, 6], [5, 7, 8]):
            proxy.cut()
            table.insert([{"id": i} for i in batch]).run(conn)
        assert [evens.next(wait=10)["new_val"]["id"] for _ in range(3)] == [4, 6, 8]
        assert [odds.next(wait=10)["new_val"]["id"] for _ in range(3)] == [3, 5, 7]
        assert c.reconnects >= 1
        with pytest.raises(ReqlDriverError, match="Connection"):
            while True:  # its rows from before the cut, then the drop's error
                plain.next(wait=5)
    finally:
        c.close(noreply_wait=False)
        proxy.close()


def test_positions_are_kept_only_when_asked(server, conn, feed_table):
    table = r.db("test").table(feed_table)
    c = r.connect(host=server.host, port=server.port, reconnect=True)
    try:
        plain = table.changes().run(c)
        with_positions = table.changes(include_positions=True).run(c)
        table.insert({"id": 1}).run(conn)
        assert plain.next(wait=5) == {"new_val": {"id": 1}, "old_val": None}
        row = with_positions.next(wait=5)
        assert set(row) == {"new_val", "old_val", "position"}
        assert isinstance(row["position"], str)
    finally:
        c.close()


def test_resume_from_a_malformed_position_fails_as_the_server_says(server, feed_table):
    c = r.connect(host=server.host, port=server.port, reconnect=True)
    try:
        with pytest.raises(ReqlQueryLogicError, match="not a changefeed position"):
            r.db("test").table(feed_table).changes(resume_from="zz").run(c)
    finally:
        c.close()


def test_a_server_without_positions_is_named():
    # RethinkDB 2.4 refuses an unknown optarg with exactly this text (op.cc, op_term_t): the
    # driver then says why a resumable feed cannot be opened. Driven through the sans-IO core
    # with the server's answer as RethinkDB words it.
    from test_client_core import frame, handshake_core

    core = handshake_core()
    query = core.start(*_changes_args(), resumable=True)
    sent = core.data_to_send()
    assert b'"include_positions":true' in sent and b'"include_states":true' in sent
    core.receive_data(
        frame(query.token, {"t": 17, "r": ["Unrecognized optional argument `include_positions`."]})
    )
    assert isinstance(query.error, ReqlDriverError)
    assert "resumable changefeed" in query.error.message
    assert "RethinkDB itself has no change positions" in query.error.message
    assert "resumable=False" in query.error.message


def _changes_args() -> tuple:
    term = r.table("t").changes()
    return term.build(), {}, term, False


def test_driver_only_option_never_reaches_the_server():
    from test_client_core import handshake_core

    core: ClientCore = handshake_core()
    term = r.table("t").changes()
    core.start(*start_args(term, {"resumable": False}, None, resumable=True))
    sent = core.data_to_send()
    assert b"resumable" not in sent and b"include_positions" not in sent  # opted out
    core.start(*start_args(term, {}, None, resumable=True))
    assert b"include_positions" in core.data_to_send()


def test_core_keeps_and_resumes_a_feed_under_a_new_token():
    # Sans-IO: what the driver does at a drop, frame by frame.
    from test_client_core import frame, handshake_core, sent

    old = handshake_core()
    term = r.table("t").changes()
    query = old.start(*start_args(term, {}, None, resumable=True))
    ((token, start),) = sent(old)
    assert start[1][2] == {"include_positions": True, "include_states": True}
    ready = {"state": "ready", "position": "P0"}
    change = {"new_val": {"id": 1}, "old_val": None, "position": "P1"}
    old.receive_data(frame(token, {"t": 3, "r": [ready, change], "n": [1]}))
    # The user asked for neither states nor positions: the ready state is dropped, the
    # position stripped (and remembered).
    assert list(query.items) == [{"new_val": {"id": 1}, "old_val": None}]
    assert query.feed.position == "P1"
    other = old.start_plain(r.expr(1), None)
    failed = old.connection_lost("gone", keep_feeds=True)
    assert other.error is not None and query.error is None and not query.done
    assert old.kept == [query] and set(failed) == {query, other}
    new = handshake_core()
    new.resume(query)
    ((new_token, resumed),) = sent(new)
    assert resumed[1][2]["resume_from"] == "P1" and query.token == new_token
    new.receive_data(frame(new_token, {"t": 3, "r": [{**change, "position": "P2"}], "n": [1]}))
    assert len(query.items) == 2 and query.feed.position == "P2"


def test_core_reconnecting_state_only_when_states_were_asked():
    from test_client_core import handshake_core

    core = handshake_core()
    with_states = core.start(*start_args(r.table("t").changes(include_states=True), {}, None, True))
    plain = core.start(*start_args(r.table("t").changes(), {}, None, True))
    core.connection_lost("gone", keep_feeds=True)
    assert list(with_states.items) == [{"state": "reconnecting"}]
    assert list(plain.items) == []


def test_feeds_without_positions_open_plain_on_a_reconnecting_connection(server, conn, feed_table):
    # squash=True and system tables have no positions (the server refuses them): a feed that
    # is resumable only by the connection's default opens as a plain feed; asked for
    # explicitly, the server's refusal stands.
    table = r.db("test").table(feed_table)
    c = r.connect(host=server.host, port=server.port, reconnect=True)
    try:
        squashed = table.changes(squash=True).run(c)
        stats = r.db("rethinkdb").table("server_status").changes().run(c)
        table.insert({"id": 1}).run(conn)
        assert squashed.next(wait=5) == {"new_val": {"id": 1}, "old_val": None}
        assert squashed.query.feed is None and stats.query.feed is None  # plain feeds
        with pytest.raises(ReqlQueryLogicError, match="Cannot include positions in a squashed"):
            table.changes(squash=True).run(c, resumable=True)
    finally:
        c.close()
