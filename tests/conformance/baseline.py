"""baseline.txt: the test files known to pass fully, which must keep passing."""

from __future__ import annotations

import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baseline.txt")
_HEADER = """\
# ReQL conformance files that pass fully; tests/test_conformance.py fails if one regresses.
# Regenerate (see README.md): python -m tests.conformance --write-baseline
"""


def read(path: str = PATH) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]


def write(names: list[str], path: str = PATH) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(_HEADER)
        f.writelines(f"{name}\n" for name in sorted(names))
