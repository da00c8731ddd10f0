"""Run polyglot test files through a driver against a server, and count what passes.

Per file: drop what the previous file left in the `test` database, create the file's tables,
then execute its steps in order in one namespace. Every step runs in a worker thread with a
deadline, so a hanging query fails its test and the file goes on (on a fresh connection).
A server that dies is noticed after the step that killed it: the rest of that file fails,
and a fresh server is started for the next file.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import cases, matchers, scope
from .drivers import Driver

# The suite lives in shared/ beside the repository (as on the developers' machines and CI).
_BESIDE_REPO = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "..",
    "shared",
    "reql-tests",
)
DEFAULT_ROOT = os.environ.get("RETHOUGHT_REQL_TESTS", os.path.normpath(_BESIDE_REPO))
_MAX_TIMEOUTS_PER_FILE = 2  # a file that keeps hanging is abandoned after this many
_FILE_BUDGET = 120.0  # seconds one file may take before its remaining tests are failed
_ASKED_TIMEOUT = re.compile(r"\btimeout\s*=\s*(\d+(?:\.\d*)?)")


class StepTimeout(Exception):
    """A step did not finish before its deadline."""


@dataclass
class Failure:
    name: str
    src: str
    expected: str
    actual: str
    why: str
    link_lost: bool = False  # the driver lost its connection (maybe the server died)


@dataclass
class FileResult:
    name: str
    total: int
    passed: int = 0
    failures: list[Failure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # setup errors, crashes, aborts
    seconds: float = 0.0

    @property
    def fully_passed(self) -> bool:
        return self.total > 0 and self.passed == self.total and not self.problems


# -- servers --------------------------------------------------------------------------------


class ExternalServer:
    """A server someone else runs; never restarted."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def ensure(self) -> None:
        pass

    def crashed(self, grace: float = 0.0) -> bool:
        return False

    def restart(self) -> None:
        pass

    def log_tail(self) -> str:
        return ""

    def close(self) -> None:
        pass


class ManagedServer:
    """A `rethought serve` child (tests/conftest.py's ServerProcess), restarted on a crash."""

    def __init__(self) -> None:
        tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if tests_dir not in sys.path:
            sys.path.insert(0, tests_dir)
        from conftest import ServerProcess

        self._factory = ServerProcess
        self._workdir = tempfile.mkdtemp(prefix="rethought-conformance-")
        self._generation = 0
        self.process: Any = None
        self.host, self.port = "127.0.0.1", 0

    def ensure(self) -> None:
        if self.process is None or self.process.proc is None:
            self._generation += 1
            directory = os.path.join(self._workdir, f"data{self._generation}")
            self.process = self._factory(directory).start()
            self.host, self.port = self.process.host, self.process.port

    def crashed(self, grace: float = 0.0) -> bool:
        """Has the server exited? ``grace``: seconds to wait for a dying one to go."""
        proc = self.process.proc if self.process else None
        if proc is None:
            return False
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return False
        return True

    def restart(self) -> None:
        self.stop()
        self.ensure()

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.process.log().splitlines()[-lines:]) if self.process else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def close(self) -> None:
        """Stop the server and delete its data and logs."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)


# -- running --------------------------------------------------------------------------------


def _with_deadline(fn: Callable[[], Any], timeout: float) -> Any:
    """Run fn in a daemon thread; raise StepTimeout if it is not done in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise StepTimeout(f"no answer within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


@functools.lru_cache(maxsize=4096)
def _compiled(src: str, filename: str) -> Any:
    return compile(src, filename, "eval")


def _precompile(step: cases.Query) -> None:
    """Compile a step's snippets up front, in the main thread, hushing the warnings that
    Python 2 era literals ("\\d" in plain strings) raise; errors surface when it runs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for src in (step.src, step.expected, *step.runopts.values(), *step.testopts.values()):
            if src:
                try:
                    _compiled(src, "<test>")
                except SyntaxError:
                    pass


def _deadline_for(src: str, default: float) -> float:
    """Queries that ask the server for a longer timeout (`r.js(..., timeout=8)`) get it."""
    asked = [float(t) for t in _ASKED_TIMEOUT.findall(src)]
    return max([default, *(t + 5.0 for t in asked)])


def _runopt(src: str, namespace: dict[str, Any]) -> Any:
    """A runopt's value; a bare word that names nothing stays a string (`user: test_user`),
    as upstream's driver does."""
    try:
        return eval(_compiled(src, "<test>"), namespace)
    except NameError:
        return src


def _short(value: Any, limit: int = 600) -> str:
    try:
        text = repr(value)
    except Exception as exc:
        text = f"<unprintable {type(value).__name__}: {exc}>"
    return text if len(text) <= limit else text[:limit] + "..."


class Runner:
    """Runs test files through ``driver`` against ``server``."""

    def __init__(
        self,
        driver: Driver,
        server: ExternalServer | ManagedServer,
        timeout: float = 10.0,
        verbose: bool = False,
        out: Any = sys.stdout,
    ) -> None:
        self.driver = driver
        self.server = server
        self.timeout = timeout
        self.verbose = verbose
        self.out = out
        self._user_conns: dict[str, Any] = {}  # the `user` runopt: one connection per user

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def run_files(
        self, paths: Iterable[str], root: str, budget: float | None = None
    ) -> list[FileResult]:
        """Run every file; past ``budget`` seconds the remaining files are failed unrun."""
        started = time.monotonic()
        results = []
        for path in paths:
            test_file = cases.load(path, root)
            if budget is not None and time.monotonic() - started > budget:
                result = FileResult(test_file.name, len(test_file.queries))
                result.problems.append("not run: the suite's time budget was used up")
            else:
                result = self.run_file(test_file)
            results.append(result)
            if result.total or result.problems:
                status = "ok" if result.fully_passed else "FAIL"
                self._print(
                    f"{status:4} {result.name:40} {result.passed:4}/{result.total:<4}"
                    f" {result.seconds:6.1f}s {'; '.join(result.problems)[:120]}"
                )
        return results

    def run_file(self, test_file: cases.TestFile) -> FileResult:
        result = FileResult(test_file.name, len(test_file.queries))
        started = time.monotonic()
        try:
            if test_file.error:
                result.problems.append(test_file.error)
            if result.total:
                self._run_steps(test_file, result)
        finally:
            result.seconds = time.monotonic() - started
        return result

    # -- one file ---------------------------------------------------------------------------

    def _connect(self) -> Any:
        return _with_deadline(
            lambda: self.driver.connect(self.server.host, self.server.port), self.timeout
        )

    def _prepare(self, conn: Any, tables: list[str]) -> dict[str, Any]:
        """Clean the databases, create the file's tables, return the file's namespace."""
        r = self.driver.r

        def setup() -> None:
            r.expr(["test"]).set_difference(r.db_list()).for_each(r.db_create(r.row)).run(conn)
            r.db_list().set_difference(["test", "rethinkdb"]).for_each(r.db_drop(r.row)).run(conn)
            r.db("test").table_list().for_each(r.db("test").table_drop(r.row)).run(conn)
            for name in tables:
                r.db("test").table_create(name).run(conn)

        _with_deadline(setup, self.timeout * 3)
        _with_deadline(lambda: reset_system_tables(r, conn), self.timeout * 3)
        namespace = scope.build(r, conn)
        for name in tables:
            namespace[name] = r.db("test").table(name)
        return namespace

    def _run_steps(self, test_file: cases.TestFile, result: FileResult) -> None:
        queries = test_file.queries
        done = 0
        conn = None
        try:
            self.server.ensure()
            conn = self._connect()
            namespace = self._prepare(conn, test_file.tables)
        except Exception as exc:
            result.problems.append(f"setup failed: {_short(exc, 300)}")
            self._recover(result, conn)
            return
        started = time.monotonic()
        timeouts = 0
        for step in test_file.steps:
            if time.monotonic() - started > _FILE_BUDGET:
                result.problems.append(f"abandoned after {_FILE_BUDGET:g}s")
                break
            if isinstance(step, cases.Define):
                self._define(step, namespace, result)
                continue
            done += 1
            _precompile(step)
            try:
                deadline = _deadline_for(step.src, self.timeout)
                outcome = _with_deadline(lambda s=step: self._query(s, namespace), deadline)
            except StepTimeout as exc:
                outcome = Failure(step.name, step.src, step.expected or "", "timeout", str(exc))
                timeouts += 1
            if outcome is None:
                result.passed += 1
            else:
                self._fail(result, outcome)
            lost = isinstance(outcome, Failure) and outcome.link_lost
            if self.server.crashed(grace=1.0 if lost else 0.0):
                result.problems.append(f"server crashed at {step.name}")
                self._print(f"server crashed at {test_file.name} {step.name}:")
                self._print(self.server.log_tail())
                self.server.restart()
                return
            if isinstance(outcome, Failure) and outcome.actual == "timeout":
                if timeouts >= _MAX_TIMEOUTS_PER_FILE:
                    result.problems.append(f"abandoned after {timeouts} timeouts")
                    break
                conn = self._reconnect(namespace, conn)
                if conn is None:
                    result.problems.append("server stopped answering; restarted")
                    self.server.restart()
                    return
        if done < len(queries):
            self._print(f"  {len(queries) - done} tests of {test_file.name} not run")
        _close(conn)
        self._close_user_conns()

    def _close_user_conns(self) -> None:
        for user_conn in self._user_conns.values():
            _close(user_conn)
        self._user_conns.clear()

    def _user_conn(self, user: str) -> Any:
        """The connection for the `user` runopt: upstream connects as that user (once)."""
        if user not in self._user_conns:
            self._user_conns[user] = self.driver.connect(self.server.host, self.server.port, user)
        return self._user_conns[user]

    def _recover(self, result: FileResult, conn: Any) -> None:
        _close(conn)
        if self.server.crashed(grace=1.0):
            result.problems.append("server crashed")
            self.server.restart()

    def _reconnect(self, namespace: dict[str, Any], conn: Any) -> Any:
        """A timed-out query leaves its connection busy: replace it."""
        _close(conn)
        try:
            conn = self._connect()
        except Exception:
            return None
        namespace["conn"] = conn
        return conn

    def _fail(self, result: FileResult, failure: Failure) -> None:
        result.failures.append(failure)
        if self.verbose:
            self._print(
                f"\nFAIL {result.name} {failure.name}\n  query:    {failure.src}\n"
                f"  expected: {failure.expected}\n  actual:   {failure.actual}\n"
                f"  why:      {failure.why}"
            )

    def _define(self, step: cases.Define, namespace: dict, result: FileResult) -> None:
        code = f"{step.target} = {step.expr}"
        try:
            exec(compile(code, f"<def line {step.line}>", "single"), namespace)
        except Exception as exc:
            result.problems.append(f"def at line {step.line} failed: {_short(exc, 200)}")
            if self.verbose:
                self._print(f"\nDEF FAILED {result.name} line {step.line}: {code}\n  {exc!r}")

    # -- one query --------------------------------------------------------------------------

    def _query(self, step: cases.Query, namespace: dict[str, Any]) -> Failure | None:
        """Evaluate, run and compare one test; None when it passes."""
        try:
            expected = matchers.Anything()
            if step.expected:
                expected = eval(_compiled(step.expected, "<test>"), namespace)
            runopts = {k: _runopt(v, namespace) for k, v in step.runopts.items()}
            testopts = {
                k: eval(_compiled(v, "<test>"), namespace) for k, v in step.testopts.items()
            }
        except Exception as exc:
            return Failure(step.name, step.src, step.expected or "", "", f"bad test: {exc!r}")
        runopts.setdefault("max_batch_rows", 3)  # as upstream: exercise batching
        value = self._evaluate(step, namespace, runopts, testopts)
        if step.variable and expected is None:
            return None
        if self.driver.is_cursor(value) and not isinstance(expected, matchers.Anything):
            value = self._drain(value)
        options = {}
        if "precision" in testopts:
            options["precision"] = float(testopts["precision"])
        outcome = matchers.compare(expected, value, options)
        if outcome:
            return None
        lost = isinstance(value, OSError) or (
            isinstance(value, self.driver.r.ReqlDriverError)
            and any(w in str(value).lower() for w in ("connection", "closed", "socket"))
        )
        return Failure(step.name, step.src, _short(expected), _short(value), str(outcome), lost)

    def _evaluate(
        self, step: cases.Query, namespace: dict[str, Any], runopts: dict, testopts: dict
    ) -> Any:
        """The test's value: the snippet's result, run if it is a query; errors are values."""
        try:
            value = eval(_compiled(step.src, "<test>"), namespace)
        except Exception as exc:
            return exc
        try:
            conn = namespace["conn"]
            user = runopts.pop("user", None)  # who to connect as, not a run() optarg
            if user is not None and user != "admin":
                conn = self._user_conn(user)
            if testopts.get("new-connection") is True:
                conn = self.driver.connect(self.server.host, self.server.port)
            if self.driver.is_cursor(value):
                value = self._drain(value)
            elif self.driver.is_query(value):
                value = value.run(conn, **runopts)
            if step.variable:
                namespace["__value__"] = value
                exec(f"{step.variable} = __value__", namespace)
            if testopts.get("noreply_wait"):
                conn.noreply_wait()
            return value
        except Exception as exc:
            return exc

    def _drain(self, cursor: Any) -> Any:
        """Read a cursor to a list; an error while reading becomes the value."""
        try:
            return list(cursor)
        except Exception as exc:
            return exc


# The users and permissions upstream's test-runner restores before each file: `admin` and
# `test_user` (no password), the latter with every global permission.
_TEST_USER = {"id": "test_user", "password": False}
_TEST_USER_PERMISSIONS = {
    "id": ["test_user"],
    "permissions": {"config": True, "connect": True, "read": True, "write": True},
}


def reset_system_tables(r: Any, conn: Any) -> None:
    """What upstream's test-runner does between files (test/rql_test/test-runner, clean()):
    empty `_debug_scratch`, keep only the `admin` and `test_user` users, and give
    `test_user` exactly its global permissions."""
    system = r.db("rethinkdb")
    system.table("_debug_scratch").delete().run(conn)
    users = system.table("users")
    users.filter(lambda u: r.expr(["admin", "test_user"]).contains(u["id"]).not_()).delete().run(
        conn
    )
    existing = users.get("test_user").run(conn)
    if existing is None:
        users.insert(_TEST_USER).run(conn)
    elif existing != _TEST_USER:
        users.get("test_user").update(_TEST_USER).run(conn)
    permissions = system.table("permissions")
    permissions.filter(r.row["user"].ne("admin")).filter(
        lambda p: p["id"].ne(_TEST_USER_PERMISSIONS["id"])
    ).delete().run(conn)
    current = permissions.get(_TEST_USER_PERMISSIONS["id"]).run(conn)
    if current is None:
        permissions.insert(_TEST_USER_PERMISSIONS).run(conn)
    elif current.get("permissions") != _TEST_USER_PERMISSIONS["permissions"]:
        permissions.get(_TEST_USER_PERMISSIONS["id"]).update(_TEST_USER_PERMISSIONS).run(conn)


def _close(conn: Any) -> None:
    """Close a connection without waiting on it (it may be stuck mid-query)."""
    if conn is None:
        return
    try:
        _with_deadline(lambda: conn.close(noreply_wait=False), 2.0)
    except Exception:
        pass
