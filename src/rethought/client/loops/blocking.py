"""Blocking socket transport of the thread-based adapter: connect (+TLS), send, and receive
with an optional deadline. It knows nothing of the protocol; it only moves bytes and turns OS
errors into ReqlDriverError.
"""

from __future__ import annotations

import select as _select
import socket as _socket
import ssl as _ssl
import threading
import time
from typing import Any

from ...errors import ReqlDriverError
from ..core import RECV_SIZE
from ..params import connect_error, connect_timeout_error, recv_error, send_error, tls_context
from ..sockets import tune_socket

__all__ = ["BlockingTransport"]


class BlockingTransport:
    """One TCP (optionally TLS) connection.

    Plain TCP: ``send`` is serialised by a lock and ``recv`` needs none (the adapter lets one
    thread read at a time). TLS: an SSL object must not read and write concurrently, so both
    take the same lock and readers first wait for readability without holding it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float | None,
        ssl: dict | None = None,
        heartbeat: float | None = None,
    ):
        self.host = host
        self.port = port
        try:
            sock = _socket.create_connection((host, port), timeout)
        except TimeoutError:
            raise connect_timeout_error(host, port) from None
        except OSError as exc:
            raise connect_error(host, port, exc) from None
        tune_socket(sock, heartbeat)
        self.tls = bool(ssl)
        if ssl:
            sock = self._wrap_tls(sock, ssl)
        self.sock = sock
        self._send_lock = threading.Lock()
        self._io_lock = self._send_lock if self.tls else None
        self.closed = False

    def _wrap_tls(self, sock: Any, options: dict) -> Any:
        context = tls_context(options)
        try:
            return context.wrap_socket(sock, server_hostname=self.host)
        except (OSError, _ssl.SSLError) as exc:
            sock.close()
            raise ReqlDriverError(
                f"SSL handshake failed (see server log for more information): {exc}"
            ) from None

    def set_timeout(self, timeout: float | None) -> None:
        """Only for the connect phase, while a single thread owns the socket."""
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError as exc:
                raise send_error(self.host, self.port, exc) from None

    def _wait_readable(self, deadline: float | None) -> bool:
        if self.tls and self.sock.pending():
            return True
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, _, _ = _select.select([self.sock], [], [], timeout)
        return bool(readable)

    def recv(self, deadline: float | None) -> bytes | None:
        """Bytes read; None when the deadline passed first. EOF raises ReqlDriverError."""
        try:
            if (deadline is not None or self.tls) and not self._wait_readable(deadline):
                return None
            if self._io_lock is not None:
                with self._io_lock:
                    data = self.sock.recv(RECV_SIZE)
            else:
                data = self.sock.recv(RECV_SIZE)
        except TimeoutError:
            return None
        except (OSError, ValueError) as exc:
            raise recv_error(self.host, self.port, exc) from None
        if not data:
            raise ReqlDriverError("Connection is closed.")
        return data

    def close(self) -> None:
        """Shut down (waking any thread blocked in recv) and close; idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
