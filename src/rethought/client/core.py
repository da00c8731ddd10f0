"""The driver's sans-IO protocol core: queries in, bytes out; bytes in, query state out.

Like h11, :class:`ClientCore` never touches a socket, a clock or an event loop. A loop
adapter (``client/loops/*``) does only three things:

1. write ``core.data_to_send()`` to the transport whenever it is non-empty (after connecting
   and after every call into the core);
2. feed whatever it reads to ``core.receive_data(data)``, which returns the :class:`Query`
   objects whose state changed, so the adapter can wake whoever waits on them;
3. call ``core.connection_lost()`` when the transport closes or breaks: every pending query
   then fails at once with :class:`ReqlDriverError` (nothing is left hanging).

Everything else lives here: the handshake, token allocation, frame encoding, incremental
frame decoding, per-query state (buffered rows, CONTINUE outstanding, done, error), cursor
prefetching, STOP, result conversion and error construction. Wire format of every frame in
both directions: 8-byte little-endian token, 4-byte little-endian length, JSON body.
"""

from __future__ import annotations

import collections
import struct
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import ReqlDriverError, ReqlError, error_class_for
from ..proto.ql2 import QueryType, ResponseNote, ResponseType, TermType
from ..query.ast import expr
from ..query.encode import standard_dumps
from .convert import MARKER, NATIVE, Formats, convert
from .handshake import Handshake
from .json_codec import NO_CODEC, Codec
from .resume import FeedResume, heartbeat_action, resumable_term

__all__ = [
    "ClientCore",
    "Query",
    "PENDING",
    "EMPTY",
    "RECV_SIZE",
    "build_optargs",
    "start_args",
]

HEADER = struct.Struct("<QL")
HEADER_SIZE = HEADER.size
CLOSED_MESSAGE = "Connection is closed."
# What every adapter reads at once (resident, reused where the loop allows): a 1 MB batch then
# takes 16 reads, each far cheaper than its rows' parse.
RECV_SIZE = 1 << 16

# next_item() results that are not rows.
PENDING = object()  # nothing buffered yet: wait for the transport
EMPTY = object()  # the sequence finished normally

_FEED_NOTES = frozenset(
    (
        ResponseNote.SEQUENCE_FEED,
        ResponseNote.ATOM_FEED,
        ResponseNote.ORDER_BY_LIMIT_FEED,
        ResponseNote.UNIONED_FEED,
    )
)
# The protocol's numbers as plain ints on the per-query path: looking up an IntEnum member
# costs several times a global's, and orjson writes an int faster than an enum.
_START, _CONTINUE, _STOP = int(QueryType.START), int(QueryType.CONTINUE), int(QueryType.STOP)
_DB = int(TermType.DB)
_ATOM, _SEQUENCE = int(ResponseType.SUCCESS_ATOM), int(ResponseType.SUCCESS_SEQUENCE)
_PARTIAL, _INFO = int(ResponseType.SUCCESS_PARTIAL), int(ResponseType.SERVER_INFO)
_WAIT_COMPLETE = int(ResponseType.WAIT_COMPLETE)
_ERRORS = tuple(  # a tuple: a malformed (unhashable) type must not raise TypeError here
    map(int, (ResponseType.CLIENT_ERROR, ResponseType.COMPILE_ERROR, ResponseType.RUNTIME_ERROR))
)
_SEQUENCE_TYPES = (_SEQUENCE, _PARTIAL)
# Options that only configure the client and never go to the server.
_CLIENT_ONLY_OPTARGS = ("json_encoder", "json_decoder", "resumable")
_PLAIN_OPTARG = frozenset({str, int, bool, type(None)})  # always JSON as they are


class Query:
    """Client-side state of one query (one token).

    ``items`` holds converted rows not yet consumed; ``outstanding`` is true while the server
    owes a response (START or CONTINUE sent, nothing back yet); ``done`` once the server
    finished the sequence, failed it, or the cursor was closed. ``waiter`` is free for the
    loop adapter (a future, a condition, a Handler...); the core never reads it.
    """

    __slots__ = (
        "token",
        "term",
        "formats",
        "items",
        "outstanding",
        "done",
        "error",
        "value",
        "response_type",
        "notes",
        "profile",
        "threshold",
        "waiter",
        "feed",
        "decoder",
    )

    def __init__(self, token: int, term: Any = None, formats: Formats = NATIVE):
        self.token = token
        self.term = term
        self.formats = formats
        self.items: collections.deque = collections.deque()
        self.outstanding = True
        self.done = False
        self.error: ReqlError | None = None
        self.value: Any = None
        self.response_type: int | None = None
        self.notes: list[int] = []
        self.profile: Any = None
        self.threshold = 1
        self.waiter: Any = None
        self.feed: FeedResume | None = None  # a resumable changefeed's resume state
        self.decoder: Any = None  # a json_decoder instance (json_codec.py), else orjson

    @property
    def answered(self) -> bool:
        """The first response arrived (or the query failed without one)."""
        return self.response_type is not None or self.error is not None

    @property
    def is_sequence(self) -> bool:
        return self.response_type in _SEQUENCE_TYPES

    @property
    def is_feed(self) -> bool:
        """The server marked this stream as a changefeed (it never ends by itself)."""
        return any(n in _FEED_NOTES for n in self.notes)

    @property
    def can_advance(self) -> bool:
        """``next_item`` would not return PENDING."""
        return bool(self.items) or self.done

    def __repr__(self) -> str:
        state = "done" if self.done else "open"
        return f"<Query token={self.token} {state} buffered={len(self.items)}>"


def _optarg_json(value: Any) -> Any:
    # Global optargs are ReQL terms, as if wrapped in r.expr().
    build = getattr(value, "build", None)
    if build is not None:
        return build()
    if type(value) is list or type(value) is tuple:
        return [TermType.MAKE_ARRAY, [_optarg_json(x) for x in value]]
    if type(value) is dict:
        return {k: _optarg_json(v) for k, v in value.items()}
    if type(value) in _PLAIN_OPTARG:
        return value
    return expr(value).build()  # floats, times, bytes, ... exactly as r.expr converts them


def build_optargs(optargs: dict | None, default_db: str | None) -> dict:
    """The global optargs object of a START query; ``db`` names become ``r.db(name)``."""
    out: dict = {}
    if optargs:
        for key, value in optargs.items():
            if key not in _CLIENT_ONLY_OPTARGS:
                out[key] = _optarg_json(value)
    db = optargs.get("db") if optargs else None
    if db is None:
        db = default_db
    if db is not None:
        out["db"] = db.build() if hasattr(db, "build") else [_DB, [db]]
    return out


def start_args(
    term: Any, optargs: dict, default_db: str | None, resumable: bool = False
) -> tuple[Any, dict, Any, bool, bool | str, tuple | None]:
    """:meth:`ClientCore.start`'s arguments for ``term.run(conn, **optargs)``; ``resumable``
    is the connection's default for changefeeds (``run(conn, resumable=...)`` overrides it);
    ``json_encoder`` / ``json_decoder`` run options override the connection's classes.
    """
    noreply = bool(optargs.get("noreply", False))
    # True: asked for in run(); "default": the connection's (which may fall back, resume.py)
    resume: bool | str = bool(optargs["resumable"]) if "resumable" in optargs else resumable
    if resume is True and "resumable" not in optargs:
        resume = "default"
    json_classes = None
    if "json_encoder" in optargs or "json_decoder" in optargs:
        json_classes = (optargs.get("json_encoder"), optargs.get("json_decoder"))
    built = build_optargs(optargs, default_db)
    return term.build(), built, term, noreply, resume, json_classes


class ClientCore:
    """Protocol state of one connection (not thread-safe: adapters serialise calls)."""

    def __init__(
        self,
        user: str = "admin",
        password: str = "",
        host: str = "",
        port: int = 0,
        codec: Codec = NO_CODEC,
    ):
        self.handshake = Handshake(user, password, host, port)
        self.codec = codec  # the connection's json_encoder / json_decoder classes
        self._out = bytearray(self.handshake.initial_bytes())
        self._in = bytearray()
        self._queries: dict[int, Query] = {}
        self._next_token = 1
        self.closed = False
        self.received = 0  # receive_data calls: the heartbeat's sign of life
        self._seen = 0
        self._ping: Query | None = None
        self.kept: list[Query] = []  # resumable feeds that outlived connection_lost

    # -- state ---------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """The handshake completed; queries may be sent."""
        return self.handshake.done

    @property
    def pending(self) -> list[Query]:
        """Queries still waiting for the server."""
        return list(self._queries.values())

    def data_to_send(self) -> bytes:
        """Take the bytes the adapter must write now (possibly empty)."""
        if not self._out:
            return b""
        data = bytes(self._out)
        self._out.clear()
        return data

    # -- outgoing ------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise ReqlDriverError(CLOSED_MESSAGE)
        if not self.handshake.done:
            raise ReqlDriverError("Connection is not ready: the handshake has not finished.")

    def _frame(self, token: int, message: list, codec: Codec = NO_CODEC) -> None:
        if codec.encoder is not None:
            body = codec.encode(message)
        else:
            try:
                body = orjson.dumps(message)
            except TypeError:  # values orjson refuses: the official driver's encoder decides
                body = standard_dumps(message)
        self._out += HEADER.pack(token, len(body))
        self._out += body

    def _send(self, message: list, codec: Codec = NO_CODEC) -> int:
        """Frame ``message`` under a fresh token; return the token."""
        if self.closed or not self.handshake.done:
            self._check_open()
        token = self._next_token
        self._next_token = token + 1
        self._frame(token, message, codec)
        return token

    def _new_query(self, message: list, term: Any = None, formats: Formats = NATIVE) -> Query:
        token = self._send(message)
        query = self._queries[token] = Query(token, term, formats)
        return query

    def _new_coded_query(
        self, message: list, term: Any, formats: Formats, codec: Codec, optargs: dict | None
    ) -> Query:
        decoder = codec.new_decoder(optargs)  # before sending: it may refuse the options
        token = self._send(message, codec)
        query = self._queries[token] = Query(token, term, formats)
        query.decoder = decoder
        return query

    def start(
        self,
        term_json: Any,
        optargs: dict | None = None,
        term: Any = None,
        noreply: bool = False,
        resumable: bool | str = False,
        json_classes: tuple | None = None,
    ) -> Query | None:
        """Queue a START; ``optargs`` is the built global optargs object.

        ``term`` (the query object) is kept only to print errors. A ``noreply`` query gets a
        token but no bookkeeping at all, so None is returned. ``resumable``: a changefeed
        (``...changes()``) opens with positions, to be resumed after a drop (resume.py);
        ``"default"`` (the connection's, not asked for) falls back to a plain feed where the
        server has no positions for it. ``json_classes``: the query's own ``(json_encoder,
        json_decoder)`` classes, either None for the connection's.
        """
        formats = Formats.from_optargs(optargs)
        codec = self.codec if json_classes is None else self.codec.override(*json_classes)
        feed = None
        if resumable and not noreply and resumable_term(term_json):
            feed = FeedResume(term_json, optargs, explicit=resumable is True)
            message = feed.message()
        else:
            message = [_START, term_json, optargs] if optargs else [_START, term_json]
        if noreply:
            self._send(message, codec)
            return None
        if codec:
            query = self._new_coded_query(message, term, formats, codec, optargs)
        else:
            query = self._new_query(message, term, formats)
        query.feed = feed
        return query

    def resume(self, query: Query) -> None:
        """Re-open a feed kept by another core's ``connection_lost`` here, under a fresh
        token, from its last position; its rows go on into the same Query (and cursor)."""
        feed = query.feed
        query.token = token = self._send(feed.message())
        self._queries[token] = query
        query.outstanding = True

    def _reopen_plain(self, query: Query) -> None:
        message = query.feed.plain_message()
        self._queries.pop(query.token, None)
        query.feed = None
        query.response_type = query.profile = None
        query.notes = []
        query.token = token = self._send(message)
        self._queries[token] = query
        query.outstanding = True

    def heartbeat_tick(self) -> str | None:
        """Called every heartbeat interval: "ping" (a SERVER_INFO was queued: nothing arrived
        for an interval), "dead" (nothing arrived since the last ping either) or None."""
        if self.closed or not self.handshake.done:
            return None
        ping = self._ping
        action = heartbeat_action(self.received, self._seen, ping is not None and not ping.done)
        self._seen = self.received
        if action == "ping":
            self._ping = self.server_info()
        return action

    def start_plain(self, term: Any, db: str | None) -> Query:
        """:meth:`start` for ``term.run(conn)`` without run options, on a connection whose
        default database is ``db``: what most queries are, so it takes the shortest path."""
        if self.codec:
            return self.start(term.build(), build_optargs(None, db), term)
        if db is None:
            message = [_START, term.build()]
        else:
            message = [_START, term.build(), {"db": [_DB, [db]]}]
        return self._new_query(message, term)

    def noreply_wait(self) -> Query:
        """Queue NOREPLY_WAIT: answered once every earlier noreply query has finished."""
        return self._new_query([QueryType.NOREPLY_WAIT])

    def server_info(self) -> Query:
        """Queue SERVER_INFO; the value is ``{"id", "name", "proxy"}``."""
        return self._new_query([QueryType.SERVER_INFO])

    def _maybe_continue(self, query: Query) -> None:
        # Keep one batch in flight while fewer rows are buffered than the last batch held:
        # the server computes the next batch while the caller consumes this one, and a
        # changefeed needs an outstanding CONTINUE to deliver anything at all.
        if (
            not query.done
            and not query.outstanding
            and len(query.items) < query.threshold
            and not self.closed
        ):
            query.outstanding = True
            self._frame(query.token, [_CONTINUE])

    def stop(self, query: Query) -> None:
        """Close a cursor: drop buffered rows and STOP the stream; later answers are ignored."""
        query.items.clear()
        if query.done:
            return
        query.done = True
        if self._queries.pop(query.token, None) is not None and not self.closed:
            self._frame(query.token, [_STOP])

    # -- consuming results ---------------------------------------------------------------

    def outcome(self, query: Query, make_cursor: Callable[[Query], Any]) -> Any:
        """What ``run`` returns once ``query.answered``: a value, or ``make_cursor(query)``.

        Raises the query's error. With ``profile=True`` the result is wrapped as
        ``{"value": ..., "profile": ...}`` like the official driver.
        """
        if query.response_type not in _SEQUENCE_TYPES:  # not query.is_sequence
            if query.error is not None:
                raise query.error
            result = query.value
        else:
            result = make_cursor(query)
        if query.profile is not None:
            return {"value": result, "profile": query.profile}
        return result

    def next_item(self, query: Query) -> Any:
        """The next row of a sequence, PENDING (wait for data) or EMPTY (finished).

        Buffered rows are delivered before the error of a failed stream is raised.
        """
        items = query.items
        if items:
            row = items.popleft()
            if len(items) < query.threshold:
                self._maybe_continue(query)
            return row
        if query.error is not None:
            raise query.error
        if query.done:
            return EMPTY
        self._maybe_continue(query)
        return PENDING

    # -- incoming ------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Query]:
        """Feed bytes read from the transport; return the queries whose state changed.

        Raises ReqlAuthError / ReqlDriverError while the handshake fails, and
        ReqlDriverError on a malformed frame (the adapter should then close).
        """
        buf = self._in
        buf += data
        self.received += 1
        if not self.handshake.done:
            self._receive_handshake()
            if not self.handshake.done:
                return []
        updated: list[Query] = []
        pos = 0
        size = len(buf)
        queries = self._queries
        while size - pos >= HEADER_SIZE:
            token, length = HEADER.unpack_from(buf, pos)
            end = pos + HEADER_SIZE + length
            if end > size:
                break
            body = buf[pos + HEADER_SIZE : end]
            pos = end
            query = queries.get(token)
            if query is not None:  # unknown tokens: answers to STOPped cursors, ignored
                self._dispatch(query, body)
                updated.append(query)
        if pos:
            del buf[:pos]
        return updated

    def _receive_handshake(self) -> None:
        buf = self._in
        while not self.handshake.done:
            nul = buf.find(b"\0")
            if nul < 0:
                return
            message = bytes(buf[:nul])
            del buf[: nul + 1]
            self._out += self.handshake.receive(message)

    def _dispatch(self, query: Query, body: bytearray) -> None:
        decoder = query.decoder
        try:
            doc = orjson.loads(body) if decoder is None else decoder.decode(body.decode())
            rtype = doc["t"]
            data = doc["r"]
        except ReqlError as exc:  # the user's decoder refused a value
            query.error = exc
            self._finish(query)
            return
        except (ValueError, KeyError, TypeError) as exc:  # orjson's / json's decode errors
            raise ReqlDriverError(f"Malformed response from the server: {exc}") from None
        if MARKER in body and not query.formats.raw and decoder is None:  # needs_conversion()
            try:
                data = convert(data, query.formats)
            except ReqlError as exc:
                query.error = exc
                self._finish(query)
                return
        query.outstanding = False
        first = query.response_type is None
        if first:
            query.response_type = rtype
            query.notes = doc.get("n") or []
            query.profile = doc.get("p")
        if query.feed is not None and (rtype == _PARTIAL or rtype == _SEQUENCE):
            data = query.feed.filter(data)
        if rtype == _PARTIAL:
            buffered = len(query.items)
            query.items.extend(data)
            query.threshold = max(1, len(data))
            if buffered < query.threshold and not self.closed:
                query.outstanding = True
                self._frame(query.token, [_CONTINUE])
            return
        if rtype == _ATOM or rtype == _INFO:
            query.value = data[0] if data else None
        elif rtype == _SEQUENCE:
            query.items.extend(data)
        elif rtype == _WAIT_COMPLETE:
            query.value = None
        elif rtype in _ERRORS:
            message = data[0] if data else "Unknown error."
            cls = error_class_for(rtype, doc.get("e"))
            query.error = cls(message, query.term, doc.get("b") or [])
            if query.feed is not None:
                query.error = query.feed.error(
                    query.error, self.handshake.host, self.handshake.port
                )
                if query.error is None:  # no positions for this feed: open it plain
                    self._reopen_plain(query)
                    return
        else:
            query.error = ReqlDriverError(
                f"Unknown Response type {rtype} encountered in a response."
            )
        self._finish(query)

    def _finish(self, query: Query) -> None:
        query.done = True
        query.outstanding = False
        self._queries.pop(query.token, None)

    def connection_lost(
        self, message: str = CLOSED_MESSAGE, keep_feeds: bool = False
    ) -> list[Query]:
        """The transport is gone: fail every pending query now; return them to wake.

        ``keep_feeds`` (a reconnect follows): resumable feeds are not failed but moved to
        ``kept`` (with a "reconnecting" state document if they asked for states), to be
        resumed on the next connection's core; they are returned too, to be woken.
        """
        self.closed = True
        failed = list(self._queries.values())
        self._queries.clear()
        self._out.clear()
        if keep_feeds:
            for query in failed:
                if query.feed is not None and query.error is None:
                    query.outstanding = False
                    query.items.extend(query.feed.reconnecting())
                    self.kept.append(query)
        for query in failed:
            if query.feed is not None and keep_feeds and query.error is None:
                continue
            if query.error is None:
                query.error = ReqlDriverError(message)
            query.done = True
            query.outstanding = False
        return failed
