"""The queue behind a loop's ``_call_soon`` where the driver itself runs the callbacks (the
trio pump task, the blocking connection's callback thread): in call order, each once."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["CallbackQueue", "log_callback_error"]

logger = logging.getLogger("rethought")


def log_callback_error(exc: BaseException) -> None:
    """Report an exception that escaped a handler callback to the "rethought" logger."""
    logger.error("Exception in a handler callback", exc_info=exc)


class CallbackQueue:
    """Queued ``(fn, args)`` calls. ``popleft`` is atomic, so threads may push while one
    runs them without a lock."""

    __slots__ = ("_queue",)

    def __init__(self) -> None:
        self._queue: deque = deque()

    def __bool__(self) -> bool:
        return bool(self._queue)

    def push(self, fn: Callable[..., Any], args: tuple) -> None:
        self._queue.append((fn, args))

    def run(self, on_error: Callable[[Exception], None] | None = None) -> None:
        """Run what is queued (including what the callbacks queue), in order. An exception
        escaping a callback goes to ``on_error``, or, without one, propagates (the rest
        stays queued). Either way the QueryHandle keeps it as ``handle.error``."""
        queue = self._queue
        while queue:
            try:
                fn, args = queue.popleft()
            except IndexError:  # another thread ran it meanwhile
                return
            if on_error is None:
                fn(*args)
                continue
            try:
                fn(*args)
            except Exception as exc:
                on_error(exc)
