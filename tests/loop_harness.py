"""What the event-loop adapter tests share (test_asyncio, test_trio, test_tornado,
test_twisted, test_gevent): running seed 000's programs, and a server that never answers."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest

from seeds.harness import run_seed

# How a seed program prints the error of a query on a missing table.
NOT_EXISTENT = (
    "ReqlOpFailedError: Table `test.non_existent` does not exist in:\n"
    "r.table('non_existent')\n"
    "^^^^^^^^^^^^^^^^^^^^^^^\n"
)


@pytest.fixture
def seed_program(server, conn, tmp_path) -> Callable[[str], subprocess.CompletedProcess]:
    """Run a seed program against the session server, with an empty `test` table.

    A test module uses it as ``run = seed_program``.
    """
    from rethought import r

    if "test" not in r.table_list().run(conn):
        r.table_create("test").run(conn)
    r.table("test").delete().run(conn)

    def go(name: str) -> subprocess.CompletedProcess:
        proc = run_seed(name, server.host, server.port, tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc

    return go


@contextlib.contextmanager
def silent_listener() -> Iterator[socket.socket]:
    """A loopback socket that accepts TCP connections but never answers the handshake."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        yield silent
    finally:
        silent.close()
