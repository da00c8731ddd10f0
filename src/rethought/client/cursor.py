"""The loop-independent part of a cursor: its state, display and ``wait`` parsing.

A cursor is a view of one :class:`~rethought.client.core.Query`: the core buffers rows and
decides when to ask for more; each loop adapter subclasses :class:`CursorBase` and adds only
the waiting (blocking ``next``, awaitable ``next``, ...).
"""

from __future__ import annotations

import numbers
import pprint
from collections import deque
from typing import Any

from ..errors import ReqlCursorEmpty, ReqlDriverError, ReqlError
from .core import Query

__all__ = ["CursorBase", "DefaultCursorEmpty", "wait_to_timeout"]


class DefaultCursorEmpty(ReqlCursorEmpty, StopIteration):
    """Raised by a finished cursor; also a StopIteration so ``for`` loops end cleanly."""


def wait_to_timeout(wait: Any) -> float | None:
    """``next(wait=...)``: True waits forever (None), False not at all (0), a number that long."""
    if isinstance(wait, bool):
        return None if wait else 0.0
    if isinstance(wait, numbers.Real) and wait >= 0:
        return float(wait)
    raise ReqlDriverError(f"Invalid wait timeout '{wait}'")


class CursorBase:
    """State and presentation shared by every loop's cursor.

    ``items`` is the buffer of rows already received (a deque), ``query`` the query state
    (``query.term`` is the query object, ``query.token`` its token), ``conn`` the connection.
    """

    def __init__(self, conn: Any, query: Query) -> None:
        self.conn = conn
        self.query = query

    @property
    def items(self) -> deque:
        return self.query.items

    @property
    def error(self) -> ReqlError | None:
        """None while streaming; the error, or a ReqlCursorEmpty once finished."""
        query = self.query
        if query.error is not None:
            return query.error
        return DefaultCursorEmpty() if query.done else None

    @property
    def outstanding_requests(self) -> int:
        return int(self.query.outstanding)

    @property
    def threshold(self) -> int:
        return self.query.threshold

    @property
    def is_feed(self) -> bool:
        """True for changefeeds (the server never ends them by itself)."""
        return self.query.is_feed

    def _status(self, text: Any) -> str:
        query = self.query
        if not query.done:
            return "streaming"
        if query.error is None:
            return "done streaming"
        return f"error: {text(query.error)}"

    def _preview(self) -> str:
        shown = [self.items[i] for i in range(min(10, len(self.items)))]
        text = pprint.pformat(shown + (["..."] if len(self.items) > 10 else []))
        if text.endswith("'...']"):
            text = text[: -len("'...']")] + "...]"
        return ("\n" if "\n" in text else "") + text

    def __str__(self) -> str:
        cls = type(self)
        return f"{cls.__module__}.{cls.__name__} ({self._status(str)}): {self._preview()}"

    def __repr__(self) -> str:
        cls = type(self)
        return (
            f"<{cls.__module__}.{cls.__name__} object at {hex(id(self))} "
            f"({self._status(repr)}): {self._preview()}>"
        )
