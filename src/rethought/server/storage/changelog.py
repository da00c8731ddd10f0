"""The per-table change log: every committed change, numbered, for resumable changefeeds.

Each write transaction appends one entry to its table's log *in the same LMDB transaction*,
so the log order is the commit order and a change that is durable (a hard write after its
fsync, or any commit once the OS has written its pages) is in the log too. Changes are
numbered per table from 1; a feed position is such a number (``server/feed_resume.py``).

One named sub-database ``changelog`` holds every table's log, under three kinds of keys:

- ``E<table id, 16 bytes><first change number, 8 bytes>`` -> one entry: commit time and the
  changes of one transaction, each as the row bytes the writer already encoded (no second
  JSON encoding on the write path: that keeps the log cheap);
- ``E<table id><8 bytes 0xff>`` -> counters: next change number, first retained change number,
  bytes of the retained entries, commit time of the oldest retained entry (keyed right after
  the newest entry, so each commit usually dirties one leaf page of the log, not two);
- ``S<table id>`` -> the table's own retention setting (JSON), when it has one.

Retention (``Limits``): at most ``max_changes`` changes and/or none older than
``max_age_seconds``, trimmed as writes append and by ``sweep`` (the server runs it
periodically). Trimming by count may cut inside an entry: the counter of the first retained
change says where the log logically starts.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lmdb
import orjson

from .protocols import Env, Table

ENTRY = b"E"
AFTER_ENTRIES = b"\xff" * 8
SETTING = b"S"
NO = struct.Struct(">Q")
HEAD = struct.Struct(">dI")  # commit time, number of changes
LENS = struct.Struct(">ii")  # byte lengths of old and new row, -1 for none
COUNTERS = struct.Struct(">QQQd")  # next no, first retained no, bytes, oldest entry time
NONE = -1
READ_CHUNK = 256  # entries read per read transaction while replaying


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

    def pack(self) -> bytes:
        return COUNTERS.pack(self.next_no, self.first_no, self.bytes, self.oldest_time)

    @classmethod
    def unpack(cls, raw: bytes | None) -> LogState:
        return cls() if raw is None else cls(*COUNTERS.unpack(raw))


def encode_entry(now: float, raws: list[tuple[bytes | None, bytes | None]]) -> bytes:
    """One transaction's changes as an entry value (rows as their stored bytes)."""
    parts = [HEAD.pack(now, len(raws))]
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
        self.defaults = Limits()  # the server's (``rethought serve --changefeed-log-...``)
        self._settings: dict[str, Limits | None] = {}  # per-table settings, cached

    # -- the write path -------------------------------------------------------------------

    def record(self, txn: lmdb.Transaction, table: Table, raws: list[tuple[Any, Any]]) -> int:
        """Append one transaction's changes; returns the number of its first change."""
        prefix = table._prefix
        mkey = ENTRY + prefix + AFTER_ENTRIES
        state = LogState.unpack(txn.get(mkey, db=self.db))
        first = state.next_no
        now = time.time()
        key = ENTRY + prefix + NO.pack(first)
        value = encode_entry(now, raws)
        txn.put(key, value, db=self.db)
        if state.changes == 0:
            state.oldest_time = now
        state.next_no += len(raws)
        state.bytes += len(key) + len(value)
        self._trim(txn, table, state, now)
        txn.put(mkey, state.pack(), db=self.db)
        return first

    def _trim(self, txn: lmdb.Transaction, table: Table, state: LogState, now: float) -> None:
        """Drop what the table's limits no longer keep (whole entries; a count bound may
        also move the first retained change inside the oldest entry)."""
        limits = self.limits(table)
        max_n, max_age = limits.max_changes, limits.max_age_seconds
        over_count = max_n is not None and state.changes > max_n
        too_old = max_age is not None and state.changes and state.oldest_time < now - max_age
        if not over_count and not too_old:
            return
        start = ENTRY + table._prefix
        cur = txn.cursor(db=self.db)
        if not cur.set_range(start):
            return
        while True:
            key = cur.key()
            if key[:17] != start or key[17:] == AFTER_ENTRIES:
                state.first_no = state.next_no
                return
            raw = cur.value()
            at, count = HEAD.unpack_from(raw)
            first = NO.unpack_from(key, 17)[0]
            end = first + count  # one past the entry's last change
            old = max_age is not None and at < now - max_age
            keep_from = state.next_no - max_n if max_n is not None else 0
            if old or end <= keep_from:
                state.bytes -= len(key) + len(raw)
                state.first_no = end
                if not cur.delete():
                    state.first_no = state.next_no
                    return
                continue
            state.oldest_time = at
            state.first_no = max(state.first_no, keep_from, first)
            return

    # -- reads ----------------------------------------------------------------------------

    def state(self, table: Table) -> LogState:
        """The table's log counters as last committed."""
        with self.storage.env.begin(db=self.db) as txn:
            return LogState.unpack(txn.get(ENTRY + table._prefix + AFTER_ENTRIES))

    def read(self, table: Table, after: int, upto: int) -> tuple[list, int]:
        """Changes numbered ``after + 1 .. upto`` (at most a chunk of entries), as
        ``[(no, old, new)]``, and the first retained number (a caller checks it against
        ``after + 1``: a larger one means the changes it wanted were trimmed)."""
        out: list[tuple[int, Any, Any]] = []
        want = after + 1
        start = ENTRY + table._prefix
        with self.storage.env.begin(db=self.db) as txn:
            state = LogState.unpack(txn.get(start + AFTER_ENTRIES))
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
        mkey = ENTRY + table._prefix + AFTER_ENTRIES
        raw = txn.get(mkey, db=self.db)
        if raw is None:
            return
        state = LogState.unpack(raw)
        self._trim(txn, table, state, time.time())
        new = state.pack()
        if new != raw:
            txn.put(mkey, new, db=self.db)

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
        txn.delete(SETTING + prefix, db=self.db)
        self._settings.pop(table.id, None)


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
