"""Fuzzing the ReQL compiler and evaluator (short run; bench/fuzz.py is the long one):
hypothesis-driven term trees, well-typed and ill-typed, sent pipelined over a raw
connection. Every query gets an answer, every error is a ReQL error with a message (never
INTERNAL, never Python's exception text), and the server keeps serving."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ServerProcess
from fuzz_harness import TABLE, Conn, TermGen, still_serving

BATCH = 20  # queries pipelined per example


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    srv = ServerProcess(str(tmp_path_factory.mktemp("fuzz") / "data")).start()
    c = Conn(srv.host, srv.port)
    c.run([[1, [60, [TABLE]]]])  # table_create
    docs = [{"id": i, "n": i % 5, "s": str(i), "grp": [i % 3]} for i in range(30)]
    c.run([[1, [56, [[15, [TABLE]], [2, docs]]]]])  # insert
    c.close()
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()[-3000:]


def _run(srv: ServerProcess, rnd: random.Random, ill: float) -> None:
    gen = TermGen(rnd, ill=ill)
    c = Conn(srv.host, srv.port)
    try:
        c.run([gen.query() for _ in range(BATCH)])
    finally:
        c.close()


FAST = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_well_typed_terms(fuzz_server, rnd):
    _run(fuzz_server, rnd, ill=0.0)


@FAST
@given(rnd=st.randoms(use_true_random=False))
def test_ill_typed_terms(fuzz_server, rnd):
    _run(fuzz_server, rnd, ill=0.25)


def test_still_serving_after_fuzz(fuzz_server):
    still_serving(fuzz_server.host, fuzz_server.port)
    assert fuzz_server.proc.poll() is None


# Inputs the fuzzer found that once reached the client as Python's text, with RethinkDB's
# answer for them (datum_t(double) refuses a non-finite epoch: datum.cc, pseudo_time.cc).
FOUND = [
    (lambda r: r.epoch_time(1e308), "Non-finite number: inf"),
    (lambda r: r.epoch_time(-1e308).eq(None), "Non-finite number: -inf"),
]


@pytest.mark.parametrize("case", range(len(FOUND)))
def test_found_by_fuzzing(official_r, official_conn, case):
    build, message = FOUND[case]
    with pytest.raises(official_r.errors.ReqlQueryLogicError) as e:
        build(official_r).run(official_conn)
    assert str(e.value).startswith(message)
