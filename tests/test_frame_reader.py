"""Frames split out of whatever chunks the socket delivers (server.wire.net frame mode): many
frames in one chunk, one frame over many chunks, a large frame, and a client that pipelines
thousands of queries while it reads slowly. Raw sockets, so the chunking is ours."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

from tests.test_protocol import START, Wire

CONTINUE = 2


def _frame(token: int, query) -> bytes:
    payload = json.dumps(query).encode()
    return struct.pack("<qI", token, len(payload)) + payload


def test_pipelined_frames_in_one_chunk_keep_their_answers(server):
    # The same bytes again and again (answered from the plan cache in the data callback),
    # frames that need a task (a stream), and frames behind those, all in one send.
    w = Wire(server)
    try:
        same = [START, [24, [40, 2]]]
        frames, want = [], {}
        for t in range(1, 601):
            if t % 50 == 0:
                frames.append(_frame(t, [START, [173, [0, 3]]]))  # r.range(0, 3)
                want[t] = {"t": 2, "r": [0, 1, 2]}
            else:
                frames.append(_frame(t, same))
                want[t] = {"t": 1, "r": [42]}
        w.sock.sendall(b"".join(frames))
        got = {}
        for _ in range(600):
            token, resp = w.read()
            got[token] = {"t": resp["t"], "r": resp["r"]}
        assert got == want
    finally:
        w.close()


def test_frame_arriving_byte_by_byte(server):
    w = Wire(server)
    try:
        w.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = _frame(5, [START, [24, [1, 2]]]) + _frame(6, [START, [26, [3, 4]]])
        for i in range(len(data)):
            w.sock.send(data[i : i + 1])
            if i % 7 == 0:
                time.sleep(0.001)
        got = dict(w.read() for _ in range(2))
        assert got == {5: {"t": 1, "r": [3]}, 6: {"t": 1, "r": [12]}}
    finally:
        w.close()


def test_large_frame_in_pieces_then_small_frames_in_its_last_chunk(server):
    w = Wire(server)
    try:
        text = "x" * (3 << 20)
        big = _frame(1, [START, [24, [text, "!"]]])  # r.expr(text) + "!"
        tail = _frame(2, [START, [24, [2, 2]]]) + _frame(3, [START, [24, [2, 2]]])
        data = big + tail
        cut = len(big) - 100
        for i in range(0, cut, 50_000):
            w.sock.sendall(data[i : min(i + 50_000, cut)])
        w.sock.sendall(data[cut:])
        got = dict(w.read() for _ in range(3))
        assert got == {1: {"t": 1, "r": [text + "!"]}, 2: {"t": 1, "r": [4]}, 3: {"t": 1, "r": [4]}}
    finally:
        w.close()


def test_client_pipelining_while_reading_slowly_gets_every_answer(server):
    # Answers of 20 KB each, 3000 of them, sent without waiting: the server's socket fills,
    # frames queue behind the one draining, reading pauses; nothing is lost or repeated.
    w = Wire(server)
    n = 3000
    query = [START, [24, ["y" * 20_000, ""]]]  # r.expr(s).add("")
    try:
        frames = b"".join(_frame(t, query) for t in range(1, n + 1))
        sender = threading.Thread(target=w.sock.sendall, args=(frames,))
        sender.start()
        time.sleep(0.5)  # let the server's send buffer fill before anything is read
        seen = set()
        for _ in range(n):
            token, resp = w.read()
            assert resp["r"] == ["y" * 20_000]
            seen.add(token)
        sender.join(timeout=30)
        assert seen == set(range(1, n + 1))
        assert w.ask(n + 1, [START, [24, [1, 1]]]) == {"t": 1, "r": [2]}
    finally:
        w.close()


def test_continue_after_frames_answered_inline(server):
    w = Wire(server)
    try:
        # A stream bigger than one batch, then cached frames; its CONTINUE comes later.
        q = [START, [173, [0, 5000]], {"max_batch_rows": 10}]
        w.sock.sendall(_frame(1, q) + _frame(2, [START, [24, [1, 1]]]))
        got = dict(w.read() for _ in range(2))
        assert got[2]["r"] == [2]
        first = got[1]["r"]
        assert got[1]["t"] == 3 and first == list(range(len(first)))  # SUCCESS_PARTIAL
        w.sock.sendall(_frame(1, [CONTINUE]))
        token, resp = w.read()
        assert token == 1 and resp["r"][0] == len(first)
    finally:
        w.close()
