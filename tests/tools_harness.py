"""Running RethinkDB's own data tools (the official ``rethinkdb`` PyPI package's
``python -m rethinkdb dump|restore|import|export|index_rebuild``) against a Rethought server,
and comparing what two servers hold, through the official driver."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import rethinkdb

R = rethinkdb.r


@dataclass
class Tool:
    """One verb of the official tools, pointed at ``host:port``."""

    host: str
    port: int
    password_file: str | None = None
    tls_cert: str | None = None

    def run(self, verb: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "rethinkdb", verb, "-c", f"{self.host}:{self.port}"]
        if self.password_file:
            cmd += ["--password-file", self.password_file]
        if self.tls_cert:
            cmd += ["--tls-cert", self.tls_cert]
        out = subprocess.run(
            cmd + list(args), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
        if check and out.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd[3:])} {' '.join(args)} exited {out.returncode}:\n"
                f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
            )
        return out


def connect(server: Any, **kwargs: Any) -> Any:
    return R.connect(host=server.host, port=server.port, **kwargs)


def user_tables(conn: Any) -> list[tuple[str, str]]:
    """(db, table) of every table outside the ``rethinkdb`` system database, sorted."""
    return sorted((t["db"], t["name"]) for t in R.db("rethinkdb").table("table_config").run(conn))


def rows(conn: Any, db: str, table: str) -> list[Any]:
    """The table's rows in primary key order (raw times and binaries compare exactly)."""
    pkey = R.db(db).table(table).info()["primary_key"].run(conn)
    return list(
        R.db(db).table(table).order_by(index=pkey).run(conn, time_format="raw", binary_format="raw")
    )


def schema(conn: Any, db: str, table: str) -> dict[str, Any]:
    """What a dump must carry besides rows: primary key, indexes, write hook."""
    t = R.db(db).table(table)
    indexes = {
        s["index"]: (s["function"], s["multi"], s["geo"], s["ready"])
        for s in t.index_status().run(conn, binary_format="raw")
    }
    hook = t.get_write_hook().run(conn, binary_format="raw")
    return {
        "primary_key": t.info()["primary_key"].run(conn),
        "indexes": indexes,
        "write_hook": hook and hook["query"],
    }


def snapshot(conn: Any, tables: list[tuple[str, str]] | None = None) -> dict[Any, Any]:
    """Every user table's schema and rows."""
    return {
        (db, table): {"schema": schema(conn, db, table), "rows": rows(conn, db, table)}
        for db, table in (tables if tables is not None else user_tables(conn))
    }
