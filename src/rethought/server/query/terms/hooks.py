"""Write hooks: SET_WRITE_HOOK and GET_WRITE_HOOK, and applying a table's hook to writes.

A hook is ``function(context, old_val, new_val) -> new value`` that RethinkDB runs on every
row a write changes (unless the write passes ``ignore_write_hook=True``); ``context`` is
``{primary_key, timestamp}``. It is stored as the wire JSON of the function in storage meta
under ``write_hooks/<table id>``; ``get_write_hook`` and ``table_config`` show it as
``{function: <binary>, query: "setWriteHook(...)"}``, and that binary can be handed back
to ``set_write_hook`` (as RethinkDB allows, to copy a hook between tables).
"""

from __future__ import annotations

from typing import Any

import orjson

from .... import datum
from ....errors import ReqlError, ReqlOpFailedError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import rdb_blobs, values
from ...runtime.js_print import print_js_function
from ...runtime.values import expected_val
from ...system.access import require
from ...system.names import SYSTEM_DB, special
from ...system.write_hooks import BLOB_PREFIX, HOOK_PREFIX, hook_datum, stored_hook
from .. import determinism
from ..compile import Scope, Term, compile_term, term
from ..determinism import NO
from ..seq import truthy
from .catalog import as_table
from .indexes import to_wire


def _require_config(scope: Scope, table: values.TableValue) -> None:
    require(scope.ctx, "config", table.db.id, table.store.id)


@term(T.SET_WRITE_HOOK, arity=(2, 2))
class SetWriteHook(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> dict:
        table = self.arg(scope, 0, as_table)
        storage = scope.ctx.storage
        existed = stored_hook(storage, table.store.id) is not None if not _system(table) else False
        node = self.args[1]
        v = node.run(scope)
        function: Any = None
        if isinstance(v, values.Func):
            if not determinism.stored_ok(node.determinism):
                raise ReqlQueryLogicError(
                    "Could not prove function deterministic.  "
                    "Write hook functions must be deterministic."
                )
            function = to_wire(node)
            if len(v.params) != 3:
                raise ReqlQueryLogicError("Write hook functions must expect 3 arguments.")
        else:
            v = values.to_datum(v)
            if datum.pseudo_type(v) == "BINARY":
                blob = datum.binary_bytes(v)
                if not blob.startswith(BLOB_PREFIX):
                    raise ReqlQueryLogicError(
                        "Cannot create a write hook except from a reql_write_hook_function "
                        "returned from `get_write_hook`."
                    )
                function = rdb_blobs.decode_hook(blob)
            elif v is not None:
                raise expected_val(v, "FUNCTION")
        if _system(table):
            raise special("you can't configure the tables in it.")
        _require_config(scope, table)
        key = HOOK_PREFIX + table.store.id
        if function is None:
            storage.meta_delete(key)
            return {"deleted": 1}
        query = f"setWriteHook({print_js_function(function)})"
        storage.meta_put(key, {"function": function, "query": query})
        _COMPILED.pop(table.store.id, None)
        return {"replaced" if existed else "created": 1}


@term(T.GET_WRITE_HOOK, arity=(1, 1))
class GetWriteHook(Term):
    nondeterminism = NO

    def eval(self, scope: Scope) -> Any:
        table = self.arg(scope, 0, as_table)
        if _system(table):
            return None
        _require_config(scope, table)
        return hook_datum(scope.ctx.storage, table.store.id)


def _system(table: values.TableValue) -> bool:
    return table.db.name == SYSTEM_DB


# -- applying hooks to writes -------------------------------------------------------------------

# Compiled hook functions by table id: (wire JSON, compiled term), so each write compiles once.
_COMPILED: dict[str, tuple[Any, Any]] = {}


# ``write_hooks/<table id>`` as LMDB keys, by table id.
_HOOK_KEYS: dict[str, bytes] = {}


def _write_hook(storage: Any, table_id: str, txn: Any) -> Any:
    """The table's stored hook as the write's own transaction ``txn`` sees it (what any
    process last committed): one get in the open transaction instead of a read
    transaction of its own per write. Without a transaction (a system table), meta_get."""
    if txn is None:
        return stored_hook(storage, table_id)
    key = _HOOK_KEYS.get(table_id)
    if key is None:
        key = _HOOK_KEYS[table_id] = (HOOK_PREFIX + table_id).encode()
    raw = txn.get(key, None, storage.meta_db)  # positional: py-lmdb parses it faster
    return None if raw is None else orjson.loads(raw)


def _hook_term(storage: Any, table_id: str, txn: Any = None) -> Any:
    hook = _write_hook(storage, table_id, txn)
    if hook is None:
        return None
    cached = _COMPILED.get(table_id)
    if cached is None or cached[0] != hook["function"]:
        cached = (hook["function"], compile_term(hook["function"]))
        _COMPILED[table_id] = cached
    return cached[1]


class HookedWriter:
    """A table writer whose rows pass through the table's write hook (``hook(old, new)`` is
    called by the write terms before RethinkDB's replacement checks)."""

    def __init__(self, writer: Any, fn: values.Func, pk: str, now: float) -> None:
        self._writer = writer
        self._fn = fn
        self._pk = pk
        self._timestamp = {datum.REQL_TYPE: "TIME", "epoch_time": now, "timezone": "+00:00"}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def hook(self, old: Any, new: Any) -> Any:
        src = new if new is not None else old
        key = src.get(self._pk) if type(src) is dict else None
        context = {"primary_key": key, "timestamp": self._timestamp}
        try:
            out = values.to_datum(self._fn(context, old, new))
        except ReqlError as e:
            err = type(e)(f"Error in write hook: {e.message}")
            raise err from None
        if new is None and out is not None:
            raise ReqlOpFailedError(
                "A write hook function must not turn a deletion into a replace/insert."
            )
        if new is not None and out is None:
            raise ReqlOpFailedError(
                "A write hook function must not turn a replace/insert into a deletion."
            )
        return out


def with_hook(scope: Scope, store: Any, writer: Any, ignore: bool = False) -> Any:
    """``writer``, or a ``HookedWriter`` when ``store``'s table has a write hook."""
    if ignore or store.db.name == SYSTEM_DB:
        return writer
    node = _hook_term(scope.ctx.storage, store.id, getattr(writer, "_txn", None))
    if node is None:
        return writer
    fn = values.as_func(node.run(Scope(scope.ctx)))
    return HookedWriter(writer, fn, store.primary_key, scope.ctx.now)


def ignore_hook(t: Term, scope: Scope) -> bool:
    """The ``ignore_write_hook`` optarg of a write term (it needs config permission)."""
    v = t.optarg(scope, "ignore_write_hook")
    return truthy(values.to_datum(v))
