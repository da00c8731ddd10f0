"""The Handler callback classes and how their methods are called.

A :class:`Handler` subclass overrides the ``on_*`` methods it cares about; which ones it
overrides decides the fallbacks (see :class:`Handler`). A method may take one extra trailing
parameter, which then receives the :class:`~rethought.client.handler.QueryHandle` of the query
being reported: this is decided from the method's signature, once per class.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ReqlDriverError

__all__ = ["Handler", "CallbackHandler", "as_handler", "invoke", "overrides"]

# (class, method name) -> number of positional parameters after self (None: *args).
_ARITY: dict[tuple[type, str], int | None] = {}


def _arity(func: Any) -> int | None:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: one value
        return 1
    count = 0
    for param in params:
        if param.kind is param.VAR_POSITIONAL:
            return None
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def invoke(handler: Handler, name: str, args: tuple, handle: Any) -> Any:
    """Call ``handler.<name>(*args)``, adding ``handle`` if the method takes one more."""
    key = (type(handler), name)
    method = getattr(handler, name)
    try:
        arity = _ARITY[key]
    except KeyError:
        arity = _ARITY[key] = _arity(method)
    if arity == len(args):
        return method(*args)
    if arity == 0:
        return method()
    if arity is None or arity > len(args):
        return method(*args, handle)
    return method(*args)  # too few parameters: let Python report the mismatch


def overrides(handler: Handler, name: str) -> bool:
    """Whether the handler's class defines ``name`` itself (rather than inheriting it)."""
    return getattr(type(handler), name, None) is not getattr(Handler, name, None)


class Handler:
    """Receives a query's results as callbacks: pass it to ``query.handle(conn, handler)``.

    Override what you need. Fallbacks, decided by which methods your class defines:

    - an array result goes to ``on_array``; otherwise to ``on_atom``; otherwise each element
      goes to ``on_stream_val``, or to ``on_val`` when that is not defined either;
    - a stream element goes to ``on_stream_val``, otherwise to ``on_val``;
    - any other single value goes to ``on_atom``, otherwise to ``on_val``;
    - a changefeed document goes to ``on_change(old, new)``, ``on_initial_val(val)``,
      ``on_uninitial_val(val)``, ``on_change_error(message)`` or ``on_state(state)`` when the
      class defines the matching method, and to ``on_stream_val`` / ``on_val`` otherwise;
    - ``on_batch(rows)``, when defined, receives each batch of a stream as it arrives, instead
      of the per-row methods (large results never pile up in memory).

    Every method may take one more trailing parameter, which receives the query's
    :class:`~rethought.client.handler.QueryHandle`, so one instance can serve many queries.
    A subclass need not call ``Handler.__init__``.
    """

    _stopped = False
    _handles: set | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def on_open(self) -> None:
        """The first response of the query arrived."""

    def on_close(self) -> None:
        """The query finished, failed, or its handle was closed; nothing follows."""

    def on_error(self, err: Exception) -> None:
        """The query failed; by default the error is raised into the event loop."""
        raise err

    # -- values --------------------------------------------------------------------------

    def on_val(self, val: Any) -> None:
        """Catch-all for every value no more specific method handled."""

    def on_array(self, array: list) -> None:
        """An array result (not a stream)."""

    def on_atom(self, atom: Any) -> None:
        """A single value result."""

    def on_stream_val(self, val: Any) -> None:
        """One element of a stream (a cursor) or of an array without ``on_array``."""

    def on_batch(self, rows: list) -> None:
        """One batch of a stream, as it arrives (replaces the per-row callbacks)."""

    # -- changefeeds ---------------------------------------------------------------------

    def on_change(self, old_val: Any, new_val: Any) -> None:
        """A change: ``{"old_val": ..., "new_val": ...}``."""

    def on_initial_val(self, val: Any) -> None:
        """An initial value (``include_initial=True``)."""

    def on_uninitial_val(self, val: Any) -> None:
        """A value sent as initial that changed before initialisation ended."""

    def on_change_error(self, message: str) -> None:
        """A non-fatal feed error, e.g. changes the server had to skip."""

    def on_state(self, state: str) -> None:
        """A feed state document (``include_states=True``): "initializing" or "ready"; on a
        connection with ``reconnect=``, "reconnecting" when it dropped, then "ready" again
        once the resumed feed caught up."""

    # -- stopping ------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop delivering: open streams close now; queries still being processed complete
        on the server but their handles close instead of delivering; later ``handle``
        calls with this handler close without running the query. No callback runs after."""
        self._stopped = True
        for handle in list(self._handles or ()):
            handle._halt()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _register(self, handle: Any) -> None:
        if self._handles is None:
            self._handles = set()
        self._handles.add(handle)

    def _unregister(self, handle: Any) -> None:
        if self._handles is not None:
            self._handles.discard(handle)


class CallbackHandler(Handler):
    """Wraps a plain callable: ``f(row)`` (errors raised into the loop) or ``f(err, row)``."""

    def __init__(self, callback: Any) -> None:
        arity = _arity(callback)
        if arity is not None and arity > 2:
            raise ReqlDriverError(
                f"Wrong number of arguments for callback (callback accepts {arity} "
                "arguments, but it should accept 0, 1 or 2)."
            )
        self.callback = callback
        self.arity = 1 if arity is None else arity

    def on_val(self, val: Any) -> None:
        if self.arity == 2:
            self.callback(None, val)
        elif self.arity == 1:
            self.callback(val)
        else:
            self.callback()

    def on_error(self, err: Exception) -> None:
        if self.arity != 2:
            raise err
        self.callback(err, None)


def as_handler(handler: Any) -> Handler:
    """A Handler subclass (instantiated), a Handler instance, or a callable (wrapped)."""
    if isinstance(handler, type) and issubclass(handler, Handler):
        return handler()
    if isinstance(handler, Handler):
        return handler
    if callable(handler):
        return CallbackHandler(handler)
    raise ReqlDriverError(f"Expected a Handler or a callable, got {handler!r}.")
