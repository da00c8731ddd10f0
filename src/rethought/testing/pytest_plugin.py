"""pytest fixtures for applications that use Rethought (entry point ``rethought``, pytest11).

Loaded automatically once Rethought is installed (disable with ``-p no:rethought``):

- ``rethought_server`` (session): a real server on a temporary data directory and a free
  port, started on first use, stopped at the end of the session. In this process by default;
  ``--rethought-server=subprocess`` (or the ini option ``rethought_server``) runs it as a
  child process instead.
- ``rethought_db`` (per test): the name of a fresh database, created before the test and
  dropped after it, so tests never see each other's tables.
- ``conn`` (per test): a connection whose default database is ``rethought_db``. In a plain
  ``def`` test it is a blocking connection; in an ``async def`` test it is an asyncio
  connection, and the plugin runs the test on a new asyncio event loop (no other plugin
  needed; a test marked for another async plugin is left to that plugin).

A ``conn`` fixture of your own (conftest.py) takes precedence over the plugin's.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from . import ServerHandle, start_server

_OTHER_ASYNC_MARKS = ("asyncio", "anyio", "trio")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rethought", "Rethought test server")
    group.addoption(
        "--rethought-server",
        choices=("inprocess", "subprocess"),
        default=None,
        help="run the rethought_server fixture in this process (default) or as a child process",
    )
    parser.addini("rethought_server", "inprocess (default) or subprocess", default="inprocess")


@pytest.fixture(scope="session")
def rethought_server(pytestconfig: pytest.Config) -> Iterator[ServerHandle]:
    """A real Rethought server for the whole session (temporary directory, free port)."""
    kind = pytestconfig.getoption("rethought_server") or pytestconfig.getini("rethought_server")
    server = start_server(kind)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rethought_db(rethought_server: ServerHandle) -> Iterator[str]:
    """The name of a fresh database, dropped after the test."""
    from .. import r

    name = "test_" + uuid.uuid4().hex[:16]
    admin = rethought_server.connect()
    try:
        r.db_create(name).run(admin)
        yield name
    finally:
        if name in r.db_list().run(admin):  # the test may have dropped it
            r.db_drop(name).run(admin)
        admin.close()


class AsyncConnection:
    """Stands for ``conn`` in an ``async def`` test until its loop runs: the plugin connects
    there, since an asyncio connection belongs to the loop it was opened on."""

    def __init__(self, server: ServerHandle, db: str) -> None:
        self.server = server
        self.db = db

    async def open(self) -> Any:
        return await self.server.aconnect(db=self.db)


@pytest.fixture
def conn(
    request: pytest.FixtureRequest, rethought_server: ServerHandle, rethought_db: str
) -> Iterator[Any]:
    """A connection (default database ``rethought_db``): blocking, or asyncio in async tests."""
    if inspect.iscoroutinefunction(request.function):
        yield AsyncConnection(rethought_server, rethought_db)
        return
    c = rethought_server.connect(db=rethought_db)
    try:
        yield c
    finally:
        c.close()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test that uses ``conn`` on a fresh asyncio loop."""
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    if any(pyfuncitem.get_closest_marker(m) for m in _OTHER_ASYNC_MARKS):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    if not any(isinstance(v, AsyncConnection) for v in kwargs.values()):
        return None
    asyncio.run(_run_async_test(fn, kwargs))
    return True


async def _run_async_test(fn: Any, kwargs: dict[str, Any]) -> None:
    opened = []
    try:
        for name, value in kwargs.items():
            if isinstance(value, AsyncConnection):
                kwargs[name] = await value.open()
                opened.append(kwargs[name])
        await fn(**kwargs)
    finally:
        for c in opened:
            await c.close(noreply_wait=False)
