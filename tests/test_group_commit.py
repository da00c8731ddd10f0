"""Group commit (storage/group.py): concurrent writes from many connections share one LMDB
write transaction and one commit, and each still gets exactly its own result.

Through our driver and the official ``rethinkdb`` driver: every result is the one a lone
write would get (duplicate keys within one group included), a write that fails undoes its
own rows only, a feed sees each committed change exactly once and in commit order, a hard
write is acknowledged only after an fsync that began once it was committed, and a slow query
does not hold back the acknowledgement of writes on other connections. One test runs the
server in this process to see that groups did form (``Storage.group_joins``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid

import pytest
import rethinkdb

from rethought import r

WRITERS = 40


@pytest.fixture(params=["ours", "official"])
def drv(request, official_r):
    """(r, connect(), table name) with one of the two drivers and a fresh table."""
    name = "gc_" + uuid.uuid4().hex[:10]
    rr = r if request.param == "ours" else official_r
    return rr, name


def _connect(rr, server):
    return rr.connect(host=server.host, port=server.port)


@contextlib.contextmanager
def _writers(rr, server, name: str):
    """A fresh table ``name`` and WRITERS connections to write to it; (c0, conns)."""
    c0 = _connect(rr, server)
    rr.table_create(name).run(c0)
    conns = [_connect(rr, server) for _ in range(WRITERS)]
    try:
        yield c0, conns
    finally:
        for c in conns:
            c.close()
        rr.table_drop(name).run(c0)
        c0.close()


def _together(n: int, fn) -> list:
    """Run fn(i) in n threads released at once; their results (or exceptions) by i."""
    out: list = [None] * n
    gate = threading.Barrier(n)

    def run(i: int) -> None:
        gate.wait()
        try:
            out[i] = fn(i)
        except Exception as e:  # kept: the test asserts on it
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_concurrent_inserts_each_get_their_own_result(server, drv):
    rr, name = drv
    with _writers(rr, server, name) as (c0, conns):

        def write(i: int):
            # Pairs of writers insert the same key at once: one wins, one is a duplicate.
            docs = [{"id": f"k{i // 2}", "w": i}, {"id": f"own{i}", "w": i}]
            return rr.table(name).insert(docs).run(conns[i], durability="soft")

        results = _together(WRITERS, write)
        for res in results:
            assert not isinstance(res, Exception), res
            assert res["inserted"] + res["errors"] == 2
            assert res["inserted"] >= 1
        for pair in range(WRITERS // 2):
            a, b = results[2 * pair], results[2 * pair + 1]
            assert sorted([a["errors"], b["errors"]]) == [0, 1]
            loser = a if a["errors"] else b
            assert loser["first_error"].startswith(
                f'Duplicate primary key `id`:\n{{\n\t"id":\t"k{pair}"'
            )
        rows = {row["id"]: row["w"] for row in rr.table(name).run(c0)}
        assert len(rows) == WRITERS + WRITERS // 2
        for pair in range(WRITERS // 2):
            a, b = results[2 * pair], results[2 * pair + 1]
            winner = 2 * pair if a["errors"] == 0 else 2 * pair + 1
            assert rows[f"k{pair}"] == winner
        assert all(rows[f"own{i}"] == i for i in range(WRITERS))


def test_failed_writes_do_not_poison_the_others(server, drv):
    """Half the writers fail as a whole (an error while their documents are produced):
    their rows are gone, every other writer's rows are there, and the feed shows only
    those, each once."""
    rr, name = drv
    with _writers(rr, server, name) as (c0, conns):
        feed = rr.table(name).changes().run(_connect(rr, server))

        def write(i: int):
            docs = rr.range(3).map(
                lambda j: rr.branch(
                    (j == 2) & (i % 2 == 1), rr.error(f"boom {i}"), {"id": i * 10 + j}
                )
            )
            return rr.table(name).insert(docs).run(conns[i], durability="soft")

        results = _together(WRITERS, write)
        for i, res in enumerate(results):
            if i % 2:
                assert isinstance(res, rethinkdb.errors.ReqlRuntimeError) or "boom" in str(res)
                assert f"boom {i}" in str(res)
            else:
                assert res["inserted"] == 3 and res["errors"] == 0, res
        want = {i * 10 + j for i in range(0, WRITERS, 2) for j in range(3)}
        assert {row["id"] for row in rr.table(name).run(c0)} == want
        seen = [feed.next(wait=10)["new_val"]["id"] for _ in want]
        assert sorted(seen) == sorted(want)  # each once
        with pytest.raises(Exception):  # noqa: B017 - nothing more: the timeout of either driver
            feed.next(wait=0.5)


def test_feed_sees_commits_in_order(server, drv):
    """Concurrent increments of one row: each is a separate commit (or a member of a group,
    applied in order), so the feed's changes chain: every old value is the previous new."""
    rr, name = drv
    with _writers(rr, server, name) as (c0, conns):
        rr.table(name).insert({"id": 1, "n": 0}).run(c0)
        feed = rr.table(name).changes().run(_connect(rr, server))
        rounds = 5

        def write(i: int):
            out = []
            for _ in range(rounds):
                q = rr.table(name).get(1).update({"n": rr.row["n"] + 1})
                out.append(q.run(conns[i], durability="soft"))
            return out

        results = _together(WRITERS, write)
        for res in results:
            assert not isinstance(res, Exception), res
            assert all(x["replaced"] == 1 for x in res)
        total = WRITERS * rounds
        assert rr.table(name).get(1)["n"].run(c0) == total
        changes = [feed.next(wait=10) for _ in range(total)]
        assert [ch["old_val"]["n"] for ch in changes] == list(range(total))
        assert [ch["new_val"]["n"] for ch in changes] == list(range(1, total + 1))


def test_slow_query_does_not_delay_write_acks(server, drv):
    """A query that waits a long time (r.js busy for its whole timeout) is running while
    other connections write: every write is acknowledged before it ends."""
    rr, name = drv
    c0 = _connect(rr, server)
    rr.table_create(name).run(c0)
    slow_conn = _connect(rr, server)
    order: list[str] = []
    lock = threading.Lock()

    def slow() -> None:
        try:
            rr.js("var t = Date.now(); while (Date.now() - t < 3000) {}; 1", timeout=4).run(
                slow_conn
            )
        except Exception:
            pass
        with lock:
            order.append("slow")

    t = threading.Thread(target=slow)
    t.start()
    try:
        conns = [_connect(rr, server) for _ in range(8)]

        def write(i: int):
            res = rr.table(name).insert({"id": i}).run(conns[i], durability="soft")
            with lock:
                order.append(f"w{i}")
            return res

        results = _together(8, write)
        assert all(res["inserted"] == 1 for res in results), results
        t.join(30)
        assert order[-1] == "slow", order
        assert rr.table(name).count().run(c0) == 8
        for c in conns:
            c.close()
    finally:
        t.join(30)
        slow_conn.close()
        rr.table_drop(name).run(c0)
        c0.close()


# -- in this process: groups form, hard writes are fsynced after their commit ------------------


class _InProcess:
    """``rethought serve`` on a thread of this process, so the test can look inside."""

    def __init__(self, directory: str, loop: str = "asyncio") -> None:
        from rethought import event_loop
        from rethought.server.app import ServeOptions, Server

        self.port = 0
        self.server: Server | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._opts = ServeOptions(directory=directory, driver_port=0, http_port=None)
        self._Server = Server
        self.thread = threading.Thread(
            target=lambda: event_loop.run(self._main(), loop), daemon=True
        )

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.server = self._Server(self._opts, say=lambda line: None)
        await self.server.start()
        self.port = self.server.port
        self._ready.set()
        await self._stop.wait()
        await self.server.close()

    def __enter__(self) -> _InProcess:
        self.thread.start()
        assert self._ready.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(30)


def test_groups_form_and_hard_writes_are_fsynced_after_commit(tmp_path, official_r):
    rr = official_r
    with _InProcess(str(tmp_path / "data")) as srv:
        storage = srv.server.storage
        c0 = rr.connect(port=srv.port)
        rr.table_create("h").run(c0)
        table = storage.table_get("test", "h")
        synced: list[set] = []  # the rows committed when each completed fsync began
        real_sync = storage.sync

        def observed_sync() -> None:
            with storage.env.begin(db=table._rows) as txn:
                ids = {bytes(k) for k in txn.cursor().iternext(values=False)}
            real_sync()
            synced.append(ids)

        storage.sync = observed_sync
        r2 = rethinkdb.RethinkDB()
        r2.set_loop_type("asyncio")

        async def writers(durability: str, base: int) -> list:
            conns = [await r2.connect(port=srv.port) for _ in range(WRITERS)]
            try:
                return await asyncio.gather(
                    *(
                        r2.table("h").insert({"id": base + i}).run(c, durability=durability)
                        for i, c in enumerate(conns)
                    )
                )
            finally:
                for c in conns:
                    await c.close()

        joins = storage.group_joins
        for rnd in range(5):
            res = asyncio.run(writers("soft", rnd * 1000))
            assert all(x["inserted"] == 1 for x in res)
        assert storage.group_joins > joins  # some writes shared another's commit

        def acked_hard(i: int) -> bool:
            c = rr.connect(port=srv.port)
            try:
                res = rr.table("h").insert({"id": 100_000 + i}).run(c, durability="hard")
                assert res["inserted"] == 1
                key = table._prefix + _pk(100_000 + i)
                return any(key in ids for ids in list(synced))  # on disk when acknowledged
            finally:
                c.close()

        assert all(_together(WRITERS, acked_hard))
        assert rr.table("h").count().run(c0) == 5 * WRITERS + WRITERS
        c0.close()


def _pk(v) -> bytes:
    from rethought.datum.keys import encode_primary

    return encode_primary(v)


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_groups_form_on_each_event_loop(tmp_path, official_r, loop):
    """uvloop exposes no ready queue: the signal is the driver port's own (pending_input.py)."""
    pytest.importorskip(loop)
    rr = official_r
    with _InProcess(str(tmp_path / "data"), loop) as srv:
        storage = srv.server.storage
        c0 = rr.connect(port=srv.port)
        rr.table_create("g").run(c0)
        r2 = rethinkdb.RethinkDB()
        r2.set_loop_type("asyncio")

        async def writers(base: int) -> list:
            conns = [await r2.connect(port=srv.port) for _ in range(WRITERS)]
            try:
                return await asyncio.gather(
                    *(
                        r2.table("g").insert({"id": base + i, "n": i}).run(c)
                        for i, c in enumerate(conns)
                    ),
                    return_exceptions=True,
                )
            finally:
                for c in conns:
                    await c.close()

        joins = storage.group_joins
        for rnd in range(5):
            res = asyncio.run(writers(rnd * 1000))
            assert res == [{**_INSERTED, "inserted": 1}] * WRITERS
        assert storage.group_joins > joins  # some writes shared another's commit
        assert rr.table("g").count().run(c0) == 5 * WRITERS
        assert rr.table("g").get(4003).run(c0) == {"id": 4003, "n": 3}
        c0.close()


_INSERTED = {"deleted": 0, "errors": 0, "inserted": 0, "replaced": 0, "skipped": 0,
             "unchanged": 0}  # fmt: skip


def test_writes_pipelined_in_one_chunk_share_a_commit(tmp_path):
    """Frames read together (one client pipelining): each write joins the first one's
    group, a failing one (a duplicate key) undoes only itself, every token gets its answer."""
    import json
    import socket
    import struct

    with _InProcess(str(tmp_path / "data"), "uvloop") as srv:
        storage = srv.server.storage
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(struct.pack("<III", 0x400C2D20, 0, 0x7E6970C7))  # V0_4, no key, JSON
        assert _read_until(s, b"\0") == b"SUCCESS\0"
        create = b'[1,[60,[[14,["test"]],"p"]],{}]'
        s.sendall(struct.pack("<qI", 1, len(create)) + create)
        _frames(s, 1)
        ids = list(range(30)) + [5] + list(range(30, 40))  # the 31st repeats key 5
        frames = b""
        for token, i in enumerate(ids, start=100):
            q = json.dumps([1, [56, [[15, [[14, ["test"]], "p"]], {"id": i}]], {}]).encode()
            frames += struct.pack("<qI", token, len(q)) + q
        joins = storage.group_joins
        s.sendall(frames)
        answers = _frames(s, len(ids))
        assert sorted(answers) == list(range(100, 100 + len(ids)))
        for token in range(100, 100 + len(ids)):
            kind, result = answers[token]
            assert kind == 1  # SUCCESS_ATOM
            if token == 130:
                assert result[0]["errors"] == 1 and result[0]["inserted"] == 0
                assert "Duplicate primary key `id`" in result[0]["first_error"]
            else:
                assert result == [{**_INSERTED, "inserted": 1}]
        assert storage.group_joins - joins >= 10
        table = storage.table_get("test", "p")
        assert table.count() == 40
        s.close()


def _read_until(s, end: bytes) -> bytes:
    got = b""
    while not got.endswith(end):
        chunk = s.recv(4096)
        assert chunk, "the server closed the connection"
        got += chunk
    return got


def _frames(s, n: int) -> dict:
    """Read ``n`` answers: token -> (response type, result)."""
    import json
    import struct

    buf, out = b"", {}
    while len(out) < n:
        chunk = s.recv(1 << 16)
        assert chunk, "the server closed the connection"
        buf += chunk
        while len(buf) >= 12:
            token, size = struct.unpack_from("<qI", buf)
            if len(buf) < 12 + size:
                break
            doc = json.loads(buf[12 : 12 + size])
            out[token] = (doc["t"], doc["r"])
            buf = buf[12 + size :]
    return out


def test_a_console_write_that_joins_a_group_gets_its_answer(tmp_path):
    """The web console's sessions have no socket to answer from the commit's callback."""
    import orjson

    from rethought.console.link import QueryLink

    with _InProcess(str(tmp_path / "data")) as srv:
        storage = srv.server.storage
        got: list = []

        async def deliver(data: bytes) -> None:
            got.append(orjson.loads(data))

        async def run() -> None:
            link = QueryLink(srv.server._driver, "admin", deliver)
            create = {"op": "start", "token": 1, "term": [60, [[14, ["test"]], "c"]]}
            await link.handle(orjson.dumps(create))
            real, storage.more_input = storage.more_input, lambda: True  # always a group
            try:
                for token in (2, 3):
                    term = [56, [[15, [[14, ["test"]], "c"]], {"id": 1}]]
                    await link.handle(orjson.dumps({"op": "start", "token": token, "term": term}))
                for _ in range(100):
                    if len(got) == 3:
                        break
                    await asyncio.sleep(0.01)
            finally:
                storage.more_input = real
            link.close()

        joins = storage.group_joins
        asyncio.run_coroutine_threadsafe(run(), srv.loop).result(30)
        by_token = {m["token"]: m["response"] for m in got}
        assert by_token[2]["r"][0]["inserted"] == 1
        assert by_token[3]["r"][0]["errors"] == 1  # the same key: its own error
        assert "Duplicate primary key" in by_token[3]["r"][0]["first_error"]
        assert storage.group_joins > joins
        assert storage.table_get("test", "c").count() == 1
