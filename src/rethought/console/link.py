"""A browser's queries, run as a driver connection of the logged-in user, inside the process.

Each console WebSocket gets one ``server.wire.session.ConnectionSession`` -- the very object that
serves a driver connection -- for its user, so every permission check, error text and
changefeed is the driver port's. Frames go in as the driver port reads them (START / CONTINUE /
STOP by token) and the answers come back to the page as ``{"token": N, "response": {...}}``.

The page sends only term JSON that our builder produced; nothing it sends is evaluated as
Python, and the session compiles it as it compiles any driver's query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ..proto.ql2 import QueryType
from ..server.wire import net_responses as resp
from ..server.wire.session import ConnectionSession

MAX_TOKEN = 2**53 - 1  # JavaScript numbers stay exact below this
MAX_MESSAGE = 16 * 1024 * 1024


class BadMessage(Exception):
    """A WebSocket message that is not one of ours: answered as an error to that page."""


class QueryLink:
    """Runs one page's queries on a ``ConnectionSession`` of ``user``."""

    def __init__(self, server: Any, user: str, deliver: Callable[[bytes], Awaitable[None]]):
        self._deliver = deliver
        self.session = ConnectionSession(
            server.engine, self._send, server.sync, server.server_info, user
        )

    async def _send(self, data: bytes) -> None:
        # Every send is one frame: 8-byte token, 4-byte length, the JSON response.
        token, _size = resp.HEADER.unpack_from(data)
        body = data[resp.HEADER.size :]
        await self._deliver(b'{"token":%d,"response":%s}' % (token, body))

    async def handle(self, text: str | bytes) -> None:
        """One message from the page: ``{"op": "start"|"continue"|"stop", "token": N, ...}``."""
        if len(text) > MAX_MESSAGE:
            raise BadMessage("Message too large.")
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise BadMessage("Message is not JSON.") from None
        if type(msg) is not dict:
            raise BadMessage("Message is not an object.")
        token = msg.get("token")
        if type(token) is not int or not 0 < token <= MAX_TOKEN:
            raise BadMessage("`token` must be a positive integer.")
        op = msg.get("op")
        if op == "start":
            optargs = msg.get("optargs", {})
            if type(optargs) is not dict:
                raise BadMessage("`optargs` must be an object.")
            optargs.pop("noreply", None)  # the page always waits for its answer
            payload = [int(QueryType.START), msg.get("term"), optargs]
        elif op == "continue":
            payload = [int(QueryType.CONTINUE)]
        elif op == "stop":
            payload = [int(QueryType.STOP)]
        else:
            raise BadMessage("`op` must be start, continue or stop.")
        await self.session.handle(token, orjson.dumps(payload))

    def close(self) -> None:
        """The page went away: stop its queries and feeds, as a closed connection does."""
        self.session.abort()
