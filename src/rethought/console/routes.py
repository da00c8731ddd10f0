"""The console's HTTP side: the page, its static files, login / logout, and the WebSocket.

Rules (docs/web-console.md): no data without a logged-in session; every POST carries the
session's CSRF token in ``X-CSRF-Token``; the WebSocket carries it as ``?csrf=`` (browsers send
no custom headers there) and must come from the console's own origin. Everything the pages show
arrives over the WebSocket as answers to ReQL queries run as the logged-in user.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import WSMsgType, web

from ..proto.ql2 import TermType
from .link import MAX_MESSAGE, BadMessage, QueryLink
from .sessions import COOKIE, LoginFailed, Session, Sessions, admin_needs_password

log = logging.getLogger("rethought.console")

STATIC = Path(__file__).parent / "static"
SERVER_KEY = web.AppKey("server", Any)
SESSIONS_KEY = web.AppKey("sessions", Sessions)
SOCKETS_KEY = web.AppKey("sockets", set)

# No 'unsafe-eval': the Data Explorer reads typed queries with its own parser (parse.js), so
# nothing on the page may eval a string, and injected markup can run no script.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_TERMS = orjson.dumps({name: int(value) for name, value in TermType.__members__.items()})


@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _session(request: web.Request) -> Session | None:
    return request.app[SESSIONS_KEY].get(request.cookies.get(COOKIE))


def _with_cookie(response: web.StreamResponse, s: Session) -> web.StreamResponse:
    response.set_cookie(COOKIE, s.id, httponly=True, samesite="Strict", path="/")
    return response


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-site request (browsers always send Origin there)
    return urlsplit(origin).netloc == request.host


def _forbidden(text: str) -> web.Response:
    return web.json_response({"error": text}, status=403)


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html")


async def terms(request: web.Request) -> web.Response:
    return web.Response(body=_TERMS, content_type="application/json")


async def session_info(request: web.Request) -> web.Response:
    """Who is logged in and the CSRF token; starts an anonymous session when there is none."""
    sessions = request.app[SESSIONS_KEY]
    s = sessions.current(request.cookies.get(COOKIE))
    body = {
        "user": s.user,
        "csrf": s.csrf,
        "login_required": admin_needs_password(sessions.storage),
    }
    return _with_cookie(web.json_response(body), s)


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json(loads=orjson.loads)
    except ValueError:
        return {}
    return body if type(body) is dict else {}


def _checked(request: web.Request) -> Session | web.Response:
    s = _session(request)
    if s is None:
        return _forbidden("No session: load the console first.")
    if not _same_origin(request) or not s.check_csrf(request.headers.get("X-CSRF-Token")):
        return _forbidden("Missing or wrong CSRF token.")
    return s


async def login(request: web.Request) -> web.Response:
    s = _checked(request)
    if isinstance(s, web.Response):
        return s
    body = await _json_body(request)
    user, password = body.get("user"), body.get("password")
    if type(user) is not str or type(password) is not str or not user:
        return web.json_response({"error": "Give a user and a password."}, status=400)
    try:
        s = await request.app[SESSIONS_KEY].login(s, user, password)
    except LoginFailed as e:
        return web.json_response({"error": str(e)}, status=401)
    log.info("console login: %s", user)
    return _with_cookie(web.json_response({"user": s.user, "csrf": s.csrf}), s)


async def logout(request: web.Request) -> web.Response:
    s = _checked(request)
    if isinstance(s, web.Response):
        return s
    fresh = request.app[SESSIONS_KEY].logout(s)
    for ws in list(request.app[SOCKETS_KEY]):
        if ws.session_id == s.id:  # a logged-out session's live queries end with it
            await ws.close()
    return _with_cookie(web.json_response({"user": None, "csrf": fresh.csrf}), fresh)


class _Socket(web.WebSocketResponse):
    session_id = ""


async def websocket(request: web.Request) -> web.StreamResponse:
    s = _session(request)
    if s is None or s.user is None:
        return _forbidden("Log in first.")
    if not _same_origin(request) or not s.check_csrf(request.query.get("csrf")):
        return _forbidden("Missing or wrong CSRF token.")
    ws = _Socket(heartbeat=30, max_msg_size=MAX_MESSAGE)
    ws.session_id = s.id
    await ws.prepare(request)
    sockets = request.app[SOCKETS_KEY]
    sockets.add(ws)

    async def deliver(data: bytes) -> None:
        if not ws.closed:
            try:
                await ws.send_str(data.decode())
            except ConnectionError:
                pass  # the page went away; closing the socket ends its queries

    link = QueryLink(request.app[SERVER_KEY], s.user, deliver)
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            if request.app[SESSIONS_KEY].get(s.id) is None:
                break  # logged out or expired meanwhile
            try:
                await link.handle(msg.data)
            except BadMessage as e:
                await ws.send_str(orjson.dumps({"error": str(e)}).decode())
    finally:
        link.close()
        sockets.discard(ws)
    return ws


def build_app(server: Any) -> web.Application:
    """The console application for a running ``DriverServer``."""
    app = web.Application(middlewares=[_headers], client_max_size=MAX_MESSAGE)
    app[SERVER_KEY] = server
    app[SESSIONS_KEY] = Sessions(server.storage)
    app[SOCKETS_KEY] = set()
    app.router.add_get("/", index)
    app.router.add_get("/console/ql2.json", terms)
    app.router.add_get("/api/session", session_info)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/ws", websocket)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    app.on_shutdown.append(_close_sockets)
    return app


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[SOCKETS_KEY]):
        await ws.close()
