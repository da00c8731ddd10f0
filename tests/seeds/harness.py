"""Runs a seed program (a documentation example kept verbatim in this directory) against a
test server, in a fresh interpreter, and returns what it printed.

Only two things in a seed's text change: ``import rethinkdb as r`` becomes
``from rethought import r``, and the documentation's ``localhost:28015`` becomes the test
server's address. What a program adds after its seed (its ``--- harness ---`` part) may import
this module, as ``harness``: the child runs with this directory on its path.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).parent
OFFICIAL_IMPORT = "import rethinkdb as r"
OUR_IMPORT = "from rethought import r"
DOC_ADDRESS = "host='localhost', port=28015"
DOC_ADDRESS_FORMATTED = DOC_ADDRESS.replace("'", '"')  # programs that ruff formats

BOOTSTRAP = f"""
import runpy, sys
sys.path.insert(0, {str(SEEDS)!r})
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def seed_command(name: str, host: str, port: int, workdir: Path) -> list[str]:
    """The argv that runs ``tests/seeds/<name>`` against ``host:port``."""
    source = (SEEDS / name).read_text()
    assert DOC_ADDRESS in source or DOC_ADDRESS_FORMATTED in source, name
    source = source.replace(OFFICIAL_IMPORT, OUR_IMPORT)
    for address in (DOC_ADDRESS, DOC_ADDRESS_FORMATTED):
        source = source.replace(address, f"host={host!r}, port={port}")
    path = workdir / name
    path.write_text(source)
    return [sys.executable, "-c", BOOTSTRAP, str(path)]


def run_seed(
    name: str, host: str, port: int, workdir: Path, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``tests/seeds/<name>``; the result has ``stdout`` / ``stderr`` as text."""
    command = seed_command(name, host, port, workdir)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def seen_lines(stdout: str) -> dict[str, list[dict]]:
    """``Seen on table X: {...}`` lines, grouped by table, in order."""
    seen: dict[str, list[dict]] = {}
    for line in stdout.splitlines():
        if line.startswith("Seen on table "):
            table, _, change = line[len("Seen on table ") :].partition(": ")
            seen.setdefault(table, []).append(ast.literal_eval(change))
    return seen


def run_on_reactor(main: Callable[[], Any]) -> None:
    """Run ``main()`` (which returns a Deferred) on the Twisted reactor, then stop it; a
    failure is printed as ``Failure: <type>: <message>`` instead of a traceback dump."""
    from twisted.internet import reactor
    from twisted.python.failure import Failure

    def done(result: Any) -> None:
        if isinstance(result, Failure):
            print(f"Failure: {result.type.__name__}: {result.value}")
        reactor.stop()

    reactor.callWhenRunning(lambda: main().addBoth(done))
    reactor.run()
