"""What the modules below the public face (``lmdb_store.Storage``, ``table.TableStore``) need
of it, as Protocols: the index build, the writer and the catalog name the environment and the
table through these instead of importing the modules above them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Env(Protocol):
    """The LMDB environment and its named databases (``lmdb_store.Storage``)."""

    env: Any
    catalog_db: Any
    rows_db: Any
    index_db: Any
    geo_db: Any
    index_compiler: Callable[[Any, bool, bool], Any] | None
    coherence: Any  # coherence.Coherence with several server processes, else None
    room: int  # pages writes may add before the map's fill is read again (lmdb_store)

    def transaction(self) -> Any: ...

    def new_build(self, table: Any, idx: Any, clear: bool = False) -> Any: ...

    def sync(self) -> None: ...

    def catalog_changed(self, event: str, table_id: str | None = None) -> None: ...


class Table(Protocol):
    """One table's keyspace and indexes (``table.TableStore``), as the build and writer use it."""

    _storage: Env
    _prefix: bytes
    _rows: Any
    _indexes: dict[str, Any]
    id: str
    name: str
    primary_key: str
    dropped: bool

    def count(self) -> int: ...

    def _index_fn(self, idx: Any) -> Any: ...

    def _index_built(self, txn: Any, idx: Any) -> None: ...

    def _delete_index_entries(self, txn: Any, idx: Any) -> None: ...

    def _save(self, txn: Any) -> None: ...


class Build(Protocol):
    """A background index construction (``build.IndexBuild``)."""

    @property
    def progress(self) -> float: ...

    def start(self) -> None: ...

    def cancel(self) -> None: ...

    async def wait(self) -> None: ...
