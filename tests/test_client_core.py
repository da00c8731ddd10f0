"""The sans-IO driver core, driven by bytes: no sockets, no server."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import struct

import orjson
import pytest

from rethought.client.convert import Formats, convert, tzinfo_for
from rethought.client.core import EMPTY, PENDING, ClientCore, build_optargs
from rethought.client.handshake import Handshake
from rethought.errors import (
    ReqlAuthError,
    ReqlCompileError,
    ReqlDriverError,
    ReqlNonExistenceError,
    ReqlOpFailedError,
)
from rethought.proto.ql2 import QueryType, ResponseType, TermType, Version

HEADER = struct.Struct("<QL")


class FakeScramServer:
    """Just enough of the server side of SCRAM-SHA-256 to check the client's messages."""

    def __init__(self, password: str, salt: bytes = b"0123456789abcdef", iterations: int = 64):
        self.salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        self.salt = salt
        self.iterations = iterations

    def first(self, client_first: str) -> str:
        self.client_first_bare = client_first[3:]  # strip the "n,," GS2 header
        nonce = dict(p.split("=", 1) for p in self.client_first_bare.split(","))["r"]
        self.nonce = nonce + "SERVERPART"
        salt = base64.b64encode(self.salt).decode()
        self.server_first = f"r={self.nonce},s={salt},i={self.iterations}"
        return self.server_first

    def final(self, client_final: str) -> tuple[bool, str]:
        without_proof, proof = client_final.rsplit(",p=", 1)
        auth = ",".join((self.client_first_bare, self.server_first, without_proof)).encode()
        client_key = hmac.digest(self.salted, b"Client Key", "sha256")
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth, "sha256")
        expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(self.salted, b"Server Key", "sha256")
        verifier = base64.b64encode(hmac.digest(server_key, auth, "sha256")).decode()
        return base64.b64decode(proof) == expected, verifier


def msg(doc: dict) -> bytes:
    return orjson.dumps(doc) + b"\0"


def handshake_core(password: str = "secret") -> ClientCore:
    """A core taken through a successful handshake against FakeScramServer."""
    core = ClientCore("admin", password, "db.example", 28015)
    out = core.data_to_send()
    assert struct.unpack("<L", out[:4])[0] == Version.V1_0
    first = orjson.loads(out[4:-1])
    assert first["authentication_method"] == "SCRAM-SHA-256"
    server = FakeScramServer(password)
    server_first = server.first(first["authentication"])
    core.receive_data(msg({"success": True, "min_protocol_version": 0, "max_protocol_version": 0}))
    assert core.data_to_send() == b""
    core.receive_data(msg({"success": True, "authentication": server_first}))
    final = orjson.loads(core.data_to_send()[:-1])["authentication"]
    ok, verifier = server.final(final)
    assert ok
    assert not core.ready
    core.receive_data(msg({"success": True, "authentication": f"v={verifier}"}))
    assert core.ready
    return core


def frame(token: int, doc: dict) -> bytes:
    body = orjson.dumps(doc)
    return HEADER.pack(token, len(body)) + body


def sent(core: ClientCore) -> list[tuple[int, list]]:
    """Decode every frame the core queued."""
    data = core.data_to_send()
    frames = []
    while data:
        token, length = HEADER.unpack_from(data)
        frames.append((token, orjson.loads(data[12 : 12 + length])))
        data = data[12 + length :]
    return frames


# -- handshake ----------------------------------------------------------------------------


def test_handshake_success_and_username_escaping():
    handshake_core()
    hs = Handshake("a=b,c", "")
    first = orjson.loads(hs.initial_bytes()[4:-1])
    assert first["authentication"].startswith("n,,n=a=3Db=2Cc,r=")


def test_wrong_password_raises_auth_error_with_server_message():
    core = ClientCore("admin", "wrong", "db.example", 28015)
    core.data_to_send()
    core.receive_data(msg({"success": True, "min_protocol_version": 0, "max_protocol_version": 0}))
    with pytest.raises(ReqlAuthError) as info:
        core.receive_data(msg({"success": False, "error": "Wrong password", "error_code": 12}))
    assert str(info.value) == "Could not connect to db.example:28015, Wrong password"


def test_bad_server_signature_is_rejected():
    core = ClientCore("admin", "pw")
    first = orjson.loads(core.data_to_send()[4:-1])
    server = FakeScramServer("pw")
    server_first = server.first(first["authentication"])
    core.receive_data(
        msg({"success": True, "min_protocol_version": 0, "max_protocol_version": 0})
        + msg({"success": True, "authentication": server_first})
    )
    core.data_to_send()
    bogus = base64.b64encode(b"x" * 32).decode()
    with pytest.raises(ReqlAuthError, match="Invalid server signature"):
        core.receive_data(msg({"success": True, "authentication": f"v={bogus}"}))


def test_unsupported_protocol_version_and_non_json_reply():
    core = ClientCore()
    with pytest.raises(ReqlDriverError, match="Unsupported protocol version"):
        core.receive_data(
            msg({"success": True, "min_protocol_version": 1, "max_protocol_version": 2})
        )
    with pytest.raises(ReqlDriverError, match="unexpected handshake reply"):
        ClientCore().receive_data(b"ERROR: Received an unsupported protocol version.\0")


def test_queries_before_handshake_are_refused():
    with pytest.raises(ReqlDriverError):
        ClientCore().start([1, [1]])


# -- framing and query state --------------------------------------------------------------


def test_start_frame_and_atom_response_with_split_bytes():
    core = handshake_core()
    q = core.start([TermType.DATUM, 1], build_optargs({"profile": False}, "test"))
    [(token, message)] = sent(core)
    assert token == q.token
    assert message == [QueryType.START, [1, 1], {"profile": False, "db": [TermType.DB, ["test"]]}]
    data = frame(q.token, {"t": ResponseType.SUCCESS_ATOM, "r": [{"a": 1}]})
    for i in range(len(data)):  # one byte at a time: incremental decoding
        assert not q.answered
        core.receive_data(data[i : i + 1])
    assert q.answered and q.done
    assert core.outcome(q, None) == {"a": 1}
    assert core.pending == []


def test_noreply_has_no_bookkeeping():
    core = handshake_core()
    assert core.start([1, [1]], {"noreply": True}, noreply=True) is None
    [(token, message)] = sent(core)
    assert message[2] == {"noreply": True}
    assert core.pending == []


def test_interleaved_queries_are_routed_by_token():
    core = handshake_core()
    a = core.start([1, "a"])
    b = core.start([1, "b"])
    assert a.token != b.token
    sent(core)
    updated = core.receive_data(
        frame(b.token, {"t": 1, "r": ["B"]}) + frame(a.token, {"t": 1, "r": ["A"]})
    )
    assert updated == [b, a]
    assert (a.value, b.value) == ("A", "B")


def test_cursor_prefetches_continue_and_ends():
    core = handshake_core()
    q = core.start([15, ["t"]])
    sent(core)
    core.receive_data(frame(q.token, {"t": ResponseType.SUCCESS_PARTIAL, "r": [1, 2]}))
    assert q.is_sequence and not q.done
    # The next batch was asked for at once.
    assert sent(core) == [(q.token, [QueryType.CONTINUE])]
    assert core.outcome(q, lambda query: "cursor") == "cursor"
    assert [core.next_item(q), core.next_item(q)] == [1, 2]
    assert core.next_item(q) is PENDING
    assert sent(core) == []  # a CONTINUE is already outstanding: none duplicated
    core.receive_data(frame(q.token, {"t": ResponseType.SUCCESS_SEQUENCE, "r": [3]}))
    assert core.next_item(q) == 3
    assert core.next_item(q) is EMPTY
    assert core.pending == []


def test_stop_and_late_responses_are_ignored():
    core = handshake_core()
    q = core.start([15, ["t"]])
    sent(core)
    core.receive_data(frame(q.token, {"t": 3, "r": [1], "n": [1]}))
    assert q.is_feed
    sent(core)
    core.stop(q)
    assert sent(core) == [(q.token, [QueryType.STOP])]
    assert core.receive_data(frame(q.token, {"t": 2, "r": []})) == []


def test_error_responses_build_the_right_class():
    core = handshake_core()
    q = core.start([15, ["missing"]], term="TERM")
    error = {"t": 18, "e": 4100000, "r": ["Table `test.missing` does not exist."], "b": []}
    core.receive_data(frame(q.token, error))
    with pytest.raises(ReqlOpFailedError) as info:
        core.outcome(q, None)
    assert info.value.message == "Table `test.missing` does not exist."
    assert info.value.term == "TERM" and info.value.frames == []
    q = core.start([99])
    core.receive_data(frame(q.token, {"t": 17, "r": ["Unknown term."], "b": [0]}))
    with pytest.raises(ReqlCompileError):
        core.outcome(q, None)


def test_error_in_later_batch_is_raised_after_buffered_rows():
    core = handshake_core()
    q = core.start([15, ["t"]])
    core.receive_data(frame(q.token, {"t": 3, "r": [1]}))
    core.receive_data(frame(q.token, {"t": 18, "e": 3100000, "r": ["gone"], "b": []}))
    assert core.next_item(q) == 1
    with pytest.raises(ReqlNonExistenceError, match="gone"):
        core.next_item(q)


def test_connection_lost_fails_every_pending_query():
    core = handshake_core()
    atom = core.start([1, [1]])
    cursor = core.start([15, ["t"]])
    core.receive_data(frame(cursor.token, {"t": 3, "r": [1]}))
    failed = core.connection_lost()
    assert set(failed) == {atom, cursor}
    assert atom.answered and cursor.can_advance
    with pytest.raises(ReqlDriverError, match="Connection is closed."):
        core.outcome(atom, None)
    assert core.next_item(cursor) == 1
    with pytest.raises(ReqlDriverError):
        core.next_item(cursor)
    with pytest.raises(ReqlDriverError, match="Connection is closed."):
        core.start([1, [1]])


def test_profile_server_info_and_noreply_wait():
    core = handshake_core()
    q = core.start([1, [1]], {"profile": True})
    core.receive_data(frame(q.token, {"t": 1, "r": [5], "p": [{"description": "x"}]}))
    assert core.outcome(q, None) == {"value": 5, "profile": [{"description": "x"}]}
    info = core.server_info()
    wait = core.noreply_wait()
    assert [m for _, m in sent(core)][-2:] == [[5], [4]]
    server = {"id": "abc", "name": "rethought", "proxy": False}
    core.receive_data(
        frame(info.token, {"t": 5, "r": [server]}) + frame(wait.token, {"t": 4, "r": []})
    )
    assert core.outcome(info, None) == server
    assert core.outcome(wait, None) is None


# -- conversion ---------------------------------------------------------------------------


def test_pseudo_types_are_converted_only_when_native():
    core = handshake_core()
    row = {
        "t": {"$reql_type$": "TIME", "epoch_time": 1.5, "timezone": "-02:30"},
        "b": {"$reql_type$": "BINARY", "data": base64.b64encode(b"\x00hi").decode()},
        "nested": [{"$reql_type$": "GEOMETRY", "type": "Point", "coordinates": [1, 2]}],
    }
    q = core.start([1, [1]])
    core.receive_data(frame(q.token, {"t": 1, "r": [row]}))
    value = core.outcome(q, None)
    assert value["t"] == datetime.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=datetime.UTC)
    assert value["t"].utcoffset() == -datetime.timedelta(hours=2, minutes=30)
    assert value["b"] == b"\x00hi"
    assert value["nested"][0]["type"] == "Point"
    raw = core.start([1, [1]], {"time_format": "raw", "binary_format": "raw"})
    core.receive_data(frame(raw.token, {"t": 1, "r": [row]}))
    assert core.outcome(raw, None) == row


def test_grouped_data_and_bad_format_option():
    grouped = {"$reql_type$": "GROUPED_DATA", "data": [[["a", 1], 2], [{"k": "v"}, 3]]}
    converted = convert(grouped, Formats())
    assert converted == {("a", 1): 2, frozenset({("k", "v")}): 3}
    with pytest.raises(ReqlDriverError, match='Unknown time_format run option "iso".'):
        Formats.from_optargs({"time_format": "iso"})
    assert tzinfo_for("+05:00").tzname(None) == "+05:00"


def test_optargs_db_and_nested_values():
    assert build_optargs(None, None) == {}
    assert build_optargs({"db": "other", "x": [1, 2]}, "test") == {
        "db": [TermType.DB, ["other"]],
        "x": [TermType.MAKE_ARRAY, [1, 2]],
    }
