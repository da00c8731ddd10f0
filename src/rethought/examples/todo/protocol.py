"""The WebSocket messages a page may send, checked before anything reaches the database.

A page sends one JSON object per message::

    {"op": "add", "text": "..."}
    {"op": "check" | "uncheck" | "delete", "id": "..."}
    {"op": "edit", "id": "...", "text": "..."}

and may add ``"ref"`` (a string or number it chooses), which the server echoes in the error
it answers, so that the page can tell which of its requests failed. Everything else is
refused with an error to that page only; nothing is written.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

MAX_TEXT = 500
# Ids are the database's UUIDs; anything much longer is not an id of ours.
MAX_ID = 128

OPS = {
    "add": ("text",),
    "check": ("id",),
    "uncheck": ("id",),
    "delete": ("id",),
    "edit": ("id", "text"),
}


class Invalid(ValueError):
    """A message that must not be carried out; its text is shown to the page."""


def _no_constant(name: str):
    # json.loads accepts NaN and Infinity, which are not JSON and no database value.
    raise Invalid(f"Malformed message: {name} is not a JSON value.")


@dataclass(frozen=True)
class Op:
    """One checked request: ``text`` is trimmed and of valid length when the op has one."""

    op: str
    id: str | int | float | None = None
    text: str | None = None
    ref: str | int | float | None = None


def clean_text(value) -> str:
    """The text to store: a string, trimmed, not empty, at most MAX_TEXT characters."""
    if not isinstance(value, str):
        raise Invalid("Malformed message: text must be a string.")
    text = value.strip()
    if not text:
        raise Invalid("An item's text cannot be empty.")
    if len(text) > MAX_TEXT:
        raise Invalid(f"An item's text is at most {MAX_TEXT} characters (this one has {len(text)}).")
    return text


def read_ref(message) -> str | int | float | None:
    """The message's ``ref`` when it is usable as one, else None (never an error)."""
    if isinstance(message, dict):
        ref = message.get("ref")
        if isinstance(ref, float) and not math.isfinite(ref):
            return None
        if isinstance(ref, (str, int, float)) and not isinstance(ref, bool):
            return ref if not isinstance(ref, str) else ref[:64]
    return None


def parse(raw: str) -> Op:
    """Check one WebSocket text message; raise Invalid saying what is wrong with it."""
    try:
        message = json.loads(raw, parse_constant=_no_constant)
    except Invalid:
        raise
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise Invalid("Malformed message: not JSON.") from None
    if not isinstance(message, dict):
        raise Invalid("Malformed message: expected a JSON object.")
    op = message.get("op")
    if not isinstance(op, str) or op not in OPS:
        raise Invalid(f"Malformed message: unknown op {json.dumps(op)[:40]}.")
    fields = OPS[op]
    extra = set(message) - set(fields) - {"op", "ref"}
    if extra:
        raise Invalid(f"Malformed message: unexpected field {sorted(extra)[0]!r}.")
    for name in fields:
        if name not in message:
            raise Invalid(f"Malformed message: {op!r} needs {name!r}.")
    item_id = None
    if "id" in fields:
        item_id = message["id"]
        # The app's own items have UUID strings; another client may have used numbers.
        valid = (isinstance(item_id, str) and 0 < len(item_id) <= MAX_ID) or (
            isinstance(item_id, (int, float)) and not isinstance(item_id, bool)
        )
        if not valid:
            raise Invalid("Malformed message: id must be an item's id (a string or a number).")
    text = clean_text(message["text"]) if "text" in fields else None
    return Op(op, item_id, text, read_ref(message))
