"""Running driver-built queries straight through the server's engine (no network), for the
unit tests of term families: queries are built with the official driver, so what the engine
sees is exactly what a client sends."""

from __future__ import annotations

import json
from typing import Any

from rethinkdb.ast import ReQLEncoder

from rethought.server import net_responses
from rethought.server.engine import Engine, Session
from rethought.server.storage.lmdb_store import Storage
from rethought.server.terms.indexes import index_function


def wire(query: Any) -> Any:
    """The query's wire JSON, as the official driver sends it."""
    return json.loads(ReQLEncoder().encode(query))


class EngineRunner:
    """``runner(query, **global_optargs)``: the result (streams read to a list); ``ctx`` is the
    last query's context. ``user`` runs as another user."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ctx = None

    def __call__(self, query: Any, user: str = "admin", **optargs: Any) -> Any:
        prepared = self.engine.prepare(wire(query), dict(optargs), Session(user=user))
        self.ctx = prepared.ctx
        result = self.engine.execute(prepared)
        if result.kind == "stream":
            return list(result.value)
        net_responses.dumps(result.value)  # what the server sends: encoding may fail too
        return result.value


def open_storage(path: str) -> Storage:
    """A real LMDB storage whose index functions survive a reopen."""
    return Storage(path, index_compiler=index_function)
