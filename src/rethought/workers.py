"""``rethought serve --workers N``: N server processes on one data directory.

Python evaluates a query on one core (the GIL), so one server process uses one core. With
``--workers N`` the ``serve`` process becomes a supervisor:

1. it opens the data directory once (creating it, the admin user and the ``test`` database,
   the stored server identity), then closes it: N processes starting together must not
   each create them;
2. it binds the driver port's listening sockets once; every worker inherits them and
   accepts from the same queue (``server/wire/shared_listen.py``);
3. it makes one wakeup pipe per worker, then forks the workers. Each opens the LMDB
   environment itself (LMDB serializes writers across processes with its lock file) and
   keeps its catalog and change-log figures coherent with the others'
   (``server/storage/coherence.py``); a feed on any worker sees every worker's writes, once
   and in commit order (``server/feeds/cross_process.py``).

Worker 0 is the primary: it alone serves the web console, sweeps the change logs and builds
indexes. Per-process state stays per process: connections, jobs, ``server_status``,
``stats``, the log (worker k > 0 writes ``log_file.k``), system-table changefeeds.

Signals: SIGTERM or SIGINT to the supervisor is passed to every worker, which shuts down as a
single server does (ends cursors and feeds, lets running queries finish, fsyncs); the
supervisor exits once all have. A worker that dies otherwise (a crash, ``kill -9``) is
started again; one that dies within ``QUICK_DEATH`` seconds of starting ``QUICK_DEATHS``
times in a row stops the server (exit 1). The clients of a dead worker see their connection
drop; its uncommitted write transaction is rolled back by LMDB, committed ones stay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass

from . import event_loop
from .server import app
from .server.query.terms.indexes import index_function
from .server.storage import Storage
from .server.system import users

QUICK_DEATH = 5.0  # seconds: a worker dying sooner after its start counts as failing to start
QUICK_DEATHS = 3
STOP_TIMEOUT = 60.0  # seconds the workers get to shut down before they are killed
SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
BACKLOG = 1024


@dataclass
class Worker:
    """What one worker process is given (``ServeOptions.worker``)."""

    index: int
    socks: list[socket.socket]  # its own listening socket per address (SO_REUSEPORT)
    wake_read: int  # this worker's wakeup pipe
    wake_others: list[int]  # the other workers' pipes (written after each commit)


def auto_workers() -> int:
    """``--workers auto``: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run(opts: app.ServeOptions, count: int) -> int:
    """Run ``count`` workers until SIGTERM / SIGINT; returns the exit code."""
    _prepare(opts)
    hosts = [app._host(b) for b in (opts.bind_driver or opts.bind)]
    socks = _listen(hosts, opts.driver_port, count)
    pipes = [os.pipe() for _ in range(count)]
    workers = [
        Worker(i, socks[i], pipes[i][0], [w for j, (_, w) in enumerate(pipes) if j != i])
        for i in range(count)
    ]
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    port = socks[0][0].getsockname()[1]
    print(f"Starting {count} worker processes on port {port}", flush=True)
    return _Supervisor(opts, workers).run()


class _Supervisor:
    def __init__(self, opts: app.ServeOptions, workers: list[Worker]) -> None:
        self.opts = opts
        self.workers = workers
        self.pids: dict[int, int] = {}  # pid -> worker index
        self.started: dict[int, float] = {}  # worker index -> when
        self.quick: dict[int, int] = {}  # worker index -> quick deaths in a row
        self.stopping = False
        self.code = 0

    def run(self) -> int:
        for w in self.workers:
            self._fork(w)
        while self.pids:
            sig = signal.sigwait(SIGNALS)
            if sig == signal.SIGCHLD:
                self._reap()
            elif not self.stopping:
                self._stop()
        return self.code

    def _fork(self, w: Worker) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(self.opts, w)  # never returns
        self.pids[pid] = w.index
        self.started[w.index] = time.monotonic()

    def _reap(self) -> None:
        while self.pids:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.pids.clear()
                return
            if pid == 0:
                return
            index = self.pids.pop(pid, None)
            if index is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            print(f"Worker {index} (pid {pid}) exited with {code}", file=sys.stderr, flush=True)
            quick = time.monotonic() - self.started[index] < QUICK_DEATH
            self.quick[index] = self.quick.get(index, 0) + 1 if quick else 0
            if self.quick[index] >= QUICK_DEATHS:
                print(
                    f"Worker {index} keeps failing to start; stopping", file=sys.stderr, flush=True
                )
                self.code = 1
                self._stop()
                continue
            self._fork(self.workers[index])

    def _stop(self) -> None:
        self.stopping = True
        for pid in list(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.pids:
            left = deadline - time.monotonic()
            if left <= 0:
                for pid in self.pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 5
                continue
            signal.sigtimedwait({signal.SIGCHLD}, min(left, 1.0))
            self._reap()


def _prepare(opts: app.ServeOptions) -> None:
    """Create what a fresh directory needs, once, before any worker opens it."""
    directory = os.path.abspath(opts.directory)
    fresh = not os.path.isdir(directory) or not os.listdir(directory)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    if fresh:
        os.chmod(directory, 0o700)
    storage = Storage(directory, index_compiler=index_function)
    try:
        users.ensure_admin(storage, opts.initial_password)
        app._server_identity(storage, opts.server_name)
        storage.sync()
    finally:
        storage.close()


def _listen(hosts: list[str], port: int, count: int) -> list[list[socket.socket]]:
    """Per worker, a bound, listening, non-blocking socket for each host, all on one port
    (a port of 0 is chosen once) with SO_REUSEPORT: the kernel spreads new connections
    evenly over the workers' sockets (by a hash of the client's address and port)."""
    socks: list[list[socket.socket]] = [[] for _ in range(count)]
    for host in hosts:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        for own in socks:
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(BACKLOG)
            sock.setblocking(False)
            own.append(sock)
            if not port:
                port = sock.getsockname()[1]
                addr = (addr[0], port, *addr[2:])
    return socks


def _child(opts: app.ServeOptions, w: Worker) -> None:
    code = 1
    try:
        _die_with_parent()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        own = dataclasses.replace(
            opts, worker=w, http_port=opts.http_port if w.index == 0 else None
        )
        code = event_loop.run(_serve(own), own.event_loop)
    except BaseException as e:  # noqa: BLE001 - the worker's exit code says it failed
        print(f"worker {w.index}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _die_with_parent() -> None:
    """SIGTERM this worker when the supervisor dies (even by SIGKILL): no orphan holds the
    port and the data directory (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent is already gone
        os._exit(1)


async def _serve(opts: app.ServeOptions) -> int:
    """One worker: ``app.serve`` with only the primary's lines on stdout."""
    w = opts.worker
    say = app._say if w.index == 0 else _quiet
    server = app.Server(opts, say=say)
    await server.start()
    if w.index != 0:
        print(f"Worker {w.index} ready (pid {os.getpid()})", flush=True)
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, app._on_signal, sig, stop, server)
        await stop.wait()
    finally:
        await server.close()
    return 0


def _quiet(line: str) -> None:
    """Workers other than the primary keep their lines to their log file."""
