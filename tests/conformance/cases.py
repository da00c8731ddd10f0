"""Turn one parsed polyglot file into the Python steps to run, as RethinkDB's test-runner does.

For each test entry the Python variant is picked (``py3.11``, ``py3``, any other ``py3.x``,
``py``, then the language-neutral ``cd``); entries with none of these are for other languages
only and are skipped without being counted. Each command of a multi-query list is one
counted test; ``def`` entries and ``x = ...`` commands bind names for later tests.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from .polyglot import Text, parse_file

_PY_KEYS = (f"py{sys.version_info[0]}.{sys.version_info[1]}", f"py{sys.version_info[0]}")
# Same shape as the upstream runner's: `name = expression`, but not `==`.
_ASSIGNMENT = re.compile(
    r"""^\s*(?P<q>['"]?)\s*(?P<name>[a-zA-Z][\w\[\]{}'"]*)\s*=\s*(?P<expr>[^=].+)(?P=q)\s*$""",
    re.DOTALL,
)
# Polyglot files write `null`/`nil`; Python needs None (a quoted 'null' stays a string).
_NULLS = re.compile(r"""(?P<q>["']?)\b(?P<word>null|nil)\b(?P=q)""")


@dataclass
class Define:
    """``def``: execute ``target = expr`` in the file's namespace (nothing is run)."""

    target: str
    expr: str
    line: int


@dataclass
class Query:
    """One counted test: evaluate ``src``, run it if it is a query, compare with ``expected``."""

    src: str
    expected: str | None
    name: str
    variable: str | None = None
    runopts: dict[str, str] = field(default_factory=dict)
    testopts: dict[str, str] = field(default_factory=dict)


@dataclass
class TestFile:
    name: str  # relative to the suite root, e.g. "math_logic/div.yaml"
    tables: list[str]
    steps: list[Define | Query]
    error: str | None = None  # set when the file could not be read

    @property
    def queries(self) -> list[Query]:
        return [s for s in self.steps if isinstance(s, Query)]


def translate(src: str) -> str:
    """Python spelling of a polyglot snippet: nulls become None, surrounding space goes."""

    def swap(m: re.Match) -> str:
        return m.group(0) if m.group("q") else "None"

    return _NULLS.sub(swap, str(src).strip())


def _pick(entry: dict) -> Any:
    """The Python variant in a language map, or None when it only has other languages."""
    for key in _PY_KEYS:
        if key in entry:
            return entry[key]
    versioned = sorted(
        (k for k in entry if re.fullmatch(r"py3\.\d+", k)), key=lambda k: int(k.split(".")[1])
    )
    if versioned:  # a newer Python than any listed behaves like the newest listed
        return entry[versioned[-1]]
    for key in ("py", "cd"):
        if key in entry:
            return entry[key]
    return None


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _line(value: Any, default: int) -> int:
    return value.line if isinstance(value, Text) else default


def _entries(entry: Any) -> tuple[list, str | None, dict, dict]:
    """(commands, expected, runopts, testopts) of one test entry, for Python."""
    if not isinstance(entry, dict):
        return _as_list(entry), None, {}, {}
    runopts = dict(entry.get("runopts") or {})
    testopts = dict(entry.get("testopts") or {})
    expected = entry.get("ot")
    if isinstance(expected, dict):
        expected = _pick(expected)
    commands = _pick(entry)
    if isinstance(commands, dict):  # `py: {cd: ..., ot: ...}` overrides per language
        inner, inner_expected, inner_run, inner_test = _entries(commands)
        commands = inner
        expected = inner_expected if inner_expected is not None else expected
        runopts.update(inner_run)
        testopts.update(inner_test)
    return _as_list(commands), expected, runopts, testopts


def _definitions(value: Any) -> list:
    if isinstance(value, dict):
        value = _pick(value)
    return _as_list(value)


def load(path: str, root: str) -> TestFile:
    """Read one polyglot file into the steps the Python runner executes."""
    name = os.path.relpath(path, root)
    try:
        data = parse_file(path)
        if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
            raise ValueError("no `tests:` list")
    except Exception as exc:  # a broken file is reported, not fatal
        return TestFile(name, [], [], error=f"unreadable: {exc}")
    tables = re.findall(r"[a-zA-Z\d._-]+", str(data.get("table_variable_name") or ""))
    steps: list[Define | Query] = []
    for index, entry in enumerate(data["tests"]):
        if isinstance(entry, dict) and "def" in entry:
            for definition in _definitions(entry["def"]):
                m = _ASSIGNMENT.match(str(definition))
                if m is None:
                    error = f"test {index}: `def` without a variable: {definition}"
                    return TestFile(name, tables, steps, error=error)
                steps.append(
                    Define(m.group("name"), translate(m.group("expr")), _line(definition, 0))
                )
        commands, expected, runopts, testopts = _entries(entry)
        for command in commands:
            line = _line(command, 0)
            src, variable = str(command), None
            m = _ASSIGNMENT.match(src)
            if m:
                variable, src = m.group("name"), m.group("expr")
            steps.append(
                Query(
                    src=translate(src),
                    expected=None if expected is None else translate(expected),
                    name=f"line {line}" if line else f"test {index}",
                    variable=variable,
                    runopts={k: translate(v) for k, v in runopts.items()},
                    testopts={k: translate(v) for k, v in testopts.items()},
                )
            )
    return TestFile(name, tables, steps)


def discover(root: str, only: list[str] | None = None) -> list[str]:
    """Every ``.yaml`` test file under root (or the named ones), in a stable order."""
    if only:
        found = []
        for item in only:
            candidate = item if os.path.isabs(item) else os.path.join(root, item)
            if not os.path.exists(candidate) and os.path.exists(item):
                candidate = os.path.abspath(item)
            found.append(candidate)
        return found
    paths = []
    for folder, _dirs, files in os.walk(root):
        paths.extend(os.path.join(folder, f) for f in files if f.endswith(".yaml"))
    return sorted(paths, key=lambda p: os.path.relpath(p, root))
