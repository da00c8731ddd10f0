"""The change log's settings and figures as the system tables show them.

- ``table_config``: a table with its own retention setting shows it as
  ``changefeed_log: {max_changes, max_age_seconds}`` (a table without one shows exactly
  RethinkDB's document); ``config().update({"changefeed_log": {...}})`` sets it (keys left out
  take the server defaults current at that moment; ``null`` as a bound means none of that
  kind); ``changefeed_log: null`` removes it (back to the server defaults).
- ``stats`` (the ``table_server`` rows): ``storage_engine.changefeed_log`` with the bytes,
  the number of retained changes and the limits in effect.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...datum.jsonfmt import dumps
from ...errors import ReqlOpFailedError
from ..storage.changelog import Limits
from ..storage.table import TableStore

FIELD = "changefeed_log"
KEYS = ("max_age_seconds", "max_changes")
SWEEP_EVERY = 60.0  # seconds between age trims of every table's log

log = logging.getLogger("rethought")


def config_field(store: Any) -> dict:
    """``{FIELD: setting}`` for a table that has its own setting, else ``{}``."""
    if not isinstance(store, TableStore):
        return {}
    own = store._storage.changelog.setting(store)
    return {} if own is None else {FIELD: own.to_json()}


def parse(value: Any, defaults: Limits) -> Limits | None:
    """A ``changefeed_log`` value written to ``table_config``, checked as RethinkDB checks
    its fields (``In `field`: ...``); None removes the table's own setting."""
    if value is None:
        return None
    if type(value) is not dict:
        raise ReqlOpFailedError(f"In `{FIELD}`: Expected an object or null, got: {dumps(value)}")
    extra = sorted(set(value) - set(KEYS))
    if extra:
        raise ReqlOpFailedError(f"In `{FIELD}`: Unexpected key(s) `{'`, `'.join(extra)}`.")
    n = value.get("max_changes", defaults.max_changes)
    if n is not None and (type(n) not in (int, float) or n != int(n) or n < 1):
        raise ReqlOpFailedError(
            f"In `{FIELD}.max_changes`: Expected a positive integer or null, got: {dumps(n)}"
        )
    age = value.get("max_age_seconds", defaults.max_age_seconds)
    if age is not None and (type(age) not in (int, float) or age <= 0):
        raise ReqlOpFailedError(
            f"In `{FIELD}.max_age_seconds`: Expected a positive number or null, got: {dumps(age)}"
        )
    return Limits(None if n is None else int(n), None if age is None else float(age))


def apply(store: TableStore, old_row: dict, new_row: dict) -> None:
    """A ``table_config`` write: set or remove the table's setting when it changed."""
    if new_row.get(FIELD) == old_row.get(FIELD):
        return
    changelog = store._storage.changelog
    changelog.set_setting(store, parse(new_row.get(FIELD), changelog.defaults))


def stats_field(store: Any) -> dict:
    """The ``changefeed_log`` part of a ``table_server`` stats row."""
    if not isinstance(store, TableStore):
        return {}
    changelog = store._storage.changelog
    state = changelog.state(store)
    return {
        FIELD: {
            "bytes": state.bytes,
            "changes": state.changes,
            "last_change": state.last_no,
            **changelog.limits(store).to_json(),
        }
    }


async def sweep_periodically(storage: Any, every: float = SWEEP_EVERY) -> None:
    """Trim aged changes of every table's log now and then (writes trim as they go, but an
    idle table's log must age too)."""
    while True:
        await asyncio.sleep(every)
        try:
            storage.changelog.sweep(storage.tables())
        except Exception:  # a failed sweep is retried at the next tick; the server goes on
            log.exception("change log sweep failed")
