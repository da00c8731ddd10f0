"""A cached plan's single insert in one step (server/query/terms/insert_one.py) against the
general path (``Insert.eval``): the same queries through a connection session twice, once
as the server runs them and once with ``insert_one.run_wire`` sent to ``node.run``, must
give the same response frames (results, errors), the same rows, and the same commits seen
by the storage's commit listeners (what feeds and the change log get)."""

from __future__ import annotations

import asyncio
import re

import orjson
import pytest
from rethinkdb import r
from rethinkdb.ast import ReQLEncoder

import rethought.server.query.engine as engine_mod
from rethought.server.query.engine import Engine
from rethought.server.query.terms import insert_one
from rethought.server.query.terms.indexes import index_function
from rethought.server.storage.lmdb_store import Storage
from rethought.server.system.live import SystemFeedsHub
from rethought.server.wire.session import ConnectionSession

_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _payload(query, **optargs) -> bytes:
    return orjson.dumps([1, orjson.loads(ReQLEncoder().encode(query)), optargs])


def _queries() -> list[bytes]:
    t, h = r.table("t"), r.table("h")
    soft = {"durability": "soft"}
    out = [
        _payload(r.db("test").table_create("t")),
        _payload(r.db("test").table_create("h")),
        _payload(h.set_write_hook(lambda c, old, new: new.merge({"hooked": 1}))),
    ]
    for table in (t, h):
        for i in range(6):  # compiled, shape, then byte templates
            out.append(_payload(table.insert({"id": i, "v": i}), **soft))
        docs = [
            {"id": 2, "v": "dup"},  # a duplicate key
            {"id": "s", "nested": {"a": [1, {"b": 2.0}], "c": None}},
            {"id": 1.5, "f": 3.0, "big": 2**60},
            {"id": -7, "t": True},
            {"v": "no key"},  # a generated key: the general path
            {"id": "x" * 40},  # a long string key: the general path
            {"id": "y" * 200},  # over the key limit: its error
            {"id": None},
            {"id": [1, 2]},
            {"id": 3, "when": r.epoch_time(0)},  # not plain data: no shape param
            {"id": 10, "v": 10},
        ]
        for n, doc in enumerate(docs):
            out.append(_payload(table.insert(doc), **soft))
            hard = {**doc, "id": f"hard{n}"} if "id" in doc and n else doc
            out.append(_payload(table.insert(hard)))  # hard: answered after the fsync
        out.append(_payload(table.insert({"id": 11}), durability="hard"))
        out.append(_payload(table.insert({"id": 12}), durability="soft", return_changes=True))
        out.append(
            _payload(table.insert({"id": 12, "w": 1}), durability="soft", conflict="replace")
        )
        out.append(_payload(table.insert({"id": 13}, conflict="update"), durability="soft"))
        out.append(_payload(table.insert({"id": 14}), durability="fast"))  # its error
        out.append(_payload(table.insert({"id": 15}), array_limit=2))
        out.append(_payload(r.db("test").table("t").insert({"id": 16}), durability="soft"))
        out.append(_payload(table.insert({"id": 17}), db="test", durability="soft"))
        out.append(_payload(table.insert({"id": 18}), read_mode="outdated"))
        out.append(_payload(table.order_by(index="id").coerce_to("array")))
    for i in range(3):  # the table dropped under a remembered plan
        out.append(_payload(r.db("test").table_drop("t")) if i == 1 else b"")
        out.append(_payload(t.insert({"id": 100 + i}), durability="soft"))
    return [p for p in out if p]


def _run(tmp_path, general: bool, monkeypatch) -> tuple[list[bytes], list]:
    if general:
        monkeypatch.setattr(engine_mod, "insert_wire", lambda node, scope: node.run(scope))
    else:
        monkeypatch.setattr(engine_mod, "insert_wire", insert_one.run_wire)
    commits: list = []

    def listen(tables) -> None:
        for tc in tables:
            commits.append((tc.table.name, list(tc.changes), tc.first_no))

    frames: list[bytes] = []
    storage, _hub, session = _server(tmp_path, frames, listen)

    async def main() -> None:
        s = session()
        for token, p in enumerate(_queries(), 1):
            if not s.handle_now(token, p):
                await s.handle(token, p)
            for _ in range(5):
                await asyncio.sleep(0)
        await asyncio.sleep(0.05)

    asyncio.run(main())
    storage.close()
    return [_UUID.sub(b"<uuid>", f) for f in frames], commits


def _server(path, frames: list, listen=None):
    """A storage on ``path`` (``listen`` its first commit listener), its hub and engine, and
    a session factory whose answers, and a mark for each fsync, go to ``frames``."""
    storage = Storage(str(path), index_compiler=index_function)
    if listen is not None:
        storage.commit_listeners.append(listen)
    hub = SystemFeedsHub(storage)
    engine = Engine(storage, hub=hub)

    async def send(b: bytes) -> None:
        frames.append(b)

    async def sync() -> None:
        frames.append(b"fsync")  # where a hard write's fsync comes, among the answers

    def session() -> ConnectionSession:
        s = ConnectionSession(engine, send, sync, {"id": "x", "name": "x", "proxy": False})
        s.send_now = frames.append
        s.can_send_now = lambda: True
        return s

    return storage, hub, session


def _norm(commits: list) -> list:
    """The commits with generated keys replaced (they differ between runs)."""
    uuid = re.compile(_UUID.pattern.decode())
    return [(n, uuid.sub("<uuid>", repr(c)), no) for n, c, no in commits]


def test_single_inserts_answer_as_the_general_path(tmp_path, monkeypatch):
    fast_frames, fast_commits = _run(tmp_path / "fast", False, monkeypatch)
    general_frames, general_commits = _run(tmp_path / "general", True, monkeypatch)
    assert len(fast_frames) - fast_frames.count(b"fsync") == len(_queries())
    assert fast_frames.count(b"fsync") >= 16
    assert fast_frames == general_frames
    assert _norm(fast_commits) == _norm(general_commits)
    assert len(fast_commits) > 30
    text = b"\n".join(fast_frames)
    assert b"Duplicate primary key" in text and b'"hooked":1' in text
    assert b"does not exist" in text


def test_the_one_step_path_is_taken(tmp_path, monkeypatch):
    """Not a test of results: that the queries above do reach the one-step write."""
    seen = []
    real = insert_one.Writer

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, table) -> None:
            seen.append(table.name)
            super().__init__(table)

    monkeypatch.setattr(insert_one, "Writer", Counting)
    _run(tmp_path, False, monkeypatch)
    assert seen.count("t") >= 10 and seen.count("h") >= 10


@pytest.mark.parametrize("user_table", ["t"])
def test_feeds_see_one_step_inserts(tmp_path, user_table):
    """A changefeed on the table gets the one-step path's changes, numbered as before."""
    frames: list[bytes] = []
    storage, hub, session = _server(tmp_path, frames)
    got: list = []

    class Probe:
        def on_changes(self, changes, first_no) -> None:
            got.append((list(changes), first_no))

    async def main() -> None:
        s = session()
        await s.handle(1, _payload(r.db("test").table_create(user_table)))
        store = storage.table_get("test", user_table)
        hub.subscribe(store.id, Probe())
        for i in range(8):
            p = _payload(r.table(user_table).insert({"id": i, "v": [i]}), durability="soft")
            if not s.handle_now(2 + i, p):
                await s.handle(2 + i, p)
            await asyncio.sleep(0)

    asyncio.run(main())
    storage.close()
    assert [c for c, _ in got] == [[(None, {"id": i, "v": [i]})] for i in range(8)]
    nos = [n for _, n in got]
    assert nos == list(range(nos[0], nos[0] + 8))
