"""What the running server listens on, for ``server_status``'s ``network`` field.

``app.py`` records it once its listeners are bound (``record``); a storage opened without a
server (tests, tools) shows RethinkDB's defaults. Kept per storage, as one process may run
several servers (``rethought.testing``).
"""

from __future__ import annotations

import socket
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

# RethinkDB's default ports; cluster_port follows --port-offset as the others do.
REQL_PORT, CLUSTER_PORT, HTTP_PORT = 28015, 29015, 8080


@dataclass
class ServerInfo:
    """The ports and addresses of one server (``None`` http_port: ``--no-http-admin``)."""

    reql_port: int = REQL_PORT
    http_port: int | None = None
    cluster_port: int = CLUSTER_PORT
    addresses: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    time_started: float = field(default_factory=time.time)
    time_connected: float = field(default_factory=time.time)
    ident: dict = field(default_factory=dict)  # {"id", "name"} of the stored identity


_INFO: weakref.WeakKeyDictionary[Any, ServerInfo] = weakref.WeakKeyDictionary()


def record(storage: Any, info: ServerInfo) -> None:
    """Set the server facts shown for ``storage`` (called by ``app.Server.start``)."""
    _INFO[storage] = info


def of(storage: Any) -> ServerInfo:
    """The facts recorded for ``storage``, or the defaults."""
    info = _INFO.get(storage)
    if info is None:
        info = _INFO[storage] = ServerInfo()
    return info


def network(info: ServerInfo, hostname: str, epoch_time: Any) -> dict:
    """``server_status.network`` as RethinkDB's ``server_status.cc`` builds it: the http
    port number, or ``"<no http admin>"`` when the console is off; canonical addresses are
    the bound addresses with the cluster port, sorted as RethinkDB's set of them is."""
    addresses = sorted(set(_expand(info.addresses)))
    return {
        "canonical_addresses": [{"host": a, "port": info.cluster_port} for a in addresses],
        "cluster_port": info.cluster_port,
        "connected_to": {},
        "hostname": hostname,
        "http_admin_port": "<no http admin>" if info.http_port is None else info.http_port,
        "reql_port": info.reql_port,
        "time_connected": epoch_time(info.time_connected),
    }


def _expand(addresses: list[str]) -> list[str]:
    """A wildcard bind stands for every address of the host (RethinkDB's get_local_ips)."""
    out = []
    for a in addresses:
        if a not in ("0.0.0.0", "::"):
            out.append(a)
            continue
        family = socket.AF_INET if a == "0.0.0.0" else socket.AF_INET6
        out.append("127.0.0.1" if family == socket.AF_INET else "::1")
        try:
            infos = socket.getaddrinfo(socket.gethostname(), None, family)
        except OSError:
            continue
        out.extend(str(i[4][0]) for i in infos)
    return out
