"""The per-table change log: every committed change, numbered, for resumable changefeeds.

Each write transaction appends one entry to its table's log *in the same LMDB transaction*,
so the log order is the commit order and a change that is durable (a hard write after its
fsync, or any commit once the OS has written its pages) is in the log too. Changes are
numbered per table from 1; a feed position is such a number (``server/feeds/resume.py``).

One named sub-database ``changelog`` holds every table's log, under three kinds of keys:

- ``E<table id, 16 bytes><first change number, 8 bytes>`` -> one entry: commit time and the
  changes of one transaction, each as the row bytes the writer already encoded (no second
  JSON encoding on the write path), and the table's row count after the transaction;
- ``T<table id>`` -> the next change number and the row count, written only when trimming
  empties the log (otherwise the newest entry tells both);
- ``S<table id>`` -> the table's own retention setting (JSON), when it has one.

A commit writes one key: its entry. Everything else is derived from the entries: the next
number and the table's row count (``rows``, what ``count()`` answers) from the newest one,
where the log starts from the oldest one and the count bound (``next - max_changes``: the
cut may fall inside an entry). That keeps the log's cost to a writer at one put into a
second B-tree, and the row count costs none of its own (a key of its own was one more
B-tree and page per commit; see BENCHMARKS.md). Data directories written before the count
moved here keep it in the catalog (``count\\0<table id>``) and their entries without it
(the header's count of changes without the ``COUNTED`` bit): that count is read until the
table's first write logs one (no downgrade: older servers do not read the new entries).

What the newest and oldest entries say is also kept in memory per table, taken over from
each transaction that writes the log when it commits (``committed``: the writer and
``Storage.transaction`` call it; an aborted transaction's figures are simply never taken
over). Entries are deleted in batches, once the log holds ``max_changes / 16`` changes more
than its bound, or when they pass ``max_age_seconds`` (as writes append, and in ``sweep``,
which the server runs every minute). The bytes of each log are counted once (lazily), then
kept current the same way.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lmdb
import orjson

from .catalog import COUNT_PREFIX
from .outbox import TableChanges
from .protocols import Env, Table

ENTRY = b"E"
TAIL = b"T"
AFTER_ENTRIES = b"\xff" * 8  # above any change number: seeks to the end of a table's entries
SETTING = b"S"
NO = struct.Struct(">Q")
HEAD = struct.Struct(">dI")  # commit time, number of changes (| COUNTED)
COUNTED = 0x8000_0000  # in HEAD's number of changes: the row count follows HEAD
ROWS = struct.Struct(">q")  # the table's row count after the entry's transaction
LENS = struct.Struct(">ii")  # byte lengths of old and new row, -1 for none
ONE = struct.Struct(">dIqii")  # HEAD, ROWS then LENS: an entry of one change
TAIL_VALUE = struct.Struct(">Qq")  # the next change number, the row count
NONE = -1
READ_CHUNK = 256  # entries read per read transaction while replaying
#: next change number, oldest entry's first number or None, its time, the table's row count
Ends = tuple[int, Any, float, int]


@dataclass(frozen=True)
class Limits:
    """How much of a table's log is kept: None means no bound of that kind."""

    max_changes: int | None = 100_000
    max_age_seconds: float | None = 86_400.0

    def to_json(self) -> dict:
        return {"max_age_seconds": self.max_age_seconds, "max_changes": self.max_changes}


@dataclass
class LogState:
    """A table's log counters: changes ``first_no .. next_no - 1`` are retained."""

    next_no: int = 1
    first_no: int = 1
    bytes: int = 0
    oldest_time: float = 0.0

    @property
    def last_no(self) -> int:
        return self.next_no - 1

    @property
    def changes(self) -> int:
        return self.next_no - self.first_no


def encode_entry(now: float, raws: list[tuple[bytes | None, bytes | None]], rows: int) -> bytes:
    """One transaction's changes as an entry value (rows as their stored bytes), with the
    table's row count after it."""
    parts = [HEAD.pack(now, COUNTED | len(raws)), ROWS.pack(rows)]
    pack = LENS.pack
    for old, new in raws:
        parts.append(pack(NONE if old is None else len(old), NONE if new is None else len(new)))
        if old is not None:
            parts.append(old)
        if new is not None:
            parts.append(new)
    return b"".join(parts)


def decode_entry(raw: bytes, skip: int = 0) -> Iterator[tuple[Any, Any]]:
    """The ``(old_row, new_row)`` changes of an entry, from its ``skip``-th on."""
    _, count = HEAD.unpack_from(raw)
    pos = HEAD.size
    if count & COUNTED:
        count ^= COUNTED
        pos += ROWS.size
    unpack = LENS.unpack_from
    loads = orjson.loads
    for i in range(count):
        lo, ln = unpack(raw, pos)
        pos += LENS.size
        old = new = None
        if i >= skip:
            old = None if lo == NONE else loads(raw[pos : pos + lo])
        pos += max(lo, 0)
        if i >= skip:
            new = None if ln == NONE else loads(raw[pos : pos + ln])
        pos += max(ln, 0)
        if i >= skip:
            yield old, new


class ChangeLog:
    """The change logs of every table of a ``Storage`` (``storage.changelog``)."""

    def __init__(self, storage: Env) -> None:
        self.storage = storage
        self.db = storage.env.open_db(b"changelog")
        self._triggers: dict[str, tuple[int | None, float | None]] = {}  # see _trigger
        self.defaults = Limits()
        self._settings: dict[str, Limits | None] = {}  # per-table settings, cached
        self._bytes: dict[str, int] = {}  # committed bytes per table log, once counted
        self._ends: dict[str, Ends] = {}  # committed (next no, oldest first no, time, rows)
        self._pending_txn: lmdb.Transaction | None = None
        self._pending: dict[str, int] = {}  # byte deltas of the open write transaction
        self._pending_ends: dict[str, Ends] = {}  # and its tables' new ends

    # -- the write path -------------------------------------------------------------------

    def record(self, txn: lmdb.Transaction, changes: TableChanges) -> int:
        """Append one transaction's changes of a table; returns the number of the first."""
        # On every write's path: kept lean (the commit's second B-tree costs enough).
        table, raws = changes.table, changes.raws
        tid = table.id
        if self._pending_txn is not txn:
            self._pending_txn, self._pending, self._pending_ends = txn, {}, {}
        pending_ends = self._pending_ends
        ends = pending_ends.get(tid) or self._ends.get(tid)
        if ends is None:
            ends = self._read_ends(txn, table)
        first, oldest_first, oldest_time, rows = ends
        rows += changes.rows
        now = time.time()
        key = ENTRY + table._prefix + NO.pack(first)
        n = len(raws)
        if n == 1:
            old, new = raws[0]
            ln = NONE if new is None else len(new)
            if old is None:
                value = ONE.pack(now, COUNTED | 1, rows, NONE, ln)
            else:
                value = ONE.pack(now, COUNTED | 1, rows, len(old), ln) + old
            if new is not None:
                value += new
        else:
            value = encode_entry(now, raws, rows)
        txn.put(key, value, True, True, False, self.db)  # positional: parsed faster
        size = len(value)
        # What the transaction may have added to the map (lmdb_store ``_room_left``): the
        # B-tree paths of each row and of the entry, and the bytes twice (rows and log).
        self.storage.room -= 16 + 2 * n + (size >> 11)
        pending = self._pending
        pending[tid] = pending.get(tid, 0) + len(key) + size
        if oldest_first is None:
            oldest_first, oldest_time = first, now
        next_no = first + n
        pending_ends[tid] = (next_no, oldest_first, oldest_time, rows)
        trigger = self._triggers.get(tid)
        if trigger is None:
            trigger = self._triggers[tid] = self._trigger(table)
        over, max_age = trigger
        if (over is not None and next_no - oldest_first > over) or (
            max_age is not None and oldest_time < now - max_age
        ):
            self._trim(txn, table, next_no, now, rows)
        return first

    def _trigger(self, table: Table) -> tuple[int | None, float | None]:
        """When a write trims: past the count bound by a sixteenth (batched deletes; the
        cut itself is exact when read), or once the oldest entry passes the age bound."""
        limits = self.limits(table)
        n = limits.max_changes
        return (None if n is None else n + max(1, n >> 4)), limits.max_age_seconds

    @property
    def defaults(self) -> Limits:
        """The server's limits (``rethought serve --changefeed-log-...``)."""
        return self._defaults

    @defaults.setter
    def defaults(self, limits: Limits) -> None:
        self._defaults = limits
        self._triggers.clear()

    def committed(self, txn: lmdb.Transaction) -> None:
        """``txn`` committed: its byte counts become the logs' (the writer calls this)."""
        if self.storage.coherence is not None:  # other processes: ``coherence.py``
            self.storage.coherence.committed(txn)
        if self._pending_txn is txn:
            for table_id, delta in self._pending.items():  # a table or two
                if table_id in self._bytes:
                    self._bytes[table_id] += delta
            self._ends.update(self._pending_ends)
            self._pending_txn = None  # the next transaction's record starts afresh

    def _join(self, txn: lmdb.Transaction) -> None:
        """Figures from here on belong to ``txn`` (an earlier transaction that never
        reported its commit aborted: forget its figures)."""
        if self._pending_txn is not txn:
            self._pending_txn, self._pending, self._pending_ends = txn, {}, {}

    def _trim(
        self, txn: lmdb.Transaction, table: Table, next_no: int, now: float, rows: int
    ) -> None:
        """Delete the entries the table's limits no longer keep (whole entries: the count
        bound's cut inside an entry is applied when the log is read); ``rows`` is the
        table's row count, which the tail key keeps once no entry does."""
        limits = self.limits(table)
        max_n, max_age = limits.max_changes, limits.max_age_seconds
        cut = next_no - max_n if max_n is not None else 0
        start = ENTRY + table._prefix
        cur = txn.cursor(db=self.db)
        if not cur.set_range(start):
            return
        emptied = False
        while True:
            key = cur.key()
            if key[:17] != start:
                emptied = True
                break
            raw = cur.value()
            at, count = HEAD.unpack_from(raw)
            end = NO.unpack_from(key, 17)[0] + (count & ~COUNTED)
            if not (end <= cut or (max_age is not None and at < now - max_age)):
                break
            self._join(txn)
            self._pending[table.id] = self._pending.get(table.id, 0) - len(key) - len(raw)
            if not cur.delete():
                emptied = True
                break
        if emptied:  # the numbering goes on from here
            txn.put(TAIL + table._prefix, TAIL_VALUE.pack(next_no, rows), db=self.db)
        self._join(txn)
        self._pending_ends[table.id] = self._read_ends(txn, table)

    # -- reads ----------------------------------------------------------------------------

    def state(self, table: Table) -> LogState:
        """The table's log as last committed: its numbers, bytes, oldest entry time."""
        with self.storage.env.begin(db=self.db) as txn:
            return self._state(txn, table)

    def _state(self, txn: lmdb.Transaction, table: Table) -> LogState:
        ends = self._ends.get(table.id)
        if ends is None:  # committed figures, as a read transaction sees them
            ends = self._ends[table.id] = self._read_ends(txn, table)
        next_no, oldest_first, oldest_time, _ = ends
        if oldest_first is None:
            oldest_first, oldest_time = next_no, 0.0
        max_n = self.limits(table).max_changes
        first = max(oldest_first, next_no - max_n) if max_n is not None else oldest_first
        return LogState(next_no, first, self.bytes(table), oldest_time)

    def rows(self, table: Table) -> int:
        """The table's row count as last committed (what each write logs with its entry)."""
        ends = self._ends.get(table.id)
        if ends is None:
            with self.storage.env.begin(db=self.db) as txn:
                ends = self._ends[table.id] = self._read_ends(txn, table)
        return ends[3]

    def last_no_stored(self, table: Table) -> int:
        """The number of the table's newest committed change (0 before its first), read
        from the log itself: what other processes appended is seen, the cache is not used."""
        with self.storage.env.begin(db=self.db) as txn:
            return self._read_ends(txn, table)[0] - 1

    def bytes(self, table: Table) -> int:
        """Bytes of the table's retained log entries (counted on first use)."""
        n = self._bytes.get(table.id)
        if n is None:
            start = ENTRY + table._prefix
            n = 0
            with self.storage.env.begin(db=self.db) as txn:
                cur = txn.cursor()
                if cur.set_range(start):
                    for key, raw in cur.iternext():
                        if key[:17] != start:
                            break
                        n += len(key) + len(raw)
            self._bytes[table.id] = n
        return n

    def read(self, table: Table, after: int, upto: int) -> tuple[list, int]:
        """Changes numbered ``after + 1 .. upto`` (at most a chunk of entries), as
        ``[(no, old, new)]``, and the first retained number (a caller checks it against
        ``after + 1``: a larger one means the changes it wanted were trimmed)."""
        out: list[tuple[int, Any, Any]] = []
        want = after + 1
        start = ENTRY + table._prefix
        with self.storage.env.begin(db=self.db) as txn:
            state = self._state(txn, table)
            if want < state.first_no or want > upto:
                return out, state.first_no
            cur = txn.cursor()
            if not _seek(cur, start, want):
                return out, state.first_no
            entries = 0
            while entries < READ_CHUNK:
                key = cur.key()
                if key[:17] != start:
                    break
                first = NO.unpack_from(key, 17)[0]
                if first > upto:
                    break
                raw = cur.value()
                skip = max(0, want - first)
                for i, (old, new) in enumerate(decode_entry(raw, skip)):
                    no = first + skip + i
                    if no > upto:
                        break
                    out.append((no, old, new))
                entries += 1
                if not cur.next():
                    break
        return out, state.first_no

    # -- retention settings ---------------------------------------------------------------

    def setting(self, table: Table) -> Limits | None:
        """The table's own setting (None: the server defaults apply)."""
        if table.id not in self._settings:
            with self.storage.env.begin(db=self.db) as txn:
                raw = txn.get(SETTING + table._prefix)
            self._settings[table.id] = None if raw is None else Limits(**orjson.loads(raw))
        return self._settings[table.id]

    def limits(self, table: Table) -> Limits:
        """What is kept of the table's log: its own setting, else the server defaults."""
        own = self.setting(table)
        return self.defaults if own is None else own

    def set_setting(self, table: Table, limits: Limits | None) -> None:
        """Set (None: remove) the table's own retention setting, then trim to it."""
        key = SETTING + table._prefix
        with self.storage.transaction() as txn:
            if limits is None:
                txn.delete(key, db=self.db)
            else:
                txn.put(key, orjson.dumps(limits.to_json()), db=self.db)
            self._settings[table.id] = limits
            self._triggers.pop(table.id, None)
            self._trim_in(txn, table)
        self.storage.sync()

    def sweep(self, tables: list[Table]) -> None:
        """Trim every table's log to its limits (the age bound goes on as time passes)."""
        with self.storage.transaction() as txn:
            for table in tables:
                if not table.dropped:
                    self._trim_in(txn, table)

    def trim(self, table: Table) -> None:
        """Trim one table's log to its limits now (before a resume checks a position)."""
        with self.storage.transaction() as txn:
            self._trim_in(txn, table)

    def _trim_in(self, txn: lmdb.Transaction, table: Table) -> None:
        next_no, oldest_first, oldest_time, rows = self._read_ends(txn, table)
        if oldest_first is None:
            return
        limits = self.limits(table)
        now = time.time()
        max_n, max_age = limits.max_changes, limits.max_age_seconds
        if (max_n is not None and next_no - oldest_first > max_n) or (
            max_age is not None and oldest_time < now - max_age
        ):
            self._trim(txn, table, next_no, now, rows)

    def _read_ends(self, txn: lmdb.Transaction, table: Table) -> Ends:
        """The table's ``Ends`` as ``txn`` sees them: from its newest and oldest entries,
        else from its tail key (no entry kept), else a new log's."""
        prefix = table._prefix
        start = ENTRY + prefix
        cur = txn.cursor(db=self.db)
        found = cur.prev() if cur.set_range(start + AFTER_ENTRIES) else cur.last()
        if not found or cur.key()[:17] != start:
            raw = cur.get(TAIL + prefix)
            if raw is not None and len(raw) == TAIL_VALUE.size:
                next_no, rows = TAIL_VALUE.unpack(raw)
            else:
                next_no = NO.unpack(raw)[0] if raw else 1
                rows = self._catalog_rows(txn, prefix)
            return next_no, None, 0.0, rows
        raw = cur.value()
        count = HEAD.unpack_from(raw)[1]
        if count & COUNTED:
            count ^= COUNTED
            rows = ROWS.unpack_from(raw, HEAD.size)[0]
        else:
            rows = self._catalog_rows(txn, prefix)
        next_no = NO.unpack_from(cur.key(), 17)[0] + count
        cur.set_range(start)
        at = HEAD.unpack_from(cur.value())[0]
        return next_no, NO.unpack_from(cur.key(), 17)[0], at, rows

    def _catalog_rows(self, txn: lmdb.Transaction, prefix: bytes) -> int:
        """The row count where servers before the log kept it: the catalog (0 if none)."""
        raw = txn.get(COUNT_PREFIX + prefix, None, self.storage.catalog_db)
        return ROWS.unpack(raw)[0] if raw else 0

    # -- dropping -------------------------------------------------------------------------

    def drop(self, txn: lmdb.Transaction, table: Table) -> None:
        """Delete the table's whole log (inside the transaction dropping the table)."""
        prefix = table._prefix
        cur = txn.cursor(db=self.db)
        start = ENTRY + prefix
        if cur.set_range(start):
            while cur.key()[:17] == start:
                if not cur.delete():
                    break
        txn.delete(TAIL + prefix, db=self.db)
        txn.delete(SETTING + prefix, db=self.db)
        self._settings.pop(table.id, None)
        self._triggers.pop(table.id, None)
        self._bytes.pop(table.id, None)
        self._ends.pop(table.id, None)
        self._pending_ends.pop(table.id, None)


def _seek(cur: lmdb.Cursor, start: bytes, want: int) -> bool:
    """Put ``cur`` on the entry of log ``start`` holding change ``want`` (the last entry
    whose first change is at most ``want``); False when the log has none."""
    found = cur.set_range(start + NO.pack(want))
    if found and cur.key()[:17] == start and NO.unpack_from(cur.key(), 17)[0] == want:
        return True
    back = cur.prev() if found else cur.last()
    if back and cur.key()[:17] == start:
        return True
    return cur.set_range(start) and cur.key()[:17] == start
