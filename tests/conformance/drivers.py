"""The two drivers the suite can run through: ours (``rethought``) and the official one.

Both expose the same ``r``; the runner also needs to tell queries (to ``.run``) and
cursors (to read into lists) apart from plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DRIVERS = ("rethought", "official")


@dataclass
class Driver:
    name: str
    r: Any
    query_types: tuple[type, ...]
    cursor_types: tuple[type, ...]

    def connect(self, host: str, port: int, user: str | None = None) -> Any:
        if user is None:
            return self.r.connect(host=host, port=port)
        return self.r.connect(host=host, port=port, user=user)

    def is_query(self, value: Any) -> bool:
        return isinstance(value, self.query_types)

    def is_cursor(self, value: Any) -> bool:
        return isinstance(value, self.cursor_types)


def load(name: str) -> Driver:
    """Import the named driver (``rethought`` or ``official``)."""
    if name == "official":
        import rethinkdb
        import rethinkdb.ast
        import rethinkdb.net

        return Driver(name, rethinkdb.r, (rethinkdb.ast.RqlQuery,), (rethinkdb.net.Cursor,))
    if name == "rethought":
        from rethought import r
        from rethought.client.cursor import CursorBase
        from rethought.query.ast import RqlQuery

        return Driver(name, r, (RqlQuery,), (CursorBase,))
    raise ValueError(f"unknown driver {name!r}; choose from {', '.join(DRIVERS)}")
