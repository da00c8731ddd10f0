"""The Twisted adapter: ``r.set_loop_type("twisted")``; ``connect`` and ``run`` return Deferreds.

A Twisted ``Protocol`` feeds the core from ``dataReceived``; everything else (cursors,
timeouts, closing) is :mod:`rethought.client.asyncbase`. ``Deferred.cancel()`` on a ``run``
or on a cursor's ``next()`` / ``fetch_next()`` stops the query on the server (a STOP frame)
and frees its token.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import defer, error, reactor
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from ...errors import ReqlDriverError
from ..asyncbase import FutureConnection, FutureCursor, connect_params
from ..params import connect_error
from ..waits import OnceHandle

__all__ = ["Connection", "Cursor", "connect"]


class Cursor(FutureCursor):
    """``while (yield cursor.fetch_next()): row = yield cursor.next()``.

    ``close()`` fires every pending ``fetch_next()`` with False (and ``next()`` with
    ReqlCursorEmpty), so a loop blocked on the feed ends.
    """


class _Handle(OnceHandle):
    """A Deferred whose ``cancel()`` runs ``on_cancel`` (asyncbase then STOPs the query)."""

    __slots__ = ("promise",)

    def __init__(self, on_cancel: Callable[[], None] | None) -> None:
        canceller = None if on_cancel is None else (lambda _d: on_cancel())
        self.promise = defer.Deferred(canceller)

    @property
    def pending(self) -> bool:
        return not self.promise.called

    def _settle(self, ok: bool, value: Any) -> None:
        (self.promise.callback if ok else self.promise.errback)(value)


@implementer(IHandshakeListener)
class _Protocol(Protocol):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tls_pending = bool(conn.ssl)  # TLS: until its handshake completes

    def handshakeCompleted(self) -> None:  # noqa: N802 (the TLS handshake: twisted[tls])
        self.tls_pending = False

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's names)
        if self.conn._protocol is self:  # ignore a transport replaced by reconnect
            self.conn._feed(data)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        conn = self.conn
        if conn._protocol is not self:
            return
        if self.tls_pending:  # a refused certificate: the connection never opened
            detail = reason.value if reason is not None else "TLS handshake failed"
            conn._lost(str(connect_error(conn.host, conn.port, detail)))
            return
        clean = reason is None or reason.check(error.ConnectionDone)
        conn._broken(None if clean else reason.getErrorMessage())


class Connection(FutureConnection):
    """A connection on the Twisted reactor; every query method returns a Deferred."""

    cursor_class = Cursor
    _protocol: _Protocol | None = None

    # -- loop primitives -----------------------------------------------------------------

    def _new_handle(self, on_cancel: Callable[[], None] | None) -> _Handle:
        return _Handle(on_cancel)

    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        call = reactor.callLater(delay, fn)
        return lambda: call.active() and call.cancel()

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        reactor.callLater(0, fn, *args)

    def _write(self, data: bytes) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.write(data)

    def _close_transport(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.loseConnection()

    # -- opening -------------------------------------------------------------------------

    def reconnect(self, noreply_wait: bool = True, timeout: float | None = None) -> defer.Deferred:
        """Close (optionally after noreply_wait) and open again; fires with the connection."""
        closing = self.close(noreply_wait)
        return closing.addCallback(lambda _: self._open(timeout))

    def _open(self, timeout: float | None) -> defer.Deferred:
        timeout = self._connect_timeout(timeout)
        endpoint = HostnameEndpoint(reactor, self.host, self.port, timeout=timeout or 30)
        if self.ssl:
            endpoint = wrapClientTLS(self._tls_options(), endpoint)
        self._protocol = protocol = _Protocol(self)

        def failed(failure: Any) -> None:  # worded as the blocking driver's
            with self._opening((error.TimeoutError, defer.CancelledError), (Exception,)):
                failure.raiseException()

        connecting = connectProtocol(endpoint, protocol)
        return connecting.addCallbacks(lambda _: self._begin_handshake(timeout), failed)

    def _tls_options(self) -> Any:
        try:  # Twisted's TLS needs pyOpenSSL (the twisted[tls] extra): only for ssl=...
            from twisted.internet.ssl import Certificate, optionsForClientTLS, platformTrust
        except ImportError as exc:
            raise ReqlDriverError(f"TLS with the twisted loop needs pyOpenSSL: {exc}") from None
        ca = self.ssl.get("ca_certs")
        trust = Certificate.loadPEM(Path(ca).read_bytes()) if ca else platformTrust()
        return optionsForClientTLS(self.host, trust)

    def _open_then(self, timeout: float | None, done: Callable[[Any], None]) -> None:
        self._open(timeout).addCallbacks(lambda _: done(None), lambda f: done(f.value))

    def _socket(self) -> Any:
        transport = self._protocol.transport  # under TLS: the TLS protocol over the TCP one
        return getattr(transport, "transport", transport).getHandle()


def connect(*args: Any, **kwargs: Any) -> defer.Deferred:
    """Open a connection on the reactor (the blocking ``r.connect``'s arguments): a Deferred
    that fires with the :class:`Connection`."""
    try:
        conn = Connection(connect_params(*args, **kwargs))
    except ReqlDriverError as exc:
        return defer.fail(exc)
    return defer.maybeDeferred(conn._open, None)  # a failure (no pyOpenSSL) as a Deferred
