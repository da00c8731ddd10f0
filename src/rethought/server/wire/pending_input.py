"""Whether more queries may arrive before this loop turn ends: the signal group commit waits for.

A write keeps its transaction open for others (storage/group.py) only when another query is
about to be read: then that query's write joins it and both share one commit. The loop's
own queue does not say so portably (asyncio's ``_ready`` holds the selector's read
callbacks; uvloop exposes nothing, and calls every readable socket's ``data_received`` in
one poll phase, running ``call_soon`` work only after it). So the driver port keeps its
clients' sockets in an epoll set of its own and asks it without waiting: a socket with
bytes unread will be read in this turn (asyncio: its callback is already queued; uvloop:
its poll phase is not over) or, at worst, just after the group commits. One
``epoll_wait(0)`` costs about a microsecond, a tenth of a commit.

Also counted: frames already read and split that wait behind the one being answered (a
client pipelining several writes in one chunk).

With one connection watched, the set is not asked: its unread bytes are the answering
connection's own, and a loop reads a socket once per turn (asyncio queues one callback per
ready socket, uvloop reads each in one poll phase), so they cannot join this turn's group.
That saves a sequential client's every write a system call.

A connection is watched in frame mode only, and not while its reading is paused or after
its end of input (an EOF is always readable): those sockets are not read this turn.
"""

from __future__ import annotations

import asyncio
import select
from typing import Any


class PendingInput:
    """The driver connections' sockets, and whether any has bytes waiting to be read."""

    def __init__(self) -> None:
        self._poller: Any = None
        if hasattr(select, "epoll"):
            self._poller = select.epoll()
        elif hasattr(select, "poll"):
            self._poller = select.poll()
        self._owners: dict[int, object] = {}  # fd -> the connection that registered it
        # Frames read and split but not yet answered, behind the one being answered now.
        self.frames_behind = 0

    def watch(self, fd: int, owner: object) -> None:
        """Watch ``fd`` (a connection's socket) for input, on behalf of ``owner``."""
        poller = self._poller
        if poller is None or fd < 0:
            return
        try:
            try:
                poller.register(fd, select.POLLIN)
            except FileExistsError:  # its number was another socket's, closed before its end
                poller.modify(fd, select.POLLIN)
        except (OSError, ValueError):
            return  # the socket is closed already
        self._owners[fd] = owner

    def forget(self, fd: int, owner: object) -> None:
        """Stop watching ``fd``, unless another connection has its number by now."""
        if self._owners.get(fd) is not owner:
            return
        del self._owners[fd]
        try:
            self._poller.unregister(fd)
        except (OSError, KeyError, ValueError):
            pass  # closed already: the kernel dropped it from the set

    def waiting(self) -> bool:
        """Whether a query may still arrive in this loop turn (see the module's doc)."""
        if self.frames_behind:
            return True
        poller = self._poller
        if poller is None:
            return _read_callback_queued()
        if len(self._owners) < 2:
            return False  # none, or the answering connection's own (see the module's doc)
        if type(poller) is not _EPOLL:
            return bool(poller.poll(0))
        return bool(poller.poll(0, 1))

    def close(self) -> None:
        """Stop watching (the port is closed); connections still ending may call forget."""
        poller, self._poller = self._poller, None
        if poller is not None and hasattr(poller, "close"):
            poller.close()
        self._owners.clear()


_EPOLL = getattr(select, "epoll", None)


def _read_callback_queued() -> bool:
    """Without poll(2) (Windows): whether asyncio's queue holds a socket read callback."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    for handle in getattr(loop, "_ready", ()):
        if getattr(getattr(handle, "_callback", None), "__name__", None) == "_read_ready":
            return True
    return False
