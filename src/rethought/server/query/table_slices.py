"""Selections read straight from a table's indexes: ``TableSlice`` (a range of one index, as
``between`` and an indexed ``order_by`` make it), and the checks on keys and index names that
the table, write, join and geo terms share.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ... import datum
from ...datum import keys
from ...datum.jsonfmt import trunc_pretty
from ...errors import ReqlOpFailedError, ReqlQueryLogicError
from ..runtime import values


def check_primary_key(key: Any) -> Any:
    """Reject values RethinkDB cannot use as a primary key, with its messages."""
    t = type(key)
    if key is None or (t is dict and datum.REQL_TYPE not in key):
        raise ReqlQueryLogicError(
            "Primary keys must be either a number, string, bool, pseudotype or array "
            f"(got type {datum.type_name(key)}):\n{trunc_pretty(key)}"
        )
    # Size (measured on RethinkDB's own key serialization) and NUL bytes.
    keys.check_primary_key(key)
    return key


def index_missing(table: values.TableValue, name: str) -> ReqlOpFailedError:
    return ReqlOpFailedError(
        f"Index `{name}` was not found on table `{table.db.name}.{table.name}`."
    )


def require_index(table: values.TableValue, name: str, geo_ok: bool = False) -> None:
    """The index must exist; only get_nearest / get_intersecting (``geo_ok``) may read a
    geospatial one."""
    store = table.store
    if name == store.primary_key:
        return
    if name not in store.index_list():
        raise index_missing(table, name)
    info = store.index_info(name)
    if not geo_ok and info is not None and info.geo:
        raise ReqlQueryLogicError(
            f"Index `{name}` is a geospatial index.  Only get_nearest and "
            "get_intersecting can use a geospatial index."
        )


class TableSlice(values.Selection):
    """``table.between(...)`` (and indexed ``order_by`` on a table): a range of one index.

    ``index`` None means the primary key. Other term families may read the attributes to
    combine an indexed order_by with a between, as RethinkDB does.
    """

    type_name = "TABLE_SLICE"

    def __init__(
        self,
        table: values.TableValue,
        index: str | None = None,
        lo: Any = datum.MINVAL,
        hi: Any = datum.MAXVAL,
        lo_open: bool = False,
        hi_open: bool = True,
        reverse: bool = False,
        ordered: bool = False,
    ) -> None:
        super().__init__(table, ())
        self.index = index
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.reverse = reverse
        self.ordered = ordered
        self.bounded = lo is not datum.MINVAL or hi is not datum.MAXVAL
        # A between() was applied, even an unbounded one: a second one is an error.
        self.has_between = self.bounded

    def check_index(self) -> None:
        """RethinkDB looks the index up when the slice is read, not when between /
        order_by build it (so ``info()`` of a slice on a missing index works)."""
        if self.index is not None:
            require_index(self.table, self.index)

    def __iter__(self) -> Iterator[Any]:
        self.check_index()
        store = self.table.store
        if datum.compare(self.lo, self.hi) > 0:
            return iter(())
        if self.index is None or self.index == store.primary_key:
            return iter(store.scan(self.lo, self.hi, self.lo_open, self.hi_open, self.reverse))
        rows = store.index_scan(
            self.index, self.lo, self.hi, self.lo_open, self.hi_open, self.reverse
        )
        return (row for _, row in rows)


def raw_rows(value: Any) -> Iterator[Any] | None:
    """A stream's rows as stored (their JSON bytes), for a client reading a whole
    table or a primary-key range with nothing applied; None for anything else."""
    t = type(value)
    if t is values.TableValue:
        return value.store.scan(raw=True) if _takes_raw(value.store) else None
    if t is TableSlice and _takes_raw(value.table.store):
        store = value.table.store
        if value.index is None or value.index == store.primary_key:
            if datum.compare(value.lo, value.hi) > 0:
                return iter(())
            return store.scan(
                value.lo, value.hi, value.lo_open, value.hi_open, value.reverse, raw=True
            )
    return None


def _takes_raw(store: Any) -> bool:
    # LMDB tables (also behind their permission guard); not system tables.
    return getattr(store, "RAW_SCAN", False) is True
