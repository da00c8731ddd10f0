"""`rethought serve`: startup output, the default database, clean exit on signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from conftest import ServerProcess
from test_protocol import START, Wire


def _wait_for(srv: ServerProcess, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = srv.log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in log:\n{srv.log()}")


def test_startup_output_and_sigterm(tmp_path, official_r):
    srv = ServerProcess(str(tmp_path / "data")).start()
    log = _wait_for(srv, "Server ready")
    assert f"Initializing directory {srv.directory}" in log
    assert f"Listening for client driver connections on port {srv.port}" in log
    assert "Listening on addresses: 127.0.0.1" in log
    conn = official_r.connect(host=srv.host, port=srv.port)
    assert "test" in official_r.db_list().run(conn)
    conn.close()
    assert srv.stop(signal.SIGTERM) == 0
    assert "Storage engine shut down." in srv.log()

    srv.start()
    assert f"Loading data from directory {srv.directory}" in _wait_for(srv, "Server ready")
    assert srv.stop(signal.SIGINT) == 0


def test_server_identity_is_stable(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        first = Wire(srv).ask(1, [5])["r"][0]
        srv.stop()
        srv.start()
        assert Wire(srv).ask(1, [5])["r"][0] == first
    finally:
        srv.stop()


def test_open_cursor_gets_error_on_shutdown(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()
    w = Wire(srv)
    resp = w.ask(8, [START, [173, []], {"max_batch_rows": 4}])
    assert resp["t"] == 3
    assert srv.stop(signal.SIGTERM) == 0
    token, resp = w.read()
    assert token == 8
    assert resp == {"t": 18, "e": 4200000, "r": ["Server is shutting down."], "b": []}
    w.close()


def test_port_in_use_fails(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "rethought", "serve", "--driver-port", str(port),
             "--directory", str(tmp_path / "d")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 1
    assert "could not start the server" in proc.stderr


def test_help_lists_serve():
    out = subprocess.run(
        [sys.executable, "-m", "rethought", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "serve" in out.stdout
