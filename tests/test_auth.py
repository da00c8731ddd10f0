"""Authentication: a server started with --initial-password, checked with the official driver
and with a hand-made V1_0 handshake (exact error codes and texts)."""

from __future__ import annotations

import json
import os
import socket
import struct

import pytest

from conftest import ServerProcess
from test_protocol import JSON_PROTOCOL, V0_4, V1_0, _closed, _recv_until_nul, scram_handshake

PASSWORD = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("auth") / "data")
    srv = ServerProcess(directory, extra=["--initial-password", PASSWORD]).start()
    yield srv
    srv.stop()


def test_right_password(locked_server, official_r):
    conn = official_r.connect(host=locked_server.host, port=locked_server.port, password=PASSWORD)
    try:
        assert official_r.expr(1).run(conn) == 1
    finally:
        conn.close()


@pytest.mark.parametrize("password", ["", "wrong"])
def test_wrong_password_official_driver(locked_server, official_r, password):
    with pytest.raises(official_r.ReqlAuthError, match="Wrong password"):
        official_r.connect(host=locked_server.host, port=locked_server.port, password=password)


def test_wrong_password_wire(locked_server):
    with socket.create_connection((locked_server.host, locked_server.port), timeout=10) as s:
        reply = scram_handshake(s, password="nope")
        assert reply == {"success": False, "error": "Wrong password", "error_code": 12}
        assert _closed(s)


def test_right_password_wire(locked_server):
    with socket.create_connection((locked_server.host, locked_server.port), timeout=10) as s:
        assert scram_handshake(s, password=PASSWORD)["success"] is True


def test_unknown_user(locked_server):
    with socket.create_connection((locked_server.host, locked_server.port), timeout=10) as s:
        reply = scram_handshake(s, user="mallory", password="x")
        assert reply == {"success": False, "error": "Unknown user", "error_code": 17}


def test_channel_binding_refused(locked_server):
    with socket.create_connection((locked_server.host, locked_server.port), timeout=10) as s:
        msg = {
            "protocol_version": 0,
            "authentication_method": "SCRAM-SHA-256",
            "authentication": "p=tls-unique,,n=admin,r=abc",
        }
        s.sendall(struct.pack("<I", V1_0) + json.dumps(msg).encode() + b"\0")
        _recv_until_nul(s)
        reply = json.loads(_recv_until_nul(s))
        assert reply["error_code"] == 15 and reply["error"] == "Channel binding is not supported"


@pytest.mark.parametrize("key, ok", [(PASSWORD, True), ("bad", False)])
def test_v0_4_auth_key(locked_server, key, ok):
    with socket.create_connection((locked_server.host, locked_server.port), timeout=10) as s:
        raw = key.encode()
        s.sendall(struct.pack("<II", V0_4, len(raw)) + raw + struct.pack("<I", JSON_PROTOCOL))
        answer = _recv_until_nul(s)
        if ok:
            assert answer == b"SUCCESS"
        else:
            assert answer == b"ERROR: Incorrect authorization key.\n"


def test_password_not_stored_in_clear(locked_server):
    for root, _dirs, files in os.walk(locked_server.directory):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                assert PASSWORD.encode() not in f.read()


def test_initial_password_only_applies_on_first_start(tmp_path, official_r):
    directory = str(tmp_path / "data")
    srv = ServerProcess(directory, extra=["--initial-password", "first"]).start()
    srv.stop()
    srv = ServerProcess(directory, extra=["--initial-password", "second"]).start()
    try:
        conn = official_r.connect(host=srv.host, port=srv.port, password="first")
        conn.close()
        with pytest.raises(official_r.ReqlAuthError):
            official_r.connect(host=srv.host, port=srv.port, password="second")
    finally:
        srv.stop()


def test_default_admin_has_empty_password(server, official_r):
    conn = official_r.connect(host=server.host, port=server.port, user="admin", password="")
    conn.close()
