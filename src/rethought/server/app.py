"""The server process: open storage, listen, and shut down cleanly on SIGINT / SIGTERM.

Shutdown order matters for durability: stop accepting, end every open cursor and feed with an
error, let queries already running finish (including their pending fsync), flush once more,
then close storage.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import platform
import re
import signal
import socket
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from . import auth
from .engine import Engine
from .feeds import ChangefeedHub
from .net import DriverServer
from .stats import COUNTERS, run_sampler
from .storage import Storage
from .terms.indexes import index_function

log = logging.getLogger("rethought")

SERVER_META_KEY = "server"  # {"id": uuid, "name": str}: this server's stable identity


@dataclass
class ServeOptions:
    """What ``rethought serve`` was asked to do."""

    directory: str = "rethought_data"
    bind: tuple[str, ...] = ("127.0.0.1",)
    driver_port: int = 28015
    initial_password: str | None = None
    server_name: str | None = None
    http_port: int | None = 8080  # the web console; None: --no-http-admin


class SyncCoalescer:
    """Turns many concurrent "make my commit durable" requests into few fsyncs.

    A request that arrives while an fsync is running waits for the *next* one, since the running
    fsync may have started before its commit; every request waiting at that point shares it.
    """

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._waiting: asyncio.Future | None = None
        self._runner: asyncio.Task | None = None

    async def sync(self) -> None:
        if self._waiting is None:
            self._waiting = asyncio.get_running_loop().create_future()
        fut = self._waiting
        if self._runner is None or self._runner.done():
            self._runner = asyncio.ensure_future(self._run())
        await asyncio.shield(fut)

    async def _run(self) -> None:
        while self._waiting is not None:
            fut, self._waiting = self._waiting, None
            try:
                await asyncio.to_thread(self._storage.sync)
            except Exception as e:
                log.exception("fsync failed")
                fut.set_exception(e)
            else:
                fut.set_result(None)

    async def drain(self) -> None:
        """Wait for the fsync in progress and any already requested."""
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)


def _default_server_name() -> str:
    # RethinkDB names a server after its host, with characters it disallows replaced by "_".
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "rethought"


def _server_identity(storage: Any, name: str | None) -> dict[str, Any]:
    ident = storage.meta_get(SERVER_META_KEY)
    if ident is None or (name and ident.get("name") != name):
        ident = {
            "id": (ident or {}).get("id") or str(uuid.uuid4()),
            "name": name or _default_server_name(),
        }
        storage.meta_put(SERVER_META_KEY, ident)
    return ident


def _say(line: str) -> None:
    print(line, flush=True)


async def serve(opts: ServeOptions) -> int:
    """Run the server until SIGINT / SIGTERM; returns the process exit code."""
    # Deeply nested queries compile and evaluate recursively; RethinkDB accepts them.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 15000))
    _say(f"Running rethought {_version()} (Python {platform.python_version()})...")
    _say(f"Running on {platform.platform()}")
    directory = os.path.abspath(opts.directory)
    fresh = not os.path.isdir(directory) or not os.listdir(directory)
    os.makedirs(directory, exist_ok=True)
    _say(f"{'Initializing' if fresh else 'Loading data from'} directory {directory}")
    storage = Storage(directory, index_compiler=index_function)
    try:
        auth.ensure_admin(storage, opts.initial_password)
        ident = _server_identity(storage, opts.server_name)
        engine = Engine(storage, hub=ChangefeedHub())
        syncer = SyncCoalescer(storage)
        server = DriverServer(
            engine, storage, syncer.sync, {"id": ident["id"], "name": ident["name"], "proxy": False}
        )
        hosts = ["0.0.0.0" if b == "all" else b for b in opts.bind]
        bound = await server.start(hosts, opts.driver_port)
        port = bound[0][1] if bound else opts.driver_port
        _say(f"Listening for client driver connections on port {port}")
        COUNTERS.connections = lambda: len(server.connections)
        sampler = asyncio.ensure_future(run_sampler(storage, engine.hub))
        console = None
        if opts.http_port is not None:
            from ..console import Console  # aiohttp is imported only when the console runs

            console = Console(server)
            http = await console.start(hosts, opts.http_port)
            _say(f"Listening for administrative HTTP connections on port {http[0][1]}")
        _say(f"Listening on addresses: {', '.join(sorted({addr for addr, _ in bound}))}")
        _say(f'Server ready, "{ident["name"]}" {ident["id"]}')

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _on_signal, sig, stop)
        await stop.wait()

        _say("Shutting down client connections...")
        sampler.cancel()
        if console is not None:
            await console.close()
        await server.close()
        _say("All client connections closed.")
        _say("Shutting down storage engine...")
        await syncer.drain()
        await asyncio.to_thread(storage.sync)
    finally:
        storage.close()
    _say("Storage engine shut down.")
    return 0


def _on_signal(sig: int, stop: asyncio.Event) -> None:
    _say(f"Server got {signal.Signals(sig).name}; shutting down...")
    stop.set()


def _version() -> str:
    try:
        return importlib.metadata.version("rethought")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
