"""The server process: open storage, listen, and shut down cleanly on SIGINT / SIGTERM.

Shutdown order matters for durability: stop accepting, end every open cursor and feed with an
error, let queries already running finish (including their pending fsync), flush once more,
then close storage.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import logging
import os
import platform
import re
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .feeds.cross_process import CrossProcessFeeds
from .query.engine import Engine
from .query.terms.indexes import index_function
from .runtime.memtrim import trim_periodically
from .runtime.stats import COUNTERS
from .storage import Storage
from .storage.changelog import Limits
from .storage.coherence import Coherence
from .system import server_info, server_log, users
from .system.changelog_config import sweep_periodically
from .system.live import SystemFeedsHub, route
from .system.names import set_identity
from .system.stats_sampler import run_sampler
from .wire import tls
from .wire.net import DriverServer
from .wire.shared_listen import SharedDriverServer
from .wire.tls import TlsOptions

#: The cyclic collector's young-generation threshold (Python's default is 700; see start).
_GC_YOUNG = 10_000

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
    # change log retention defaults (changelog.Limits; None: no bound of that kind)
    changefeed_log_max_changes: int | None = 100_000
    changefeed_log_max_age: float | None = 86_400.0
    tls: TlsOptions = field(default_factory=TlsOptions)  # --driver-tls-*, --http-tls-*, --tls-*
    bind_driver: tuple[str, ...] | None = None  # --bind-driver (else --bind)
    bind_http: tuple[str, ...] | None = None  # --bind-http (else --bind)
    # One of several worker processes (``rethought.workers.Worker``: index, inherited
    # listening sockets, wakeup pipes); None: a single process.
    worker: Any = None
    event_loop: str = "auto"  # --event-loop (rethought.event_loop)


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


class Server:
    """One server: storage, engine, driver port and web console, on the running event loop.

    ``await start()`` opens the data directory and listens (``port`` / ``http_port`` are the
    bound ports, so port 0 picks a free one); ``await close()`` shuts down in the durable order
    described above. ``serve`` runs one until a signal; ``rethought.testing`` runs one on a
    thread of its own. ``say`` receives the startup and shutdown lines.
    """

    def __init__(self, opts: ServeOptions, say: Callable[[str], None] = _say) -> None:
        self.opts = opts
        self.say = say
        self.port: int | None = None
        self.http_port: int | None = None
        self.ident: dict[str, Any] = {}
        self.storage: Storage | None = None
        self._driver: DriverServer | None = None
        self._console: Any = None
        self._syncer: SyncCoalescer | None = None
        self._sampler: asyncio.Future | None = None
        self._log_sweeper: asyncio.Future | None = None
        self._trimmer: asyncio.Future | None = None
        self._log: server_log.ServerLog | None = None
        self._log_handler: logging.Handler | None = None
        self._early: list[str] = []  # lines said before the log file is open
        self._hub: SystemFeedsHub | None = None
        self._cross: CrossProcessFeeds | None = None

    def _notice(self, line: str) -> None:
        """A startup / shutdown line: printed, and a ``notice`` of the server log."""
        self.say(line)
        if self._log is not None:
            self._log.write("notice", line)
        else:
            self._early.append(line)

    def _open_log(self, storage: Storage, directory: str, started: float) -> None:
        """RethinkDB's ``<directory>/log_file``, behind ``rethinkdb.logs``."""
        name = "log_file"
        if self.opts.worker is not None and self.opts.worker.index:
            name = f"log_file.{self.opts.worker.index}"  # one file per worker process
        log = self._log = server_log.ServerLog(os.path.join(directory, name), started)
        server_log.attach(storage, log)
        for line in self._early:
            log.write("notice", line)
        self._early = []
        storage.catalog_listeners.append(lambda e, t: server_log.table_event(log, e, t))
        self._log_handler = server_log.Handler(log)
        logging.getLogger("rethought").addHandler(self._log_handler)

    def _publish_log(self, storage: Storage, hub: SystemFeedsHub) -> None:
        """New log entries reach the ``logs`` feeds, on this loop whatever thread logs."""
        from .system import open_table

        loop = asyncio.get_running_loop()
        ctx = type("Ctx", (), {"storage": storage})()
        tables = [open_table(ctx, None, "logs", fmt) for fmt in ("name", "uuid")]

        def send(entry: server_log.Entry) -> None:
            for table in tables:
                if table is not None:
                    hub.publish_to(route(table), [(None, server_log.row(entry, table.id_format))])

        def publish(entry: server_log.Entry) -> None:
            if loop.is_closed():
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                send(entry)
            else:
                loop.call_soon_threadsafe(send, entry)

        assert self._log is not None
        self._log.publish = publish

    async def start(self) -> None:
        """Open storage and listen; raises OSError when a port cannot be bound."""
        # Deeply nested queries compile and evaluate recursively; RethinkDB accepts them.
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 15000))
        # A query's objects live until it ends (a 1000-document batch holds ~6 per
        # document: parsed rows, literal nodes, write log tuples); collecting the young
        # generation every 700 allocations traversed them all while still alive, ~8 times
        # per batch, and promoted them to be traversed again. Every 10,000: a query's
        # objects are mostly freed by reference counting before a collection sees them.
        if gc.get_threshold()[0] < _GC_YOUNG:
            gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])
        opts, say = self.opts, self._notice
        started = time.time()
        driver_tls, http_tls = tls.driver_context(opts.tls), tls.http_context(opts.tls)
        say(f"Running rethought {_version()} (Python {platform.python_version()})...")
        loop_kind = type(asyncio.get_running_loop()).__module__.partition(".")[0]
        say(f"Running on {platform.platform()} (event loop: {loop_kind})")
        directory = os.path.abspath(opts.directory)
        fresh = not os.path.isdir(directory) or not os.listdir(directory)
        # The data holds password hashes: owner-only, as a new directory and its files.
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if fresh:
            os.chmod(directory, 0o700)
        say(f"{'Initializing' if fresh else 'Loading data from'} directory {directory}")
        storage = self.storage = Storage(directory, index_compiler=index_function)
        worker = opts.worker
        primary = worker is None or worker.index == 0
        if worker is not None:  # other processes share the environment (storage/coherence.py)
            storage.coherence = Coherence(storage, primary=primary)
        try:
            self._open_log(storage, directory, started)
            users.ensure_admin(storage, opts.initial_password)
            ident = self.ident = _server_identity(storage, opts.server_name)
            set_identity(ident)
            hub = self._hub = SystemFeedsHub(storage)
            self._publish_log(storage, hub)
            engine = Engine(storage, hub=hub)
            self._syncer = SyncCoalescer(storage)
            facts = {"id": ident["id"], "name": ident["name"], "proxy": False}
            if worker is None:
                server = self._driver = DriverServer(engine, storage, self._syncer.sync, facts)
            else:
                server = self._driver = SharedDriverServer(
                    engine, storage, self._syncer.sync, facts, socks=worker.socks
                )
                self._cross = CrossProcessFeeds(storage, hub, worker.wake_read, worker.wake_others)
                self._cross.start()
            hosts = ["0.0.0.0" if b == "all" else b for b in opts.bind]
            driver_hosts = [_host(b) for b in opts.bind_driver] if opts.bind_driver else hosts
            bound = await server.start(driver_hosts, opts.driver_port, ssl=driver_tls)
            self.port = bound[0][1] if bound else opts.driver_port
            say(f"Listening for client driver connections on port {self.port}")
            COUNTERS.connections = lambda: len(server.connections)
            self._sampler = asyncio.ensure_future(run_sampler(storage, engine.hub))
            self._trimmer = asyncio.ensure_future(trim_periodically())  # runtime/memtrim.py
            storage.changelog.defaults = Limits(
                opts.changefeed_log_max_changes, opts.changefeed_log_max_age
            )
            if primary:  # one sweeper for the shared logs
                self._log_sweeper = asyncio.ensure_future(sweep_periodically(storage))
            if opts.http_port is not None:
                from ..console import Console  # aiohttp is imported only when the console runs

                self._console = Console(server)
                http_hosts = [_host(b) for b in opts.bind_http] if opts.bind_http else hosts
                http = await self._console.start(http_hosts, opts.http_port, ssl_context=http_tls)
                self.http_port = http[0][1]
                say(f"Listening for administrative HTTP connections on port {self.http_port}")
            else:
                say("Administrative HTTP connections are disabled.")
            server_info.record(
                storage,
                server_info.ServerInfo(
                    reql_port=self.port,
                    http_port=self.http_port,
                    addresses=sorted({addr for addr, _ in bound}),
                    time_started=started,
                    ident=dict(ident),
                ),
            )
            say(f"Listening on addresses: {', '.join(sorted({addr for addr, _ in bound}))}")
            say(f'Server ready, "{ident["name"]}" {ident["id"]}')
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop listening, end connections, flush, close storage (idempotent)."""
        if self.storage is None:
            return
        try:
            if self._driver is not None:
                self._notice("Shutting down client connections...")
            if self._sampler is not None:
                self._sampler.cancel()
            if self._trimmer is not None:
                self._trimmer.cancel()
            if self._log_sweeper is not None:
                self._log_sweeper.cancel()
            if self._hub is not None:
                self._hub.close()
            if self._cross is not None:
                self._cross.close()
            if self._console is not None:
                await self._console.close()
            if self._driver is not None:
                await self._driver.close()
                self._notice("All client connections closed.")
            self._notice("Shutting down storage engine...")
            if self._syncer is not None:
                await self._syncer.drain()
            await asyncio.to_thread(self.storage.sync)
        finally:
            self.storage.close()
            self.storage = self._driver = self._console = self._sampler = None
        self._notice("Storage engine shut down.")
        if self._log_handler is not None:
            logging.getLogger("rethought").removeHandler(self._log_handler)
            self._log_handler = None
        if self._log is not None:
            self._log.close()
            self._log = None


async def serve(opts: ServeOptions) -> int:
    """Run the server until SIGINT / SIGTERM; returns the process exit code."""
    server = Server(opts)
    await server.start()
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _on_signal, sig, stop, server)
        await stop.wait()
    finally:
        await server.close()
    return 0


def _on_signal(sig: int, stop: asyncio.Event, server: Server) -> None:
    server._notice(f"Server got {signal.Signals(sig).name}; shutting down...")  # logged too
    stop.set()


def _host(bind: str) -> str:
    return "0.0.0.0" if bind == "all" else bind


def _version() -> str:
    try:
        return importlib.metadata.version("rethought")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
