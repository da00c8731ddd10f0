"""The ``repl()`` default connection of each thread (``conn.repl()``, then ``q.run()``)."""

from __future__ import annotations

import threading
from typing import Any

_repl = threading.local()


def repl_connection() -> Any:
    """The connection ``conn.repl()`` made the default in this thread, or None."""
    return getattr(_repl, "conn", None)


def set_repl_connection(conn: Any) -> None:
    """Set (or clear, with None) the default connection of ``run()`` in this thread."""
    _repl.conn = conn
