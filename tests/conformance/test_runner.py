"""The runner against a real server: counting, a hanging test, a crashing server."""

from __future__ import annotations

import io

import pytest

from . import drivers, report
from .runner import ManagedServer, Runner

PASSING = """\
desc: passing
table_variable_name: tbl
tests:
    - cd: tbl.insert([{'id':1}, {'id':2}])
      ot: partial({'inserted':2})
    - def: two = 2
    - cd: total = tbl.sum('id')
    - py: r.expr(total).add(two)
      ot: 5
    - cd: tbl.order_by('id')
      ot: [{'id':1}, {'id':2}]
    - py: r.expr(1).add('a')
      ot: err('ReqlQueryLogicError', 'Expected type NUMBER but found STRING.')
    - rb: not_python()
"""

HANGING = """\
desc: hanging
tests:
    - py: wait(30)
    - py: r.expr(1)
      ot: 1
"""

CRASHING = """\
desc: crashing
tests:
    - py: r.expr(1)
      ot: 1
    - py: os.kill({pid}, 9)
    - py: r.expr(2)
      ot: 2
"""


@pytest.fixture
def suite(tmp_path):
    server = ManagedServer()
    runner = Runner(drivers.load("official"), server, timeout=1.0, out=io.StringIO())
    yield tmp_path, server, runner
    server.close()


def _write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return str(path)


def test_counts_and_recovers(suite):
    folder, server, runner = suite
    server.ensure()
    first_pid = server.process.proc.pid
    paths = [
        _write(folder, "a_passing.yaml", PASSING),
        _write(folder, "b_hanging.yaml", HANGING),
        _write(folder, "c_crashing.yaml", CRASHING.replace("{pid}", str(first_pid))),
        _write(folder, "d_passing.yaml", PASSING),
    ]
    results = runner.run_files(paths, str(folder))
    by_name = {r.name: r for r in results}

    first = by_name["a_passing.yaml"]
    assert (first.passed, first.total, first.fully_passed) == (5, 5, True), first.failures

    hanging = by_name["b_hanging.yaml"]
    assert (hanging.passed, hanging.total) == (1, 2)
    assert hanging.failures[0].actual == "timeout"

    crashing = by_name["c_crashing.yaml"]
    assert (crashing.passed, crashing.total, crashing.fully_passed) == (2, 3, False)
    assert any("crashed" in p for p in crashing.problems)

    after = by_name["d_passing.yaml"]
    assert after.fully_passed, after.failures
    assert server.process.proc.pid != first_pid

    text = report.markdown(results, "t")
    assert "| a_passing.yaml ✓ | 5 | 5 | 100.0% |" in text
    assert report.summary_line(results).startswith("Total: 13/15 tests passed")
