"""Changefeeds on the ``rethinkdb`` tables, ``server_status.network`` and ``rethinkdb.logs``,
against a real ``rethought serve`` with its web console, through both drivers.

Expected values follow RethinkDB 2.4.4: its artificial tables' caching cfeed backends send
each row that differs from the last copy (``caching_cfeed_backend.cc``: table_create gives
``new_val`` the config row, a drop ``old_val``, a database rename the ``db`` field of every
table row of it); ``server_status.cc`` shows the http port as a number, ``"<no http admin>"``
without the console; ``logs_backend.cc`` rows are ``{id: [UTC time to the nanosecond,
server id], level, message, server, timestamp, uptime}`` and its feed sends new entries with
``old_val: null``; the log file is ``<time> <uptime>s <level>: <message>`` (``log_writer.cc``).
"""

from __future__ import annotations

import contextlib
import re
import uuid

import pytest

from conftest import ServerProcess, free_port
from rethought.server.system import server_log

WAIT = 5  # seconds a change may take (they come at once; the timer would take 1 s)
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\Z")


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    http = free_port()
    srv = ServerProcess(
        str(tmp_path_factory.mktemp("sysfeeds") / "data"), extra=["--http-port", str(http)]
    ).start()
    srv.http_port = http
    yield srv
    srv.stop()


@pytest.fixture
def c(console_server):
    from rethought import r

    conn = r.connect(host=console_server.host, port=console_server.port)
    yield conn
    conn.close()


@pytest.fixture
def oc(console_server):
    import rethinkdb

    conn = rethinkdb.r.connect(host=console_server.host, port=console_server.port)
    yield conn
    conn.close()


def _name() -> str:
    return "t" + uuid.uuid4().hex[:10]


def test_table_config_feed_sees_every_catalog_change(c):
    from rethought import r

    R = r.db("rethinkdb")
    db, db2, t = _name(), _name(), _name()
    feed = R.table("table_config").changes().run(c)
    r.db_create(db).run(c)
    r.db(db).table_create(t, primary_key="k").run(c)
    created = feed.next(wait=WAIT)
    assert created["old_val"] is None
    assert created["new_val"] == r.db(db).table(t).config().run(c) | {"indexes": []}
    assert created["new_val"]["primary_key"] == "k" and created["new_val"]["db"] == db

    r.db(db).table(t).index_create("x").run(c)
    ch = feed.next(wait=WAIT)
    assert ch["old_val"]["indexes"] == [] and ch["new_val"]["indexes"] == ["x"]

    r.db(db).config().update({"name": db2}).run(c)  # the db field of its tables follows
    ch = feed.next(wait=WAIT)
    assert (ch["old_val"]["db"], ch["new_val"]["db"]) == (db, db2)
    assert ch["new_val"]["id"] == created["new_val"]["id"]

    # One update of name and durability is one change, as one write in RethinkDB.
    r.db(db2).table(t).config().update({"name": t + "b", "durability": "soft"}).run(c)
    ch = feed.next(wait=WAIT)
    assert ch["old_val"]["name"] == t and ch["old_val"]["durability"] == "hard"
    assert ch["new_val"]["name"] == t + "b" and ch["new_val"]["durability"] == "soft"

    r.db(db2).table(t + "b").index_rename("x", "y").run(c)
    assert feed.next(wait=WAIT)["new_val"]["indexes"] == ["y"]
    r.db(db2).table(t + "b").index_drop("y").run(c)
    assert feed.next(wait=WAIT)["new_val"]["indexes"] == []

    r.db_drop(db2).run(c)  # dropping the database drops its table: old_val, no new_val
    ch = feed.next(wait=WAIT)
    assert ch["new_val"] is None and ch["old_val"]["name"] == t + "b"
    feed.close()


def test_db_config_and_table_status_feeds_official_driver(oc):
    import rethinkdb

    r = rethinkdb.r
    R = r.db("rethinkdb")
    db, db2, t = _name(), _name(), _name()
    dbs = R.table("db_config").changes().run(oc)
    status = R.table("table_status", identifier_format="uuid").changes().run(oc)
    r.db_create(db).run(oc)
    ch = next(dbs)
    assert ch["old_val"] is None and ch["new_val"]["name"] == db
    db_id = ch["new_val"]["id"]
    r.db(db).table_create(t).run(oc)
    ch = next(status)
    assert ch["old_val"] is None and ch["new_val"]["name"] == t
    assert ch["new_val"]["db"] == db_id  # identifier_format="uuid": the database by id
    r.db(db).config().update({"name": db2}).run(oc)
    assert next(dbs) == {
        "old_val": {"id": db_id, "name": db},
        "new_val": {"id": db_id, "name": db2},
    }
    r.db_drop(db2).run(oc)
    assert next(status)["new_val"] is None
    assert next(dbs) == {"old_val": {"id": db_id, "name": db2}, "new_val": None}
    dbs.close()
    status.close()


def test_users_and_permissions_feeds(c):
    from rethought import r

    R = r.db("rethinkdb")
    user = _name()
    users = R.table("users").changes().run(c)
    perms = R.table("permissions").changes().run(c)
    R.table("users").insert({"id": user, "password": "secret"}).run(c)
    assert users.next(wait=WAIT) == {"new_val": {"id": user, "password": True}, "old_val": None}
    r.grant(user, {"read": True}).run(c)
    assert perms.next(wait=WAIT) == {
        "new_val": {"id": [user], "permissions": {"read": True}, "user": user},
        "old_val": None,
    }
    R.table("users").get(user).delete().run(c)
    assert users.next(wait=WAIT) == {"new_val": None, "old_val": {"id": user, "password": True}}
    assert perms.next(wait=WAIT)["new_val"] is None
    users.close()
    perms.close()


def test_include_initial_and_no_change_before_the_feed(c):
    from rethought import r

    R = r.db("rethinkdb")
    t = _name()
    r.table_create(t).run(c)
    feed = R.table("table_config").changes(include_initial=True, include_states=True).run(c)
    docs = []
    while True:
        doc = feed.next(wait=WAIT)
        if doc.get("state") == "ready":
            break
        docs.append(doc)
    assert any(d.get("new_val", {}).get("name") == t for d in docs)  # initial, not a change
    assert all("old_val" not in d for d in docs)
    R.table("_debug_scratch").insert({"id": 1}).run(c)  # another table: nothing here
    r.table_drop(t).run(c)
    ch = feed.next(wait=WAIT)
    assert ch["old_val"]["name"] == t and ch["new_val"] is None
    feed.close()


def test_server_status_network_with_the_console(c, console_server):
    from rethought import r

    row = r.db("rethinkdb").table("server_status").nth(0).run(c)
    net = row["network"]
    assert net["http_admin_port"] == console_server.http_port
    assert net["reql_port"] == console_server.port
    assert net["cluster_port"] == 29015
    assert net["canonical_addresses"] == [{"host": "127.0.0.1", "port": 29015}]
    assert net["connected_to"] == {}
    assert net["time_connected"] >= row["process"]["time_started"]


def test_logs_rows_and_live_entries(c, oc, console_server):
    import rethinkdb

    from rethought import r

    R = r.db("rethinkdb")
    rows = R.table("logs").order_by("id").run(c)
    server = R.table("server_status").nth(0).run(c)
    messages = [row["message"] for row in rows]
    assert f"Listening for client driver connections on port {console_server.port}" in messages
    assert (
        f"Listening for administrative HTTP connections on port {console_server.http_port}"
        in messages
    )
    ready = next(row for row in rows if row["message"].startswith("Server ready"))
    assert ready["level"] == "notice" and ready["server"] == server["name"]
    assert STAMP.match(ready["id"][0]) and ready["id"][1] == server["id"]
    assert type(ready["uptime"]) is float and ready["uptime"] >= 0
    assert R.table("logs").get(ready["id"]).run(c) == ready
    assert R.table("logs").insert({"id": 1}).run(c)["first_error"] == (
        "It's illegal to write to the `rethinkdb.logs` system table."
    )

    feed = rethinkdb.r.db("rethinkdb").table("logs").changes().run(oc)
    t = _name()
    r.table_create(t).run(c)
    table_id = r.table(t).config()["id"].run(c)
    ch = next(feed)
    assert ch["old_val"] is None
    assert ch["new_val"]["level"] == "info"
    assert ch["new_val"]["message"] == f"Table {table_id}: Added replica on this server."
    r.table_drop(t).run(c)
    assert next(feed)["new_val"]["message"] == f"Table {table_id}: Deleted the table."
    feed.close()

    with open(f"{console_server.directory}/log_file") as f:
        lines = f.read().splitlines()
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9} \d+\.\d{6}s info: Table "
        + table_id
        + r": Deleted the table\.\Z",
        lines[-1],
    )


def test_no_http_admin_and_logs_across_a_restart(tmp_path):
    from rethought import r

    srv = ServerProcess(str(tmp_path / "data")).start()  # --no-http-admin
    try:
        with r.connect(port=srv.port) as conn:
            net = r.db("rethinkdb").table("server_status").nth(0)["network"].run(conn)
            assert net["http_admin_port"] == "<no http admin>"
            assert "Administrative HTTP connections are disabled." in list(
                r.db("rethinkdb").table("logs")["message"].run(conn)
            )
    finally:
        srv.stop()
    srv.start()
    try:
        with r.connect(port=srv.port) as conn:
            messages = list(r.db("rethinkdb").table("logs").order_by("id")["message"].run(conn))
    finally:
        srv.stop()
    # The earlier run's lines are still there, its shutdown included, as RethinkDB's file.
    assert sum(m.startswith("Server ready") for m in messages) == 2
    assert "Storage engine shut down." in messages
    assert "Server got SIGTERM; shutting down..." in messages  # serve.cc logs it too


def test_log_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(server_log, "MAX_FILE_BYTES", 20_000)
    path = str(tmp_path / "log_file")
    log = server_log.ServerLog(path)
    for i in range(1500):
        log.write("info", f"entry {i}\twith a tab")
    assert len(log.entries) == server_log.ENTRIES
    assert log.entries[-1].message == "entry 1499\twith a tab"
    log.close()
    with open(path) as f:
        text = f.read()
    kept = sum(len(e.line()) + 1 for e in log.entries)  # the newest 1000 lines
    assert len(text) <= max(20_000, 2 * kept) and "entry 1499\\twith a tab" in text
    assert text.count("\n") < 1500
    again = server_log.ServerLog(path)  # read back: the newest entries, unescaped, in order
    assert again.entries[-1].message == "entry 1499\twith a tab"
    ns = [e.ns for e in again.entries]
    assert ns == sorted(set(ns))  # unique, increasing ids
    again.close()


def test_limit_feeds_are_refused_on_system_tables(oc):
    import rethinkdb

    q = rethinkdb.r.db("rethinkdb").table("table_config").order_by(index="id").limit(2)
    with pytest.raises(rethinkdb.errors.ReqlOpFailedError) as e:
        q.changes().run(oc)
    assert e.value.message == "System tables don't support changefeeds on `.limit()`."


def test_stats_feed_by_uuid(c):
    from rethought import r

    feed = r.db("rethinkdb").table("stats", identifier_format="uuid").changes().run(c)
    server_id = r.db("rethinkdb").table("server_status").nth(0)["id"].run(c)
    for _ in range(20):
        row = feed.next(wait=WAIT)["new_val"]
        if row and row["id"][0] == "server":
            break
    assert row["server"] == server_id  # by id, not by name
    feed.close()


def test_log_write_error_is_a_current_issue(tmp_path):
    """issues/log_write.cc: while writes to the log file fail, current_issues has a
    non-critical ``log_write_error`` (id uuid5-style from_hash of its base and message);
    it goes away with the next successful write."""

    class Storage:  # a stand-in key for the per-storage registry (weak-referenceable)
        pass

    storage = Storage()
    log = server_log.ServerLog(str(tmp_path / "log_file"))
    server_log.attach(storage, log)
    good = log._file
    log._file = open("/dev/full", "w", buffering=1)  # noqa: SIM115 -- every write: ENOSPC
    log.write("notice", "lost on disk")
    [issue] = server_log.issues(storage)
    message = "cannot write to log file: No space left on device"
    assert issue["type"] == "log_write_error" and issue["critical"] is False
    assert issue["info"]["message"] == message
    assert issue["id"] == str(
        uuid.uuid5(uuid.UUID("a0c0dc6d-aa7f-4119-a29d-4c717c343445"), message)
    )
    assert issue["description"].startswith(
        "The following server encountered an error while writing log statements: "
    )
    assert log.entries[-1].message == "lost on disk"  # still in the table
    with contextlib.suppress(OSError):  # its buffer still holds the lost line
        log._file.close()
    log._file = good
    log.write("notice", "written")
    assert server_log.issues(storage) == []
    log.close()
