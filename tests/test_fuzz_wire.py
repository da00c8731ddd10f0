"""Fuzzing the wire protocol (short run; bench/fuzz.py is the long one): handshakes of every
protocol version (V0_1 to V1_0) with mutated keys and messages, SCRAM first and final
messages of every malformed kind, frames with bad JSON and lying headers. The server answers
or closes cleanly within a deadline, never with Python's text, and keeps serving."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ServerProcess
from fuzz_harness import run_script, still_serving, wire_script


@pytest.fixture(scope="module")
def wire_server(tmp_path_factory):
    srv = ServerProcess(str(tmp_path_factory.mktemp("fuzzwire") / "data")).start()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()[-3000:]


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rnd=st.randoms(use_true_random=False))
def test_wire_scripts(wire_server, rnd):
    run_script(wire_server.host, wire_server.port, wire_script(rnd), rnd)


def test_still_serving_after_wire_fuzz(wire_server):
    still_serving(wire_server.host, wire_server.port)
    assert wire_server.proc.poll() is None
