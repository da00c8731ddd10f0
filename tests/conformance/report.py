"""Markdown tables of pass counts: per folder, per file, and the total."""

from __future__ import annotations

import os
from collections import defaultdict

from .runner import FileResult


def _pct(passed: int, total: int) -> str:
    return f"{100.0 * passed / total:.1f}%" if total else "-"


def totals(results: list[FileResult]) -> tuple[int, int, int, int]:
    """(tests passed, tests counted, files fully passing, files with Python tests)."""
    counted = [r for r in results if r.total]
    return (
        sum(r.passed for r in counted),
        sum(r.total for r in counted),
        sum(r.fully_passed for r in counted),
        len(counted),
    )


def summary_line(results: list[FileResult]) -> str:
    passed, total, full, files = totals(results)
    return (
        f"Total: {passed}/{total} tests passed ({_pct(passed, total)}); "
        f"{full}/{files} files pass fully"
    )


def markdown(results: list[FileResult], title: str) -> str:
    """The whole report: summary, per-folder table, per-file table."""
    lines = [f"# {title}", "", f"**{summary_line(results)}**", ""]
    folders: dict[str, list[FileResult]] = defaultdict(list)
    for result in results:
        if result.total or result.problems:
            folders[os.path.dirname(result.name) or "."].append(result)

    lines += ["## By folder", "", "| folder | passed | total | % | files fully passing |"]
    lines.append("|---|---:|---:|---:|---:|")
    for folder in sorted(folders):
        group = folders[folder]
        passed, total, full, files = totals(group)
        lines.append(f"| {folder} | {passed} | {total} | {_pct(passed, total)} | {full}/{files} |")

    lines += ["", "## By file", "", "| file | passed | total | % | notes |"]
    lines.append("|---|---:|---:|---:|---|")
    for result in sorted((r for group in folders.values() for r in group), key=lambda r: r.name):
        notes = "; ".join(result.problems).replace("|", "\\|").replace("\n", " ")[:200]
        mark = " ✓" if result.fully_passed else ""
        lines.append(
            f"| {result.name}{mark} | {result.passed} | {result.total} |"
            f" {_pct(result.passed, result.total)} | {notes} |"
        )
    skipped = sorted(r.name for r in results if not r.total and not r.problems)
    if skipped:
        lines += ["", "Files with no Python tests (not counted): " + ", ".join(skipped)]
    return "\n".join(lines) + "\n"
