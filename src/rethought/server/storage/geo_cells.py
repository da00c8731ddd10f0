"""Grid cells over geo index entries: the prefilter of get_intersecting / get_nearest.

Every entry of a geo index is also filed in the ``geo`` sub-database under the cells of a
quadtree over longitude / latitude that its bounding box (``geo_bounds.shape_box``) meets:

- level ``l`` (0 .. ``MAX_LEVEL``) has ``2^(l+1)`` by ``2^l`` cells of ``180 / 2^l`` degrees;
- an entry goes to the finest level where its box meets at most ``ENTRY_CELLS`` cells (a
  point to one cell of ``MAX_LEVEL``, a continent to a few coarse ones), so each entry has
  a handful of cell records whatever its size;
- a cell's key is its level and its Morton code (longitude and latitude bits interleaved),
  so the cells of a level under one coarser cell form one contiguous key range.

Record: key ``index id (16 bytes) + level (1) + code (4)``, with one duplicate value per
entry (LMDB ``dupsort``): the entry's index key without the index id. A query scans, per
level, the key ranges under a few coarse cells covering its box, keeps the hits whose cell
meets its box, and reads those entries in index order (the order of a full index scan).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import lmdb
import orjson

from ...datum.keys import encode_key
from ...errors import ReqlError
from ..geo import geometry
from ..geo.bounds import Box, shape_box
from ..runtime.suspend import checkpoint
from .scan import ENTRY_HEAD, TAG, TAGGED

MAX_LEVEL = 13  # cells of 0.022 degrees, about 2.4 km
ENTRY_CELLS = 4  # an entry is filed in at most this many cells (per level chosen)
QUERY_CELLS = 16  # a query scans the ranges under at most this many cells per level
CELL = struct.Struct(">BI")
FETCH_CHUNK = 256  # entries read per read transaction, as the other range reads do


def _x_range(lo: float, hi: float, level: int) -> tuple[int, int]:
    n = 2 << level
    # One rounded fraction scaled by powers of two: a cell's parent is exactly ``x >> 1``.
    return (min(int((lo + 180.0) / 360.0 * n), n - 1), min(int((hi + 180.0) / 360.0 * n), n - 1))


def _y_range(lo: float, hi: float, level: int) -> tuple[int, int]:
    n = 1 << level
    return (min(int((lo + 90.0) / 180.0 * n), n - 1), min(int((hi + 90.0) / 180.0 * n), n - 1))


def _morton(level: int, x: int, y: int) -> int:
    code = x >> level  # the top longitude bit (there are twice as many columns as rows)
    for i in range(level - 1, -1, -1):
        code = (code << 2) | (((x >> i) & 1) << 1) | ((y >> i) & 1)
    return code


def _unmorton(level: int, code: int) -> tuple[int, int]:
    x = code >> (2 * level)
    y = 0
    for i in range(level - 1, -1, -1):
        pair = (code >> (2 * i)) & 3
        x = (x << 1) | (pair >> 1)
        y = (y << 1) | (pair & 1)
    return x, y


class _Grid:
    """The cells a box meets, level by level."""

    def __init__(self, box: Box) -> None:
        self.lons = box.lon_intervals()
        self.lat = (box.lat_lo, box.lat_hi)

    def ranges(self, level: int) -> tuple[list[tuple[int, int]], tuple[int, int]]:
        return [_x_range(lo, hi, level) for lo, hi in self.lons], _y_range(*self.lat, level)

    def count(self, level: int) -> int:
        xs, (y0, y1) = self.ranges(level)
        return sum(x1 - x0 + 1 for x0, x1 in xs) * (y1 - y0 + 1)

    def cells(self, level: int) -> set[int]:
        xs, (y0, y1) = self.ranges(level)
        return {
            _morton(level, x, y)
            for x0, x1 in xs
            for x in range(x0, x1 + 1)
            for y in range(y0, y1 + 1)
        }

    def finest(self, limit: int) -> int:
        """The finest level at which the box meets at most ``limit`` cells."""
        level = 0
        while level < MAX_LEVEL and self.count(level + 1) <= limit:
            level += 1
        return level

    def meets(self, level: int, code: int) -> bool:
        x, y = _unmorton(level, code)
        xs, (y0, y1) = self.ranges(level)
        return y0 <= y <= y1 and any(x0 <= x <= x1 for x0, x1 in xs)


# -- what an entry is filed under ---------------------------------------------------------------


def value_cells(value: Any) -> list[bytes]:
    """Cell keys (level + code) for one geo index value; [] for a non-geometry, which no
    geo query can match (``terms.geo_index`` skips those too)."""
    if type(value) is not dict or value.get("$reql_type$") != "GEOMETRY":
        return []
    try:
        box = shape_box(geometry.parse(value))
    except ReqlError:
        return []
    grid = _Grid(box)
    level = grid.finest(ENTRY_CELLS)
    return [CELL.pack(level, code) for code in sorted(grid.cells(level))]


def cell_records(prefix: bytes, entries: dict[bytes, bytes]) -> set[tuple[bytes, bytes]]:
    """``(cell key, entry key suffix)`` records for index entries (LMDB key -> entry data)."""
    plen = len(prefix)
    out: set[tuple[bytes, bytes]] = set()
    for key, data in entries.items():
        suffix = key[plen:]
        for cell in value_cells(orjson.loads(data[ENTRY_HEAD.size :])):
            out.add((prefix + cell, suffix))
    return out


def update_cells(txn: lmdb.Transaction, db: Any, prefix: bytes, before: dict, after: dict) -> None:
    """Move the cell records of a row's entries from ``before`` to ``after``."""
    gone = {k: d for k, d in before.items() if after.get(k) != d}
    new = {k: d for k, d in after.items() if before.get(k) != d}
    for key, suffix in cell_records(prefix, gone):
        txn.delete(key, suffix, db=db)
    for key, suffix in cell_records(prefix, new):
        txn.put(key, suffix, db=db)


def fill_cells(txn: lmdb.Transaction, geo_db: Any, index_db: Any, prefix: bytes) -> None:
    """File every existing entry of an index (an index written before cells existed)."""
    cur = txn.cursor(db=index_db)
    if not cur.set_range(prefix):
        return
    for key, data in cur.iternext():
        if not key.startswith(prefix):
            break
        for cell_key, suffix in cell_records(prefix, {key: data}):
            txn.put(cell_key, suffix, db=geo_db)


# -- reading --------------------------------------------------------------------------------------


def _candidates(txn: lmdb.Transaction, geo_db: Any, prefix: bytes, box: Box) -> set[bytes]:
    """Entry key suffixes filed in cells that meet ``box``."""
    grid = _Grid(box)
    coarse = grid.finest(QUERY_CELLS)
    base_cells = sorted(grid.cells(coarse))
    cur = txn.cursor(db=geo_db)
    found: set[bytes] = set()
    for level in range(MAX_LEVEL + 1):
        base = min(level, coarse)
        shift = 2 * (level - base)
        spans: list[list[int]] = []
        for c in base_cells if base == coarse else sorted(grid.cells(base)):
            lo, hi = c << shift, (c + 1) << shift
            if spans and spans[-1][1] == lo:
                spans[-1][1] = hi  # adjacent ranges: one seek
            else:
                spans.append([lo, hi])
        exact = level <= coarse  # the ranges are exactly the box's cells at this level
        for lo, hi in spans:
            end = prefix + CELL.pack(level, hi - 1)
            if not cur.set_range(prefix + CELL.pack(level, lo)):
                break
            key = cur.key()
            while key <= end:
                if exact or grid.meets(level, CELL.unpack_from(key, len(prefix))[1]):
                    found.update(cur.iternext_dup(keys=False))
                if not cur.next_nodup():
                    break
                key = cur.key()
    return found


def _sort_key(suffix: bytes, data: bytes, plen: int) -> tuple[bytes, bytes]:
    """Index-scan order: by the value's full encoding (stored keys cut long values), then key."""
    flags, off = ENTRY_HEAD.unpack_from(data)
    if flags & 1:
        return encode_key(orjson.loads(data[ENTRY_HEAD.size :])), suffix[off - plen :]
    return suffix, b""


def scan_cells(
    env: lmdb.Environment,
    geo_db: Any,
    index_db: Any,
    rows_db: Any,
    prefix: bytes,
    row_prefix: bytes,
    box: Box,
) -> Iterator[tuple[Any, dict]]:
    """``(index value, row)`` for the entries of index ``prefix`` filed in cells meeting
    ``box``: a superset of those whose geometry meets the box, in index order."""
    plen = len(prefix)
    with env.begin() as txn:
        order = []
        for suffix in _candidates(txn, geo_db, prefix, box):
            data = txn.get(prefix + suffix, db=index_db)
            if data is not None:
                order.append((_sort_key(suffix, data, plen), suffix))
    order.sort()
    for start in range(0, len(order), FETCH_CHUNK):
        out = []
        with env.begin() as txn:
            for _, suffix in order[start : start + FETCH_CHUNK]:
                data = txn.get(prefix + suffix, db=index_db)
                if data is None:
                    continue  # deleted since the candidates were collected
                flags, off = ENTRY_HEAD.unpack_from(data)
                pk = suffix[off - plen :]
                if flags & TAGGED:
                    pk = pk[: -TAG.size]
                raw = txn.get(row_prefix + pk, db=rows_db)
                if raw is not None:
                    out.append((orjson.loads(data[ENTRY_HEAD.size :]), orjson.loads(raw)))
        txn = None  # an ended read txn kept alive keeps its LMDB reader slot (scan.py)
        for item in out:
            checkpoint()
            yield item
