"""The cursor a feed query's batches are served from, and the fair merge of several feeds
(``r.union`` of feeds).

A feed is a lazy, infinite ``Sequence``. Terms chained after ``.changes()`` (filter, map,
limit, ...) iterate it like any stream; when it has nothing to give it suspends. That works
because ``FeedCursor`` runs the query's whole result pipeline inside a greenlet (a
``suspend.Pump``, the same bridge SQLAlchemy's asyncio support uses): the feed switches back
to the cursor with WAIT, the cursor awaits new data on the event loop, then switches back in.
No thread, no term needs to know it is reading a feed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from ...proto.ql2 import ResponseNote
from ..runtime import values
from ..runtime.suspend import END, Pump, resume
from .feed import WAIT, Feed, suspend


def interleave(sources: list[Iterator[Any]]) -> Iterator[Any]:
    """Merge streams of which some are feeds, fairly: ``r.union(feed_a, feed_b)``.

    Each input runs in a child pump, so an input whose feed has nothing to give suspends
    only itself; when every input is waiting, the union suspends as a whole.
    """
    children: list[Pump | None] = [Pump(src) for src in sources]
    while any(c is not None for c in children):
        progressed = False
        for i, child in enumerate(children):
            if child is None:
                continue
            out = child.switch()
            if out is END:
                children[i] = None
            elif out is not WAIT:
                progressed = True
                yield out
        if not progressed and any(c is not None for c in children):
            suspend()


def _datums(value: values.Sequence) -> Iterator[Any]:
    for item in values.iterate(value):
        yield values.to_datum(item)


class FeedCursor:
    """What the server sends a feed query's batches from (see ``server.query.engine.Result``).

    The query's whole result pipeline runs in a ``suspend.Pump``, which hands back a row, or
    ``WAIT`` when its feeds have nothing to give, or ``END`` when a finite pipeline over them
    (``changes().limit(2)``) is done.
    """

    def __init__(self, value: values.Sequence, feeds: list[Feed]) -> None:
        self.feeds = feeds
        self.done = False
        self._event = asyncio.Event()
        for f in feeds:
            f.waker = self._event.set
        self._pump = Pump(_datums(value))
        notes = [ResponseNote.UNIONED_FEED] if len(feeds) > 1 else [feeds[0].note]
        if any(f.opts.include_states for f in feeds):
            notes.append(ResponseNote.INCLUDES_STATES)
        self.notes = notes

    async def next_batch(self, max_rows: int = 1000, wait: bool = True) -> list[Any]:
        """The next non-empty batch, waiting for changes; ``done`` turns true when it ends.

        With ``wait=False`` it returns at once, possibly empty: a feed's first response goes
        out immediately (with its initial values, if any), as RethinkDB's does.
        """
        rows: list[Any] = []
        while True:
            while len(rows) < max_rows and not self.done:
                # The pump may ask for I/O (block_on) before it hands back a row or WAIT.
                out = await resume(self._pump)
                if out is END:
                    self.close()
                    self.done = True
                elif out is WAIT:
                    break
                else:
                    rows.append(out)
            if rows or self.done or not wait:
                return rows
            self._event.clear()
            timeout = min((d for f in self.feeds if (d := f.due_in()) is not None), default=None)
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                pass

    def close(self) -> None:
        for f in self.feeds:
            f.close()
        self._event.set()
