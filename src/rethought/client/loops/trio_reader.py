"""How the trio adapter reads: waiting tasks take turns, and a pump runs handlers.

Trio has no background callbacks, so whichever task awaits a result while nobody reads
becomes the reader: it feeds what it gets to the core (which routes frames by token and
settles every affected promise) and wakes the others. Writes are awaited in trio, so bytes
wait in an outbox for the next waiter to send; a write made while a task is blocked reading
(a noreply query, a feed resumed after a reconnect, a heartbeat ping) cancels that read, so
the reader sends it before it reads again. Timers (per-query and ``next(wait=...)``
timeouts) are a heap the waiters honour.

Handler queries have nobody awaiting them, so while one is open a pump task takes part in
the reading, sends the outbox and runs the handlers' callbacks in order: in the nursery given
as ``connect(..., nursery=...)`` (an exception escaping a callback is raised there), or else
in a trio system task (such an exception is logged to the "rethought" logger and kept as the
handle's ``error``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from ..awaitable import AwaitableConnection
from ..callbacks import CallbackQueue, log_callback_error
from ..core import RECV_SIZE
from ..params import recv_error, send_error
from ..timers import TimerHeap

__all__ = ["SharedReader"]


class SharedReader(AwaitableConnection):
    """The reading, writing, timer and callback primitives of a trio connection."""

    _stream: trio.abc.Stream | None

    def __init__(self, params: dict) -> None:
        super().__init__(params)
        self.nursery: trio.Nursery | None = params.get("nursery")
        self._stream = None
        self._outbox = bytearray()
        self._send_lock = trio.Lock()
        self._reading = False
        self._changed = trio.Event()
        self._timers = TimerHeap()
        self._callbacks = CallbackQueue()
        self._pumping = False
        self._kick: trio.CancelScope | None = None
        self._receiving: trio.CancelScope | None = None  # the read a write interrupts

    # -- loop primitives -----------------------------------------------------------------

    def _call_later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        return self._timers.add(trio.current_time() + delay, fn)

    def _call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self._callbacks.push(fn, args)
        self._ensure_pump()

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.nursery is not None:
            self.nursery.start_soon(fn, *args)
        else:
            trio.lowlevel.spawn_system_task(fn, *args)

    def _write(self, data: bytes) -> None:
        self._outbox += data  # sent by the next waiter or the pump (writes in trio are awaited)
        receiving = self._receiving
        if receiving is not None:
            receiving.cancel()  # whoever is blocked reading sends it first
        self._wake_pump()

    # -- the shared reader ---------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
        self._wake_pump()

    async def _send_pending(self) -> None:
        async with self._send_lock:
            if not self._outbox or self._stream is None:
                return
            data, self._outbox = bytes(self._outbox), bytearray()
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                self._lost(str(send_error(self.host, self.port, exc)))

    async def _wait_for(self, promise: Any) -> None:
        """Return once ``promise.done``, reading (or waiting for the reader) meanwhile."""
        while not promise.done:
            await self._send_pending()
            deadline = self._timers.run(trio.current_time())
            if promise.done:
                return
            with trio.move_on_at(deadline):
                await self._read_or_wait()

    async def _read_or_wait(self) -> None:
        """Read one chunk if nobody else is reading, else wait for whoever is."""
        if self._reading or self._stream is None:  # closed: a reconnect may bring one
            await self._changed.wait()
            return
        self._reading = True
        data = None
        try:
            # Cancelling a receive_some loses no bytes (trio's guarantee once TLS is up).
            with trio.CancelScope() as self._receiving:
                data = await self._stream.receive_some(RECV_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._lost(str(recv_error(self.host, self.port, exc)))
            return
        finally:
            self._receiving = None
            self._reading = False
            self._notify()
        if data is None:
            return  # interrupted by a write: the caller sends the outbox, then reads again
        if data:
            self._feed(data)
        else:
            self._broken()

    # -- handlers: the pump --------------------------------------------------------------

    def _ensure_pump(self) -> None:
        if not self._pumping:
            self._pumping = True
            self._spawn(self._pump)

    _handlers_added = _ensure_pump

    def _wake_pump(self) -> None:
        if self._kick is not None:
            self._kick.cancel()  # the pump sends, runs callbacks, then reads again

    async def _pump(self) -> None:
        """Read, send and run callbacks while handler queries are open."""
        try:
            while True:
                # No nursery to raise into: the error is logged (and kept as handle.error).
                self._callbacks.run(None if self.nursery else log_callback_error)
                if self._handlers_idle() and not self._callbacks:
                    return
                await self._send_pending()
                deadline = self._timers.run(trio.current_time())
                if self._callbacks:
                    await trio.lowlevel.checkpoint()
                    continue
                with trio.CancelScope(deadline=deadline) as self._kick:
                    await self._read_or_wait()
                self._kick = None
        finally:
            self._kick = None
            self._pumping = False
