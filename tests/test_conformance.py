"""RethinkDB's polyglot ReQL tests, run once against a fresh server through our driver.

Fails only when a file listed in tests/conformance/baseline.txt (files that passed fully)
no longer passes fully; the totals are printed either way. Environment knobs:
RETHOUGHT_CONFORMANCE_DRIVER (rethought | official), RETHOUGHT_CONFORMANCE_REPORT (path of
a markdown report to write), RETHOUGHT_REQL_TESTS (folder of the .yaml files).
"""

from __future__ import annotations

import os

import pytest

from conformance import baseline, cases, drivers, report
from conformance.runner import DEFAULT_ROOT, ManagedServer, Runner

# The whole suite must stay well inside CI's limits: 10 s per query, 10 min for the run.
QUERY_TIMEOUT = 10.0
SUITE_BUDGET = 600.0


@pytest.mark.timeout(SUITE_BUDGET + 300)
def test_conformance_baseline_holds(capsys):
    if not os.path.isdir(DEFAULT_ROOT):
        pytest.skip(f"polyglot tests not found at {DEFAULT_ROOT}")
    driver = drivers.load(os.environ.get("RETHOUGHT_CONFORMANCE_DRIVER", "rethought"))
    server = ManagedServer()
    try:
        runner = Runner(driver, server, timeout=QUERY_TIMEOUT)
        results = runner.run_files(cases.discover(DEFAULT_ROOT), DEFAULT_ROOT, SUITE_BUDGET)
    finally:
        server.close()

    report_path = os.environ.get("RETHOUGHT_CONFORMANCE_REPORT")
    if report_path:
        with open(report_path, "w", encoding="utf-8") as f:
            f.write(report.markdown(results, f"ReQL conformance ({driver.name} driver)"))
    with capsys.disabled():
        print(f"\nReQL conformance ({driver.name} driver): {report.summary_line(results)}")

    by_name = {r.name: r for r in results}
    expected = baseline.read()
    regressed = [name for name in expected if not (name in by_name and by_name[name].fully_passed)]
    details = []
    for name in regressed:
        result = by_name.get(name)
        if result is None:
            details.append(f"{name}: file missing from the suite")
            continue
        first = result.failures[0] if result.failures else None
        why = f"{first.name}: {first.src} -> {first.why}" if first else "; ".join(result.problems)
        details.append(f"{name}: {result.passed}/{result.total} ({why[:300]})")
    assert not regressed, "files in baseline.txt no longer pass fully:\n" + "\n".join(details)
