"""Secondary index construction in the background, as RethinkDB does it.

``index_create`` answers at once; the index is filled chunk by chunk in primary-key order,
each chunk in its own short write transaction, and the event loop runs between chunks. Until
the last chunk is in, the index reports ``ready: false`` with a ``progress`` and reads of it
fail (``TableStore.index_scan``).

Writes during the build need no coordination: every write keeps *every* index current
(``Writer``), this one included, and a chunk computes a row's entries from the row as it is
in the chunk's transaction. A row written before the build reaches it gets its entries from
the writer and the same entries again from the build; a row written after is the writer's
alone; a deleted row is never seen. Write transactions never interleave (one per thread, and
query greenlets do not switch out inside one), so the finished index is exact.

A build interrupted by a restart is redone: the catalog keeps the index marked stale until
the build commits its end.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from ...errors import ReqlOpFailedError
from .catalog import Index
from .geo_cells import cell_records
from .protocols import Table
from .writer import index_entries

CHUNK_ROWS = 1000  # at most this many rows per write transaction
CHUNK_SECONDS = 0.004  # and about this much work, so foreground queries barely notice
_FULL_RETRY = 1.0  # a chunk could not be written (disk full): try again this much later
_BUSY_WAIT = 0.001  # another write transaction is open: look again this much later


class IndexBuild:
    """Fills index ``idx`` of ``table``; ``progress`` is the share of rows done so far."""

    def __init__(self, table: Table, idx: Index, clear: bool = False) -> None:
        self.table = table
        self.idx = idx
        self.clear = clear  # delete stale entries first (a rebuild)
        self.done_rows = 0
        self.total_rows = max(table.count(), 1)
        self.finished = False
        self.task: asyncio.Task | None = None
        self._last: bytes | None = None  # the last row key built

    @property
    def progress(self) -> float:
        # Rows written during the build can push the count past the estimate: stay below 1.
        return min(self.done_rows / self.total_rows, 0.99)

    def start(self) -> None:
        """Build the first chunk now; hand the rest to a task on the running loop (or finish
        synchronously when there is none: tools and tests using storage directly)."""
        if self.chunk():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            while not self.chunk():
                pass
            return
        self.task = loop.create_task(self._run())

    async def wait(self) -> None:
        """Until the build has finished (or was abandoned); cancelling the waiter leaves the
        build running."""
        if self.task is None or self.task.done():
            return
        if self.task.get_loop() is not asyncio.get_running_loop():
            # Waited for from another loop (a test's private one): finish the build here.
            while not self.chunk():
                pass
            self.task.cancel()
            return
        await asyncio.wait([self.task])

    def cancel(self) -> None:
        """Abandon the build (index or table dropped)."""
        self.finished = True
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        while not self.finished:
            await asyncio.sleep(0)
            storage = self.table._storage
            while storage._txn is not None:  # a query's write is open (parked in block_on)
                await asyncio.sleep(_BUSY_WAIT)
            if self.finished:
                return
            try:
                self.chunk()
            except ReqlOpFailedError:
                # The disk is full (storage/space.py): the index stays not ready and its
                # build goes on once there is room again.
                await asyncio.sleep(_FULL_RETRY)

    def chunk(self) -> bool:
        """Build one chunk in one write transaction; True when the index is complete."""
        table, idx = self.table, self.idx
        if self.finished or table.dropped:
            self.finished = True
            return True
        storage = table._storage
        fn = idx.fn
        idb = storage.index_db
        gdb = storage.geo_db
        prefix = table._prefix
        plen = len(prefix)
        complete = True
        deadline = time.perf_counter() + CHUNK_SECONDS
        undo = (self._last, self.clear, self.done_rows, idx.stale)
        try:
            with storage.transaction() as txn:
                if self.finished:  # dropped by another worker, seen as this txn began
                    return True
                if self.clear:
                    table._delete_index_entries(txn, idx)
                    self.clear = False
                cur = txn.cursor(db=table._rows)
                if self._last is None:
                    found = cur.set_range(prefix)
                else:
                    found = cur.set_range(self._last)
                    if found and cur.key() == self._last:
                        found = cur.next()
                n = 0
                while found:
                    key, raw = cur.item()
                    if key[:plen] != prefix:
                        break
                    entries = index_entries(idx, fn, orjson.loads(raw), key[plen:])
                    for ekey, data in entries.items():
                        txn.put(ekey, data, db=idb)
                    if idx.geo:
                        for cell_key, suffix in cell_records(idx.prefix, entries):
                            txn.put(cell_key, suffix, db=gdb)
                    self._last = key
                    n += 1
                    if n >= CHUNK_ROWS or (n % 64 == 0 and time.perf_counter() >= deadline):
                        complete = not cur.next() or cur.key()[:plen] != prefix
                        break
                    found = cur.next()
                self.done_rows += n
                if complete:
                    self.finished = True
                    table._index_built(txn, idx)
        except BaseException:
            # The commit failed (disk full): nothing of this chunk is on disk, so redo it.
            self._last, self.clear, self.done_rows, idx.stale = undo
            self.finished, idx.build = False, self
            raise
        return complete
