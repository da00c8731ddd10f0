"""Rethought: a RethinkDB-compatible realtime document database, and its async-first driver.

    from rethought import r
    conn = r.connect("localhost", 28015)
    r.table_create("heroes").run(conn)

``r`` has the official Python driver's API: every ReQL term, ``r.connect``,
``r.set_loop_type`` and the error classes.
"""

from __future__ import annotations

from typing import Any

from . import errors, query
from .client.handler import Handler, QueryHandle
from .client.json_codec import ReQLDecoder, ReQLEncoder
from .client.repl import repl_connection
from .client.resume import Reconnect
from .errors import *  # noqa: F403  (the official driver exports its errors at top level)
from .query.declared import ErrorClasses
from .query.namespace import ReqlNamespace
from .version import __version__  # noqa: F401  (rethought.__version__)

query.ast.REPL_CONNECTION[0] = repl_connection  # RqlQuery.run() with no connection


class RethinkDB(ReqlNamespace, ErrorClasses):
    """The ``r`` object: query constructors plus connection functions and error classes."""

    def __init__(self) -> None:
        super().__init__()
        for name in errors.__all__:
            setattr(self, name, getattr(errors, name))
        self.Handler = Handler
        self.QueryHandle = QueryHandle
        for alias in (
            "RqlError",
            "RqlClientError",
            "RqlCompileError",
            "RqlRuntimeError",
            "RqlDriverError",
            "RqlTimeoutError",
            "RqlCursorEmpty",
        ):
            setattr(self, alias, getattr(errors, alias))

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        """Open a connection; see :func:`rethought.client.connect`."""
        from .client import connect

        return connect(*args, **kwargs)

    # ``r.connect(..., reconnect=r.Reconnect(initial=0.1, maximum=5.0, factor=2.0,
    # attempts=None, jitter=0.0))``: see docs/async.md.
    Reconnect = Reconnect

    def pool(self, *args: Any, **kwargs: Any) -> Any:
        """A connection pool for the current (or ``loop_type=``) loop; see
        :func:`rethought.client.pool.pool` and docs/async.md."""
        from .client.pool import pool

        return pool(*args, **kwargs)

    def set_loop_type(self, library: str | None) -> None:
        """Choose the event loop that ``connect`` and ``run`` integrate with."""
        from .client import set_loop_type

        set_loop_type(library)


r = RethinkDB()

__all__ = [
    "r",
    "RethinkDB",
    "Handler",
    "QueryHandle",
    "ReQLEncoder",
    "ReQLDecoder",
    *errors.__all__,
]
