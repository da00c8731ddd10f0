"""Running driver-built queries straight through the server's engine (no network), for the
unit tests of term families: queries are built with the official driver, so what the engine
sees is exactly what a client sends. conftest.py's ``engine_run`` fixture is an
``EngineRunner`` over a fresh storage."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rethinkdb.ast import ReQLEncoder

from rethought.errors import ReqlError
from rethought.server.query.engine import Engine, Session
from rethought.server.query.terms.indexes import index_function
from rethought.server.storage.lmdb_store import Storage
from rethought.server.wire import net_responses


def wire(query: Any) -> Any:
    """The query's wire JSON, as the official driver sends it."""
    return json.loads(ReQLEncoder().encode(query))


def evaluate(query: Any, storage: Storage | None = None, **optargs: Any) -> Any:
    """The result of ``query`` (streams read to a list) on a fresh engine over ``storage``
    (None: no tables at all), run as admin with the global ``optargs``."""
    engine = Engine(storage)
    result = engine.execute(engine.prepare(wire(query), optargs, Session()))
    return list(result.value) if result.kind == "stream" else result.value


def error(run: Callable[..., Any], query: Any, cls: type = ReqlError, **optargs: Any) -> Any:
    """The error, of class ``cls``, that ``run(query, **optargs)`` raises."""
    with pytest.raises(cls) as info:
        run(query, **optargs)
    return info.value


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
