"""The server's log: RethinkDB's ``log_file`` and the ``rethinkdb.logs`` table over it.

RethinkDB appends each message to ``<directory>/log_file`` as
``<local time> <uptime>s <level>: <message>`` (``log_writer.cc``: time to the nanosecond,
uptime to the microsecond, newlines and tabs escaped) and ``logs`` shows the newest 1000
entries of that file (``entries_per_server``), earlier runs' included. A row is
``{id: [time as in the file but UTC, server id], level, message, server, timestamp, uptime}``;
its changefeed sends every new entry as ``{old_val: null, new_val: row}`` and nothing when
old ones fall off (``logs_backend.cc``).

Bounded: 1000 entries in memory; the file is cut back to its newest 1000 lines when it grows
past ``MAX_FILE_BYTES`` (or twice what those lines took at the last cut, when larger: each cut
then pays for as many appends as it rewrites). Table creations and drops are logged at ``info`` as RethinkDB's
table manager logs them, warnings and errors of the ``rethought`` loggers at ``warn`` /
``error``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from typing import Any

from ...errors import ReqlOpFailedError
from .base import SystemTable
from .names import server_id, server_name

ENTRIES = 1000  # RethinkDB's entries_per_server
MAX_FILE_BYTES = 1 << 20
LEVELS = ("debug", "info", "notice", "warn", "error")


def _stamp(ns: int, utc: bool) -> str:
    """RethinkDB's ``format_time``: ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn``."""
    secs, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(secs) if utc else time.localtime(secs)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{frac:09d}"


def _escape(message: str) -> str:
    """``format_log_message`` for the file: trailing newlines dropped, ``\\n`` ``\\t`` ``\\\\``
    escaped, other characters outside printable ASCII shown as ``?``."""
    message = message.strip("\n").rstrip("\r\n")
    out = []
    for ch in message:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\\":
            out.append("\\\\")
        elif ch < " " or ch > "~":
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


class Entry:
    __slots__ = ("ns", "uptime", "level", "message")

    def __init__(self, ns: int, uptime: float, level: str, message: str) -> None:
        self.ns, self.uptime, self.level, self.message = ns, uptime, level, message

    def line(self) -> str:
        return f"{_stamp(self.ns, False)} {self.uptime:.6f}s {self.level}: {_escape(self.message)}"

    @classmethod
    def parse(cls, line: str) -> Entry | None:
        """``parse_log_message``; None for a line it would refuse."""
        try:
            stamp, rest = line.split(" ", 1)
            up, rest = rest.split("s ", 1)
            level, message = rest.split(": ", 1)
            day, frac = stamp.split(".")
            secs = time.mktime(time.strptime(day, "%Y-%m-%dT%H:%M:%S"))
            if level not in LEVELS:
                return None
            return cls(int(secs) * 1_000_000_000 + int(frac), float(up), level, _unescape(message))
        except ValueError:
            return None


class ServerLog:
    """One server's log entries; ``publish(rows_by_format)`` reaches the ``logs`` feeds."""

    def __init__(self, path: str | None, started: float | None = None) -> None:
        self.path = path
        self.started = time.time() if started is None else started
        self.entries: deque[Entry] = deque(maxlen=ENTRIES)
        self.publish: Any = None  # set by app.py: hub publishing, called on the server loop
        self._lock = threading.Lock()
        self._last_ns = 0
        self._file: Any = None
        self._cut_at = MAX_FILE_BYTES
        # The last failed write's message, until a write succeeds (current_issues shows it).
        self.write_error: str | None = None
        if path is not None:
            self._open()

    def _open(self) -> None:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:  # type: ignore[arg-type]
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = []
        for line in lines[-ENTRIES:]:
            entry = Entry.parse(line)
            if entry is not None:
                self.entries.append(entry)
                self._last_ns = max(self._last_ns, entry.ns)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # type: ignore[arg-type]
        self._file = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self._cut_at = MAX_FILE_BYTES
        if os.path.getsize(self.path) > self._cut_at:  # type: ignore[arg-type]
            self._cut()

    def _cut(self) -> None:
        """Rewrite the file with the newest entries only (atomically, by rename)."""
        tmp = f"{self.path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(e.line() + "\n" for e in self.entries)
        os.replace(tmp, self.path)  # type: ignore[arg-type]
        self._file.close()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)  # type: ignore[arg-type]
        self._file = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self._cut_at = max(MAX_FILE_BYTES, 2 * os.path.getsize(self.path))  # type: ignore[arg-type]

    def write(self, level: str, message: str) -> Entry:
        """Append one entry (any thread); returns it."""
        with self._lock:
            now = time.time_ns()
            ns = max(now, self._last_ns + 1)  # ids stay unique, as RethinkDB's must
            self._last_ns = ns
            entry = Entry(ns, max(0.0, ns / 1e9 - self.started), level, message)
            self.entries.append(entry)
            if self._file is not None:
                try:
                    self._file.write(entry.line() + "\n")
                    self._file.flush()
                    if self._file.tell() > self._cut_at:
                        self._cut()
                    self.write_error = None  # log_write_issue_tracker_t::report_success
                except OSError as e:
                    # A full disk must not stop the server; the entry stays in memory and
                    # current_issues reports it as RethinkDB's log_write_error.
                    self.write_error = f"cannot write to log file: {os.strerror(e.errno or 0)}"
        if self.publish is not None:
            self.publish(entry)
        return entry

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def row(entry: Entry, id_format: str = "name") -> dict:
    """``convert_log_message_to_datum``."""
    sid = server_id()
    return {
        "id": [_stamp(entry.ns, True), sid],
        "level": entry.level,
        "message": entry.message,
        "server": sid if id_format == "uuid" else server_name(),
        "timestamp": {
            "$reql_type$": "TIME",
            "epoch_time": entry.ns / 1e9,  # not cut to ms: make_time(tv_sec + tv_nsec / 1e9)
            "timezone": "+00:00",
        },
        "uptime": round(entry.uptime, 6),
    }


_LOGS: weakref.WeakKeyDictionary[Any, ServerLog] = weakref.WeakKeyDictionary()


def attach(storage: Any, log: ServerLog) -> None:
    _LOGS[storage] = log


def of(storage: Any) -> ServerLog:
    """The log of the server using ``storage`` (an empty one in memory without a server)."""
    log = _LOGS.get(storage)
    if log is None:
        log = _LOGS[storage] = ServerLog(None)
    return log


LOG_WRITE_ISSUE_BASE = uuid.UUID("a0c0dc6d-aa7f-4119-a29d-4c717c343445")


def issues(storage: Any, id_format: str = "name") -> list[dict]:
    """``current_issues`` rows of the log (``issues/log_write.cc``): a ``log_write_error``
    while the last write to the log file failed, its id ``from_hash(base, message)``."""
    message = of(storage).write_error
    if message is None:
        return []
    name = server_name()
    return [
        {
            "critical": False,
            "description": (
                "The following server encountered an error while writing log statements: "
                f"{name}.\n\nThe error message reported is: {message}\n\nPlease fix the "
                "problem that is preventing the server from writing to their log file. This "
                "issue will go away the next time the server successfully writes to the log file."
            ),
            "id": str(uuid.uuid5(LOG_WRITE_ISSUE_BASE, message)),
            "info": {"message": message, "servers": [server_id() if id_format == "uuid" else name]},
            "type": "log_write_error",
        }
    ]


class Logs(SystemTable):
    name = "logs"

    def rows(self) -> list[dict]:
        return [row(e, self.id_format) for e in list(of(self.storage).entries)]

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        raise ReqlOpFailedError("It's illegal to write to the `rethinkdb.logs` system table.")


class Handler(logging.Handler):
    """Warnings and errors of the ``rethought`` loggers into the server log."""

    def __init__(self, log: ServerLog) -> None:
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}: {record.exc_info[1]!r}"
            self.log.write("error" if record.levelno >= logging.ERROR else "warn", message)
        except Exception:
            self.handleError(record)


def table_event(log: ServerLog, event: str, table_id: str | None) -> None:
    """RethinkDB's table manager lines (``multi_table_manager.cc``), at ``info``."""
    if table_id is None:
        return
    if event == "table_create":
        log.write("info", f"Table {table_id}: Added replica on this server.")
    elif event == "table_drop":
        log.write("info", f"Table {table_id}: Deleted the table.")
