"""The blocking connection: the default loop type (``r.connect`` without ``set_loop_type``).

Thread-safe: many threads may run queries on one connection; how they share it (one reader
at a time, the handler pump and callback threads) is :mod:`rethought.client.threaded`. This
module opens the blocking socket (:mod:`.blocking`) and runs the handshake over it.
"""

from __future__ import annotations

import time
from typing import Any

from ..params import connect_params, connect_timeout_error
from ..threaded import ThreadedConnection, ThreadedCursor
from .blocking import BlockingTransport

__all__ = ["Connection", "Cursor", "connect"]


class Cursor(ThreadedCursor):
    """A lazy, blocking cursor: ``for row in cursor``, ``next(cursor)``, ``cursor.next(wait)``."""


class Connection(ThreadedConnection):
    """A blocking connection; see :func:`connect`."""

    cursor_class = Cursor
    _transport: BlockingTransport | None

    def _open(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        core = self._new_core()
        heartbeat = self._supervisor.heartbeat
        transport = BlockingTransport(self.host, self.port, timeout, self.ssl, heartbeat)
        try:
            while not core.ready:
                transport.send(core.data_to_send())
                data = transport.recv(deadline)
                if data is None:
                    raise connect_timeout_error(self.host, self.port)
                core.receive_data(data)
            transport.set_timeout(None)
        except BaseException:
            transport.close()
            raise
        with self._cond:
            self._core, self._transport = core, transport

    def _socket(self) -> Any:
        return self._transport.sock


def connect(*args: Any, **kwargs: Any) -> Connection:
    """Open a blocking connection: ``connect(host="localhost", port=28015, db=None,
    user="admin", password="", timeout=20, ssl=None)`` (``auth_key``: the old ``password``)."""
    params = connect_params(*args, **kwargs)
    return Connection(params).reconnect()
