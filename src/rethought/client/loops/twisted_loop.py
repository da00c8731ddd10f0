"""Twisted adapter: ``r.set_loop_type("twisted")``; ``connect`` and ``run`` return Deferreds.

A Twisted ``Protocol`` feeds the core; answers fire Deferreds from ``dataReceived``.
``Deferred.cancel()`` on a ``run`` or on a cursor's ``next()`` / ``fetch_next()`` stops the
query on the server (a STOP frame) and frees its token.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import defer, reactor
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS, platformTrust

from ...errors import ReqlDriverError, ReqlError, ReqlTimeoutError
from ..core import CLOSED_MESSAGE, ClientCore, Query
from ..cursor import CursorBase
from .waits import ConnectionBase, CursorWaits

__all__ = ["Connection", "Cursor", "connect"]


class Cursor(CursorWaits, CursorBase):
    """``while (yield cursor.fetch_next()): row = yield cursor.next()``; also ``async for``."""

    def _new_wait(self) -> defer.Deferred:
        # Cancelling a pending fetch_next()/next() abandons the stream: stop it on the server.
        return defer.Deferred(canceller=self._cancelled)

    def _resolve(self, d: defer.Deferred, value: Any, error: BaseException | None) -> None:
        if error is None:
            d.callback(value)
        else:
            d.errback(error)

    def _call_later(self, delay: float, fn: Any, *args: Any) -> Any:
        return reactor.callLater(delay, fn, *args)

    def close(self) -> defer.Deferred:
        """Stop the query on the server; pending ``fetch_next()`` calls then fire False."""
        self._close()
        return defer.succeed(None)


class _Protocol(Protocol):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def connectionMade(self) -> None:  # noqa: N802 (Twisted's names)
        self.conn._made(self.transport)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.conn._received(self, data)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self.conn._transport_lost(self, reason)


class Connection(ConnectionBase):
    """A connection on the Twisted reactor; every query method returns a Deferred."""

    cursor_class = Cursor

    def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> defer.Deferred:
        """Close (optionally after noreply_wait) and open again; fires with the connection."""
        closing = self.close(noreply_wait)
        return closing.addCallback(lambda _: self._open(timeout))

    def _open(self, timeout: float | None) -> defer.Deferred:
        timeout = self.connect_timeout if timeout is None else timeout
        self._core = ClientCore(self.user, self._password, self.host, self.port)
        self._opening = ready = defer.Deferred()
        endpoint = HostnameEndpoint(reactor, self.host, self.port, timeout=timeout)
        if self.ssl:
            ca = self.ssl.get("ca_certs")
            trust = Certificate.loadPEM(open(ca, "rb").read()) if ca else platformTrust()
            endpoint = wrapClientTLS(optionsForClientTLS(self.host, trust), endpoint)
        self._protocol = protocol = _Protocol(self)
        connectProtocol(endpoint, protocol).addErrback(self._connect_failed)
        timer = reactor.callLater(timeout, self._connect_failed, None) if timeout else None
        if timer is not None:
            ready.addBoth(lambda result: (timer.active() and timer.cancel(), result)[1])
        return ready

    def _connect_failed(self, failure: Any) -> None:
        if self._opening is None or self._opening.called:
            return
        if failure is None or failure.check(defer.CancelledError, TimeoutError):
            error: ReqlError = ReqlTimeoutError(
                f"Could not connect to {self.host}:{self.port}, operation timed out."
            )
        else:
            error = ReqlDriverError(
                f"Could not connect to {self.host}:{self.port}. Error: {failure.value}"
            )
        self._fail_open(error)

    def close(self, noreply_wait: bool = True) -> defer.Deferred:
        """Close the connection; pending queries fail with ReqlDriverError."""
        if not self.is_open():
            return defer.succeed(None)
        waiting = self.noreply_wait() if noreply_wait else defer.succeed(None)
        return waiting.addBoth(lambda result: self._close_now(result))

    def _close_now(self, result: Any) -> Any:
        self._lost(CLOSED_MESSAGE)
        if self._transport is not None:
            self._transport.loseConnection()
        return None if not isinstance(result, Exception) else result

    # -- Twisted protocol events -------------------------------------------------------

    def _made(self, transport: Any) -> None:
        self._transport = transport
        self._flush()

    def _received(self, protocol: _Protocol, data: bytes) -> None:
        if protocol is self._protocol:
            self._feed(data)

    def _transport_lost(self, protocol: _Protocol, reason: Any) -> None:
        if protocol is not self._protocol:
            return
        message = CLOSED_MESSAGE
        if reason is not None and not reason.check(ConnectionDone):
            message = (
                f"Connection interrupted receiving from {self.host}:{self.port} - "
                f"{reason.getErrorMessage()}"
            )
        self._lost(message)

    # -- ConnectionBase hooks ------------------------------------------------------------

    def _new_future(self, query: Query) -> defer.Deferred:
        return defer.Deferred(canceller=lambda _: self._stop(query))

    def _resolve(self, d: defer.Deferred, value: Any, error: BaseException | None) -> None:
        if not d.called:
            if error is None:
                d.callback(value)
            else:
                d.errback(error)

    def _failed(self, error: BaseException) -> defer.Deferred:
        return defer.fail(error)

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abortConnection()

    def _write(self, data: bytes) -> None:
        if self._transport is not None:
            self._transport.write(data)

    def _call_soon(self, fn: Any, *args: Any) -> None:
        reactor.callLater(0, fn, *args)


def connect(*args: Any, **kwargs: Any) -> defer.Deferred:
    """Open a connection on the reactor; the Deferred fires with the :class:`Connection`."""
    conn = Connection.from_arguments(*args, **kwargs)
    return conn._open(conn.connect_timeout)
