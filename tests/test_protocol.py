"""The wire protocol against a real server: raw sockets for exact bytes and malformed input,
the official `rethinkdb` driver for what real clients do."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import time

import pytest

V0_1 = 0x3F61BA36
V0_4 = 0x400C2D20
V1_0 = 0x34C2BDC3
JSON_PROTOCOL = 0x7E6970C7
BAD_MAGIC = (
    b"ERROR: Received an unsupported protocol version. This port is for RethinkDB queries. "
    b"Does your client driver version not match the server?\n\x00"
)
START, CONTINUE, STOP, NOREPLY_WAIT, SERVER_INFO = 1, 2, 3, 4, 5


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def _recv_until_nul(sock: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\0"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed after {buf!r}")
        buf += chunk
    return buf[:-1]


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def scram_handshake(sock: socket.socket, user: str = "admin", password: str = "") -> dict:
    """A V1_0 handshake by hand (RFC 5802 client side); returns the server's last message."""
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    sock.sendall(
        struct.pack("<I", V1_0)
        + json.dumps(
            {
                "protocol_version": 0,
                "authentication_method": "SCRAM-SHA-256",
                "authentication": "n,," + first_bare,
            }
        ).encode()
        + b"\0"
    )
    hello = json.loads(_recv_until_nul(sock))
    assert hello["success"] is True
    assert hello["min_protocol_version"] == 0 and hello["max_protocol_version"] == 0
    reply = json.loads(_recv_until_nul(sock))
    if not reply["success"]:
        return reply
    server_first = reply["authentication"]
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    assert attrs["r"].startswith(nonce) and int(attrs["i"]) == 4096
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256)
    proof = bytes(a ^ b for a, b in zip(client_key, signature.digest(), strict=True))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    sock.sendall(json.dumps({"authentication": final}).encode() + b"\0")
    last = json.loads(_recv_until_nul(sock))
    if last["success"]:
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        expected = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        assert last["authentication"] == "v=" + base64.b64encode(expected).decode()
    return last


class Wire:
    """A raw protocol connection: send frames, read responses by token."""

    def __init__(self, server, handshake: bool = True) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=30)
        if handshake:
            assert scram_handshake(self.sock)["success"] is True

    def send(self, token: int, payload: bytes) -> None:
        self.sock.sendall(struct.pack("<qI", token, len(payload)) + payload)

    def query(self, token: int, query) -> None:
        self.send(token, json.dumps(query).encode())

    def read(self) -> tuple[int, dict]:
        token, size = struct.unpack("<qI", _recv_exact(self.sock, 12))
        return token, json.loads(_recv_exact(self.sock, size))

    def ask(self, token: int, query) -> dict:
        self.query(token, query)
        got, resp = self.read()
        assert got == token
        return resp

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def wire(server):
    w = Wire(server)
    yield w
    w.close()


def still_serving(server) -> None:
    """After each bad input: a fresh connection still gets answers."""
    w = Wire(server)
    try:
        assert w.ask(1, [START, [24, [1, 2]]]) == {"t": 1, "r": [3]}
    finally:
        w.close()


# -- handshake -----------------------------------------------------------------------------


def test_v1_handshake_and_query(wire):
    assert wire.ask(7, [START, [24, [40, 2]], {}]) == {"t": 1, "r": [42]}


def test_v0_4_auth_key_handshake(server):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(struct.pack("<II", V0_4, 0) + struct.pack("<I", JSON_PROTOCOL))
        assert _recv_until_nul(s) == b"SUCCESS"
        payload = json.dumps([START, [2, [1, "a"]]]).encode()
        s.sendall(struct.pack("<qI", 3, len(payload)) + payload)
        token, size = struct.unpack("<qI", _recv_exact(s, 12))
        assert token == 3 and json.loads(_recv_exact(s, size)) == {"t": 1, "r": [[1, "a"]]}


def test_bad_magic_gets_rethinkdb_text_and_close(server):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert _recv_exact(s, len(BAD_MAGIC)) == BAD_MAGIC
        assert _closed(s)
    still_serving(server)


def test_protobuf_magic_refused(server):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(struct.pack("<I", V0_1))
        assert _recv_until_nul(s) == b"ERROR: The PROTOBUF client protocol is no longer supported\n"
        assert _closed(s)


def test_handshake_invalid_json(server):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(struct.pack("<I", V1_0) + b"{nope\0")
        assert json.loads(_recv_until_nul(s))["success"] is True
        err = json.loads(_recv_until_nul(s))
        assert err == {"success": False, "error": "Invalid JSON object.", "error_code": 8}
        assert _closed(s)
    still_serving(server)


def test_handshake_wrong_method(server):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        msg = {"protocol_version": 0, "authentication_method": "PLAIN", "authentication": ""}
        s.sendall(struct.pack("<I", V1_0) + json.dumps(msg).encode() + b"\0")
        _recv_until_nul(s)
        err = json.loads(_recv_until_nul(s))
        assert err["error"] == "Unsupported `authentication_method`." and err["error_code"] == 4


def test_client_disconnect_mid_handshake(server):
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(struct.pack("<I", V1_0)[:2])
    still_serving(server)


# -- malformed frames ----------------------------------------------------------------------


def test_truncated_frame(server):
    w = Wire(server)
    w.sock.sendall(struct.pack("<qI", 1, 100) + b"[1, [24")
    w.sock.shutdown(socket.SHUT_WR)
    assert _closed(w.sock)
    w.close()
    still_serving(server)


def test_truncated_header(server):
    w = Wire(server)
    w.sock.sendall(b"\x01\x00\x00")
    w.close()
    still_serving(server)


def test_oversized_frame(server):
    w = Wire(server)
    w.sock.sendall(struct.pack("<qI", 5, 200 * 1024 * 1024) + b"[1")
    token, resp = w.read()
    assert token == 5
    assert resp == {
        "t": 16,
        "r": ["Query size (209715200) greater than maximum (134217727)."],
        "b": [],
    }
    assert _closed(w.sock)
    w.close()
    still_serving(server)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"{not json", "Client is buggy (failed to deserialize query)."),
        (b"\xff\xfe", "Client is buggy (failed to deserialize query)."),
        (b'{"a": 1}', "Server could not parse query: Expected a query to be an array, but found OBJECT."),
        (b"[]", "Server could not parse query: Expected 1 to 3 elements in the top-level query, but found 0."),
        (b"[1, 2, {}, 4]", "Server could not parse query: Expected 1 to 3 elements in the top-level query, but found 4."),
        (b'["1", 1]', "Server could not parse query: Expected a query type as a number, but found STRING."),
        (b"[99, 1]", "Server could not parse query: Unrecognized QueryType: 99."),
        (b"[1, 1, []]", "Server could not parse query: Expected global optargs as an object, but found ARRAY."),
        (b"[2]", "Token 9 not in stream cache."),
        (b"[3]", "Token 9 not in stream cache."),
    ],
)  # fmt: skip
def test_client_errors_keep_connection(wire, server, payload, message):
    wire.send(9, payload)
    token, resp = wire.read()
    assert token == 9
    assert resp == {"t": 16, "r": [message], "b": []}
    assert wire.ask(10, [START, 1]) == {"t": 1, "r": [1]}  # same connection still works
    still_serving(server)


def test_unknown_term(wire):
    resp = wire.ask(1, [START, [99999, []]])
    assert resp == {"t": 17, "r": ["Unrecognized TermType: 99999."], "b": []}


def test_wrong_arity(wire):
    resp = wire.ask(1, [START, [23, [True, False]]])  # NOT takes one argument
    assert resp["t"] == 17 and resp["r"] == ["Expected 1 argument but found 2."]


def test_runtime_error_has_type_and_backtrace(wire):
    resp = wire.ask(1, [START, [24, [[24, [1, "a"]], 2]]])
    assert resp["t"] == 18 and resp["e"] == 3000000
    assert resp["b"] == [0]


@pytest.mark.parametrize("depth", [10_000, 2_000])
def test_deep_nesting_is_an_error_not_a_crash(wire, server, depth):
    term = "1"
    for _ in range(depth):
        term = f"[24,[{term},1]]"
    wire.send(3, f"[1,{term}]".encode())
    token, resp = wire.read()
    assert token == 3 and resp["t"] in (16, 17, 18)
    assert wire.ask(4, [START, 2]) == {"t": 1, "r": [2]}
    still_serving(server)


def test_moderately_deep_query_works(wire):
    term = "0"
    for _ in range(300):
        term = f"[24,[{term},1]]"
    wire.send(3, f"[1,{term}]".encode())
    assert wire.read() == (3, {"t": 1, "r": [300]})


# -- query types ---------------------------------------------------------------------------


def test_server_info(wire, official_conn):
    resp = wire.ask(2, [SERVER_INFO])
    assert resp["t"] == 5
    info = resp["r"][0]
    assert set(info) == {"id", "name", "proxy"} and info["proxy"] is False
    assert official_conn.server() == info


def test_many_interleaved_tokens(wire):
    n = 300
    batch = b"".join(
        struct.pack("<qI", t, len(p)) + p
        for t in range(1, n + 1)
        for p in [json.dumps([START, [26, [t, 2]]]).encode()]
    )
    wire.sock.sendall(batch)
    got = dict(wire.read() for _ in range(n))
    assert got == {t: {"t": 1, "r": [t * 2]} for t in range(1, n + 1)}


def test_streams_interleave_by_token(wire):
    opts = {"max_batch_rows": 8}
    first = {t: wire.ask(t, [START, [173, [100]], opts]) for t in (1, 2)}
    for resp in first.values():
        assert resp["t"] == 3 and resp["r"] == [0, 1] and resp["n"] == []  # 8 / scaledown 4
    seen = {1: list(first[1]["r"]), 2: list(first[2]["r"])}
    done = set()
    while len(done) < 2:
        for t in (1, 2):
            if t not in done:
                wire.query(t, [CONTINUE])
        for _ in range(2 - len(done)):
            token, resp = wire.read()
            assert len(resp["r"]) <= 8
            seen[token] += resp["r"]
            if resp["t"] == 2:
                done.add(token)
            else:
                assert resp["t"] == 3
    assert seen == {1: list(range(100)), 2: list(range(100))}


def test_stream_that_fits_in_one_batch_is_a_sequence(wire):
    assert wire.ask(1, [START, [173, [5]]]) == {"t": 2, "r": [0, 1, 2, 3, 4], "n": []}


def test_array_result_is_an_atom(wire):
    assert wire.ask(1, [START, [2, [1, 2]]]) == {"t": 1, "r": [[1, 2]]}


def test_stop(wire):
    resp = wire.ask(4, [START, [173, []], {"max_batch_rows": 4}])  # infinite range
    assert resp["t"] == 3 and resp["r"] == [0]
    assert wire.ask(4, [CONTINUE])["r"] == [1, 2, 3, 4]
    assert wire.ask(4, [STOP]) == {"t": 2, "r": [], "n": []}
    resp = wire.ask(4, [CONTINUE])
    assert resp == {"t": 16, "r": ["Token 4 not in stream cache."], "b": []}


def test_duplicate_token_while_stream_open(wire):
    assert wire.ask(4, [START, [173, []], {"max_batch_rows": 4}])["t"] == 3
    assert wire.ask(4, [START, 1]) == {"t": 16, "r": ["ERROR: duplicate token 4"], "b": []}
    assert wire.ask(4, [STOP])["t"] == 2


def test_noreply_gets_no_response_and_noreply_wait(wire):
    wire.query(1, [START, [24, [1, 1]], {"noreply": True}])
    wire.query(2, [START, [24, [2, 2]]])
    assert wire.read() == (2, {"t": 1, "r": [4]})
    wire.query(3, [NOREPLY_WAIT])
    assert wire.read() == (3, {"t": 4, "r": []})


def test_noreply_error_is_silent(wire):
    wire.query(1, [START, [24, [1, "a"]], {"noreply": [1, True]}])
    assert wire.ask(2, [NOREPLY_WAIT]) == {"t": 4, "r": []}


def test_profile(wire, official_r, official_conn):
    resp = wire.ask(1, [START, [24, [1, 1]], {"profile": True}])
    assert resp["t"] == 1 and resp["r"] == [2]
    assert isinstance(resp["p"], list) and {"description", "duration(ms)", "sub_tasks"} <= set(
        resp["p"][0]
    )
    out = official_r.expr(5).run(official_conn, profile=True)
    assert out["value"] == 5 and isinstance(out["profile"], list)


def test_batch_bytes_limit(wire):
    # 1 MB per batch by default, a quarter for the first one.
    term = [38, [[173, [1200]], [69, [[2, [1]], "x" * 1000]]]]  # range.map(lambda: "x"*1000)
    resp = wire.ask(1, [START, term])
    assert resp["t"] == 3 and 200 <= len(resp["r"]) <= 300
    resp = wire.ask(1, [CONTINUE])
    assert resp["t"] == 2 and len(resp["r"]) > 900


def test_bad_batch_optarg(wire):
    resp = wire.ask(1, [START, [173, [10]], {"max_batch_seconds": -1}])
    assert resp["t"] == 18 and resp["r"] == ["max_batch_seconds must be positive (got `-1`)."]


# -- the official driver -------------------------------------------------------------------


def test_official_driver_basics(official_r, official_conn):
    r = official_r
    assert r.expr({"a": [1, 2.5, None, "x"]}).run(official_conn) == {"a": [1, 2.5, None, "x"]}
    assert list(r.range(5000).run(official_conn)) == list(range(5000))
    cursor = r.range().run(official_conn)
    assert [next(cursor) for _ in range(10)] == list(range(10))
    cursor.close()
    with pytest.raises(r.ReqlQueryLogicError):
        r.expr(1).add("a").run(official_conn)
    r.expr(1).run(official_conn, noreply=True)
    official_conn.noreply_wait()
    assert r.expr(3).run(official_conn) == 3


def test_unexpected_exception_becomes_internal_error():
    """A Python bug in a term answers RUNTIME_ERROR / INTERNAL and the session goes on."""
    import asyncio

    from rethought.server.query import engine as engine_mod
    from rethought.server.wire.session import ConnectionSession

    class BrokenEngine:
        def prepare(self, term, optargs, session):
            if term == "boom":
                raise KeyError("boom")
            return engine_mod.Prepared(None, engine_mod.QueryContext(self, session, {}, "test"))

        def execute(self, prepared):
            return engine_mod.Result(engine_mod.ATOM, 1)

    sent: list[bytes] = []

    async def send(data: bytes) -> None:
        sent.append(data)

    async def no_sync() -> None:
        pass

    async def main() -> None:
        session = ConnectionSession(BrokenEngine(), send, no_sync, {})
        await session.handle(1, b'[1, "boom"]')
        await session.handle(2, b"[1, 1]")
        if session.tasks:  # atoms are answered inline, without a task
            await asyncio.wait(list(session.tasks))

    asyncio.run(main())
    responses = {struct.unpack("<q", f[:8])[0]: json.loads(f[12:]) for f in sent}
    assert responses[1] == {"t": 18, "e": 1000000, "r": ["Unexpected exception: 'boom'"], "b": []}
    assert responses[2] == {"t": 1, "r": [1]}


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_one_chunk_of_mixed_frames_gets_every_answer(wire, official_r, official_conn):
    """Answers to one chunk's frames are written together (wire/net.py ``send_now``): atoms,
    large atoms past the held-bytes limit, errors, a stream that needs its task, writes.
    Twice: the second chunk finds the plans the first one compiled, so it is answered in
    the protocol's callback."""
    name = "chunk_" + str(os.getpid())
    official_r.table_create(name).run(official_conn)
    table = [15, [name]]

    def query(t: int) -> list:
        kind = t % 5
        if kind == 0:
            return [51, [[173, [5000]], "array"]]  # ~24 KB answer
        if kind == 1:
            return [16, [table, t % 300]]  # point get
        if kind == 2:
            return [24, [t % 7, "a"]]  # a runtime error
        if kind == 3:
            return [56, [table, {"id": 1000 + t}]]  # insert
        return [26, [t % 7, 3]]

    def check(t: int, res: dict) -> None:
        kind = t % 5
        if kind == 0:
            assert res == {"t": 1, "r": [list(range(5000))]}
        elif kind == 1:
            assert res["r"] == [{"id": t % 300}]
        elif kind == 2:
            assert res["t"] == 18 and "Expected type NUMBER but found STRING" in res["r"][0]
        elif kind == 3:
            assert res["r"][0]["inserted"] == 1, res
        else:
            assert res == {"t": 1, "r": [(t % 7) * 3]}

    try:
        official_r.table(name).insert([{"id": i} for i in range(300)]).run(official_conn)
        for first in (1, 1001):
            tokens = list(range(first, first + 200))
            stream = first + 200  # a table scan: answered by its task, after the chunk
            batch = b"".join(
                struct.pack("<qI", t, len(p)) + p
                for t in [*tokens, stream]
                for p in [json.dumps([START, table if t == stream else query(t)]).encode()]
            )
            wire.sock.sendall(batch)
            got = dict(wire.read() for _ in range(201))
            for t in tokens:
                check(t, got[t])
            assert got[stream]["t"] in (2, 3) and len(got[stream]["r"]) > 0
        assert official_r.table(name).count().run(official_conn) == 380
    finally:
        official_r.table_drop(name).run(official_conn)


def test_a_chunk_of_large_answers_waits_for_a_slow_reader(tmp_path):
    """300 queries of ~110 KB answers each (33 MB) in one chunk, the client reading nothing:
    the server holds back what the socket does not take (no 33 MB buffered), serves another
    connection meanwhile, and every answer arrives once the client reads."""
    from conftest import ServerProcess

    srv = ServerProcess(str(tmp_path / "data")).start()  # a fresh process: its RSS says
    slow, other = Wire(srv), Wire(srv)
    try:
        q = json.dumps([START, [51, [[173, [20000]], "array"]]]).encode()
        slow.send(1000, q)  # compiled once: the chunk's frames are then answered inline
        assert slow.read()[0] == 1000
        before = _rss_kib(srv.proc.pid)
        slow.sock.sendall(b"".join(struct.pack("<qI", t, len(q)) + q for t in range(1, 301)))
        time.sleep(1.0)
        assert other.ask(1, [START, [24, [1, 2]]]) == {"t": 1, "r": [3]}
        grown = _rss_kib(srv.proc.pid) - before
        assert grown < 20 * 1024, f"server RSS grew {grown} KiB for a reader that reads nothing"
        want = {"t": 1, "r": [list(range(20000))]}
        got = dict(slow.read() for _ in range(300))
        assert sorted(got) == list(range(1, 301))
        assert all(v == want for v in got.values())
    finally:
        slow.close()
        other.close()
        srv.stop()
