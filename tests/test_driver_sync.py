"""The blocking driver against a real `rethought serve` (fixtures from conftest.py)."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from conftest import ServerProcess
from rethought import r
from rethought.client import repl_connection, set_loop_type, set_repl_connection
from rethought.errors import (
    ReqlAuthError,
    ReqlCursorEmpty,
    ReqlDriverError,
    ReqlOpFailedError,
    ReqlTimeoutError,
)


def test_seed_synchronous_flow(conn, table_name):
    r.table_create(table_name).run(conn)
    result = r.table(table_name).insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(conn)
    assert result["inserted"] == 3
    assert r.table(table_name).get(0).run(conn) == {"id": 0}
    cursor = r.table(table_name).order_by(index="id").run(conn)
    assert [row for row in cursor] == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert table_name in r.table_list().run(conn)
    with pytest.raises(ReqlOpFailedError) as info:
        r.table("non_existent").run(conn)
    assert info.value.message == "Table `test.non_existent` does not exist."
    # As the official 2.4 driver prints it: the message's final period is dropped before "in:".
    assert str(info.value) == (
        "Table `test.non_existent` does not exist in:\n"
        "r.table('non_existent')\n"
        "^^^^^^^^^^^^^^^^^^^^^^^"
    )


def test_server_info_and_lifecycle(server):
    conn = r.connect(host=server.host, port=server.port)
    info = conn.server()
    assert set(info) == {"id", "name", "proxy"} and info["proxy"] is False
    assert conn.is_open()
    conn.close()
    assert not conn.is_open()
    with pytest.raises(ReqlDriverError, match="Connection is closed."):
        r.expr(1).run(conn)
    conn.reconnect()
    assert r.expr(2).run(conn) == 2
    with conn:
        assert r.expr(3).run(conn) == 3
    assert not conn.is_open()


def test_wrong_password_and_refused_port(server):
    with pytest.raises(ReqlAuthError, match="Wrong password"):
        r.connect(host=server.host, port=server.port, password="not the password")
    with pytest.raises(ReqlDriverError, match="Could not connect"):
        r.connect(host=server.host, port=1)


def test_use_db_and_db_optarg(conn):
    conn.use("no_such_db")
    assert conn.db == "no_such_db"
    with pytest.raises(ReqlOpFailedError, match="Database `no_such_db` does not exist."):
        r.table_list().run(conn)
    assert isinstance(r.table_list().run(conn, db="test"), list)


def test_cursor_streams_in_batches(conn):
    cursor = r.range(50000).run(conn)
    assert cursor.next() == 0
    assert cursor.next(wait=False) == 1
    assert sum(cursor) == sum(range(2, 50000))
    with pytest.raises(ReqlCursorEmpty):
        cursor.next()
    cursor = r.range(50000).run(conn)
    assert next(cursor) == 0
    cursor.close()
    with pytest.raises(ReqlCursorEmpty):
        cursor.next()
    assert r.expr(1).run(conn) == 1  # the connection still works after STOP


def test_changefeed_wait_timeout_then_change(conn, table_name):
    r.table_create(table_name).run(conn)
    feed = r.table(table_name).changes().run(conn)
    assert feed.is_feed
    with pytest.raises(ReqlTimeoutError):
        feed.next(wait=0.2)
    r.table(table_name).insert({"id": 7}).run(conn)
    assert feed.next(wait=5) == {"new_val": {"id": 7}, "old_val": None}
    feed.close()


def test_threads_share_one_connection(conn):
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            got = [r.expr(i * 100 + j).run(conn) for j in range(20)]
            got.append(sum(r.range(3000).run(conn)))
            results[i] = got
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for i in range(8):
        assert results[i] == [i * 100 + j for j in range(20)] + [sum(range(3000))]


def test_noreply_and_noreply_wait(conn, table_name):
    r.table_create(table_name).run(conn)
    for i in range(20):
        assert r.table(table_name).insert({"id": i}).run(conn, noreply=True) is None
    conn.noreply_wait()
    assert r.table(table_name).count().run(conn) == 20


def test_profile_and_pseudo_types(conn):
    result = r.expr(1).run(conn, profile=True)
    assert result["value"] == 1 and isinstance(result["profile"], list)
    assert r.binary(b"\x00\x01").run(conn) == b"\x00\x01"
    raw = r.binary(b"\x00\x01").run(conn, binary_format="raw")
    assert raw == {"$reql_type$": "BINARY", "data": "AAE="}
    assert r.expr([1, 2, 3]).group(lambda x: x.mod(2)).run(conn) == {0: [2], 1: [1, 3]}


def test_repl_and_loop_type(server):
    conn = r.connect(host=server.host, port=server.port).repl()
    try:
        assert repl_connection() is conn
        assert r.expr(5).run() == 5
    finally:
        set_repl_connection(None)
        conn.close()
    with pytest.raises(ReqlDriverError, match="Unknown loop type"):
        set_loop_type("no_such_loop")
    set_loop_type(None)


def test_server_death_fails_pending_queries_at_once(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        conn = r.connect(host=srv.host, port=srv.port)
        r.table_create("feedme").run(conn)
        feed = r.table("feedme").changes().run(conn)
        failures: list[BaseException] = []

        def wait_on_feed() -> None:
            try:
                feed.next()
            except ReqlDriverError as exc:
                failures.append(exc)

        waiter = threading.Thread(target=wait_on_feed)
        waiter.start()
        time.sleep(0.3)
        srv.stop(signal.SIGKILL)  # a broken connection, not a polite shutdown
        waiter.join(10)
        assert not waiter.is_alive() and len(failures) == 1
        assert not conn.is_open()
        with pytest.raises(ReqlDriverError):
            r.expr(1).run(conn)
    finally:
        srv.stop()
