"""``r.connect`` arguments, normalised once for every loop type, and what every loop's
Connection does with them."""

from __future__ import annotations

import abc
import contextlib
import ssl as _ssl
from collections.abc import Callable, Iterable
from typing import Any

from ..errors import ReqlDriverError, ReqlTimeoutError
from .core import ClientCore, Query
from .json_codec import Codec, ReQLDecoder, ReQLEncoder
from .repl import set_repl_connection
from .supervisor import Supervisor

__all__ = [
    "ConnectionBase",
    "connect_params",
    "tls_context",
    "connect_timeout_error",
    "connect_error",
    "send_error",
    "recv_error",
    "BlockingContext",
]


def connect_timeout_error(host: str, port: int) -> ReqlTimeoutError:
    """The error of a connection attempt (or its handshake) that ran out of time."""
    return ReqlTimeoutError(f"Could not connect to {host}:{port}, operation timed out.")


def connect_error(host: str, port: int, detail: Any) -> ReqlDriverError:
    """The error of a connection attempt that failed (refused, unreachable, ...)."""
    return ReqlDriverError(f"Could not connect to {host}:{port}. Error: {detail}")


def send_error(host: str, port: int, exc: BaseException) -> ReqlDriverError:
    """The error of a transport that broke while the driver was writing to it."""
    return ReqlDriverError(f"Connection interrupted sending to {host}:{port} - {exc}")


def recv_error(host: str, port: int, exc: BaseException) -> ReqlDriverError:
    """The error of a transport that broke while the driver was reading from it."""
    return ReqlDriverError(f"Connection interrupted receiving from {host}:{port} - {exc}")


def connect_params(
    host: str = "localhost",
    port: int = 28015,
    db: str | None = None,
    user: str = "admin",
    password: str = "",
    timeout: float = 20,
    ssl: dict | None = None,
    auth_key: str | None = None,
    reconnect: Any = None,
    heartbeat: float | None = None,
    **kwargs: Any,
) -> dict:
    """Normalise ``r.connect`` arguments the way the blocking driver does; ours:
    ``reconnect`` (True or an ``r.Reconnect(...)``) and ``heartbeat`` (seconds), see
    docs/async.md "Connections that come back"."""
    if auth_key:
        if password:
            raise ReqlDriverError("`auth_key` and `password` are both set.")
        password = auth_key
    try:
        port = int(port or 28015)
    except (TypeError, ValueError):
        raise ReqlDriverError(f"Could not convert port {port!r} to an integer.") from None
    return {
        "host": host or "localhost",
        "port": port,
        "db": db,
        "user": user or "admin",
        "password": password or "",
        "timeout": timeout,
        "ssl": ssl or {},
        "reconnect": reconnect,
        "heartbeat": heartbeat,
        **kwargs,
    }


def tls_context(
    options: dict | None, context_class: type[_ssl.SSLContext] = _ssl.SSLContext
) -> _ssl.SSLContext | None:
    """An SSL context for the ``ssl={"ca_certs": path}`` option, or None for plain TCP.

    With ``ca_certs``, only that file is trusted (as by the official drivers), not the
    system's CAs as well; without it, the system's. ``context_class``: a loop's own (gevent).
    """
    if not options:
        return None
    context = context_class(_ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and name
    ca_certs = options.get("ca_certs")
    if ca_certs:
        context.load_verify_locations(ca_certs)
    else:
        context.load_default_certs()
    return context


class ConnectionBase(abc.ABC):
    """What every loop's Connection shares: address, credentials, default db, and the calls
    that need nothing of the loop but its ``_submit``."""

    # Held around core calls made outside the adapter (the Handler layer); only a core shared
    # between threads (the blocking connection) needs a real lock.
    _core_lock: Any = contextlib.nullcontext()

    def __init__(self, params: dict) -> None:
        """``params`` as :func:`connect_params` returns them (other keys: the adapter's)."""
        self.host: str = params["host"]
        self.port: int = params["port"]
        self.db: str | None = params["db"]
        self.user: str = params["user"]
        self._password: str = params["password"]
        self.connect_timeout: float | None = params["timeout"]
        self.ssl: dict = params["ssl"]
        self._core: ClientCore | None = None
        self._supervisor = Supervisor(self, params.get("reconnect"), params.get("heartbeat"))
        self._handler_queries: list[Query] = []  # open queries run with a Handler
        # The official driver's json_encoder / json_decoder classes (json_codec.py).
        self._codec = Codec(params.get("json_encoder"), params.get("json_decoder"))

    @property
    def _json_encoder(self) -> type:
        return self._codec.encoder or ReQLEncoder

    @property
    def _json_decoder(self) -> type:
        return self._codec.decoder or ReQLDecoder

    def _get_json_encoder(self, query: Any = None) -> Any:
        """An encoder for ``query`` (the official driver's hook): its own class, else the
        connection's."""
        cls = getattr(query, "_json_encoder", None) or self._json_encoder
        return cls()

    def _get_json_decoder(self, query: Any = None) -> Any:
        """A decoder for ``query`` given its global optargs (the official driver's hook)."""
        cls = getattr(query, "_json_decoder", None) or self._json_decoder
        return cls(getattr(query, "global_optargs", None) or {})

    def _new_core(self) -> ClientCore:
        """A protocol core for a fresh transport, with this connection's JSON classes."""
        return ClientCore(self.user, self._password, self.host, self.port, self._codec)

    # -- what the adapter supplies (the Handler layer uses the last two) -----------------

    @abc.abstractmethod
    def _start(self, term: Any, global_optargs: dict) -> Any:
        """Run a query (called by ``RqlQuery.run``): its value or cursor, or a promise."""

    @abc.abstractmethod
    def _submit(
        self, make: Callable[[ClientCore], Query | None], timeout: float | None = None
    ) -> Any:
        """Queue what ``make(core)`` returns; its outcome (or a promise of it), failing with
        ReqlTimeoutError after ``timeout`` seconds."""

    @abc.abstractmethod
    def _flush(self) -> None:
        """Write whatever the core has queued."""

    @abc.abstractmethod
    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` soon, in the loop's own context."""

    # -- shared --------------------------------------------------------------------------

    def noreply_wait(self) -> Any:
        """Wait until every noreply query sent so far has been processed (asynchronous
        loops: a promise resolved then)."""
        return self._submit(ClientCore.noreply_wait)

    def server(self) -> Any:
        """``{"id": ..., "name": ..., "proxy": ...}`` of the server (or a promise of it)."""
        return self._submit(ClientCore.server_info)

    def _ping(self, timeout: float | None) -> Any:
        """A health check: ``server()`` answered within ``timeout`` seconds (the pool's)."""
        return self._submit(ClientCore.server_info, timeout)

    def _connect_timeout(self, timeout: float | None) -> float | None:
        """``reconnect(timeout=...)``: the given one, else the ``connect`` one."""
        return self.connect_timeout if timeout is None else timeout

    def _handle(self, query: Any, handler: Any) -> Any:
        """Run ``query`` with ``handler``'s callbacks (``RqlQuery.handle``); a QueryHandle."""
        from .handler import start_handler

        handle = start_handler(self, query, handler)
        if handle.query is not None:
            with self._core_lock:
                self._handler_queries.append(handle.query)
            self._handlers_added()
        return handle

    def _handlers_added(self) -> None:  # noqa: B027 (a hook: most loops need nothing)
        """A handler query opened: a loop that reads only for a waiter starts its pump."""

    def _handlers_idle(self) -> bool:
        """No handler query is open any more (the finished ones are dropped)."""
        self._handler_queries = [q for q in self._handler_queries if not q.done]
        return not self._handler_queries

    @staticmethod
    def _wake(queries: Iterable[Query]) -> None:
        """Tell the waiter of each query (``Query.waiter``) that its state changed."""
        for query in queries:
            if query.waiter is not None:
                query.waiter.wake(query)

    def is_open(self) -> bool:
        core = self._core
        return core is not None and core.ready and not core.closed

    def check_open(self) -> None:
        if not self.is_open():
            raise self._supervisor.not_open_error()

    @property
    def reconnecting(self) -> bool:
        """The connection dropped and is coming back (``r.connect(reconnect=...)``)."""
        return self._supervisor.active

    @property
    def reconnects(self) -> int:
        """How many times the connection came back by itself so far."""
        return self._supervisor.reconnects

    def _socket(self) -> Any:
        """The transport's socket (for its address and options); the adapter's."""
        raise NotImplementedError

    def _sockname(self) -> tuple:
        """The transport's local address, ``(host, port, ...)`` (only while open)."""
        return self._socket().getsockname()

    def _resume(self, kept: list[Query]) -> None:
        """Reconnected: re-open the kept resumable feeds on the new core (Supervisor)."""
        with self._core_lock:
            for query in kept:
                self._core.resume(query)
        self._flush()
        self._notify()

    def _gave_up(self, kept: list[Query]) -> None:
        """Reconnecting gave up: the kept feeds now carry the error (Supervisor)."""
        self._wake(kept)
        self._notify()

    def _notify(self) -> None:  # noqa: B027 (a hook: loops with a reader need nothing)
        """Wake whoever waits on the connection's state (loops whose waiters take turns
        reading: trio, threads)."""

    def _between_beats(self, core: ClientCore, interval: float) -> float:
        """After a heartbeat tick: seconds until the next one (Supervisor)."""
        return interval

    def client_port(self) -> int | None:
        """The local port of the connection (None when closed)."""
        return self._sockname()[1] if self.is_open() else None

    def client_address(self) -> str | None:
        """The local address of the connection (None when closed)."""
        return self._sockname()[0] if self.is_open() else None

    def use(self, db: str) -> None:
        """Default database of later queries."""
        self.db = db

    def repl(self) -> Any:
        """Make this the default connection of ``run()`` in this thread."""
        set_repl_connection(self)
        return self


class BlockingContext:
    """``with conn:`` for connections whose calls block (threads, greenlets)."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(noreply_wait=False)  # type: ignore[attr-defined]
