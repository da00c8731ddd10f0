"""The package ships ``py.typed`` and its public API is typed: ``mypy --strict`` passes on a
small program using the driver (blocking and asyncio) and rethought.testing, and flags misuse
(a misspelt method, a wrong argument type); the program also runs, against a real server.
The declarations of the methods installed at import time match the installed names."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys

import pytest

from rethought import errors, r
from rethought.query import declared, methods, namespace

pytest.importorskip("mypy")

PROGRAM = '''\
"""A small application: a blocking part, an asyncio part and its own test server."""

from __future__ import annotations

import asyncio
from typing import Any

from rethought import r
from rethought.errors import ReqlOpFailedError
from rethought.testing import ServerHandle, start_server


def setup(server: ServerHandle) -> list[dict[str, Any]]:
    conn = server.connect(db="test")
    try:
        r.db("test").table_create("people", primary_key="name").run(conn)
        try:
            r.table_create("people").run(conn)
        except ReqlOpFailedError:
            pass  # exists already
        r.table("people").index_create("age").run(conn)
        r.table("people").index_wait().run(conn)
        r.table("people").insert([{"name": "ann", "age": 30}, {"name": "bob", "age": 17}]).run(conn)
        adults = r.table("people").filter(lambda p: p["age"] >= 18).order_by("name")
        rows: list[dict[str, Any]] = adults.run(conn)
        try:
            r.table("people").insert({"name": "ann"}, conflict="error").run(conn)
        except r.ReqlOpFailedError:
            raise
        except r.ReqlRuntimeError:
            pass
        return rows
    finally:
        conn.close()


async def watch(server: ServerHandle) -> tuple[int, dict[str, Any]]:
    async with r.connect(host=server.host, port=server.port, db="test", loop_type="asyncio") as conn:
        n: int = await r.table("people").between(18, r.maxval, index="age").count().run(conn)
        feed = await r.table("people").changes().run(conn)
        await r.table("people").get("bob").update({"age": r.row["age"] + 1}).run(conn)
        change: dict[str, Any] = await feed.next(wait=5)
        await feed.close()
        return n, change


def main() -> None:
    with start_server() as server:
        adults = setup(server)
        assert [p["name"] for p in adults] == ["ann"], adults
        n, change = asyncio.run(watch(server))
        assert n == 1, n
        assert change["new_val"] == {"name": "bob", "age": 18}, change
    print("ok")


if __name__ == "__main__":
    main()
'''

MISUSE = """\
from rethought import r
from rethought.testing import start_server

server = start_server(kind="docker")
conn = server.connect()
r.table("t").insrt({"id": 1}).run(conn)
r.db("d").tabel("t").run(conn)
r.expr(1).run(conn, durability=None) + server.port.upper()
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory):
    d = tmp_path_factory.mktemp("typing")
    (d / "app.py").write_text(PROGRAM)
    (d / "misuse.py").write_text(MISUSE)
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(d / "cache"),
         "--no-error-summary", "app.py", "misuse.py"],
        cwd=d, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return d, out.stdout + out.stderr


def test_mypy_strict_passes_on_a_program_using_the_driver(mypy_output):
    _, output = mypy_output
    assert not [line for line in output.splitlines() if line.startswith("app.py")], output


def test_mypy_flags_misuse(mypy_output):
    _, output = mypy_output
    lines = [line for line in output.splitlines() if line.startswith("misuse.py")]
    found = {int(line.split(":")[1]) for line in lines if ": error:" in line}
    assert found == {4, 6, 7, 8}, output
    assert '"TableQuery" has no attribute "insrt"' in output
    assert '"DbQuery" has no attribute "tabel"' in output
    assert '"int" has no attribute "upper"' in output


def test_the_program_runs(mypy_output):
    d, _ = mypy_output
    out = subprocess.run(
        [sys.executable, str(d / "app.py")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "ok\n"


def test_py_typed_is_shipped():
    assert importlib.resources.files("rethought").joinpath("py.typed").is_file()


def _declared(cls: type) -> set[str]:
    return set(cls.__annotations__)


def test_declarations_match_the_installed_methods():
    assert _declared(declared.QueryMethods) == set(methods.QUERY_METHODS)
    assert _declared(declared.TableMethods) == set(methods.TABLE_METHODS)
    assert _declared(declared.DbMethods) == set(methods.DB_METHODS)
    assert _declared(declared.NamespaceFunctions) == set(namespace._FUNCTIONS) | set(
        namespace._CONSTANTS
    )
    error_classes = {
        name
        for name in dir(r)
        if isinstance(getattr(r, name), type) and issubclass(getattr(r, name), BaseException)
    }
    assert _declared(declared.ErrorClasses) == error_classes | set(errors.__all__)
