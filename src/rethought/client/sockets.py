"""Socket options every loop's TCP connection gets, and opening a blocking-style socket.

TCP_NODELAY: queries and answers are small and latency-bound. SO_KEEPALIVE: the kernel
probes an idle connection; with ``heartbeat=`` seconds the probes start after that long and
give up after three unanswered ones, and unacknowledged writes time out after twice that
(TCP_USER_TIMEOUT), so a half-open connection surfaces as an error even with nobody reading.
"""

from __future__ import annotations

import socket as _socket
import ssl as _ssl
from collections.abc import Callable
from typing import Any

from .params import tls_context

__all__ = ["tune_socket", "open_socket"]


def tune_socket(sock: Any, heartbeat: float | None = None) -> None:
    """Set the options above on a connected TCP socket (missing ones are skipped)."""
    if sock is None or sock.family not in (_socket.AF_INET, _socket.AF_INET6):
        return
    sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_KEEPALIVE, 1)
    if not heartbeat:
        return
    idle = max(1, int(heartbeat))
    for name, value in (
        ("TCP_KEEPIDLE", idle),
        ("TCP_KEEPINTVL", max(1, idle // 3)),
        ("TCP_KEEPCNT", 3),
        ("TCP_USER_TIMEOUT", int(heartbeat * 2000)),  # milliseconds
    ):
        option = getattr(_socket, name, None)
        if option is not None:
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, option, value)
            except OSError:  # an option the platform lists but refuses
                pass


def open_socket(
    create: Callable[..., Any],
    host: str,
    port: int,
    timeout: float | None,
    ssl: dict | None = None,
    context_class: type[_ssl.SSLContext] = _ssl.SSLContext,
    heartbeat: float | None = None,
) -> Any:
    """``create((host, port), timeout)`` (a ``create_connection``), tuned, then TLS-wrapped
    with the ``ssl`` options; raises what connecting or the TLS handshake raise."""
    sock = create((host, port), timeout)
    tune_socket(sock, heartbeat)
    if ssl:
        try:
            sock = tls_context(ssl, context_class).wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
    return sock
