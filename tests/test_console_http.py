"""The web console's HTTP side, without a browser: what a request gets with and without a
session, the CSRF and origin checks, login through the driver port's SCRAM verifier, the query
WebSocket (answers as the driver port gives them, permissions of the logged-in user), logout,
and --no-http-admin really serving nothing.

A real ``rethought serve --http-port N`` is started per module; requests go through aiohttp's
client, the WebSocket carries the console's own messages (``{"op", "token", "term"}``).
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import aiohttp
import pytest

from conftest import ServerProcess, free_port

PASSWORD = "console-Pa55"
QUERY_START = 1
SUCCESS_ATOM, SUCCESS_SEQUENCE, SUCCESS_PARTIAL = 1, 2, 3
RUNTIME_ERROR = 18
PERMISSION_ERROR = 6000000  # ql2.proto Response.ErrorType.PERMISSION_ERROR


def start_console_server(directory: str, *extra: str) -> ServerProcess:
    """A server with its console on a free port (``srv.http_port``), listening when returned."""
    http_port = free_port()
    srv = ServerProcess(directory, extra=["--http-port", str(http_port), *extra]).start()
    srv.http_port = http_port
    srv.url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while True:  # the console binds just after the driver port
        try:
            socket.create_connection(("127.0.0.1", http_port), timeout=0.5).close()
            return srv
        except OSError:
            if time.monotonic() > deadline:
                srv.stop()
                raise RuntimeError("the console did not start listening") from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    srv = start_console_server(
        str(tmp_path_factory.mktemp("console") / "data"), "--initial-password", PASSWORD
    )
    yield srv
    srv.stop()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class Browser:
    """An aiohttp client with its own cookies, acting as one browser."""

    def __init__(self, url: str):
        self.url = url
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf: str | None = None

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.close()

    async def session(self) -> dict:
        async with self.http.get(self.url + "/api/session") as res:
            assert res.status == 200
            body = await res.json()
        self.csrf = body["csrf"]
        return body

    async def post(self, path: str, body: dict | None = None, csrf: str | None = "session"):
        headers = {"Origin": self.url}
        token = self.csrf if csrf == "session" else csrf
        if token is not None:
            headers["X-CSRF-Token"] = token
        async with self.http.post(self.url + path, json=body or {}, headers=headers) as res:
            return res.status, await res.json()

    async def login(self, user: str = "admin", password: str = PASSWORD) -> tuple[int, dict]:
        await self.session()
        status, body = await self.post("/api/login", {"user": user, "password": password})
        if status == 200:
            self.csrf = body["csrf"]
        return status, body

    def socket(self, csrf: str | None = "session", origin: str | None = "self"):
        token = self.csrf if csrf == "session" else csrf
        query = "" if token is None else f"?csrf={token}"
        headers = {"Origin": self.url if origin == "self" else origin} if origin else {}
        return self.http.ws_connect(self.url + "/api/ws" + query, headers=headers)


async def query(ws, token: int, term) -> dict:
    await ws.send_json({"op": "start", "token": token, "term": term, "optargs": {}})
    msg = await ws.receive_json(timeout=10)
    assert msg["token"] == token
    return msg["response"]


async def refused_socket(browser: Browser, **kw) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as e:
        async with browser.socket(**kw):
            pass
    return e.value.status


def test_page_and_headers(console):
    async def go():
        async with aiohttp.ClientSession() as http:
            async with http.get(console.url + "/") as res:
                assert res.status == 200
                html = await res.text()
                csp = res.headers["Content-Security-Policy"]
            async with http.get(console.url + "/static/parse.js") as res:
                assert res.status == 200
            async with http.get(console.url + "/static/../routes.py") as res:
                assert res.status in (403, 404)
        assert "/static/reql.js" in html and "/static/parse.js" in html
        # typed queries are parsed, never evaluated: the page may not eval strings at all
        assert "unsafe-eval" not in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp

    run(go())


def test_session_cookie_is_http_only_and_strict(console):
    async def go():
        async with aiohttp.ClientSession() as http:
            async with http.get(console.url + "/api/session") as res:
                body = await res.json()
                cookie = res.headers["Set-Cookie"]
        assert body["user"] is None and body["login_required"] is True and body["csrf"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie

    run(go())


def test_login_needs_csrf_and_right_password(console):
    async def go():
        async with Browser(console.url) as b:
            await b.session()
            status, body = await b.post(
                "/api/login", {"user": "admin", "password": PASSWORD}, csrf=None
            )
            assert status == 403 and "CSRF" in body["error"]
            status, body = await b.post(
                "/api/login", {"user": "admin", "password": PASSWORD}, csrf="forged"
            )
            assert status == 403
            # the driver port's answer to a wrong password (test_auth.py), unknown users alike
            status, body = await b.post("/api/login", {"user": "admin", "password": "nope"})
            assert (status, body["error"]) == (401, "Wrong password")
            status, body = await b.post("/api/login", {"user": "mallory", "password": "x"})
            assert (status, body["error"]) == (401, "Wrong password")
            before = {c.key: c.value for c in b.http.cookie_jar}["rethought_console"]
            status, body = await b.login()
            assert status == 200 and body["user"] == "admin"
            after = {c.key: c.value for c in b.http.cookie_jar}["rethought_console"]
            assert after != before  # the session id is replaced at login
            assert (await b.session())["user"] == "admin"

    run(go())


def test_cross_origin_post_refused(console):
    async def go():
        async with Browser(console.url) as b:
            await b.login()
            headers = {"X-CSRF-Token": b.csrf, "Origin": "http://evil.example"}
            async with b.http.post(console.url + "/api/logout", json={}, headers=headers) as res:
                assert res.status == 403
            assert (await b.session())["user"] == "admin"  # still logged in

    run(go())


def test_websocket_needs_login_csrf_and_origin(console):
    async def go():
        async with Browser(console.url) as b:
            assert await refused_socket(b) == 403  # no session at all
            await b.session()
            assert await refused_socket(b) == 403  # a session, nobody logged in
            await b.login()
            assert await refused_socket(b, csrf=None) == 403
            assert await refused_socket(b, csrf="forged") == 403
            assert await refused_socket(b, origin="http://evil.example") == 403
            async with b.socket() as ws:
                assert await query(ws, 1, [24, [1, 2]]) == {"t": SUCCESS_ATOM, "r": [3]}

    run(go())


def test_websocket_answers_as_the_driver_port(console):
    async def go():
        async with Browser(console.url) as b:
            await b.login()
            async with b.socket() as ws:
                # r.expr(1).add("a"): the error and its backtrace as RethinkDB words them
                res = await query(ws, 7, [24, [1, "a"]])
                assert res["t"] == RUNTIME_ERROR
                assert res["r"] == ["Expected type NUMBER but found STRING."]
                # r.range(): an endless stream comes in batches, CONTINUE gets the next
                res = await query(ws, 8, [173, []])
                assert res["t"] == SUCCESS_PARTIAL and res["r"][:3] == [0, 1, 2]
                last = res["r"][-1]
                await ws.send_json({"op": "continue", "token": 8})
                more = (await ws.receive_json(timeout=10))["response"]
                assert more["t"] == SUCCESS_PARTIAL and more["r"][0] == last + 1
                await ws.send_json({"op": "stop", "token": 8})
                end = (await ws.receive_json(timeout=10))["response"]
                assert end["t"] == SUCCESS_SEQUENCE
                for bad, text in [
                    ("not json", "Message is not JSON."),
                    ("[1]", "Message is not an object."),
                    ('{"op": "start", "token": 0}', "`token` must be a positive integer."),
                    ('{"op": "fly", "token": 3}', "`op` must be start, continue or stop."),
                ]:
                    await ws.send_str(bad)
                    assert await ws.receive_json(timeout=10) == {"error": text}
                # the socket still serves queries after bad messages
                assert (await query(ws, 9, [24, [2, 2]]))["r"] == [4]

    run(go())


def test_non_admin_sees_only_what_it_may(console):
    from rethought import r

    db, user = "perm_" + uuid.uuid4().hex[:8], "u_" + uuid.uuid4().hex[:8]
    conn = r.connect(host=console.host, port=console.port, password=PASSWORD)
    try:
        r.db_create(db).run(conn)
        r.db(db).table_create("open").run(conn)
        r.db(db).table_create("secret").run(conn)
        r.db(db).table("open").insert({"id": 1}).run(conn)
        r.db("rethinkdb").table("users").insert({"id": user, "password": "pw"}).run(conn)
        r.db(db).table("open").grant(user, {"read": True}).run(conn)

        async def go():
            async with Browser(console.url) as b:
                assert (await b.login(user, "wrong"))[0] == 401
                status, body = await b.login(user, "pw")
                assert status == 200 and body["user"] == user
                async with b.socket() as ws:
                    count = [43, [[15, [[14, [db]], "open"]]]]
                    assert await query(ws, 1, count) == {"t": SUCCESS_ATOM, "r": [1]}
                    res = await query(ws, 2, [43, [[15, [[14, [db]], "secret"]]]])
                    assert res["t"] == RUNTIME_ERROR and res["e"] == PERMISSION_ERROR
                    # permission_error.hpp's wording
                    assert res["r"] == [
                        f"User `{user}` does not have the required `read` permission."
                    ]
                    # and cannot write where it may only read
                    res = await query(ws, 3, [56, [[15, [[14, [db]], "open"]], {"id": 2}]])
                    assert res["e"] == PERMISSION_ERROR

        run(go())
    finally:
        r.db_drop(db).run(conn)
        r.db("rethinkdb").table("users").get(user).delete().run(conn)
        conn.close()


def test_logout_ends_session_and_its_sockets(console):
    async def go():
        async with Browser(console.url) as b:
            await b.login()
            old_csrf = b.csrf
            async with b.socket() as ws:
                assert (await query(ws, 1, [24, [1, 1]]))["r"] == [2]
                status, body = await b.post("/api/logout")
                assert status == 200 and body["user"] is None
                msg = await ws.receive(timeout=10)
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            # logged out: the page asks for a login again (no automatic admin login)
            assert (await b.session())["user"] is None
            assert await refused_socket(b, csrf=old_csrf) == 403

    run(go())


def test_no_password_means_no_login(tmp_path):
    # RethinkDB's console asks for nothing while admin has no password; nor does ours
    srv = start_console_server(str(tmp_path / "data"))
    try:

        async def go():
            async with Browser(srv.url) as b:
                body = await b.session()
                assert body["user"] == "admin" and body["login_required"] is False
                async with b.socket() as ws:
                    assert (await query(ws, 1, [24, [1, 1]]))["r"] == [2]

        run(go())
    finally:
        srv.stop()


def test_no_http_admin_serves_nothing(tmp_path):
    port = free_port()
    srv = ServerProcess(
        str(tmp_path / "data"), extra=["--http-port", str(port), "--no-http-admin"]
    ).start()
    try:
        deadline = time.monotonic() + 30
        while "Server ready" not in srv.log():  # the console would bind before this line
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        assert "administrative HTTP" not in srv.log()
    finally:
        srv.stop()
