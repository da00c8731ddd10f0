"""The todo list in the database: one connection, one changefeed, kept alive across restarts.

``TodoStore.run()`` connects (retrying with backoff), creates the database and the ``todo``
table when they are missing, opens ``r.table("todo").changes()`` and hands every change to
``on_change``. When the connection breaks (the database restarted, the network dropped) it
reports ``on_state(False)``, reconnects with backoff and reopens the feed, then reports
``on_state(True)``: changes made while the feed was down are not in any feed, so whoever
shows the list must read it again then. Only standard ReQL is used, so the same code runs
against RethinkDB.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Callable

from rethought import r
from rethought.errors import ReqlAvailabilityError, ReqlDriverError, ReqlError

log = logging.getLogger("rethought.examples.todo")

TABLE = "todo"
BACKOFF_MIN = 0.1
BACKOFF_MAX = 2.0
UNAVAILABLE = "The database is unavailable; try again in a moment."


class StoreError(Exception):
    """A request the database did not carry out; its text is shown to the page."""


class Unavailable(StoreError):
    """The database cannot be reached right now."""


class UnknownItem(StoreError):
    """No item has the id a page asked for."""


_last_ms = 0
_last_rand = 0


def new_id() -> str:
    """A time-ordered UUID (version 7, RFC 9562) for a new item.

    The documents stay ``{"id", "text", "done"}`` and still list in the order they were
    added: ordering by id is ordering by creation time (to the millisecond; within one
    millisecond this process counts up, so its own items never swap places).
    """
    global _last_ms, _last_rand
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:  # same millisecond, or the clock stepped back: keep counting up
        ms, rand = _last_ms, _last_rand + 1
    else:
        rand = secrets.randbits(73)  # 74-bit field, top bit clear: room to count up
    _last_ms, _last_rand = ms, rand
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62
    value |= rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


class TodoStore:
    """The ``todo`` table of database ``db``, with a changefeed that survives reconnects."""

    def __init__(
        self,
        *,
        host: str = "localhost",
        port: int = 28015,
        db: str = "test",
        user: str = "admin",
        password: str = "",
        on_change: Callable[[dict], None] = lambda change: None,
        on_state: Callable[[bool], None] = lambda ready: None,
    ):
        self.host, self.port, self.db = host, port, db
        self.user, self.password = user, password
        self.on_change, self.on_state = on_change, on_state
        self.table = r.db(db).table(TABLE)
        self.conn = None  # set while connected with the feed open

    @property
    def ready(self) -> bool:
        """True while connected with the feed open."""
        return self.conn is not None

    async def run(self) -> None:
        """Keep a connection and the feed open until cancelled."""
        delay = BACKOFF_MIN
        while True:
            try:
                conn = await r.connect(
                    host=self.host,
                    port=self.port,
                    user=self.user,
                    password=self.password,
                    timeout=5,
                    loop_type="asyncio",
                )
            except (ReqlError, OSError) as exc:  # OSError covers TimeoutError
                log.warning("cannot connect to the database at %s:%s (%s); retrying in %.1f s",
                            self.host, self.port, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            try:
                await self._create_missing(conn)
                feed = await self.table.changes().run(conn)
                # The feed is registered on the server from here on: a list read after
                # this point plus the feed's changes miss nothing.
                self.conn = conn
                delay = BACKOFF_MIN
                log.info("connected to %s:%s, following %s.%s", self.host, self.port,
                         self.db, TABLE)
                self.on_state(True)
                async for change in feed:
                    self.on_change(change)
            except (ReqlError, OSError) as exc:  # OSError covers TimeoutError
                log.warning("lost the database (%s); reconnecting", exc)
            finally:
                was_ready = self.conn is not None
                self.conn = None
                if was_ready:
                    self.on_state(False)
                await self._close(conn)
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _create_missing(self, conn) -> None:
        # branch() keeps each check and creation one query; two apps starting together may
        # still race, and the loser's "already exists" is success.
        for query in (
            r.branch(r.db_list().contains(self.db), None, r.db_create(self.db)),
            r.branch(r.db(self.db).table_list().contains(TABLE), None,
                     r.db(self.db).table_create(TABLE)),
        ):
            try:
                await query.run(conn)
            except ReqlError as exc:
                if "already exists" not in str(exc):
                    raise
        await self.table.wait().run(conn)

    @staticmethod
    async def _close(conn) -> None:
        try:
            await conn.close(noreply_wait=False)
        except (ReqlError, OSError):
            pass

    async def _run(self, query):
        conn = self.conn
        if conn is None:
            raise Unavailable(UNAVAILABLE)
        try:
            return await query.run(conn)
        except (ReqlDriverError, ReqlAvailabilityError, OSError):
            raise Unavailable(UNAVAILABLE) from None
        except ReqlError as exc:
            # Another client may have stored an id or a document this app cannot use.
            raise StoreError(f"The database refused the request: {exc.message}") from None

    async def items(self) -> list[dict]:
        """Every item, in id order: the order they were added in (see ``new_id``)."""
        return await self._run(self.table.order_by("id"))

    async def add(self, text: str) -> str:
        """Insert a new item; returns its id."""
        item_id = new_id()
        self._check(await self._run(self.table.insert({"id": item_id, "text": text,
                                                       "done": False})))
        return item_id

    async def update(self, item_id, fields: dict) -> None:
        """Set ``fields`` on an existing item; UnknownItem when there is none."""
        result = self._check(await self._run(self.table.get(item_id).update(fields)))
        if result.get("skipped"):
            raise UnknownItem(item_id)

    async def delete(self, item_id) -> None:
        """Delete an existing item; UnknownItem when there is none."""
        result = self._check(await self._run(self.table.get(item_id).delete()))
        if not result.get("deleted"):
            raise UnknownItem(item_id)

    @staticmethod
    def _check(result: dict) -> dict:
        if result.get("errors"):
            raise StoreError(f"The database refused the write: {result.get('first_error')}")
        return result
