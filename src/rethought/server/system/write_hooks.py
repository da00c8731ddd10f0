"""Write-hook records: a table's hook as stored in storage meta and as ``get_write_hook`` and
the ``table_config`` system table show it (the terms that set and apply hooks are in
``query.terms.hooks``).
"""

from __future__ import annotations

from typing import Any

from ... import datum
from ..runtime import rdb_blobs
from ..runtime.js_print import print_js_function

HOOK_PREFIX = "write_hooks/"
BLOB_PREFIX = b"$reql_write_hook_function$"


def stored_hook(storage: Any, table_id: str) -> dict | None:
    """``{"function": wire JSON, "query": str}`` of a table's hook, or None."""
    return storage.meta_get(HOOK_PREFIX + table_id)


def hook_datum(storage: Any, table_id: str) -> dict | None:
    """The hook as ``get_write_hook`` and ``table_config`` show it (null without one)."""
    hook = stored_hook(storage, table_id)
    if hook is None:
        return None
    blob = rdb_blobs.encode_hook(hook["function"])
    # Printed on read, so hooks stored by older versions show RethinkDB's form too.
    query = f"setWriteHook({print_js_function(hook['function'])})"
    return {"function": datum.make_binary(blob), "query": query}
