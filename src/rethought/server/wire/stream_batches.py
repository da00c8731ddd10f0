"""A stream's batches, each sent by its deadline even when no row has come out yet.

RethinkDB ends a batch when it holds ``max_batch_rows`` rows or ``max_batch_bytes`` bytes, or
when ``max_batch_seconds`` have passed (``net_responses.BatchSpec`` reads those limits). The
last one must hold even while the stream produces nothing: a filter matching one row in a
million scans for seconds between rows, and the client is owed a (possibly empty)
SUCCESS_PARTIAL in the meantime. So the batch is filled by a ``suspend.Resumable`` job: at the
deadline a checkpoint deep in the scan cuts the job, the rows gathered so far go out, and the
next CONTINUE resumes the scan where it stood.

An empty batch is never cut right after another empty one: the official Python driver asks for
the next batch only while it holds fewer rows than the last batch had, so after two empty
batches in a row it would wait forever. Such a batch waits for its first row (or the end), and
its deadline holds from then on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ..runtime import suspend
from .net_responses import BatchSpec, encode_row

_END = object()


class StreamBatches:
    """Batches of encoded rows pulled out of a lazy iterator. It looks one row ahead so that
    the batch emptying the stream is usually the SUCCESS_SEQUENCE rather than a trailing empty
    one (not when the deadline cut the look-ahead)."""

    __slots__ = (
        "_it", "_encode", "_spec", "_first", "_ahead", "_rows", "_size", "_limits", "_full", "_job",
        "_was_empty",
    )  # fmt: skip

    def __init__(self, it: Iterator[Any], spec: BatchSpec, encoded: bool = False) -> None:
        """``encoded``: ``it`` gives rows as JSON bytes already (table_slices.raw_rows)."""
        self._it = it
        self._encode = None if encoded else encode_row
        self._spec = spec
        self._first = True
        self._ahead: Any = _END
        # The batch being filled. The job re-reads these after every row it pulls: a cut
        # hands the batch out and starts a fresh one while the job is suspended mid-pull.
        self._rows: list[bytes] = []
        self._size = 0
        self._full = False  # the batch is complete; the job is looking one row ahead
        self._limits: tuple[int, int, int, float] = (1, 1, 1, 0.0)
        self._job = suspend.Resumable(self._fill)
        self._was_empty = False  # the last batch sent was an empty SUCCESS_PARTIAL

    async def next_batch(self) -> tuple[list[bytes], bool]:
        """(encoded rows, exhausted). Runs the stream in a query greenlet; returns by the
        batch's deadline, with what it has by then."""
        min_rows, max_rows, max_bytes, deadline = self._spec.limits(self._first)
        self._first = False
        # BatchSpec reads time.monotonic; cuts are timed on suspend's clock.
        cut_at = suspend.clock() + (deadline - time.monotonic())
        self._rows, self._size, self._full = [], 0, False
        self._limits = (min_rows, max_rows, max_bytes, cut_at)
        # After an empty batch, this one may be cut only once it holds a row (``_fill``).
        step_cut = suspend.NEVER if self._was_empty else cut_at
        finished, exhausted = await self._job.step(step_cut)
        rows = self._rows
        self._rows = []
        done = finished and exhausted
        self._was_empty = not rows and not done
        return rows, done

    def close(self) -> None:
        """The client is done with the stream: end a batch job left suspended by a cut."""
        self._job.close()

    def _fill(self) -> bool:
        """The job: fill the current batch; True when the stream has run out."""
        it = self._it
        encode = self._encode
        clock = suspend.clock
        while True:
            row, self._ahead = self._ahead, _END
            if row is _END:
                row = next(it, _END)  # may be cut: the batch is then a new one
            if row is _END:
                return True
            if self._full:  # the batch is complete: this row opens the next one
                self._ahead = row
                return False
            enc = row if encode is None else encode(row)
            rows = self._rows
            rows.append(enc)
            self._size += len(enc)
            n = len(rows)
            min_rows, max_rows, max_bytes, cut_at = self._limits
            if n == 1:
                suspend.set_cut(cut_at)  # it holds a row now: it may be cut at its deadline
            if n >= max_rows or (self._size >= max_bytes and n >= min_rows) or clock() >= cut_at:
                self._full = True
