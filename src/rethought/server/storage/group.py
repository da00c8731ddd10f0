"""Group commit: concurrent writes share one LMDB write transaction and one commit.

LMDB has one writer at a time and a write query runs to its end without yielding (the write
transaction pins its query greenlet), so writes from many connections arrive one after the
other within one turn of the event loop. When another query may still be read in that
turn (a driver connection has bytes unread: wire/pending_input.py), the first write does
not commit: its transaction stays open as the *group*, and each write that comes before
the end of the turn joins it in an LMDB child transaction, so a write that fails undoes
its own rows and nothing else (its outbox entries go with it). At the end of the turn
(``loop.call_soon``) the group commits once: its change log entries are written in the
same transaction (one entry per table, in the order the writes were applied, which is the
commit order feeds see), then every member's answer may go out (``CommitGroup.done``; the
session answers from a callback on it): a write is acknowledged only once committed, and
a hard write's fsync follows the group's commit. A failing commit (disk full) fails every
member.

Anything else that needs the writer (catalog changes, index builds, the change-log sweep,
``sync``, ``close``) commits the open group first (``Storage.flush_group``), so no write
transaction is ever begun while one is open. Nothing waits for a slow query: the group
commits at the end of the loop turn whatever else is running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import lmdb

from .outbox import Outbox


class CommitGroup:
    """The open shared write transaction, its outbox and the members' commit future."""

    __slots__ = ("txn", "outbox", "done", "members")

    def __init__(self, txn: lmdb.Transaction, outbox: Outbox, done: asyncio.Future) -> None:
        self.txn = txn
        self.outbox = outbox
        self.done = done  # set once committed (or failed): every member's answer waits on it
        self.members = 1


def grouping_loop(more_input: Callable[[], bool]) -> asyncio.AbstractEventLoop | None:
    """The running loop when a write should stay open for others to join: ``more_input()``
    says another query may be read in this turn (the driver port's sockets,
    wire/pending_input.py). None otherwise: no loop, or only other work (feed batches,
    tasks) to run, which a write would wait behind for nothing (100 feeds' sends made the
    change-to-feed p99 3x longer)."""
    if not more_input():
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def no_more_input() -> bool:
    """``Storage.more_input`` until a driver port sets its own: nothing to group with."""
    return False


def settle(done: asyncio.Future, error: BaseException | None) -> None:
    """Tell the members their commit's outcome (retrieved even with no one waiting)."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
        done.add_done_callback(_retrieve)


def _retrieve(fut: Any) -> None:
    fut.exception()
