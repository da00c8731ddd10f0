"""The driver's connection layer: ``connect``, loop selection and the repl connection.

``set_loop_type(name)`` picks which adapter ``connect`` uses. Adapters live in
``client/loops/<name>.py``, each exposing ``connect(**kwargs)``; a new one joins with
:func:`register_loop_type` (or by adding itself to ``LOOP_TYPES``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import ReqlDriverError
from .core import ClientCore, Query
from .json_codec import ReQLDecoder, ReQLEncoder
from .loops.sync import Connection, Cursor
from .repl import repl_connection, set_repl_connection
from .resume import Reconnect

__all__ = [
    "connect",
    "set_loop_type",
    "get_loop_type",
    "register_loop_type",
    "repl_connection",
    "set_repl_connection",
    "Connection",
    "Cursor",
    "ClientCore",
    "Query",
    "Reconnect",
    "ReQLEncoder",
    "ReQLDecoder",
    "LOOP_TYPES",
]

# Loop type name -> module path (imported on first use, so optional libraries stay optional)
# or a ready ``connect`` callable.
LOOP_TYPES: dict[str, str | Callable[..., Any]] = {
    "sync": "rethought.client.loops.sync",
    "asyncio": "rethought.client.loops.asyncio_loop",
    "trio": "rethought.client.loops.trio_loop",
    "tornado": "rethought.client.loops.tornado_loop",
    "twisted": "rethought.client.loops.twisted_loop",
    "gevent": "rethought.client.loops.gevent_loop",
}

_loop_type = "sync"


def register_loop_type(name: str, target: str | Callable[..., Any]) -> None:
    """Make ``set_loop_type(name)`` available: a module path exposing ``connect``, or a callable."""
    LOOP_TYPES[name] = target


def _known(name: str) -> str:
    if name not in LOOP_TYPES:
        known = ", ".join(sorted(LOOP_TYPES))
        raise ReqlDriverError(f"Unknown loop type: {name!r} (known: {known}).")
    return name


def set_loop_type(name: str | None) -> None:
    """Choose the event loop ``connect`` integrates with (None or "sync": blocking)."""
    global _loop_type
    _loop_type = _known("sync" if name is None else name)


def get_loop_type() -> str:
    return _loop_type


def connect(*args: Any, loop_type: str | None = None, **kwargs: Any) -> Any:
    """Open a connection with ``loop_type`` (default: the one ``set_loop_type`` chose).

    ``connect(host="localhost", port=28015, db=None, user="admin", password="", timeout=20,
    ssl=None, reconnect=None, heartbeat=None)`` (the last two: docs/async.md, "Connections
    that come back"); with the default loop type the result is a blocking :class:`Connection`,
    with ``loop_type="asyncio"`` or ``"trio"`` an awaitable that gives the connection.
    Passing ``loop_type`` touches no global state, so one process can mix loop types.
    """
    target = LOOP_TYPES[_known(_loop_type if loop_type is None else loop_type)]
    if not callable(target):
        target = importlib.import_module(target).connect
    return target(*args, **kwargs)
