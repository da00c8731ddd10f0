"""Which asyncio event loop ``rethought serve`` runs on: ``--event-loop auto|uvloop|asyncio``.

The server is asyncio code; uvloop (libuv) runs the same code with a loop written in C. On
a trivial query the loop's own turn, the socket reads and the transport writes are about a
third of the server's work, and uvloop takes about 26,000 instructions per query off that
(BENCHMARKS.md, issue 16). ``auto`` (the default) uses uvloop where it is installed (it is
a dependency on Linux and macOS) and the standard loop elsewhere; ``asyncio`` forces the
standard loop, e.g. to rule the loop out when chasing a problem.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["CHOICES", "run", "loop_name"]

CHOICES = ("auto", "uvloop", "asyncio")


def _uvloop() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def loop_name(choice: str) -> str:
    """The loop ``choice`` resolves to here: "uvloop" or "asyncio"; ValueError if
    ``choice`` is "uvloop" and it is not installed."""
    if choice not in CHOICES:
        raise ValueError(f"unknown event loop {choice!r} (choose from {', '.join(CHOICES)})")
    if choice == "asyncio":
        return "asyncio"
    if _uvloop() is not None:
        return "uvloop"
    if choice == "uvloop":
        raise ValueError("--event-loop uvloop: uvloop is not installed (pip install uvloop)")
    return "asyncio"


def run(main: Coroutine[Any, Any, Any], choice: str = "auto") -> Any:
    """``asyncio.run(main)`` on the loop ``choice`` names."""
    if loop_name(choice) == "uvloop":
        uvloop = _uvloop()
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)
