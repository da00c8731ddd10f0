"""Initial values read batch by batch, changes spliced in between (RethinkDB's
splice_stream_t, changefeed.cc), for feeds over a secondary index range
(``between(..., index=)`` and ``order_by(index=)`` feeds with ``include_initial``).

The initial values are read in index order, a batch at a time, each batch from a fresh read
(one LMDB transaction). Before each batch the changes that came in are sent, each side of a
change kept only if it lies in the part already read (``discard`` in RethinkDB): a row in the
part not read yet will be read as it is then. So a change can be sent with only its new value
(the row moved into the part already read: type ``initial``) or only its old one (the row
moved out of it, into the part not read yet, where it will be read again: type
``uninitial``, changefeed.cc vals_to_change with discard_new_val).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BATCH = 32  # at most storage.scan.FIRST_CHUNK: a batch is one read transaction


class SpliceRead:
    """Where a batched initial read is, and the next batch.

    ``read_after(value, position, n)``: the next ``n`` entries ``(position, value, row)`` in
    index order after ``position`` (whose index value is ``value``), or from the start when
    ``position`` is None. ``position(row)``: a row's place in that order, None when the row
    has no value in the index."""

    def __init__(
        self,
        read_after: Callable[[Any, Any, int], list[tuple[Any, Any, dict]]],
        position: Callable[[dict], Any],
    ) -> None:
        self.read_after = read_after
        self.position = position
        self.upto: Any = None  # the position of the last entry read; None: none yet
        self.upto_value: Any = None
        self.done = False

    def ahead(self, row: dict) -> bool:
        """Whether ``row`` lies in the part not read yet (its change side is dropped)."""
        if self.done:
            return False
        if self.upto is None:
            return True
        p = self.position(row)
        return p is not None and p > self.upto

    def next_batch(self) -> list[dict]:
        got = self.read_after(self.upto_value, self.upto, BATCH)
        if len(got) < BATCH:
            self.done = True
        if got:
            self.upto, self.upto_value = got[-1][0], got[-1][1]
        return [row for _, _, row in got]
