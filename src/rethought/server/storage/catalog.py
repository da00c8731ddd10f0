"""Catalog records: what databases, tables and indexes exist, as stored in the ``catalog``
sub-database (orjson values) and as handed to the rest of the server."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .protocols import Build

#: ``fn(row) -> list of index values``; raising or returning [] leaves the row out.
IndexFn = Callable[[Any], list]
#: ``compiler(function_json, multi, geo) -> IndexFn``: rebuilds ``fn`` after a restart.
IndexCompiler = Callable[[Any, bool, bool], IndexFn]

DB_PREFIX = b"db\x00"
TABLE_PREFIX = b"table\x00"
COUNT_PREFIX = b"count\x00"


def new_id() -> str:
    return str(uuid.uuid4())


def id_bytes(ident: str) -> bytes:
    """The 16-byte key prefix for a table's rows or an index's entries."""
    return uuid.UUID(ident).bytes


@dataclass
class DbInfo:
    """A database: its name and uuid."""

    name: str
    id: str

    def record(self) -> bytes:
        return orjson.dumps({"id": self.id, "name": self.name})


@dataclass
class IndexInfo:
    """What ``index_info`` / ``index_status`` report about a secondary index."""

    name: str
    function: Any  # the index function as wire JSON, kept so it survives restarts
    multi: bool
    geo: bool
    ready: bool
    progress: float | None = None  # share of rows built so far, while not ready


@dataclass
class Index:
    """A secondary index of one table (internal: ``TableStore`` keeps these)."""

    id: str
    name: str
    function: Any
    multi: bool
    geo: bool
    # The entries may be out of date: the row function was unknown when rows changed (after a
    # restart without an index compiler). Rebuilt as soon as a function is available.
    stale: bool = False
    fn: IndexFn | None = field(default=None, repr=False, compare=False)
    # The background construction under way (``build.IndexBuild``), None once complete.
    build: Build | None = field(default=None, repr=False, compare=False)
    prefix: bytes = field(default=b"", repr=False, compare=False)
    # A geo index's entries are filed in grid cells too (``geo_cells``); False for a geo
    # index stored before cells existed, until ``TableStore._file_geo_cells`` fills them.
    cells: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        self.prefix = id_bytes(self.id)

    def info(self) -> IndexInfo:
        if self.build is not None:
            return IndexInfo(
                self.name, self.function, self.multi, self.geo, False, self.build.progress
            )
        return IndexInfo(self.name, self.function, self.multi, self.geo, not self.stale)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "function": self.function,
            "multi": self.multi,
            "geo": self.geo,
            # A build not yet finished is redone after a restart.
            "stale": self.stale or self.build is not None,
            "cells": self.cells,
        }

    @classmethod
    def from_json(cls, name: str, d: dict) -> Index:
        idx = cls(d["id"], name, d["function"], d["multi"], d["geo"], d.get("stale", False))
        idx.cells = d.get("cells", False)
        return idx


def table_record(
    ident: str, db_id: str, name: str, primary_key: str, durability: str, indexes: dict
) -> bytes:
    return orjson.dumps(
        {
            "id": ident,
            "db_id": db_id,
            "name": name,
            "primary_key": primary_key,
            "durability": durability,
            "indexes": {n: ix.to_json() for n, ix in indexes.items()},
        }
    )
