"""RethinkDB's operational options for ``rethought serve``: ``--config-file`` (RethinkDB's
``key=value`` format), ``--port-offset``, ``--bind-driver`` / ``--bind-http``,
``--log-file``, ``--pid-file``, ``--daemon``, ``--cache-size`` and options that do not apply
to one Python process, accepted as RethinkDB accepts them and ignored
(``--no-update-check``, ``--cores``, ``--io-threads``, ``--direct-io``).

The config file follows ``options.cc`` ``parse_config_file``: ``#`` starts a comment, a line is
``name=value`` (spaces around ``=`` allowed) or a bare ``name`` for an option without a value;
an unknown name, a missing value or data after a bare option is a parse error naming the
line (counted from 0, as RethinkDB does). Options given on the command line win over the file's.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

# Options RethinkDB has that mean nothing for one Python process: accepted, ignored.
NO_OPS_WITH_VALUE = ("--cores", "--io-threads")
NO_OPS_FLAGS = ("--no-update-check", "--direct-io")


class ConfigFileError(ValueError):
    """A config file RethinkDB would refuse; the message is its wording."""


def add_operational_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("operational options (RethinkDB's)")
    g.add_argument("--config-file", metavar="FILE", help="read options from FILE (key=value)")
    g.add_argument(
        "--port-offset", type=int, default=0, metavar="N",
        help="add N to every port that is not 0 (default 0)",
    )  # fmt: skip
    g.add_argument("--bind-driver", action="append", metavar="ADDR",
                   help="address for the driver port only (overrides --bind)")  # fmt: skip
    g.add_argument("--bind-http", action="append", metavar="ADDR",
                   help="address for the web console only (overrides --bind)")  # fmt: skip
    g.add_argument("--log-file", metavar="FILE", help="also write the log to FILE")
    g.add_argument("--pid-file", metavar="FILE", help="write the process id to FILE while serving")
    g.add_argument("--daemon", action="store_true", help="run in the background")
    g.add_argument(
        "--cache-size", metavar="MB",
        help="accepted for RethinkDB compatibility: LMDB reads through the OS page cache, "
        "which the kernel sizes, so there is no cache of our own to size",
    )  # fmt: skip
    for flag in NO_OPS_WITH_VALUE:
        g.add_argument(flag, metavar="N", help=argparse.SUPPRESS)
    for flag in NO_OPS_FLAGS:
        g.add_argument(flag, action="store_true", help=argparse.SUPPRESS)


def check_cache_size(value: str | None) -> None:
    """RethinkDB's check of ``--cache-size`` ("auto" or a number of megabytes)."""
    if value is None or value == "auto":
        return
    try:
        ok = float(value) >= 0
    except ValueError:
        ok = False
    if not ok:
        raise ConfigFileError(f"Could not parse --cache-size: {value}")


def _option_kinds(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """``--name`` -> whether the option takes a value, for every option of ``parser``."""
    kinds: dict[str, bool] = {}
    for action in parser._actions:  # argparse keeps no public list
        for flag in action.option_strings:
            if flag.startswith("--"):
                kinds[flag] = action.nargs != 0
    return kinds


def parse_config_file(text: str, path: str, kinds: dict[str, bool]) -> list[tuple[str, str | None]]:
    """``(--name, value or None)`` for each option line of a RethinkDB config file."""
    out: list[tuple[str, str | None]] = []
    for n, raw in enumerate(text.splitlines()):
        line = raw.split("#", 1)[0].rstrip()
        stripped = line.lstrip()
        if not stripped:
            continue
        name = stripped.split("=", 1)[0].split()[0] if stripped[0] != "=" else ""
        if not name:
            raise ConfigFileError(f"Config file {path}: parse error at line {n}")
        flag = "--" + name
        if flag not in kinds or flag in ("--config-file", "--help", "--daemon"):
            raise ConfigFileError(
                f"Config file {path}: parse error at line {n}: unrecognized option name '{name}'"
            )
        rest = stripped[len(name) :]
        if not kinds[flag]:
            if rest:
                raise ConfigFileError(
                    f"Config file {path}: parse error at line {n}: unexpected data after "
                    f"no-parameter option '{name}'"
                )
            out.append((flag, None))
            continue
        rest = rest.lstrip()
        if not rest.startswith("="):
            raise ConfigFileError(f"Config file {path}: parse error at line {n}")
        value = rest[1:].strip()
        if not value:
            raise ConfigFileError(
                f"Config file {path}: parse error at line {n}: no parameter for option '{name}'"
            )
        out.append((flag, value))
    return out


def expand_config_file(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with the options of ``--config-file FILE`` put first, minus those the command
    line gives itself (so the command line wins, as in RethinkDB)."""
    argv = list(argv)
    path = None
    for i, a in enumerate(argv):
        if a == "--config-file" and i + 1 < len(argv):
            path = argv[i + 1]
        elif a.startswith("--config-file="):
            path = a.split("=", 1)[1]
    if path is None:
        return argv
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigFileError(f"Trouble reading config file {path}: {e.strerror}") from None
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    extra: list[str] = []
    for flag, value in parse_config_file(text, path, _option_kinds(parser)):
        if flag in given:
            continue
        extra += [flag] if value is None else [flag, value]
    return extra + argv


class _Tee:
    """A text stream writing to the terminal and to the log file."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.streams[0], name)


def daemonize() -> None:
    """Detach from the terminal (double fork, new session, stdio on /dev/null); the
    command's process exits at once with status 0."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stderr = sys.stdout


def run_operational(args: argparse.Namespace, run: Callable[[], int]) -> int:
    """``run()`` with the process options applied: daemon, log file, pid file."""
    check_cache_size(args.cache_size)
    if args.daemon:
        daemonize()
    if args.log_file:
        log = open(args.log_file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        sys.stdout = _Tee(sys.stdout, log)
        sys.stderr = _Tee(sys.stderr, log)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write(f"{os.getpid()}\n")
        pid_path = os.path.abspath(args.pid_file)

        def remove() -> None:
            try:
                os.remove(pid_path)
            except OSError:
                pass

        atexit.register(remove)
    return run()


def offset_port(port: int | None, offset: int) -> int | None:
    """RethinkDB's ``offseted_port``: 0 stays 0 (pick a free port)."""
    return port if port in (None, 0) else port + offset
