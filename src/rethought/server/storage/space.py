"""Write failures of the file system and the memory map, as ReQL errors.

A commit on a full file system fails inside LMDB (``mdb_txn_commit``: ENOSPC, or EIO for a
short write, which is what a full disk gives); the memory map may fail to grow (the address
space or RLIMIT_AS is exhausted). LMDB leaves the environment as of the last commit, so reads
go on and writes work again once there is room. The client gets a ``ReqlOpFailedError`` saying
why, in RethinkDB's "Cannot perform write: ..." form, instead of an internal error.
"""

from __future__ import annotations

import errno
import logging
import mmap
import os

import lmdb

from ...errors import ReqlOpFailedError

log = logging.getLogger("rethought.storage")

#: Below this many free bytes a failed write is put down to the full file system.
LOW_SPACE = 16 << 20


def free_bytes(path: str) -> int | None:
    """Bytes available to us on the file system holding ``path`` (None if unknown)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def write_failure(path: str, exc: BaseException) -> ReqlOpFailedError:
    """The ReQL error for LMDB error ``exc`` of a write to the environment at ``path``."""
    text = str(exc)
    reason = text.split(": ", 1)[-1] if ": " in text else text
    free = free_bytes(path)
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "No space left" in text or (free is not None and free < LOW_SPACE):
        message = (
            "Cannot perform write: the file system holding the data directory is full "
            f"({free if free is not None else 'unknown'} bytes free in `{path}`). "
            "Free some space and retry; reads still work."
        )
    elif isinstance(exc, lmdb.MapFullError | lmdb.MemoryError) or code == errno.ENOMEM:
        message = (
            "Cannot perform write: the storage engine's memory map cannot grow "
            f"({reason}). Reads still work."
        )
    else:
        message = f"Cannot perform write: the storage engine could not write to disk ({reason})."
    log.error("%s", message)
    return ReqlOpFailedError(message)


def commit(txn: lmdb.Transaction, path: str) -> None:
    """Commit ``txn``; a failure of the disk becomes a ReqlOpFailedError (txn is aborted)."""
    try:
        txn.commit()
    except lmdb.MapFullError:
        raise  # the caller grows the map and replays
    except lmdb.Error as e:
        raise write_failure(path, e) from None


def check_map_room(path: str, extra: int) -> None:
    """Raise the map-cannot-grow ReqlOpFailedError unless ``extra`` more bytes of address
    space can be mapped (an anonymous, unreserved mapping of that size, unmapped at once)."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0)
    try:
        probe = mmap.mmap(-1, extra, flags=flags, prot=mmap.PROT_READ)
    except OSError as e:
        raise write_failure(path, lmdb.MemoryError(f"mmap: {e.strerror}")) from None
    probe.close()
