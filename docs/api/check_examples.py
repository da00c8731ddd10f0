"""Run every example in the ReQL documentation against a real server and check its result.

The pages are the source of truth: each example is a ``>>>`` block (doctest syntax) inside
a fenced code block. Before each page the ``test`` database is reset to the sample data the
pages describe (README.md, "Sample data"), so pages can be checked alone and in any order.

    python -m rethought serve --directory /tmp/docs-data --driver-port 28800 &
    python docs/api/check_examples.py                  # every page
    python docs/api/check_examples.py --port 28015 docs/api/strings.md -v

Results compare as Python values (dict key order and whitespace do not matter); where that
fails the text is compared with ``...`` as a wildcard, so ids, uuids and times can be elided.
The exit status is the number of failed examples (0 when all pass).
"""

from __future__ import annotations

import argparse
import datetime
import doctest
import re
import sys
from pathlib import Path
from typing import Any

from rethought import r

HERE = Path(__file__).resolve().parent
DEFAULT_PAGES = [
    *sorted(HERE.glob("*.md")),
    HERE.parent / "changefeeds.md",
    HERE.parent / "server.md",
]

# The sample data every page starts from (documented in README.md).
HEROES = [
    {"id": 1, "name": "Iron Man", "team": "Avengers", "age": 48, "powers": ["armor", "flight"]},
    {"id": 2, "name": "Thor", "team": "Avengers", "age": 1500, "powers": ["lightning", "flight"]},
    {"id": 3, "name": "Wolverine", "team": "X-Men", "age": 197, "powers": ["healing", "claws"]},
    {"id": 4, "name": "Storm", "team": "X-Men", "age": 52, "powers": ["weather", "flight"]},
]
TEAMS = [
    {"id": "Avengers", "base": "New York"},
    {"id": "X-Men", "base": "Westchester"},
]


def reset(conn: Any) -> None:
    """Recreate the ``test`` database holding exactly the sample data."""
    for db in r.db_list().run(conn):
        if db not in ("rethinkdb", "test"):
            r.db_drop(db).run(conn)
    if "test" not in r.db_list().run(conn):
        r.db_create("test").run(conn)
    for table in r.db("test").table_list().run(conn):
        r.db("test").table_drop(table).run(conn)
    # Users and permissions some pages create.
    r.db("rethinkdb").table("users").filter(r.row["id"].ne("admin")).delete().run(conn)
    r.db("test").table_create("heroes").run(conn)
    r.db("test").table_create("teams").run(conn)
    heroes = r.db("test").table("heroes")
    heroes.index_create("team").run(conn)
    heroes.index_create("powers", multi=True).run(conn)
    heroes.index_wait().run(conn)
    heroes.insert(HEROES).run(conn)
    r.db("test").table("teams").insert(TEAMS).run(conn)


class ValueChecker(doctest.OutputChecker):
    """Equal as Python values, else doctest's text match (with ``...`` wildcards)."""

    namespace: dict[str, Any] = {"datetime": datetime}

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        try:
            return eval(want, dict(self.namespace)) == eval(got, dict(self.namespace))
        except Exception:
            return False


def check_page(path: Path, conn: Any, verbose: bool) -> tuple[int, int]:
    """Reset the data and run one page's examples; returns (failed, attempted)."""
    reset(conn)
    # A closing fence would read as expected output: blank it, keeping line numbers.
    text = re.sub(r"^\s*```\s*$", "", path.read_text(encoding="utf-8"), flags=re.M)
    globs = {"r": r, "conn": conn, "datetime": datetime}
    test = doctest.DocTestParser().get_doctest(text, globs, path.name, str(path), 0)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(checker=ValueChecker(), verbose=verbose, optionflags=flags)
    try:
        runner.run(test)
    finally:
        # Cursors, feeds and extra connections a page opened.
        for name, value in globs.items():
            if name != "conn" and type(value).__name__ in ("Cursor", "Connection"):
                value.close()
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", type=Path, help="default: every page")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=28800)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    conn = r.connect(host=args.host, port=args.port)
    failed = attempted = 0
    for page in args.pages or DEFAULT_PAGES:
        if not page.exists():
            continue
        f, a = check_page(page, conn, args.verbose)
        print(f"{page.name}: {a - f}/{a} examples pass")
        failed += f
        attempted += a
    conn.close()
    print(f"total: {attempted - failed}/{attempted} examples pass")
    return min(failed, 255)


if __name__ == "__main__":
    sys.exit(main())
