"""A whole table or a primary-key range read with nothing applied is sent as stored (the rows'
JSON bytes, storage.scan raw=True), not decoded and encoded again: the answer must be byte for
byte the one a decoding read gives (``.map(r.row)`` forces the decode)."""

from __future__ import annotations

import json
import struct

import rethinkdb
from tests.test_protocol import START, Wire

r = rethinkdb.r
CONTINUE = 2


def _all_frames(w: Wire, token: int, term) -> bytes:
    w.query(token, [START, term, {"max_batch_rows": 7}])
    out = []
    while True:
        got, size = struct.unpack("<qI", w.sock.recv(12, 0x100))  # MSG_WAITALL
        body = b""
        while len(body) < size:
            body += w.sock.recv(size - len(body))
        assert got == token
        out.append(body)
        if json.loads(body)["t"] != 3:  # not SUCCESS_PARTIAL
            return b"\n".join(out)
        w.query(token, [CONTINUE])


def test_table_and_range_reads_send_the_bytes_a_decoding_read_sends(server, official_conn):
    conn = official_conn
    r.db("test").table_create("raw_rows").run(conn)
    t = r.db("test").table("raw_rows")
    try:
        t.insert(
            [
                {"id": 1, "f": 0.1, "big": 2**53 + 1, "neg": -0.0, "e": 1e300},
                {"id": "ü", "s": 'é\u2028"\\\n', "nested": {"a": [1, {"b": None}]}},
                {"id": 2.5, "t": r.epoch_time(1234567890.123), "bin": r.binary(b"\x00\xff")},
                {"id": [1, "a"], "pt": r.point(1, 2), "bool": True},
            ]
            + [{"id": 100 + i, "v": "x" * i} for i in range(30)]
        ).run(conn)
        w = Wire(server)
        try:
            table = [15, [[14, ["test"]], "raw_rows"]]
            identity = [69, [[2, [1]], [10, [1]]]]  # func(x): x
            plain = _all_frames(w, 1, table)
            decoded = _all_frames(w, 2, [38, [table, identity]])  # map
            assert plain == decoded
            rng = [182, [table, 105, 120]]  # between(105, 120)
            assert _all_frames(w, 3, rng) == _all_frames(w, 4, [38, [rng, identity]])
            frames = _all_frames(w, 5, rng).split(b"\n")
            assert len(frames) > 1  # batched over CONTINUEs
            got = [row["id"] for f in frames for row in json.loads(f)["r"]]
            assert got == list(range(105, 120))
        finally:
            w.close()
    finally:
        r.db("test").table_drop("raw_rows").run(conn)
