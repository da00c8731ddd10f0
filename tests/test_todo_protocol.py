"""The todo example's HTTP side without a browser: GET /todo and the WebSocket protocol.

The app (rethought.examples.todo.make_app) runs in the test's event loop on a free port, its
store connected to a real `rethought serve`; the table is checked with the official
`rethinkdb` driver, an independent client. Requirements from issue 14 part 1 (after seed
002's todo app): every change of r.table("todo").changes() reaches every page; add, check,
uncheck, edit and delete go through the server; the text is trimmed, not empty, at most 500
characters; an unknown id, a malformed message or a too-long text is answered with an error to
the sending page only, and nothing is written.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from conftest import ServerProcess, free_port
from rethought.examples.todo import make_app
from rethought.examples.todo.store import new_id

WAIT = 10  # seconds; a message that does not come within this fails the test


def run(main) -> None:
    """``asyncio.run(main())`` on a thread of its own: once a browser test has run, the
    session's sync Playwright (tests/browser.py) keeps an event loop running on this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result()


@asynccontextmanager
async def todo_app(host: str, port: int, db: str):
    """The app on a free loopback port; yields its base URL."""
    server = TestServer(make_app({"host": host, "port": port, "db": db}),
                        host="127.0.0.1", port=free_port())
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


async def receive(ws) -> dict:
    msg = await asyncio.wait_for(ws.receive(), WAIT)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def open_page(session, base: str):
    """A socket as a page opens it, once the app says its feed is open."""
    ws = await session.ws_connect(base + "/ws")
    while (await receive(ws))["type"] != "ready":
        pass
    return ws


async def nothing_more(ws, wait: float = 0.3) -> None:
    """The socket has nothing waiting (a message meant for another page must not come)."""
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.receive(), wait)


def rows(official_conn, official_r, db) -> list[dict]:
    return sorted(official_r.db(db).table("todo").run(official_conn), key=lambda d: d["id"])


@pytest.fixture
def db():
    return "todo_" + uuid.uuid4().hex[:10]


@pytest.fixture
def drop_db(official_conn, official_r, db):
    yield
    if db in official_r.db_list().run(official_conn):
        official_r.db_drop(db).run(official_conn)


def test_first_start_creates_db_and_table_and_serves_page(
    server, official_conn, official_r, db, drop_db
):
    assert db not in official_r.db_list().run(official_conn)

    async def main():
        async with todo_app(server.host, server.port, db) as base, aiohttp.ClientSession() as s:
            ws = await open_page(s, base)
            async with s.get(base + "/todo") as resp:
                assert resp.status == 200
                assert resp.content_type == "application/json"
                assert await resp.json() == []
            async with s.get(base + "/") as resp:
                page = await resp.text()
                assert resp.status == 200 and resp.content_type == "text/html"
            for src in ("/static/app.js", "/static/style.css"):
                assert src in page
                async with s.get(base + src) as resp:
                    assert resp.status == 200
            async with s.get(base + "/static/..%2Fweb.py") as resp:
                assert resp.status == 404
            # A page of another site may not open the socket (its browser sends Origin).
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.ws_connect(base + "/ws", headers={"Origin": "http://evil.example"})
            assert refused.value.status == 403
            same = await s.ws_connect(base + "/ws", headers={"Origin": base})
            assert (await receive(same))["type"] == "ready"
            await same.close()
            await ws.close()

    run(main)
    assert official_r.db(db).table_list().run(official_conn) == ["todo"]


def test_every_operation_reaches_every_page(server, official_conn, official_r, db, drop_db):
    async def main():
        async with todo_app(server.host, server.port, db) as base, aiohttp.ClientSession() as s:
            a, b = await open_page(s, base), await open_page(s, base)

            async def request(message: dict) -> dict:
                """Send from page a; both pages get the change, a also its ok."""
                await a.send_json(message)
                seen_a = [await receive(a), await receive(a)]  # change and ok, either order
                assert {m["type"] for m in seen_a} == {"change", "ok"}
                assert next(m for m in seen_a if m["type"] == "ok")["ref"] == message["ref"]
                change = next(m for m in seen_a if m["type"] == "change")
                assert await receive(b) == change
                return change

            added = await request({"op": "add", "text": "  Buy milk \n", "ref": 1})
            assert added["old_val"] is None
            item = added["new_val"]
            assert set(item) == {"id", "text", "done"}
            assert item["text"] == "Buy milk" and item["done"] is False
            assert rows(official_conn, official_r, db) == [item]

            async with s.get(base + "/todo") as resp:
                assert await resp.json() == [item]

            checked = await request({"op": "check", "id": item["id"], "ref": "r2"})
            assert checked["old_val"] == item
            assert checked["new_val"] == {**item, "done": True}
            unchecked = await request({"op": "uncheck", "id": item["id"], "ref": 3})
            assert unchecked["new_val"] == item
            edited = await request({"op": "edit", "id": item["id"], "text": " Oat milk", "ref": 4})
            assert edited["new_val"] == {**item, "text": "Oat milk"}
            assert rows(official_conn, official_r, db) == [edited["new_val"]]

            # A second item lists after the first: GET /todo is in the order of adding.
            second = (await request({"op": "add", "text": "Bread", "ref": 5}))["new_val"]
            async with s.get(base + "/todo") as resp:
                assert [d["text"] for d in await resp.json()] == ["Oat milk", "Bread"]

            deleted = await request({"op": "delete", "id": item["id"], "ref": 6})
            assert deleted == {"type": "change", "old_val": edited["new_val"], "new_val": None}
            assert rows(official_conn, official_r, db) == [second]

            # A change made by another client (here the official driver) reaches both pages.
            official_r.db(db).table("todo").get(second["id"]).update({"done": True}).run(
                official_conn)
            for ws in (a, b):
                change = await receive(ws)
                assert change["new_val"] == {**second, "done": True}
            await a.close()
            await b.close()

    run(main)


def test_invalid_requests_get_an_error_on_the_sending_page_only(
    server, official_conn, official_r, db, drop_db
):
    stored = {"id": "kept", "text": "Kept", "done": False}
    bad = [
        {"op": "add", "text": ""},
        {"op": "add", "text": " \t\n "},
        {"op": "add", "text": "x" * 501},
        {"op": "add", "text": "  " + "é" * 501 + " "},
        {"op": "add", "text": 5},
        {"op": "add"},
        {"op": "add", "text": "ok", "done": True},  # the page does not choose other fields
        {"op": "edit", "id": "kept", "text": ""},
        {"op": "edit", "id": "kept", "text": "y" * 501},
        {"op": "check", "id": "no-such-item"},
        {"op": "uncheck", "id": "no-such-item"},
        {"op": "edit", "id": "no-such-item", "text": "new"},
        {"op": "delete", "id": "no-such-item"},
        {"op": "delete", "id": True},
        {"op": "delete", "id": {"a": 1}},
        {"op": "check"},
        {"op": "drop_table"},
        {"text": "no op"},
    ]
    raw_bad = ["not json", "[1, 2]", '"add"', '{"op": "delete", "id": NaN}', "{" * 100_000]

    async def main():
        async with todo_app(server.host, server.port, db) as base, aiohttp.ClientSession() as s:
            a, b = await open_page(s, base), await open_page(s, base)
            official_r.db(db).table("todo").insert(stored).run(official_conn)
            for ws in (a, b):
                assert (await receive(ws))["new_val"] == stored
            for ref, message in enumerate(bad):
                await a.send_json({**message, "ref": ref})
                answer = await receive(a)
                assert answer["type"] == "error" and answer["ref"] == ref, (message, answer)
                assert answer["message"]
            for raw in raw_bad:
                await a.send_str(raw)
                answer = await receive(a)
                assert answer["type"] == "error", (raw[:40], answer)
            await a.send_bytes(b'{"op": "add", "text": "binary"}')
            assert (await receive(a))["type"] == "error"
            too_long = await receive_error(a, {"op": "add", "text": "z" * 501, "ref": "t"})
            assert "500" in too_long["message"]

            await nothing_more(b)
            assert rows(official_conn, official_r, db) == [stored]

            # 500 characters after trimming is the longest text stored.
            await a.send_json({"op": "add", "text": "  " + "w" * 500 + "  ", "ref": "max"})
            change = await receive(b)
            assert change["new_val"]["text"] == "w" * 500
            assert len(rows(official_conn, official_r, db)) == 2

            assert {(await receive(a))["type"] for _ in range(2)} == {"change", "ok"}

            # Beyond 1 MiB a message closes that page's socket (it reconnects); b stays open.
            await a.send_json({"op": "add", "text": "v" * (1024 * 1024), "ref": "huge"})
            closing = await asyncio.wait_for(a.receive(), WAIT)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closing
            await nothing_more(b)
            assert len(rows(official_conn, official_r, db)) == 2
            await b.close()

    async def receive_error(ws, message):
        await ws.send_json(message)
        answer = await receive(ws)
        assert answer["type"] == "error" and answer["ref"] == message["ref"]
        return answer

    run(main)


def test_database_restart_reports_offline_then_ready(tmp_path, official_r):
    """While the database is down the page is told so and nothing is claimed written; once it
    is back the page is told to read GET /todo again, which holds what was written meanwhile."""
    db_server = ServerProcess(str(tmp_path / "data")).start()
    try:
        async def main():
            async with todo_app(db_server.host, db_server.port, "test") as base, \
                    aiohttp.ClientSession() as s:
                ws = await open_page(s, base)
                await ws.send_json({"op": "add", "text": "before", "ref": 1})
                while (await receive(ws))["type"] != "ok":
                    pass
                db_server.stop()
                assert await receive(ws) == {"type": "offline"}
                async with s.get(base + "/todo") as resp:
                    assert resp.status == 503
                await ws.send_json({"op": "add", "text": "while down", "ref": 2})
                answer = await receive(ws)
                assert answer["type"] == "error" and answer["ref"] == 2

                db_server.start()
                c = official_r.connect(host=db_server.host, port=db_server.port)
                official_r.db("test").table("todo").insert(
                    {"id": "x", "text": "written by another client", "done": False}).run(c)
                c.close()
                assert await receive(ws) == {"type": "ready"}
                async with s.get(base + "/todo") as resp:
                    texts = sorted(d["text"] for d in await resp.json())
                assert texts == ["before", "written by another client"]
                await ws.close()

        run(main)
    finally:
        db_server.stop()


def test_app_started_before_the_database_waits_for_it(tmp_path, official_r):
    """Started with no database listening, the app serves the page, says offline, and once
    the database is up creates the table and says ready."""
    db_server = ServerProcess(str(tmp_path / "data"))

    async def main():
        async with todo_app(db_server.host, db_server.port, "later") as base, \
                aiohttp.ClientSession() as s:
            ws = await s.ws_connect(base + "/ws")
            assert await receive(ws) == {"type": "offline"}
            async with s.get(base + "/") as resp:
                assert resp.status == 200
            async with s.get(base + "/todo") as resp:
                assert resp.status == 503 and "error" in await resp.json()
            await asyncio.get_running_loop().run_in_executor(None, db_server.start)
            assert await receive(ws) == {"type": "ready"}
            async with s.get(base + "/todo") as resp:
                assert await resp.json() == []
            await ws.close()

    try:
        run(main)
        c = official_r.connect(host=db_server.host, port=db_server.port)
        assert official_r.db("later").table_list().run(c) == ["todo"]
        c.close()
    finally:
        db_server.stop()


def test_new_ids_are_uuid7_in_the_order_made():
    """RFC 9562 version 7: the first 48 bits are the Unix time in milliseconds, then version
    7 and variant 0b10; string order is creation order, also within one millisecond."""
    import time

    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for text in (ids[0], ids[-1]):
        value = uuid.UUID(text)
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert before <= value.int >> 80 <= after
