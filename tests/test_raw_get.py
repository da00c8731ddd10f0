"""A point get of a cached plan answers with the row's stored JSON bytes (query/engine.py
``Prepared.wire``, ``Get.run_wire``), not decoded and encoded again: the answer must be byte
for byte the one a decoding read gives (``.do(x => x)`` forces the decode), and the drivers
must read back the values written (times, binary, geometry as their pseudo-types)."""

from __future__ import annotations

import datetime
import json
import struct

import pytest
import rethinkdb
from tests.test_protocol import START, Wire

r = rethinkdb.r

ROWS = [
    {"id": 1, "f": 0.1, "big": 2**53 + 1, "neg": -0.0, "e": 1e300, "z": 1, "a": 2},
    {"id": "ü", "s": 'é\u2028"\\\n\x01', "nested": {"b": [1, {"a": None}], "a": 1.5}},
    {"id": 2.5, "t": r.epoch_time(1234567890.125), "bin": r.binary(b"\x00\xff")},
    {"id": [1, "a"], "pt": r.point(1, 2), "bool": True},
]
KEYS = [1, "ü", 2.5, [1, "a"], 404]


def _body(w: Wire, token: int, term) -> bytes:
    w.query(token, [START, term, {}])
    got, size = struct.unpack("<qI", w.sock.recv(12, 0x100))  # MSG_WAITALL
    body = b""
    while len(body) < size:
        body += w.sock.recv(size - len(body))
    assert got == token
    return body


@pytest.fixture
def raw_table(server, official_conn, table_name):
    r.db("test").table_create(table_name).run(official_conn)
    r.db("test").table(table_name).insert(ROWS).run(official_conn)
    yield table_name
    r.db("test").table_drop(table_name).run(official_conn)


def test_point_gets_send_the_bytes_a_decoding_read_sends(server, raw_table):
    w = Wire(server)
    try:
        table = [15, [raw_table]]  # the default database
        identity = [69, [[2, [1]], [10, [1]]]]  # func(x): x
        token = 0
        for key in KEYS:
            k = [2, key] if type(key) is list else key  # MAKE_ARRAY
            get = [16, [table, k]]
            bodies = []
            for _ in range(3):  # compiled, then a cached plan (its shape, its bytes)
                token += 1
                bodies.append(_body(w, token, get))
            token += 1
            decoded = _body(w, token, [64, [identity, get]])  # FUNCALL
            assert bodies == [decoded] * 3, key
            assert json.loads(decoded)["t"] == 1  # SUCCESS_ATOM
    finally:
        w.close()


def test_point_gets_read_back_through_both_drivers(rq, raw_table):
    rr, conn = rq
    t = rr.table(raw_table)
    for _ in range(3):  # the later runs are cached plans
        got = t.get(2.5).run(conn)
        assert got["t"] == datetime.datetime(
            2009, 2, 13, 23, 31, 30, 125000, tzinfo=got["t"].tzinfo
        )
        assert got["t"].utcoffset() == datetime.timedelta(0)
        assert bytes(got["bin"]) == b"\x00\xff"
        assert t.get(1).run(conn) == {
            "id": 1,
            "f": 0.1,
            "big": 2**53,
            "neg": -0.0,
            "e": 1e300,
            "z": 1,
            "a": 2,
        }  # fmt: skip (numbers are doubles: 2**53 + 1 is 2**53)
        assert t.get("ü").run(conn)["s"] == 'é\u2028"\\\n\x01'
        assert t.get([1, "a"]).run(conn)["pt"] == {
            "$reql_type$": "GEOMETRY", "coordinates": [1, 2], "type": "Point",
        }  # fmt: skip
        assert t.get(404).run(conn) is None


def test_point_get_key_errors_are_a_fresh_compiles(rqe, raw_table):
    rr, conn, errors = rqe
    t = rr.table(raw_table)
    for _ in range(3):
        with pytest.raises(errors.ReqlQueryLogicError, match="Primary key too long"):
            t.get("x" * 200).run(conn)
        with pytest.raises(errors.ReqlQueryLogicError, match="contains NULL byte"):
            t.get("a\x00b").run(conn)
        with pytest.raises(errors.ReqlQueryLogicError, match="Primary keys must be"):
            t.get(None).run(conn)


def test_point_get_of_a_user_without_rights_checks_the_key_first(rqe, server, raw_table):
    rr, admin, errors = rqe
    user = "u_" + raw_table
    users = rr.db("rethinkdb").table("users")
    users.insert({"id": user, "password": "pw"}).run(admin)
    conn = rr.connect(host=server.host, port=server.port, user=user, password="pw")
    try:
        t = rr.table(raw_table)
        for _ in range(3):  # compiled, then cached plans (whose lookup admin warmed too)
            assert t.get(1).run(admin)["id"] == 1
            with pytest.raises(errors.ReqlQueryLogicError, match="Primary key too long"):
                t.get("x" * 200).run(conn)
            with pytest.raises(errors.ReqlPermissionError, match=f"User `{user}` does not"):
                t.get(1).run(conn)
        t.grant(user, {"read": True}).run(admin)
        for _ in range(3):
            assert t.get(2.5).run(conn)["id"] == 2.5
            assert t.get(404).run(conn) is None
    finally:
        conn.close()
        users.get(user).delete().run(admin)
