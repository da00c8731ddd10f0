"""wire/pending_input.py: the signal group commit waits for, on real sockets."""

from __future__ import annotations

import socket

from rethought.server.wire.pending_input import PendingInput


def _pair():
    a, b = socket.socketpair()
    return a, b


def test_bytes_waiting_on_a_watched_socket():
    p = PendingInput()
    ours, peer = _pair()
    other_ours, other_peer = _pair()
    try:
        assert not p.waiting()  # nothing watched
        p.watch(ours.fileno(), "conn-a")
        p.watch(other_ours.fileno(), "conn-b")
        assert not p.waiting()
        peer.sendall(b"x")
        assert p.waiting()
        assert ours.recv(16) == b"x"  # read: nothing waits any more
        assert not p.waiting()
        other_peer.sendall(b"y")
        assert p.waiting()
        p.forget(other_ours.fileno(), "conn-b")
        assert not p.waiting()  # forgotten: its bytes are not another query
    finally:
        p.close()
        for s in (ours, peer, other_ours, other_peer):
            s.close()


def test_frames_behind_count_without_sockets():
    p = PendingInput()
    try:
        assert not p.waiting()
        p.frames_behind = True
        assert p.waiting()
        p.frames_behind = 0
        assert not p.waiting()
    finally:
        p.close()


def test_a_lone_connection_is_not_asked():
    # Its unread bytes are the answering connection's own: not read again this loop turn.
    p = PendingInput()
    ours, peer = _pair()
    try:
        p.watch(ours.fileno(), "only")
        peer.sendall(b"x")
        assert not p.waiting()
        p.frames_behind = 1  # frames it already read still count
        assert p.waiting()
    finally:
        p.close()
        ours.close()
        peer.close()


def test_a_number_reused_by_another_connection_stays_watched():
    p = PendingInput()
    ours, peer = _pair()
    other_ours, other_peer = _pair()
    try:
        p.watch(other_ours.fileno(), "other")
        fd = ours.fileno()
        p.watch(fd, "old")
        p.watch(fd, "new")  # the old connection's socket closed, its number reused
        p.forget(fd, "old")  # the old connection ends late: not the new one's
        peer.sendall(b"z")
        assert p.waiting()
        p.forget(fd, "new")
        assert not p.waiting()
    finally:
        p.close()
        for s in (ours, peer, other_ours, other_peer):
            s.close()


def test_closed_sockets_and_a_closed_port_do_not_raise():
    p = PendingInput()
    ours, peer = _pair()
    fd = ours.fileno()
    p.watch(fd, "c")
    peer.sendall(b"q")
    ours.close()  # the kernel drops a closed socket from the set
    assert not p.waiting()
    p.forget(fd, "c")
    p.close()
    p.watch(5, "late")  # a connection finishing its handshake during shutdown
    p.forget(5, "late")
    peer.close()
