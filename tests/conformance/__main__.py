"""``python -m tests.conformance``: run RethinkDB's polyglot ReQL tests and report pass counts.

Examples::

    python -m tests.conformance --report conformance.md
    python -m tests.conformance --file math_logic/div.yaml -v
    python -m tests.conformance --driver official --port 28015   # an already running server
    python -m tests.conformance --write-baseline                 # refresh baseline.txt
"""

from __future__ import annotations

import argparse
import sys

from . import baseline, cases, drivers, report
from .runner import DEFAULT_ROOT, ExternalServer, ManagedServer, Runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__)
    parser.add_argument("--driver", choices=drivers.DRIVERS, default="rethought")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="folder of the .yaml test files")
    parser.add_argument(
        "--file", action="append", help="run only this file (relative to --root); repeatable"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, help="use a server already listening here instead of starting one"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per query")
    parser.add_argument("--budget", type=float, help="seconds for the whole run")
    parser.add_argument("--report", help="write the markdown report to this file")
    parser.add_argument("--write-baseline", action="store_true", help="rewrite baseline.txt")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every failure")
    args = parser.parse_args(argv)

    driver = drivers.load(args.driver)
    server = ExternalServer(args.host, args.port) if args.port else ManagedServer()
    try:
        runner = Runner(driver, server, timeout=args.timeout, verbose=args.verbose)
        results = runner.run_files(cases.discover(args.root, args.file), args.root, args.budget)
    finally:
        server.close()

    title = f"ReQL conformance ({args.driver} driver)"
    print(report.summary_line(results))
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(report.markdown(results, title))
        print(f"report written to {args.report}")
    if args.write_baseline:
        if args.file:
            parser.error("--write-baseline needs the whole suite (no --file)")
        baseline.write([r.name for r in results if r.fully_passed])
        print(f"baseline written to {baseline.PATH}")
    return 0 if all(r.fully_passed for r in results if r.total) else 1


if __name__ == "__main__":
    sys.exit(main())
