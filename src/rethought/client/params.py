"""``r.connect`` arguments, normalised once for every loop type, and what every loop's
Connection does with them."""

from __future__ import annotations

import ssl as _ssl
from typing import Any

from ..errors import ReqlDriverError

__all__ = ["ConnectionSettings", "connect_params", "tls_context"]


def connect_params(
    host: str = "localhost",
    port: int = 28015,
    db: str | None = None,
    user: str = "admin",
    password: str = "",
    timeout: float = 20,
    ssl: dict | None = None,
    auth_key: str | None = None,
    **kwargs: Any,
) -> dict:
    """Normalise ``r.connect`` arguments the way the blocking driver does."""
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
        **kwargs,
    }


def tls_context(options: dict) -> _ssl.SSLContext | None:
    """An SSL context for the ``ssl={"ca_certs": path}`` option, or None for plain TCP."""
    if not options:
        return None
    context = _ssl.create_default_context()
    ca_certs = options.get("ca_certs")
    if ca_certs:
        context.load_verify_locations(ca_certs)
    return context


class ConnectionSettings:
    """The settings half of every loop's Connection: address, credentials, default db."""

    def __init__(self, params: dict) -> None:
        """``params`` as :func:`connect_params` returns them."""
        params = dict(params)
        self.host: str = params.pop("host")
        self.port: int = params.pop("port")
        self.db: str | None = params.pop("db")
        self.user: str = params.pop("user")
        self._password: str = params.pop("password")
        self.connect_timeout: float | None = params.pop("timeout")
        self.ssl: dict = params.pop("ssl")
        self._kwargs = params

    def use(self, db: str) -> None:
        """Default database of later queries."""
        self.db = db

    def repl(self) -> Any:
        """Make this the default connection of ``run()`` in this thread."""
        from . import set_repl_connection

        set_repl_connection(self)
        return self
