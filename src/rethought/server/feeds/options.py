"""The optargs of ``changes()`` (squash, changefeed_queue_size, include_*), checked as
RethinkDB checks them."""

from __future__ import annotations

from typing import Any

from ...errors import ReqlQueryLogicError
from ..runtime import values


class FeedOptions:
    """The optargs of ``changes()``, validated as RethinkDB validates them."""

    __slots__ = (
        "squash",
        "queue_size",
        "include_initial",
        "include_states",
        "include_offsets",
        "include_types",
        "include_positions",
        "resume_from",
    )

    def __init__(self, opts: dict[str, Any]) -> None:
        squash = opts.get("squash", False)
        if type(squash) is bool:
            self.squash: float | bool = squash
        elif type(squash) in (int, float):
            if squash < 0:
                raise ReqlQueryLogicError(
                    "Expected BOOL or a positive NUMBER but found a negative NUMBER."
                )
            self.squash = float(squash)
        else:
            raise ReqlQueryLogicError(
                f"Expected BOOL or NUMBER but found {values.type_name(squash)}."
            )
        size = opts.get("changefeed_queue_size", 100_000)
        size = values.as_int(size)
        if size < 1:
            raise ReqlQueryLogicError(f"Changefeed queue size must be at least 1, got {size}.")
        self.queue_size = size
        self.include_initial = _flag(opts, "include_initial")
        self.include_states = _flag(opts, "include_states")
        self.include_offsets = _flag(opts, "include_offsets")
        self.include_types = _flag(opts, "include_types")
        # Ours (resumable feeds, feeds/resume.py): checked there.
        self.resume_from = opts.get("resume_from")
        self.include_positions = _flag(opts, "include_positions") or "resume_from" in opts


def _flag(opts: dict[str, Any], name: str) -> bool:
    v = opts.get(name, False)
    return values.as_bool(v)
