"""Shared fixtures: a real `rethought serve` on a free loopback port, and connections to it
through our driver and through the official `rethinkdb` driver (an independent client); and
the server's engine on a fresh storage, without a network (`engine_run`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid

import pytest

# Browser fixtures (headless Chromium through Playwright): tests/browser.py.
pytest_plugins = ["browser"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """A `rethought serve` child process on its own data directory."""

    def __init__(self, directory: str, port: int | None = None, extra: list[str] | None = None):
        self.directory = directory
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None
        self.log_path = directory + ".log"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rethought",
                    "serve",
                    "--bind",
                    self.host,
                    "--driver-port",
                    str(self.port),
                    "--directory",
                    self.directory,
                    *self._http_flags(),
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start listening")

    def _http_flags(self) -> list[str]:
        # The web console listens on 8080 by default; servers of parallel tests would collide
        # there, so only tests that ask for it (--http-port) get one.
        if any(a.startswith(("--http-port", "--no-http-admin")) for a in self.extra):
            return []
        return ["--no-http-admin"]

    def stop(self, sig: int | None = None) -> int:
        if self.proc is None:
            return 0
        if sig is None:
            self.proc.terminate()
        else:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            self.proc = None

    def log(self) -> str:
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = ServerProcess(str(tmp_path_factory.mktemp("rethought") / "data")).start()
    yield srv
    srv.stop()


@pytest.fixture
def conn(server):
    """A blocking connection through our driver."""
    from rethought import r

    c = r.connect(host=server.host, port=server.port)
    yield c
    c.close()


@pytest.fixture
def proxy(server):
    """A TCP proxy in front of the session server that a test can cut or stall."""
    from reconnect_proxy import Proxy

    p = Proxy(server.host, server.port)
    yield p
    p.close()


@pytest.fixture
def official_r():
    import rethinkdb

    return rethinkdb.r


@pytest.fixture(scope="module")
def srv():
    """A server in this process (``rethought.testing.start_server``), one per test module,
    for tests that look inside it (its engine, its plan cache)."""
    from rethought.testing import start_server

    with start_server() as handle:
        yield handle


@pytest.fixture
def plans(srv):
    """The in-process server's plan cache (server/query/plan_cache.py)."""
    return srv._server._driver.engine.plans


def _driver(which: str):
    """(r, errors module) of our driver ("ours") or the official one ("official")."""
    if which == "ours":
        from rethought import errors, r
    else:
        import rethinkdb.errors as errors
        from rethinkdb import r
    return r, errors


@pytest.fixture(params=["ours", "official"])
def rq(request, server):
    """(r, conn) through each of the two drivers in turn."""
    r, _ = _driver(request.param)
    conn = r.connect(host=server.host, port=server.port)
    yield r, conn
    conn.close()


@pytest.fixture(params=["ours", "official"])
def rqe(request, server):
    """(r, conn, errors module) through each of the two drivers in turn."""
    r, errors = _driver(request.param)
    conn = r.connect(host=server.host, port=server.port)
    yield r, conn, errors
    conn.close()


@pytest.fixture
def official_conn(server, official_r):
    """A blocking connection through the official `rethinkdb` driver."""
    c = official_r.connect(host=server.host, port=server.port)
    yield c
    c.close()


@pytest.fixture
def table_name():
    """A fresh table name, so tests sharing the session server do not collide."""
    return "t_" + uuid.uuid4().hex[:12]


@pytest.fixture
def test_table(conn, table_name):
    """A fresh table ``test.<table_name>`` (as ``r.db("test").table(...)``), dropped after."""
    from rethought import r

    if "test" not in r.db_list().run(conn):
        r.db_create("test").run(conn)
    r.db("test").table_create(table_name).run(conn)
    yield r.db("test").table(table_name)
    r.db("test").table_drop(table_name).run(conn)


@pytest.fixture
def engine_run(tmp_path):
    """An `engine_harness.EngineRunner` over a fresh LMDB storage, closed afterwards."""
    from engine_harness import EngineRunner, open_storage
    from rethought.server.query.engine import Engine

    storage = open_storage(str(tmp_path / "data"))
    yield EngineRunner(Engine(storage))
    storage.close()
