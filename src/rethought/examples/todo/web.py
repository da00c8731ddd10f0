"""The todo app's HTTP side: the page, ``GET /todo``, and one WebSocket per open page.

Every page's socket is registered with the ``Hub``; the store's single changefeed is fanned
out to all of them. Messages the server sends on a socket::

    {"type": "ready"}                        the feed is open: read GET /todo now, then apply
                                             the changes that follow it
    {"type": "offline"}                      the database is gone; the list may be stale
    {"type": "change", "old_val": ..., "new_val": ...}   one change of r.table("todo")
    {"type": "ok", "ref": ...}               a request of this page was carried out
    {"type": "error", "message": "...", "ref": ...}      ... or refused (to this page only)

A page sends the requests described in ``protocol``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import resources

from aiohttp import WSMsgType, web
from yarl import URL

from . import protocol
from .store import StoreError, TodoStore, Unavailable, UnknownItem

log = logging.getLogger("rethought.examples.todo")

# A page that reads nothing for this many queued messages is dropped; it reconnects and
# reads the list again, which is cheaper than holding an unbounded backlog for it.
QUEUE_LIMIT = 1000
# A request carries at most 500 characters of text; a larger message still gets its error
# back (so that a too-long text is answered, not disconnected) up to this size.
MAX_MESSAGE = 1024 * 1024

def encode(message) -> str:
    """JSON text of a message or of the list."""
    # Documents written by other clients may hold times or binary values; show them as text.
    return json.dumps(message, default=str, ensure_ascii=False)


class Page:
    """One connected page: its socket and the messages waiting to be sent to it."""

    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer = asyncio.create_task(self._write())
        self.dropped: asyncio.Task | None = None

    def send(self, text: str) -> None:
        """Queue one message; a page too far behind is disconnected (it resyncs)."""
        if self.dropped is not None:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            log.warning("a page stopped reading; closing its socket")
            self.writer.cancel()
            # 1013 "try again later": the page reconnects and reads the list afresh.
            self.dropped = asyncio.create_task(self.ws.close(code=1013, message=b"too slow"))
            return
        self.queue.put_nowait(text)

    async def _write(self) -> None:
        # One writer per socket keeps each page's messages in feed order without letting a
        # slow page hold up the feed.
        while (text := await self.queue.get()) is not None:
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                break
        await self.ws.close()

    async def close(self) -> None:
        """Send what is queued, then close the socket."""
        if self.dropped is None:
            self.queue.put_nowait(None)
        await asyncio.gather(self.writer, self.dropped or asyncio.sleep(0),
                             return_exceptions=True)


class Hub:
    """The open pages; the store's changes and state go to all of them."""

    def __init__(self):
        self.pages: set[Page] = set()

    def broadcast(self, message: dict) -> None:
        text = encode(message)  # encoded once for all pages
        for page in self.pages:
            page.send(text)

    def on_change(self, change: dict) -> None:
        self.broadcast({"type": "change", **change})

    def on_state(self, ready: bool) -> None:
        self.broadcast({"type": "ready" if ready else "offline"})


STORE = web.AppKey("store", TodoStore)
HUB = web.AppKey("hub", Hub)


async def index(request: web.Request) -> web.Response:
    return web.Response(body=static_file("index.html"), content_type="text/html",
                        headers={"Cache-Control": "no-cache"})


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    kind = next((t for ext, t in types.items() if name.endswith(ext)), None)
    if kind is None or "/" in name or name.startswith("."):
        raise web.HTTPNotFound()
    try:
        body = static_file(name)
    except FileNotFoundError:
        raise web.HTTPNotFound() from None
    return web.Response(body=body, content_type=kind, headers={"Cache-Control": "no-cache"})


def static_file(name: str) -> bytes:
    """A file of the page, read from the installed package."""
    return resources.files(__package__).joinpath("static", name).read_bytes()


async def todo_list(request: web.Request) -> web.Response:
    try:
        items = await request.app[STORE].items()
    except StoreError as exc:  # 503 while the database is away, 500 if it refused the read
        status = 503 if isinstance(exc, Unavailable) else 500
        return web.json_response({"error": str(exc)}, status=status, dumps=encode)
    return web.json_response(items, dumps=encode, headers={"Cache-Control": "no-store"})


def same_origin(request: web.Request) -> bool:
    """False for a browser page of another site: browsers send Origin on every WebSocket,
    and any site may open one to this port (programs that send none are let in)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        page = URL(origin)
        served = URL(f"{page.scheme}://{request.host}")  # default ports made explicit alike
        return page.host is not None and (page.host, page.port) == (served.host, served.port)
    except ValueError:
        return False


async def socket(request: web.Request) -> web.WebSocketResponse:
    if not same_origin(request):
        raise web.HTTPForbidden(text="Cross-origin WebSocket refused.")
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MESSAGE)
    await ws.prepare(request)
    store, hub = request.app[STORE], request.app[HUB]
    page = Page(ws)
    # Registered before "ready" is queued: every change after it reaches this page.
    hub.pages.add(page)
    page.send(encode({"type": "ready" if store.ready else "offline"}))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                page.send(encode(await carry_out(store, msg.data)))
            elif msg.type == WSMsgType.BINARY:
                page.send(encode({"type": "error", "message": "Malformed message: not text."}))
    finally:
        hub.pages.discard(page)
        await page.close()
    return ws


async def carry_out(store: TodoStore, raw: str) -> dict:
    """Check and perform one request; the answer for the page that sent it."""
    try:
        op = protocol.parse(raw)
    except protocol.Invalid as exc:
        ref = None
        try:
            ref = protocol.read_ref(json.loads(raw))
        except (ValueError, RecursionError):
            pass
        return {"type": "error", "message": str(exc), "ref": ref}
    try:
        if op.op == "add":
            await store.add(op.text)
        elif op.op in ("check", "uncheck"):
            await store.update(op.id, {"done": op.op == "check"})
        elif op.op == "edit":
            await store.update(op.id, {"text": op.text})
        else:
            await store.delete(op.id)
    except UnknownItem:
        return {"type": "error", "message": "No such item (it may have been deleted).",
                "ref": op.ref}
    except StoreError as exc:  # Unavailable, or a write the database refused
        return {"type": "error", "message": str(exc), "ref": op.ref}
    return {"type": "ok", "ref": op.ref}


def make_app(store_options: dict) -> web.Application:
    """The aiohttp application; ``store_options`` are TodoStore's connection arguments."""
    app = web.Application()
    hub = Hub()
    app[HUB] = hub
    app[STORE] = TodoStore(on_change=hub.on_change, on_state=hub.on_state, **store_options)
    app.router.add_get("/", index)
    app.router.add_get("/todo", todo_list)
    app.router.add_get("/ws", socket)
    app.router.add_get("/static/{name}", static)

    async def follow(app: web.Application):
        task = asyncio.create_task(app[STORE].run())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def close_pages(app: web.Application):
        # Send each page what is already queued for it (an "ok" for its last request), then
        # close its socket; pages reconnect by themselves once the app is back.
        pages = list(hub.pages)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.close() for p in pages)), 2)
        except TimeoutError:  # a page that does not read; close it regardless
            for page in pages:
                await page.ws.close(code=1001, message=b"server shutting down")

    app.cleanup_ctx.append(follow)
    app.on_shutdown.append(close_pages)
    return app
