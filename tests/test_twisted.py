"""The Twisted adapter against a real server: every Twisted program of seed 000, run with
only the import line (and the server address) changed, plus concurrency, cancellation and
connection loss. Each program runs in its own interpreter (a reactor cannot restart)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from conftest import ServerProcess
from loop_harness import NOT_EXISTENT, seed_program
from seeds.harness import seed_command, seen_lines

pytest.importorskip("twisted")

run = seed_program


def test_simple_use(run):
    assert run("twisted_simple_use.py").stdout == "True\n{'id': 0}\n"


def test_using_a_cursor(run):
    assert run("twisted_cursor.py").stdout == "{'id': 0}\n{'id': 1}\n{'id': 2}\n"


def test_rethrown_and_caught_errors(run):
    assert run("twisted_errors.py").stdout == f"Failure: {NOT_EXISTENT}Saw error\n"


def test_background_feed_fails_when_the_connection_closes(run):
    out = run("twisted_feed.py").stdout
    changes = seen_lines(out)["test"]
    assert changes == [{"old_val": None, "new_val": {"id": 10 + i}} for i in range(3)]
    assert out.endswith("Feed task failed: ReqlDriverError: Connection is closed.\n")


def test_notice_changes_two_feeds_then_cancel(run):
    out = run("twisted_notice_changes.py").stdout
    seen = seen_lines(out)
    expected = [{"old_val": None, "new_val": {"id": i}} for i in range(10)]
    assert seen == {"a": expected, "b": expected}
    assert out.endswith("open queries: 0\n")  # the cancel errback closed both feeds


def test_many_queries_and_two_feeds_on_one_connection(run):
    out = run("twisted_many.py").stdout.splitlines()
    assert out[:2] == ["inserts ok: True", "values ok: True"]
    assert out[2] == f"feed all: {list(range(50))}"
    assert out[3] == f"feed even: {list(range(0, 50, 2))}"
    assert out[4:8] == [
        "next() after cancel: CancelledError",
        "run() after cancel: CancelledError",
        "open queries: 0",
        "still usable: True",
    ]
    assert out[8] == "ReqlNonExistenceError: Index out of bounds: 5 in:"


def test_connection_loss_fails_every_waiter(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        command = seed_command("twisted_lost.py", srv.host, srv.port, tmp_path)
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline() == "ready\n"
        srv.stop(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        srv.stop()
    lines = out.splitlines()
    assert len(lines) == 4, (out, err)
    assert sorted(line.split(":")[0] for line in lines[:2]) == ["fetch_next+next", "next"]
    for line in lines[:2]:
        assert ": ReqlDriverError: Connection is closed." in line
    assert lines[2:] == ["run after loss: ReqlDriverError: Connection is closed.", "open: False"]
