"""The ReQL error hierarchy, with the official Python driver's class names.

Both halves use these classes: the server raises them while evaluating a query (and
`server.wire` turns them into RUNTIME_ERROR / COMPILE_ERROR / CLIENT_ERROR responses), the
driver raises them at the caller with the query printed and ``^^^^`` under the failing term.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .proto.ql2 import ErrorType, ResponseType

#: ``[print_query]``: how ``str()`` shows the query an error came from. Only the driver's errors
#: carry one (``term``); ``rethought.query`` puts its printer here, so this module, which the
#: server uses too, imports no driver code.
PRINT_QUERY: list[Callable[[Any, list], str]] = []

__all__ = [
    "ReqlError",
    "ReqlCompileError",
    "ReqlServerCompileError",
    "ReqlDriverCompileError",
    "ReqlRuntimeError",
    "ReqlQueryLogicError",
    "ReqlNonExistenceError",
    "ReqlResourceLimitError",
    "ReqlUserError",
    "ReqlInternalError",
    "ReqlTimeoutError",
    "ReqlAvailabilityError",
    "ReqlOpFailedError",
    "ReqlOpIndeterminateError",
    "ReqlPermissionError",
    "ReqlDriverError",
    "ReqlAuthError",
    "ReqlClientError",
    "ReqlCursorEmpty",
    "error_class_for",
]


class ReqlError(Exception):
    """Base of every ReQL error.

    ``message`` is the bare text; ``term`` (driver side) the query whose ``frames`` lead to
    the failing sub-term. ``str(err)`` shows the message and, when the query is known, the
    query with carets under the failing part, as the official driver does.
    """

    def __init__(self, message: str, term: Any = None, frames: list | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.term = term
        self.frames = frames

    def __str__(self) -> str:
        if self.term is None:
            return self.message
        # The official driver drops the message's final period before " in:".
        return f"{self.message.rstrip('.')} in:\n{PRINT_QUERY[0](self.term, self.frames or [])}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} instance: {self}>"


class ReqlCompileError(ReqlError):
    """The server could not compile the query (wrong arity, unknown term, bad optarg)."""


class ReqlServerCompileError(ReqlCompileError):
    """The server rejected the query as it compiled it."""


class ReqlDriverCompileError(ReqlCompileError):
    """The driver could not turn a Python value into a query."""


class ReqlRuntimeError(ReqlError):
    """Raised while the query ran."""


class ReqlQueryLogicError(ReqlRuntimeError):
    pass


class ReqlNonExistenceError(ReqlQueryLogicError):
    pass


class ReqlResourceLimitError(ReqlRuntimeError):
    pass


class ReqlUserError(ReqlRuntimeError):
    """`r.error(...)` in a query."""


class ReqlInternalError(ReqlRuntimeError):
    pass


class ReqlTimeoutError(ReqlError, TimeoutError):
    """Nothing arrived in time (connect timeout, ``next(wait=...)``)."""

    def __init__(self, message: str = "Timed out", term: Any = None, frames: list | None = None):
        super().__init__(message, term, frames)


class ReqlAvailabilityError(ReqlRuntimeError):
    pass


class ReqlOpFailedError(ReqlAvailabilityError):
    pass


class ReqlOpIndeterminateError(ReqlAvailabilityError):
    pass


class ReqlPermissionError(ReqlRuntimeError):
    pass


class ReqlDriverError(ReqlError):
    """A connection-level failure: closed or broken connection, protocol violation."""


class ReqlAuthError(ReqlDriverError):
    def __init__(self, message: str, host: str | None = None, port: int | None = None) -> None:
        if host is not None and port is not None:
            message = f"Could not connect to {host}:{port}, {message}"
        super().__init__(message)


class ReqlClientError(ReqlError):
    """The server says the client broke the protocol (CLIENT_ERROR)."""


class ReqlCursorEmpty(ReqlError):
    def __init__(self) -> None:
        super().__init__("Cursor is empty.")


# Older names the official driver still exports.
RqlError = ReqlError
RqlClientError = ReqlClientError
RqlCompileError = ReqlCompileError
RqlRuntimeError = ReqlRuntimeError
RqlDriverError = ReqlDriverError
RqlTimeoutError = ReqlTimeoutError
RqlCursorEmpty = ReqlCursorEmpty

_RUNTIME_BY_TYPE: dict[int, type[ReqlError]] = {
    ErrorType.INTERNAL: ReqlInternalError,
    ErrorType.RESOURCE_LIMIT: ReqlResourceLimitError,
    ErrorType.QUERY_LOGIC: ReqlQueryLogicError,
    ErrorType.NON_EXISTENCE: ReqlNonExistenceError,
    ErrorType.OP_FAILED: ReqlOpFailedError,
    ErrorType.OP_INDETERMINATE: ReqlOpIndeterminateError,
    ErrorType.USER: ReqlUserError,
    ErrorType.PERMISSION_ERROR: ReqlPermissionError,
}

# Reverse map for the server: the most specific class wins (subclasses listed first).
_TYPE_BY_CLASS: list[tuple[type[ReqlError], int]] = [
    (ReqlNonExistenceError, ErrorType.NON_EXISTENCE),
    (ReqlQueryLogicError, ErrorType.QUERY_LOGIC),
    (ReqlResourceLimitError, ErrorType.RESOURCE_LIMIT),
    (ReqlUserError, ErrorType.USER),
    (ReqlInternalError, ErrorType.INTERNAL),
    (ReqlOpFailedError, ErrorType.OP_FAILED),
    (ReqlOpIndeterminateError, ErrorType.OP_INDETERMINATE),
    (ReqlPermissionError, ErrorType.PERMISSION_ERROR),
]


def error_class_for(response_type: int, error_type: int | None) -> type[ReqlError]:
    """The exception class the driver raises for an error response."""
    if response_type == ResponseType.CLIENT_ERROR:
        return ReqlClientError
    if response_type == ResponseType.COMPILE_ERROR:
        return ReqlServerCompileError
    if response_type == ResponseType.RUNTIME_ERROR:
        return _RUNTIME_BY_TYPE.get(error_type or 0, ReqlRuntimeError)
    return ReqlDriverError


def response_codes_for(err: ReqlError) -> tuple[int, int | None]:
    """(response type, error type) the server sends for ``err``."""
    if isinstance(err, ReqlCompileError):
        return ResponseType.COMPILE_ERROR, None
    if isinstance(err, (ReqlClientError, ReqlDriverError)):
        return ResponseType.CLIENT_ERROR, None
    for cls, etype in _TYPE_BY_CLASS:
        if isinstance(err, cls):
            return ResponseType.RUNTIME_ERROR, etype
    return ResponseType.RUNTIME_ERROR, ErrorType.INTERNAL
