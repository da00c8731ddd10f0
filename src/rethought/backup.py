"""``rethought backup DIR``: a consistent, compacted copy of a (running) server's data.

LMDB lets several processes use one environment: each reader registers in the lock file
(``lock.mdb``) and the writer never reuses a page a registered reader may still see. So the
backup runs in its own process, needing nothing from the server: it opens the data directory
read-only, begins one read transaction (the backup's moment: every write committed before it,
hence everything the server acknowledged before the backup began, is in the copy, and nothing
committed after), and writes that snapshot with LMDB's own environment copy with compaction
(``mdb_env_copy2(MDB_CP_COMPACT)``: live pages only, renumbered, free pages dropped).

Readers never wait for anything in LMDB and the writer does not wait for readers, so the
server goes on serving reads and writes throughout; the cost is that pages freed while the
copy runs cannot be reused until it ends, so the data file may grow during a long backup.

The copy is written to ``<DIR>.partial-<pid>`` beside the target, flushed to disk, then renamed
to ``DIR``: an interrupted backup never leaves a half-written ``DIR``.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import lmdb

__all__ = ["BackupError", "BackupResult", "backup", "estimate_bytes", "TerminalProgress"]

DATA_FILE = "data.mdb"
# Address space for the read-only map: the server grows its map as data grows, and a reader
# whose map is smaller than the used part of the file cannot begin a transaction.
_MIN_MAP = 1 << 36


class BackupError(Exception):
    """The backup cannot be taken (bad source or target); the message says why."""


@dataclass
class BackupResult:
    """What a finished backup wrote."""

    target: str
    bytes: int  # size of the copy (compacted)
    source_bytes: int  # size of the source data file
    seconds: float
    txn_id: int  # the LMDB transaction the copy shows (the last committed one at its start)

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else float("inf")


def _check_source(source: str) -> str:
    if not os.path.isdir(source):
        raise BackupError(f"the data directory {source} does not exist")
    data = os.path.join(source, DATA_FILE)
    if not os.path.isfile(data):
        raise BackupError(f"{source} is not a Rethought data directory (no {DATA_FILE} in it)")
    return data


def _check_target(target: str) -> str:
    """The directory the partial copy goes to (beside ``target``); refuses a bad target."""
    if os.path.lexists(target):
        if not os.path.isdir(target):
            raise BackupError(f"the target {target} exists and is not a directory")
        if os.listdir(target):
            raise BackupError(f"the target directory {target} is not empty")
    parent = os.path.dirname(target) or "."
    if not os.path.isdir(parent):
        raise BackupError(f"cannot create {target}: the directory {parent} does not exist")
    partial = f"{target}.partial-{os.getpid()}"
    try:
        os.mkdir(partial)
        probe = os.path.join(partial, ".probe")
        with open(probe, "wb") as f:
            f.write(b"x")
        os.remove(probe)
    except OSError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(f"cannot write to {parent}: {e.strerror}") from None
    return partial


def estimate_bytes(env: lmdb.Environment, txn: lmdb.Transaction) -> int:
    """Size of a compacted copy of ``txn``'s snapshot: the pages in use by every database."""
    psize = env.stat()["psize"]

    def pages(st: dict) -> int:
        return int(st["branch_pages"] + st["leaf_pages"] + st["overflow_pages"])

    total = pages(txn.stat(env.open_db(None, txn=txn))) + 2  # the main database, 2 meta pages
    for name, _ in txn.cursor():
        try:
            db = env.open_db(name, txn=txn, create=False)
        except lmdb.Error:  # a plain key of the main database, not a sub-database
            continue
        total += pages(txn.stat(db))
    return total * psize


def _open_snapshot(source: str) -> tuple[lmdb.Environment, lmdb.Transaction]:
    size = os.path.getsize(os.path.join(source, DATA_FILE))
    try:
        env = lmdb.open(
            source,
            readonly=True,
            lock=True,  # register as a reader: the server then keeps our pages intact
            max_dbs=64,
            map_size=max(_MIN_MAP, 4 * size),
            readahead=False,
        )
    except lmdb.Error as e:
        raise BackupError(f"cannot open the data in {source}: {e}") from None
    for _ in range(3):
        try:
            return env, env.begin(buffers=False)
        except lmdb.MapResizedError:  # the server grew past our map meanwhile
            env.set_mapsize(0)
    env.close()
    raise BackupError(f"the data in {source} keeps growing past the map; try again")


def backup(
    source: str,
    target: str,
    progress: Callable[[int, int], None] | None = None,
    interval: float = 0.2,
) -> BackupResult:
    """Copy the data directory ``source`` (served or not) to the new directory ``target``.

    ``progress(done_bytes, expected_bytes)`` is called from a helper thread every ``interval``
    seconds while the copy runs, and once at the end. Raises :class:`BackupError`.
    """
    source, target = os.path.abspath(source), os.path.abspath(target)
    source_file = _check_source(source)
    partial = _check_target(target)
    started = time.monotonic()
    try:
        env, txn = _open_snapshot(source)
        try:
            expected = estimate_bytes(env, txn)
            txn_id = txn.id()
            written = os.path.join(partial, DATA_FILE)
            done = threading.Event()
            watcher = None
            if progress is not None:
                watcher = threading.Thread(
                    target=_watch, args=(written, expected, progress, done, interval), daemon=True
                )
                watcher.start()
            try:
                env.copy(partial, compact=True, txn=txn)
            finally:
                done.set()
                if watcher is not None:
                    watcher.join()
        finally:
            txn.abort()
            env.close()
        _fsync(written)
        if os.path.isdir(target):  # an empty directory given as the target
            os.rmdir(target)
        os.rename(partial, target)
        _fsync(os.path.dirname(target))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    size = os.path.getsize(os.path.join(target, DATA_FILE))
    if progress is not None:
        progress(size, size)
    return BackupResult(
        target=target,
        bytes=size,
        source_bytes=os.path.getsize(source_file),
        seconds=time.monotonic() - started,
        txn_id=txn_id,
    )


def _watch(
    path: str,
    expected: int,
    progress: Callable[[int, int], None],
    done: threading.Event,
    interval: float,
) -> None:
    while not done.wait(interval):
        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0
        progress(min(size, expected), expected)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TerminalProgress:
    """``progress`` for a terminal: one line rewritten in place (percent, MB, MB/s)."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, expected: int) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        pct = 100.0 * done / expected if expected else 100.0
        bar = "=" * int(pct / 2.5)
        self.stream.write(
            f"\r  [{bar:<40}] {pct:5.1f}%  {done / 1e6:,.1f} of {expected / 1e6:,.1f} MB"
            f"  {done / 1e6 / elapsed:,.1f} MB/s\x1b[K"
        )
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
