"""RethinkDB's operational options of `rethought serve`: --config-file (RethinkDB's key=value
format and its parse errors, options.cc), --port-offset (offseted_port: 0 stays 0),
--bind-driver, --log-file, --pid-file, --daemon, --cache-size and the accepted no-ops, and
`rethought --version`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import free_port


def _serve(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rethought", "serve", *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _wait_listening(port: int, host: str = "127.0.0.1", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {host}:{port}")


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "rethought", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return out


def test_config_file_and_command_line_precedence(tmp_path, official_r):
    port = free_port()
    cfg = tmp_path / "instance.conf"
    cfg.write_text(
        "# RethinkDB-style instance file\n"
        f"directory={tmp_path / 'data'}\n"
        f"driver-port = {port}   # spaces around = are fine\n"
        "bind=127.0.0.1\n"
        "no-http-admin\n"
        "server-name=from_file\n"
        "no-update-check\n"
        "cache-size=512\n"
    )
    for extra, name in (([], "from_file"), (["--server-name", "from_cli"], "from_cli")):
        proc = _start("--config-file", str(cfg), *extra)
        try:
            _wait_listening(port)
            conn = official_r.connect(port=port)
            got = official_r.db("rethinkdb").table("server_config").nth(0)["name"].run(conn)
            conn.close()
        finally:
            _stop(proc)
        assert got == name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bind=127.0.0.1\nnosuch=1\n", "parse error at line 1: unrecognized option name 'nosuch'"),
        ("# c\n\ndriver-port=\n", "parse error at line 2: no parameter for option 'driver-port'"),
        ("no-http-admin=yes\n", "parse error at line 0: unexpected data after no-parameter "
         "option 'no-http-admin'"),
        ("driver-port 28015\n", "parse error at line 0"),
    ],
)  # fmt: skip
def test_config_file_errors(tmp_path, text, message):
    cfg = tmp_path / "bad.conf"
    cfg.write_text(text)
    proc = _serve("--config-file", str(cfg), "--directory", str(tmp_path / "d"))
    assert proc.returncode == 1
    assert f"Config file {cfg}: {message}" in proc.stderr, proc.stderr


def test_port_offset_and_bind_driver(tmp_path, official_r):
    base = free_port() - 3  # the port that must be free is the offset one
    proc = _start("--directory", str(tmp_path / "d"), "--driver-port", str(base),
                  "--port-offset", "3", "--bind", "127.0.0.2", "--bind-driver", "127.0.0.1",
                  "--no-http-admin")  # fmt: skip
    try:
        _wait_listening(base + 3)
        conn = official_r.connect(port=base + 3)
        assert official_r.expr(1).run(conn) == 1
        conn.close()
        with pytest.raises(OSError):  # --bind-driver overrides --bind for the driver port
            socket.create_connection(("127.0.0.2", base + 3), timeout=2).close()
    finally:
        out = _stop(proc)
    assert f"on port {base + 3}" in out


def test_daemon_pid_file_and_log_file(tmp_path, official_r):
    port = free_port()
    pid_file, log_file = tmp_path / "rt.pid", tmp_path / "rt.log"
    proc = _serve("--daemon", "--pid-file", str(pid_file), "--log-file", str(log_file),
                  "--directory", str(tmp_path / "d"), "--driver-port", str(port),
                  "--no-http-admin", "--cores", "2", "--io-threads", "8", "--direct-io",
                  timeout=30)  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # the command returns; the server runs on
    _wait_listening(port)
    pid = int(pid_file.read_text())
    assert os.getsid(pid) != os.getsid(0)  # a session of its own, away from our terminal
    conn = official_r.connect(port=port)
    assert official_r.expr("up").run(conn) == "up"
    conn.close()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_file.exists(), "the pid file outlived the server"
    log = log_file.read_text()
    assert "Server ready" in log and "Storage engine shut down." in log


def test_bad_cache_size_and_version(tmp_path):
    proc = _serve("--cache-size", "lots", "--directory", str(tmp_path / "d"))
    assert proc.returncode == 1 and "--cache-size" in proc.stderr
    out = subprocess.run([sys.executable, "-m", "rethought", "--version"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and out.stdout.startswith("rethought ")


@pytest.mark.parametrize("choice", ["auto", "asyncio", "uvloop"])
def test_event_loop_choice(tmp_path, official_r, choice):
    # --event-loop picks the asyncio loop; the server says which at start, and both drivers
    # (ours through a feed too) work on each.
    pytest.importorskip("uvloop")
    from rethought import r

    port = free_port()
    proc = _start("--directory", str(tmp_path / "d"), "--driver-port", str(port),
                  "--no-http-admin", "--event-loop", choice)  # fmt: skip
    try:
        _wait_listening(port)
        theirs = official_r.connect(port=port)
        assert official_r.expr([1, "a"]).run(theirs) == [1, "a"]
        ours = r.connect(port=port)
        r.table_create("t").run(ours)
        feed = r.table("t").changes().run(ours)
        official_r.table("t").insert({"id": 1}).run(theirs)
        assert feed.next(wait=10)["new_val"] == {"id": 1}
        ours.close()
        theirs.close()
    finally:
        out = _stop(proc)
    want = "asyncio" if choice == "asyncio" else "uvloop"
    assert f"(event loop: {want})" in out


def test_event_loop_from_the_environment(tmp_path):
    env = dict(os.environ, RETHOUGHT_EVENT_LOOP="nonsense")
    proc = subprocess.run(
        [sys.executable, "-m", "rethought", "serve", "--directory", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "unknown event loop 'nonsense' (choose from auto, uvloop, asyncio)" in proc.stderr
