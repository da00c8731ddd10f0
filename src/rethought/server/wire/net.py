"""The driver port: listener, handshakes and frame reading, as RethinkDB 2.4 speaks them.

A client sends a 4-byte little-endian magic number, then either
- V1_0: null-terminated JSON messages carrying a SCRAM-SHA-256 exchange (``server.auth``), or
- V0_3 / V0_4: a length-prefixed auth key and the JSON protocol number, answered ``SUCCESS``;
then frames (8-byte token, 4-byte length, JSON query) that ``server.wire.session`` answers.

Handshake failures are answered in the handshake's own format (RethinkDB's ``server.cc``):
JSON ``{"success": false, "error": ..., "error_code": ...}`` for V1_0, ``ERROR: ...\\n`` text
for anything older or unknown; then the socket is closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ...proto.ql2 import Protocol, Version
from . import auth
from . import net_responses as resp
from .pending_input import PendingInput
from .session import ConnectionSession

log = logging.getLogger("rethought.net")

SERVER_VERSION = "2.4.4"  # what we tell drivers; they only check the protocol range
MAX_QUERY_SIZE = 128 * 1024 * 1024  # RethinkDB's TOO_LARGE_QUERY_SIZE
SHUTDOWN_LINGER = 2.0  # seconds a client gets to read its shutdown errors and close
# Seconds a client may leave our answers unread (its socket full) before it is dropped.
STALLED_CLIENT_SECONDS = float(os.environ.get("RETHOUGHT_STALLED_CLIENT_SECONDS", "60"))
HANDSHAKE_MESSAGE_LIMIT = 2048
# Frames waiting for the connection's task (behind one that had to wait) before the socket
# is no longer read: the client's pipelining is held back as a full StreamReader would.
BACKLOG_PAUSE = 256
# Bytes of answers to one chunk's frames held for one write (send_now) before they go out.
HOLD_BYTES = 64 * 1024
BAD_MAGIC = (
    "Received an unsupported protocol version. This port is for RethinkDB queries. "
    "Does your client driver version not match the server?"
)
PROTOBUF_GONE = "The PROTOBUF client protocol is no longer supported"

_U32 = struct.Struct("<I")
_DONE, _DRAIN, _WAIT = 0, 1, 2  # what _write_now did
_unpack_head, _HEAD_SIZE = resp.HEADER.unpack_from, resp.HEADER.size


class HandshakeError(auth.AuthError):
    """A malformed or unsupported handshake: answered as a failed authentication is."""


class DriverServer:
    """Accepts driver connections and runs one ``ConnectionSession`` per client."""

    def __init__(
        self,
        engine: Any,
        storage: Any,
        sync: Callable[[], Awaitable[None]],
        server_info: dict[str, Any],
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.sync = sync
        self.server_info = server_info
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        # The clients' sockets, asked by group commit whether more queries are coming.
        self.pending = PendingInput()
        storage.more_input = self.pending.waiting

    async def start(self, hosts: list[str], port: int, ssl: Any = None) -> list[tuple[str, int]]:
        """Listen on every address in ``hosts`` (TLS only with ``ssl``: --driver-tls-*);
        returns the bound (address, port) pairs."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _FrameProtocol(asyncio.StreamReader(loop=loop), self._accept, loop=loop),
            host=hosts,
            port=port,
            reuse_address=True,
            ssl=ssl,
        )
        return [s.getsockname()[:2] for s in self._server.sockets]

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, end every open cursor and feed, let running queries finish."""
        if self._server is not None:
            self._server.close()
        conns = list(self.connections)
        if conns:
            await asyncio.gather(*(c.shutdown(grace) for c in conns), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self.pending.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(self, reader, writer)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)


class _FrameProtocol(asyncio.StreamReaderProtocol):
    """A StreamReaderProtocol (the handshake reads a StreamReader) that, once the connection
    is authenticated, hands each chunk received to ``frames`` instead: frames are split out
    of the chunk and most are answered right there, in the loop's callback, without waking
    a reader task (a loop iteration, a future and a StreamReader per query)."""

    frames: Callable[[bytes], None] | None = None
    ended: Callable[[], None] | None = None

    def data_received(self, data: bytes) -> None:
        if self.frames is not None:
            self.frames(data)
        else:
            super().data_received(data)

    def eof_received(self) -> bool:
        if self.ended is not None:
            self.ended()
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ended is not None:
            self.ended()
        super().connection_lost(exc)


class _Connection:
    def __init__(
        self, server: DriverServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self._transport = writer.transport  # fixed for the connection (TLS is set up before)
        self.session: ConnectionSession | None = None
        self.peer = writer.get_extra_info("peername")
        self._ended = asyncio.Event()  # run() is over (the client closed, or we did)
        self._send_lock = asyncio.Lock()
        self._queued = 0  # frames a task is sending or waiting to send (_send_rest)
        self._eof_sent = False
        self._sends: set[asyncio.Task] = set()  # frames send_now could not finish
        # Frame mode (after the handshake): bytes received not yet split into frames, how
        # many bytes the next frame needs, frames waiting for the task, and its wake-up.
        self._parts: list[bytes] = []
        self._have = 0
        self._need = resp.HEADER.size
        self._backlog: deque[tuple[int, bytes | int]] = deque()
        self._wake: asyncio.Future | None = None
        self._eof = False
        self._paused = False
        # Answers held while one chunk's frames are answered, written together after it.
        self._held: list[bytes] | None = None
        self._held_bytes = 0
        self._pending = server.pending
        self._fd = -1  # the socket's number, watched by ``pending`` in frame mode
        sock = writer.get_extra_info("socket")
        if sock is not None:
            self._fd = sock.fileno()
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass

    async def writable(self) -> None:
        """Until no frame is waiting for the client to read (one sending drains first)."""
        if self._send_lock.locked():
            async with self._send_lock:
                pass

    def _write_now(self, data: bytes) -> int:
        """Write ``data`` if nothing is ahead of it: DONE (the kernel took it all, or the
        connection is closing: dropped), DRAIN (written, the transport holds some), or WAIT
        (not written: a frame ahead is still draining)."""
        if self._queued:
            return _WAIT
        transport = self._transport
        if transport.is_closing() or self._eof_sent:
            return _DONE
        transport.write(data)  # what StreamWriter.write does, one call less
        return _DRAIN if transport.get_write_buffer_size() else _DONE

    def can_send_now(self) -> bool:
        """Whether a frame would go out now, with nothing ahead of it."""
        return not self._queued and not self._transport.get_write_buffer_size()

    def send_now(self, data: bytes) -> None:
        """``send`` for code that cannot wait (a frame answered in the loop's callback): what
        is not written whole now is drained by a task (holding the lock, so frames after it
        wait their turn). While a chunk of several frames is being answered, the answers
        are held and written at its end in one call (one system call, not one per frame)."""
        held = self._held
        if held is not None:
            held.append(data)
            self._held_bytes += len(data)
            if self._held_bytes < HOLD_BYTES:
                return
            # Written now: the transport's buffer then says whether the client keeps up
            # (can_send_now), so a chunk of large answers is held back as before.
            data = b"".join(held)
            held.clear()
            self._held_bytes = 0
        state = self._write_now(data)
        if state != _DONE:
            self._queued += 1  # now: the task starts later, and frames after it wait for it
            task = asyncio.ensure_future(self._send_rest(data, state == _DRAIN))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def send(self, data: bytes) -> None:
        # One frame at a time past the transport's high-water mark (so a client that stops
        # reading holds at most one frame more in the server), and a client that reads
        # nothing for STALLED_CLIENT_SECONDS is dropped instead of holding its queries.
        state = self._write_now(data)
        if state != _DONE:  # the usual case is DONE: nothing to drain
            self._queued += 1
            await self._send_rest(data, state == _DRAIN)

    async def _send_rest(self, data: bytes, written: bool) -> None:
        try:
            await self._drain_in_turn(data, written)
        finally:
            self._queued -= 1

    async def _drain_in_turn(self, data: bytes, written: bool) -> None:
        writer = self.writer
        async with self._send_lock:
            if not written:
                if writer.is_closing() or self._eof_sent:
                    return
                writer.write(data)
            try:
                async with asyncio.timeout(STALLED_CLIENT_SECONDS):
                    await writer.drain()
            except TimeoutError:
                log.warning(
                    "closing the connection from %s: it read nothing for %g s",
                    self.peer,
                    STALLED_CLIENT_SECONDS,
                )
                sock = writer.get_extra_info("socket")
                if sock is not None:  # a reset: drop what the kernel still holds for it too
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
            except (ConnectionError, OSError):
                pass

    async def run(self) -> None:
        try:
            user = await self._handshake()
            if user is None:
                return
            self.session = ConnectionSession(
                self.server.engine, self.send, self.server.sync, self.server.server_info, user
            )
            self.session.writable = self.writable
            self.session.send_now = self.send_now
            self.session.can_send_now = self.can_send_now
            await self._read_queries()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # the client went away
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unexpected error on connection from %s", self.peer)
        finally:
            self._pending.forget(self._fd, self)
            if self.session is not None:
                self.session.abort()
            self._close()
            self._ended.set()

    def _close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()

    async def shutdown(self, grace: float) -> None:
        if self.session is not None:
            await self.session.shutdown(grace)
            # Half-close and let the client read its errors: closing at once would reset a
            # driver that is just sending a CONTINUE, and it would never see the error.
            if self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
                self._eof_sent = True
                try:
                    async with asyncio.timeout(SHUTDOWN_LINGER):
                        await self._ended.wait()
                except TimeoutError:
                    pass
        self._close()

    # -- handshake --------------------------------------------------------------------------

    async def _handshake(self) -> str | None:
        """The authenticated user name, or None after answering a failed handshake."""
        version = _U32.unpack(await self.reader.readexactly(4))[0]
        json_style = version == Version.V1_0
        try:
            if json_style:
                return await self._handshake_v1()
            if version in (Version.V0_3, Version.V0_4):
                return await self._handshake_v0()
            if version in (Version.V0_1, Version.V0_2):
                raise HandshakeError(-1, PROTOBUF_GONE)
            raise HandshakeError(-1, BAD_MAGIC)
        except auth.AuthError as e:  # HandshakeError included
            if json_style:
                msg = orjson.dumps({"success": False, "error": e.message, "error_code": e.code})
            else:
                msg = f"ERROR: {e.message}\n".encode()
            await self.send(msg + b"\0")
            if self.writer.can_write_eof():
                self.writer.write_eof()
            return None

    async def _handshake_v1(self) -> str:
        await self._send_json(
            {
                "success": True,
                "min_protocol_version": 0,
                "max_protocol_version": 0,
                "server_version": SERVER_VERSION,
            }
        )
        first = await self._read_json()
        pv = first.get("protocol_version")
        if type(pv) not in (int, float) or type(pv) is bool:
            raise HandshakeError(1, "Expected a number for `protocol_version`.")
        if pv != 0:
            raise HandshakeError(2, "Unsupported `protocol_version`.")
        method = first.get("authentication_method")
        if type(method) is not str:
            raise HandshakeError(3, "Expected a string for `authentication_method`.")
        if method != "SCRAM-SHA-256":
            raise HandshakeError(4, "Unsupported `authentication_method`.")
        scram = auth.ScramServer(self.server.storage)
        reply = scram.next_message(self._auth_field(first))
        await self._send_json({"success": True, "authentication": reply})
        reply = scram.next_message(self._auth_field(await self._read_json()))
        await self._send_json({"success": True, "authentication": reply})
        assert scram.username is not None
        return scram.username

    @staticmethod
    def _auth_field(message: dict) -> str:
        value = message.get("authentication")
        if type(value) is not str:
            raise HandshakeError(5, "Expected a string for `authentication`.")
        return value

    async def _handshake_v0(self) -> str:
        size = _U32.unpack(await self.reader.readexactly(4))[0]
        if size > HANDSHAKE_MESSAGE_LIMIT:
            raise HandshakeError(-1, "Client provided an authorization key that is too long.")
        key = await self.reader.readexactly(size)
        try:
            auth.check_auth_key(self.server.storage, key.decode("utf-8", "replace"))
        except auth.AuthError:
            # RethinkDB keeps this wording for old drivers.
            raise HandshakeError(-1, "Incorrect authorization key.") from None
        protocol = struct.unpack("<i", await self.reader.readexactly(4))[0]
        if protocol == Protocol.PROTOBUF:
            raise HandshakeError(-1, PROTOBUF_GONE)
        if protocol != Protocol.JSON:
            raise HandshakeError(-1, f"Unrecognized protocol specified: '{protocol}'")
        await self.send(b"SUCCESS\0")
        return "admin"

    async def _send_json(self, obj: dict) -> None:
        await self.send(orjson.dumps(obj) + b"\0")

    async def _read_json(self) -> dict:
        try:
            data = await self.reader.readuntil(b"\0")
        except asyncio.LimitOverrunError:
            raise HandshakeError(7, "Limited read buffer size.") from None
        if len(data) >= HANDSHAKE_MESSAGE_LIMIT:
            raise HandshakeError(7, "Limited read buffer size.")
        try:
            value = orjson.loads(data[:-1])
        except orjson.JSONDecodeError:
            raise HandshakeError(8, "Invalid JSON object.") from None
        return value if type(value) is dict else {}

    # -- queries ----------------------------------------------------------------------------

    async def _read_queries(self) -> None:
        """Frame mode: the protocol hands chunks to ``_frames``, which answers what it can
        at once; this task takes the frames that must wait (in order, behind the first)."""
        assert self.session is not None
        proto = self.writer.transport.get_protocol()
        if not isinstance(proto, _FrameProtocol):
            raise TypeError("a driver connection needs its _FrameProtocol")
        handle = self.session.handle
        backlog = self._backlog
        proto.ended = self._ended_reading
        proto.frames = self._frames
        # Chunks straight to ``_frames`` (uvloop reads a protocol's data_received when it is
        # set, so it is set again): one Python call less per chunk than the class's method.
        proto.data_received = self._frames  # type: ignore[method-assign]
        self._transport.set_protocol(proto)
        self._pending.watch(self._fd, self)
        # What the client sent after its handshake, already in the reader's buffer.
        left = bytes(self.reader._buffer)
        self.reader._buffer.clear()
        if left:
            self._frames(left)
        loop = asyncio.get_running_loop()
        while True:
            while backlog:
                token, payload = backlog[0]
                if type(payload) is int:  # a header announcing a frame too large
                    self._pending.forget(self._fd, self)  # what it sends is not queries
                    proto.frames = None  # the reader gets the rest, swallowed there
                    del proto.data_received  # the class's again: it feeds the reader
                    self._transport.set_protocol(proto)
                    await self._too_large(token, payload)
                    return
                # Frames behind this one: a write here may keep its commit open for them.
                self._pending.frames_behind = len(backlog) > 1
                try:
                    await handle(token, payload)
                finally:
                    self._pending.frames_behind = 0
                backlog.popleft()  # only now: later frames queue behind it until then
                if self._paused and len(backlog) < BACKLOG_PAUSE // 2:
                    self._paused = False
                    self.writer.transport.resume_reading()
                    if not self._eof:
                        self._pending.watch(self._fd, self)
            if self._eof:
                return
            self._wake = loop.create_future()
            await self._wake
            self._wake = None

    def _ended_reading(self) -> None:
        self._eof = True
        self._pending.forget(self._fd, self)  # an ended input is always readable
        self._wake_task()

    def _frames(self, data: bytes) -> None:
        """Split the frames out of what arrived (with what came before it): each is answered
        here when the session can (``handle_now``), else queued for the task, as is every
        frame after one queued."""
        if not self._have and not self._backlog and len(data) >= _HEAD_SIZE:
            # The commonest chunk: one whole frame, nothing before it.
            token, size = _unpack_head(data, 0)
            if size + _HEAD_SIZE == len(data) and size < MAX_QUERY_SIZE:
                payload = data[_HEAD_SIZE:]
                session = self.session
                assert session is not None
                if not session.handle_now(token, payload):
                    self._backlog.append((token, payload))
                    self._wake_task()
                return
        self._parts.append(data)
        self._have += len(data)
        if self._have < self._need:
            return  # a large frame arriving: joined once, when whole
        buf = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        unpack_from, head_size = resp.HEADER.unpack_from, resp.HEADER.size
        session, backlog = self.session, self._backlog
        assert session is not None
        handle_now = session.handle_now
        pending = self._pending
        pos, end = 0, len(buf)
        need = head_size
        self._held = []
        try:
            while end - pos >= head_size:
                token, size = unpack_from(buf, pos)
                if size >= MAX_QUERY_SIZE:
                    backlog.append((token, size))
                    self._parts, self._have, self._need = [], 0, 1 << 62  # no more is read
                    self._wake_task()
                    return
                start = pos + head_size
                stop = start + size
                if stop > end:
                    need = stop - pos
                    break
                payload = buf[start:stop]
                pos = stop
                if backlog:
                    backlog.append((token, payload))
                    continue
                # A frame follows this one: a write here may keep its commit open for it.
                pending.frames_behind = end - pos >= head_size
                if not handle_now(token, payload):
                    backlog.append((token, payload))
        finally:
            pending.frames_behind = 0
            held, self._held = self._held, None
            if held:
                self._held_bytes = 0
                self.send_now(held[0] if len(held) == 1 else b"".join(held))
        rest = buf[pos:] if pos else buf
        self._parts = [rest] if rest else []
        self._have = len(rest)
        self._need = need
        if backlog:
            self._wake_task()
            if len(backlog) >= BACKLOG_PAUSE and not self._paused:
                self._paused = True
                self.writer.transport.pause_reading()
                self._pending.forget(self._fd, self)  # not read until resumed

    def _wake_task(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _too_large(self, token: int, size: int) -> None:
        await self.send(
            resp.client_error(
                token, f"Query size ({size}) greater than maximum ({MAX_QUERY_SIZE - 1})."
            )
        )
        if self.writer.can_write_eof():
            self.writer.write_eof()
        # Swallow what the client is still sending (briefly) so it reads our answer instead of
        # a connection reset.
        try:
            async with asyncio.timeout(5):
                while await self.reader.read(1 << 20):
                    pass
        except (TimeoutError, ConnectionError, OSError):
            pass
