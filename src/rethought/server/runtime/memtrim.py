"""Give memory freed after a peak back to the OS (glibc only).

glibc keeps what Python frees in its heap; a live chunk near the heap's top stops its own
trim, so after a peak (say 300 streams' first batches at once) the server held 2.89 GB of
RssAnon with 9 MB in use. ``malloc_trim(0)`` returns the free pages (2.89 GB -> 34 MB).
Every ``interval`` seconds, when glibc holds more than ``threshold`` bytes free, trim.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from typing import Any

INTERVAL = 10.0
THRESHOLD = 64 * 1024 * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _libc() -> Any:
    """glibc with mallinfo2 and malloc_trim (2.33+), or None (musl, macOS, Windows)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


def free_bytes(libc: Any) -> int:
    """Bytes glibc holds free (not given back to the OS)."""
    return int(libc.mallinfo2().fordblks)


def trim_if_needed(libc: Any, threshold: int = THRESHOLD) -> bool:
    """Trim when more than ``threshold`` bytes are free; whether it did."""
    if free_bytes(libc) <= threshold:
        return False
    libc.malloc_trim(0)
    return True


async def trim_periodically(interval: float = INTERVAL, threshold: int = THRESHOLD) -> None:
    """Run for the server's life (cancelled at close); returns at once without glibc."""
    libc = _libc()
    if libc is None:
        return
    while True:
        await asyncio.sleep(interval)
        trim_if_needed(libc, threshold)
