"""A real Rethought server for tests: in this process (on a thread) or as a child process.

    from rethought.testing import start_server

    with start_server() as server:          # a temporary data directory, a free port
        conn = server.connect()             # a blocking connection (our driver)
        ...

Both kinds run the real server (storage, engine, changefeeds, auth) on a temporary data
directory (removed on stop unless you gave ``directory``) and a free loopback port, so tests
see exactly what production sees, with no mocks that behave differently. They work from any
test framework; the pytest plugin (:mod:`rethought.testing.pytest_plugin`, loaded
automatically once Rethought is installed) wraps them in fixtures.

- :class:`InProcessServer` runs the server's event loop on a thread of its own: it starts in
  milliseconds once the server modules are imported (one import per process).
- :class:`SubprocessServer` runs ``python -m rethought serve``: isolated (its own GIL,
  killable), and a fresh interpreter, so it pays the imports at every start.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Literal

__all__ = [
    "ServerHandle",
    "InProcessServer",
    "SubprocessServer",
    "start_server",
    "free_port",
]

HOST = "127.0.0.1"
# The server evaluates deeply nested queries recursively (it raises the recursion limit to
# 15000): its loop thread gets a main-thread-sized C stack.
_THREAD_STACK = 64 << 20


def free_port(host: str = HOST) -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class ServerHandle(ABC):
    """What both kinds of test server share: where it listens, how to connect, stop."""

    host: str = HOST
    port: int = 0

    def __init__(self, directory: str | None, password: str | None) -> None:
        self._own_dir = directory is None
        self.directory = directory or os.path.join(tempfile.mkdtemp(prefix="rethought-"), "data")
        self.password = password
        self.running = False

    @abstractmethod
    def start(self) -> ServerHandle:
        """Start serving; returns self once connections are accepted."""

    @abstractmethod
    def _stop(self) -> None:
        """Stop the running server."""

    def stop(self) -> None:
        """Stop the server (cleanly: storage flushed and closed); remove a temporary directory."""
        if self.running:
            self.running = False
            self._stop()
        if self._own_dir:
            shutil.rmtree(os.path.dirname(self.directory), ignore_errors=True)

    def connect_args(self, **kwargs: Any) -> dict[str, Any]:
        """``host``, ``port`` (and ``password`` when the server has one) for ``r.connect``."""
        args: dict[str, Any] = {"host": self.host, "port": self.port}
        if self.password:
            args["password"] = self.password
        args.update(kwargs)
        return args

    def connect(self, **kwargs: Any) -> Any:
        """A blocking connection through Rethought's driver (``db=...`` and others pass on)."""
        from .. import r

        return r.connect(**self.connect_args(**kwargs))

    async def aconnect(self, **kwargs: Any) -> Any:
        """An asyncio connection through Rethought's driver, on the running loop."""
        from .. import r

        return await r.connect(loop_type="asyncio", **self.connect_args(**kwargs))

    def __enter__(self) -> ServerHandle:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.host}:{self.port} {self.directory} {state}>"


class InProcessServer(ServerHandle):
    """The server on an asyncio loop on a daemon thread of this process.

    ``port=0`` (the default) lets the OS pick a free port, read back as ``port`` after
    :meth:`start`. ``log`` receives the server's startup and shutdown lines (default: dropped).
    ``options``: more fields of ``rethought.server.app.ServeOptions`` (``tls=TlsOptions(...)``,
    ``changefeed_log_max_changes=...``), as ``rethought serve`` flags would set them.
    """

    def __init__(
        self,
        directory: str | None = None,
        port: int = 0,
        password: str | None = None,
        log: Any = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(directory, password)
        self.port = port
        self.options = dict(options or {})
        self._log = log or (lambda line: None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None

    def start(self, timeout: float = 30.0) -> InProcessServer:
        """Open the data directory and listen; returns once connections are accepted."""
        from ..server.app import ServeOptions, Server

        opts = ServeOptions(
            directory=self.directory,
            bind=(self.host,),
            driver_port=self.port,
            initial_password=self.password,
            server_name="rethought_test",
            http_port=None,
            **self.options,
        )
        self._server = Server(opts, say=self._log)
        loop = self._loop = asyncio.new_event_loop()
        started: asyncio.Future[None] = loop.create_future()

        async def run() -> None:
            try:
                await self._server.start()
            except BaseException as e:
                started.set_exception(e)
                return
            started.set_result(None)

        previous = threading.stack_size(_THREAD_STACK)
        try:
            self._thread = threading.Thread(
                target=loop.run_forever, name=f"rethought-server-{id(self):x}", daemon=True
            )
            self._thread.start()
        finally:
            threading.stack_size(previous)
        asyncio.run_coroutine_threadsafe(run(), loop)
        try:
            asyncio.run_coroutine_threadsafe(_wait(started), loop).result(timeout)
        except BaseException:
            self._shutdown_loop()
            raise
        self.port = self._server.port
        self.running = True
        return self

    def _stop(self) -> None:
        assert self._loop is not None
        try:
            asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(60)
        finally:
            self._shutdown_loop()

    def _shutdown_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        self._loop = self._thread = None


async def _wait(fut: asyncio.Future[None]) -> None:
    await fut


class SubprocessServer(ServerHandle):
    """``python -m rethought serve`` as a child process (its output goes to ``log_path``)."""

    def __init__(
        self,
        directory: str | None = None,
        port: int | None = None,
        password: str | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        super().__init__(directory, password)
        self.port = port or free_port()
        self.extra_args = list(extra_args or [])
        self.log_path = self.directory + ".log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> SubprocessServer:
        """Start the child and return once it accepts connections (RuntimeError if it exits)."""
        os.makedirs(os.path.dirname(self.directory) or ".", exist_ok=True)
        args = [sys.executable, "-m", "rethought", "serve", "--bind", self.host]
        args += ["--driver-port", str(self.port), "--directory", self.directory]
        args += ["--no-http-admin", "--server-name", "rethought_test"]
        if self.password:
            args += ["--initial-password", self.password]
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(args + self.extra_args, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rethought serve exited: {self.log()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                self.running = True
                return self
            except OSError:
                time.sleep(0.01)
        self.proc.kill()
        raise RuntimeError(f"rethought serve did not listen within {timeout} s: {self.log()}")

    def _stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()  # SIGTERM: the server's clean shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log(self) -> str:
        """What the child printed so far."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def start_server(
    kind: Literal["inprocess", "subprocess"] = "inprocess",
    directory: str | None = None,
    password: str | None = None,
) -> ServerHandle:
    """Start a test server of ``kind`` on a free port; stop it with ``stop()`` or ``with``.

    ``directory``: an existing data directory to serve (kept on stop); default a temporary
    one, removed on stop. ``password``: the admin password of a new data directory.
    """
    server: ServerHandle
    if kind == "inprocess":
        server = InProcessServer(directory, password=password)
    elif kind == "subprocess":
        server = SubprocessServer(directory, password=password)
    else:
        raise ValueError(f"kind must be 'inprocess' or 'subprocess', not {kind!r}")
    return server.start()
