"""rethought.testing: real servers in-process and as a child process, and the pytest plugin
(its fixtures, async tests, and the example of docs/testing.md run as it is written)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import rethinkdb

from rethought import r
from rethought.errors import ReqlAuthError
from rethought.testing import InProcessServer, SubprocessServer, start_server

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", ["inprocess", "subprocess"])
def test_start_query_stop_removes_the_temporary_directory(kind):
    server = start_server(kind)
    try:
        assert server.running and server.port > 0
        conn = server.connect()
        assert r.db_list().run(conn) == ["rethinkdb", "test"]
        r.db("test").table_create("t").run(conn)
        r.db("test").table("t").insert({"id": 1}).run(conn)
        conn.close()
        # Any driver may connect: the official one sees the same data.
        official = rethinkdb.r.connect(host=server.host, port=server.port)
        assert list(rethinkdb.r.db("test").table("t").run(official)) == [{"id": 1}]
        official.close()
    finally:
        server.stop()
    assert not server.running
    assert not os.path.exists(server.directory)


def test_in_process_restart_on_a_given_directory_keeps_the_data(tmp_path):
    directory = str(tmp_path / "data")
    with InProcessServer(directory) as server:
        conn = server.connect()
        r.db("test").table_create("kept").run(conn)
        r.db("test").table("kept").insert([{"id": i} for i in range(10)]).run(conn)
        conn.close()
    assert os.path.isdir(directory)  # a directory given by the caller stays
    with SubprocessServer(directory) as server:  # and another kind serves it
        conn = server.connect()
        assert r.db("test").table("kept").count().run(conn) == 10
        conn.close()


def test_two_in_process_servers_at_once_are_independent():
    with start_server() as a, start_server() as b:
        assert a.port != b.port
        ca, cb = a.connect(), b.connect()
        r.db_create("only_a").run(ca)
        assert "only_a" not in r.db_list().run(cb)
        ca.close()
        cb.close()


def test_password_applies_to_new_directories():
    with start_server(password="s3cret") as server:
        assert r.expr(1).run(server.connect()) == 1  # connect() passes the password
        with pytest.raises(ReqlAuthError, match="Wrong password"):
            server.connect(password="wrong")


def test_async_connection_on_the_running_loop():
    async def scenario():
        with start_server() as server:
            conn = await server.aconnect(db="test")
            await r.table_create("a").run(conn)
            feed = await r.table("a").changes().run(conn)
            await r.table("a").insert({"id": 7}).run(conn)
            change = await feed.next(wait=5)
            await feed.close()
            await conn.close()
            return change

    assert asyncio.run(scenario()) == {"new_val": {"id": 7}, "old_val": None}


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="inprocess"):
        start_server("docker")  # type: ignore[arg-type]


def test_a_port_in_use_fails_the_start(tmp_path):
    with start_server() as running:
        server = InProcessServer(str(tmp_path / "d"), port=running.port)
        with pytest.raises(OSError):
            server.start()
        assert not server.running


def test_plugin_fixtures_blocking_and_async(pytester):
    pytester.makepyfile(
        test_app="""
        from rethought import r

        seen = []

        def test_fresh_database_per_test(conn, rethought_db):
            assert conn.db == rethought_db
            assert r.table_list().run(conn) == []
            r.table_create("t").run(conn)
            seen.append(rethought_db)

        def test_another_fresh_database(conn, rethought_db):
            assert r.table_list().run(conn) == []
            assert rethought_db not in seen

        def test_databases_are_dropped(conn, rethought_server):
            assert not any(d in r.db_list().run(conn) for d in seen)

        async def test_async_conn(conn, rethought_db):
            await r.table_create("t").run(conn)
            feed = await r.table("t").changes().run(conn)
            await r.table("t").insert({"id": 1}).run(conn)
            assert (await feed.next(wait=5))["new_val"] == {"id": 1}
            await feed.close()
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_plugin_subprocess_option(pytester):
    pytester.makepyfile(
        test_sub="""
        from rethought.testing import SubprocessServer

        def test_kind(rethought_server, conn):
            assert isinstance(rethought_server, SubprocessServer)
        """
    )
    result = pytester.runpytest_subprocess("-q", "--rethought-server=subprocess")
    result.assert_outcomes(passed=1)


def test_the_documented_changefeed_example_passes(pytester):
    text = (ROOT / "docs" / "testing.md").read_text()
    files = {}
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        first = block.splitlines()[0]
        if first.startswith("# ") and first.endswith(".py"):
            files[first[2:]] = block
    assert set(files) == {"orders.py", "test_orders.py", "test_unittest_example.py"}
    for name, code in files.items():
        pytester.path.joinpath(name).write_text(code)
    result = pytester.runpytest_subprocess("-q", "test_orders.py")
    result.assert_outcomes(passed=2)
    # The unittest example runs under unittest itself (no pytest involved).
    out = subprocess.run(
        [sys.executable, "-m", "unittest", "-q", "test_unittest_example"],
        cwd=pytester.path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Ran 1 test" in out.stderr


def test_in_process_server_takes_serve_options(tmp_path):
    trustme = pytest.importorskip("trustme")
    from rethought.server.wire.tls import TlsOptions

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    key, cert, ca_file = (str(tmp_path / n) for n in ("key.pem", "cert.pem", "ca.pem"))
    issued.private_key_pem.write_to_path(key)
    issued.cert_chain_pems[0].write_to_path(cert)
    ca.cert_pem.write_to_path(ca_file)
    options = {"tls": TlsOptions(driver_key=key, driver_cert=cert)}
    with InProcessServer(options=options) as server:
        conn = server.connect(ssl={"ca_certs": ca_file})
        assert r.expr("over tls").run(conn) == "over tls"
        conn.close()


def test_conn_under_another_async_plugin_opens_on_its_loop(pytester):
    # A stand-in for pytest-asyncio: it runs @pytest.mark.asyncio coroutine tests itself.
    pytester.makeconftest(
        """
        import asyncio, inspect
        import pytest

        def pytest_configure(config):
            config.addinivalue_line("markers", "asyncio: run on asyncio")

        def pytest_pyfunc_call(pyfuncitem):
            if pyfuncitem.get_closest_marker("asyncio") and inspect.iscoroutinefunction(pyfuncitem.obj):
                names = pyfuncitem._fixtureinfo.argnames
                asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
                return True
        """
    )
    pytester.makepyfile(
        test_other="""
        import pytest
        from rethought import r
        from rethought.testing.pytest_plugin import AsyncConnection

        @pytest.mark.asyncio
        async def test_stand_in(conn, rethought_db):
            assert isinstance(conn, AsyncConnection)
            c = await conn.open()
            assert c.db == rethought_db
            assert await r.expr(2).run(c) == 2
            await c.close()
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)
