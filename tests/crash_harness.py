"""Crash trials: a mixed workload against a real `rethought serve`, a SIGKILL at a random
moment, a restart, then checks of what the client was promised.

Shared by tests/test_crash_trials.py (a short CI run) and bench/crash_trials.py (the long run).
Several trials run one after another on the same data directory, so a crash also hits state
recovered from the previous crash. The clients keep a ledger of acknowledged operations
(``Ledger``); after the restart:

- every insert, update and delete acknowledged with hard durability is there, exactly once
  (the one operation in flight at the kill may or may not have happened, but never half);
  soft writes may be lost, never half-applied;
- every secondary index equals what recomputing it from the documents gives: through ReQL
  (``order_by(index=)`` and ``get_all``) and, once the server is stopped, entry for entry in
  the LMDB file (no orphan, no missing, no stale entry);
- the system tables agree with the data (``table_config``, ``table_status``, the O(1) row
  counts), acknowledged table create/rename/drop, index create/drop/rebuild and durability
  reconfiguration are in effect;
- no table is half-created or half-dropped: no rows, index entries or counts under an id the
  catalog does not know, and every listed table answers queries;
- the server log has no Python traceback.
"""

from __future__ import annotations

import random
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from conftest import ServerProcess

DB = "test"
MAIN = "main"
GEN = "gen"
WORKERS = 2
KEY_SPAN = 10_000_000  # worker w writes primary keys w * KEY_SPAN + i


def doc_for(key: int) -> dict:
    """The one content a document with this key may have (so a half-written one shows)."""
    return {"id": key, "grp": key % 7, "n": 0, "pad": "p" * (key % 50)}


# Index kinds: (ReQL function for index_create, multi, the same function in Python giving the
# list of index values; None values are left out of the index, as RethinkDB does).
INDEX_KINDS: list[tuple[Any, bool, Any]] = [
    (lambda d: d["grp"], False, lambda d: [d["grp"]]),
    (lambda d: d["n"] % 3, False, lambda d: [d["n"] % 3]),
    (lambda d: [d["grp"], d["n"]], False, lambda d: [[d["grp"], d["n"]]]),
    (lambda d: [d["grp"], d["grp"].add(10)], True, lambda d: [d["grp"], d["grp"] + 10]),
]


def _null_unless_updated(r: Any) -> tuple[Any, bool, Any]:
    # Rows enter this index on their first update (null keys are skipped).
    return (
        lambda d: r.branch(d["n"].gt(0), d["n"], None),
        False,
        lambda d: [d["n"] if d["n"] > 0 else None],
    )


@dataclass
class Ledger:
    """What the server acknowledged (shared by the workers; each has its own in-flight op)."""

    hard_ids: set[int] = field(default_factory=set)
    soft_ids: set[int] = field(default_factory=set)
    deleted: set[int] = field(default_factory=set)
    updates: dict[int, int] = field(default_factory=dict)  # key -> acknowledged increments
    uids: set[str] = field(default_factory=set)
    tables: dict[str, str] = field(default_factory=dict)  # created name -> current name or ""
    table_rows: set[str] = field(default_factory=set)  # created names whose row was acked
    indexes: dict[str, int] = field(default_factory=dict)  # index name -> kind
    durability: str = "hard"  # main's table durability (config().update)
    in_flight: dict[int, tuple] = field(default_factory=dict)  # worker -> op at the kill
    errors: list[str] = field(default_factory=list)  # unexpected answers (a failure)
    next_key: dict[int, int] = field(default_factory=dict)  # worker -> its next fresh key
    ops: int = 0
    seq: int = 0  # names for new tables / indexes / uids, unique across trials
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq


def _disconnected(exc: BaseException) -> bool:
    """A failure that only says the server went away (the kill), not a wrong answer."""
    from rethinkdb.errors import ReqlDriverError

    return isinstance(exc, ReqlDriverError | OSError | EOFError)


class Worker(threading.Thread):
    """One client connection running random operations until the server dies."""

    def __init__(self, r: Any, srv: ServerProcess, ledger: Ledger, wid: int, seed: int):
        super().__init__(daemon=True)
        self.r, self.srv, self.ledger, self.wid = r, srv, ledger, wid
        self.rng = random.Random(seed)

    def run(self) -> None:
        try:
            conn = self.r.connect(host=self.srv.host, port=self.srv.port)
        except Exception:
            return
        kinds = ["hard1", "hardN", "soft1", "softN", "update", "update", "delete", "uid"]
        if self.wid == 0:  # schema changes from one client only, so the ledger stays exact
            kinds += ["table", "index", "reconfigure"]
        try:
            while True:
                self.ledger.ops += 1
                self._step(conn, self.rng.choice(kinds))
                self.ledger.in_flight.pop(self.wid, None)
        except Exception as e:
            if not _disconnected(e):
                self.ledger.errors.append(f"worker {self.wid}: {type(e).__name__}: {e}")
        finally:
            try:
                conn.close(noreply_wait=False)
            except Exception:
                pass

    def _flight(self, *op: Any) -> None:
        self.ledger.in_flight[self.wid] = op

    def _step(self, conn: Any, kind: str) -> None:
        r, led, rng = self.r, self.ledger, self.rng
        if kind in ("hard1", "soft1", "hardN", "softN"):
            count = 1 if kind.endswith("1") else rng.randint(2, 40)
            with led.lock:
                start = led.next_key.setdefault(self.wid, self.wid * KEY_SPAN)
                led.next_key[self.wid] = start + count
            keys = list(range(start, start + count))
            hard = kind.startswith("hard")
            self._flight("insert", keys)
            docs = [doc_for(k) for k in keys]
            res = (
                r.table(MAIN)
                .insert(docs if count > 1 else docs[0])
                .run(conn, durability="hard" if hard else "soft")
            )
            _expect(res.get("inserted") == count, res)
            with led.lock:
                (led.hard_ids if hard else led.soft_ids).update(keys)
        elif kind in ("update", "delete"):
            with led.lock:  # keys this worker wrote, so no other worker races on them
                mine = [k for k in led.hard_ids - led.deleted if k // KEY_SPAN == self.wid]
            if not mine:
                return
            key = rng.choice(mine)
            self._flight(kind, key)
            if kind == "update":
                res = (
                    r.table(MAIN)
                    .get(key)
                    .update({"n": r.row["n"] + 1})
                    .run(conn, durability="hard")
                )
                _expect(res.get("replaced") == 1, res)
                with led.lock:
                    led.updates[key] = led.updates.get(key, 0) + 1
            else:
                res = r.table(MAIN).get(key).delete().run(conn, durability="hard")
                _expect(res.get("deleted") == 1, res)
                with led.lock:
                    led.deleted.add(key)
        elif kind == "uid":
            # Server-generated keys: exactly-once shows as one document per uid.
            base = led.next_seq()
            uids = [f"u{base}-{i}" for i in range(rng.randint(1, 10))]
            self._flight("uid", uids)
            res = r.table(GEN).insert([{"uid": u} for u in uids]).run(conn, durability="hard")
            _expect(res.get("inserted") == len(uids), res)
            with led.lock:
                led.uids.update(uids)
        elif kind == "table":
            self._table_step(conn)
        elif kind == "index":
            self._index_step(conn)
        elif kind == "reconfigure":
            if rng.random() < 0.5:
                res = r.table(MAIN).reconfigure(shards=1, replicas=1).run(conn)
                _expect(res.get("reconfigured") == 1, res)
            else:
                new = "soft" if led.durability == "hard" else "hard"
                self._flight("durability", new)
                res = r.table(MAIN).config().update({"durability": new}).run(conn)
                _expect(res.get("replaced") == 1, res)
                led.durability = new

    def _table_step(self, conn: Any) -> None:
        r, led = self.r, self.ledger
        live = [c for c, cur in led.tables.items() if cur]
        action = self.rng.choice(["create", "create", "rename", "drop"]) if live else "create"
        if action == "create":
            name = f"t{led.next_seq()}"
            self._flight("table_create", name)
            res = r.table_create(name).run(conn)
            _expect(res.get("tables_created") == 1, res)
            led.tables[name] = name
            self._flight("table_row", name)
            res = r.table(name).insert({"id": 1}).run(conn, durability="hard")
            _expect(res.get("inserted") == 1, res)
            led.table_rows.add(name)
            return
        created = self.rng.choice(live)
        current = led.tables[created]
        if action == "rename":
            new = f"t{led.next_seq()}r"
            self._flight("table_rename", created, current, new)
            res = r.table(current).config().update({"name": new}).run(conn)
            _expect(res.get("replaced") == 1, res)
            led.tables[created] = new
        else:
            self._flight("table_drop", created, current)
            res = r.table_drop(current).run(conn)
            _expect(res.get("tables_dropped") == 1, res)
            led.tables[created] = ""

    def _index_step(self, conn: Any) -> None:
        r, led, rng = self.r, self.ledger, self.rng
        action = rng.choice(["create", "rebuild", "drop"]) if led.indexes else "create"
        if action == "create" and len(led.indexes) >= 4:
            action = rng.choice(["rebuild", "drop"])
        if action == "create":
            name = f"ix{led.next_seq()}"
            kind = rng.randrange(len(INDEX_KINDS) + 1)
            fn, multi, _ = _kind(r, kind)
            self._flight("index_create", name, kind)
            res = r.table(MAIN).index_create(name, fn, multi=multi).run(conn)
            _expect(res.get("created") == 1, res)
            led.indexes[name] = kind
            if rng.random() < 0.5:
                r.table(MAIN).index_wait(name).run(conn)
        elif action == "drop":
            name = rng.choice(sorted(led.indexes))
            self._flight("index_drop", name)
            res = r.table(MAIN).index_drop(name).run(conn)
            _expect(res.get("dropped") == 1, res)
            del led.indexes[name]
        else:
            # RethinkDB's documented rebuild: create a copy, wait, rename it over the old one.
            name = rng.choice(sorted(led.indexes))
            kind = led.indexes[name]
            tmp = f"{name}_new{led.next_seq()}"
            fn, multi, _ = _kind(r, kind)
            self._flight("index_create", tmp, kind)
            r.table(MAIN).index_create(tmp, fn, multi=multi).run(conn)
            led.indexes[tmp] = kind
            r.table(MAIN).index_wait(tmp).run(conn)
            self._flight("index_rename", tmp, name)
            res = r.table(MAIN).index_rename(tmp, name, overwrite=True).run(conn)
            _expect(res.get("renamed") == 1, res)
            del led.indexes[tmp]


def _kind(r: Any, kind: int) -> tuple[Any, bool, Any]:
    return INDEX_KINDS[kind] if kind < len(INDEX_KINDS) else _null_unless_updated(r)


def _expect(ok: bool, res: Any) -> None:
    if not ok:
        raise AssertionError(f"unexpected answer: {res}")


class FeedReader(threading.Thread):
    """An open changefeed during the workload (it must not get in the way of recovery)."""

    def __init__(self, r: Any, srv: ServerProcess, table: str, **opts: Any):
        super().__init__(daemon=True)
        self.r, self.srv, self.table, self.opts = r, srv, table, opts
        self.seen = 0

    def run(self) -> None:
        try:
            conn = self.r.connect(host=self.srv.host, port=self.srv.port)
            for _ in self.r.table(self.table).changes(**self.opts).run(conn):
                self.seen += 1
        except Exception:
            pass


@dataclass
class Trial:
    """The figures of one trial."""

    seed: int
    kill_after: float
    ops: int
    hard: int
    soft: int
    soft_survived: int
    tables: int
    indexes: int
    in_flight: list[tuple] = field(default_factory=list)


class CrashRun:
    """Trials on one data directory: start, work, SIGKILL, restart, check; again."""

    def __init__(self, r: Any, directory: str, seed: int):
        self.r = r
        self.directory = directory
        self.seed = seed
        self.ledger = Ledger()
        self.rng = random.Random(seed)
        self.srv = ServerProcess(directory)
        self.fresh = True

    def trial(self) -> Trial:
        """One trial; raises AssertionError naming the broken promise."""
        r, led = self.r, self.ledger
        srv = self.srv.start()
        if self.fresh:
            conn = r.connect(host=srv.host, port=srv.port)
            r.table_create(MAIN).run(conn)
            r.table_create(GEN).run(conn)
            conn.close()
            self.fresh = False
        feeds = [FeedReader(r, srv, MAIN), FeedReader(r, srv, GEN, include_initial=True)]
        for f in feeds:
            f.start()
        workers = [Worker(r, srv, led, w, self.rng.randrange(1 << 30)) for w in range(WORKERS)]
        for w in workers:
            w.start()
        kill_after = self.rng.uniform(0.05, 1.5)
        time.sleep(kill_after)
        srv.stop(signal.SIGKILL)
        for t in [*workers, *feeds]:
            t.join(30)
            assert not t.is_alive(), "a client did not notice the killed server"
        assert not led.errors, f"wrong answers before the kill: {led.errors}"
        in_flight = list(led.in_flight.values())
        srv.start()
        try:
            soft_survived = check_live(r, srv, led)
        finally:
            srv.stop()
        check_offline(self.directory, led)
        check_log(srv)
        led.in_flight.clear()
        return Trial(
            self.seed,
            round(kill_after, 3),
            led.ops,
            len(led.hard_ids),
            len(led.soft_ids),
            soft_survived,
            sum(1 for v in led.tables.values() if v),
            len(led.indexes),
            in_flight,
        )


def run_trials(r: Any, base: str, trials: int, seed: int, per_dir: int = 5) -> list[Trial]:
    """``trials`` trials, a fresh data directory every ``per_dir``; the figures of each."""
    out: list[Trial] = []
    run: CrashRun | None = None
    Path(base).mkdir(parents=True, exist_ok=True)
    for i in range(trials):
        if i % per_dir == 0:
            d = Path(base) / f"run{i // per_dir}"
            shutil.rmtree(d, ignore_errors=True)
            run = CrashRun(r, str(d), seed * 1000 + i)
        assert run is not None
        try:
            out.append(run.trial())
        except AssertionError as e:
            raise AssertionError(f"trial {i} (seed {run.seed}): {e}") from e
    return out


# -- checks with the server running ----------------------------------------------------------


def check_live(r: Any, srv: ServerProcess, led: Ledger) -> int:
    """The ReQL-visible checks; folds the outcome of in-flight operations into the ledger.
    Returns how many acknowledged soft inserts survived."""
    conn = r.connect(host=srv.host, port=srv.port)
    try:
        r.db(DB).wait().run(conn)
        soft = _check_documents(r, conn, led)
        _check_tables(r, conn, led)
        _check_indexes(r, conn, led)
        return soft
    finally:
        conn.close()


def _flights(led: Ledger, op: str) -> list[tuple]:
    return [f for f in led.in_flight.values() if f[0] == op]


def _check_documents(r: Any, conn: Any, led: Ledger) -> int:
    rows = {d["id"]: d for d in r.table(MAIN).run(conn)}
    in_delete = {f[1] for f in _flights(led, "delete")}
    in_update = {f[1] for f in _flights(led, "update")}
    in_insert = {k for f in _flights(led, "insert") for k in f[1]}
    for key in led.hard_ids - led.deleted - in_delete:
        assert key in rows, f"acknowledged hard insert {key} lost"
    for key in led.deleted:
        assert key not in rows, f"acknowledged hard delete {key} undone"
    for key, doc in rows.items():
        expected = doc_for(key)
        got = dict(doc)
        n = got.pop("n")
        expected.pop("n")
        assert got == expected, f"document {key} half-written: {doc}"
        acked = led.updates.get(key, 0)
        extra = 1 if key in in_update else 0
        assert acked <= n <= acked + extra, f"document {key}: n={n}, {acked} updates acked"
        assert key in led.hard_ids or key in led.soft_ids or key in in_insert, (
            f"document {key} was never written"
        )
    # Fold: what happened to the operations in flight is now known (and durable once the
    # server stops cleanly), so later trials hold the server to it.
    inserted_batches = [f[1] for f in _flights(led, "insert")]
    for keys in inserted_batches:
        present = [k in rows for k in keys]
        assert all(present) or not any(present), f"batch insert half-applied: {keys}"
        if all(present):
            led.hard_ids.update(keys)
    for key in in_update:
        if key in rows:
            led.updates[key] = rows[key]["n"]
    for key in in_delete:
        if key not in rows:
            led.deleted.add(key)
    led.soft_ids &= set(rows)  # lost soft writes are gone for good
    soft_survived = len(led.soft_ids)

    uids = [d["uid"] for d in r.table(GEN).run(conn)]
    assert len(uids) == len(set(uids)), "a server-keyed insert applied twice"
    missing = led.uids - set(uids)
    assert not missing, f"acknowledged hard inserts lost: {sorted(missing)[:5]}"
    for f in _flights(led, "uid"):
        present = [u in uids for u in f[1]]
        assert all(present) or not any(present), f"batch insert half-applied: {f[1]}"
        if all(present):
            led.uids.update(f[1])
    assert set(uids) <= led.uids, "a server-keyed insert nobody made"
    return soft_survived


def _check_tables(r: Any, conn: Any, led: Ledger) -> None:
    names = set(r.db(DB).table_list().run(conn))
    config = {t["name"]: t for t in r.db("rethinkdb").table("table_config").run(conn)
              if t["db"] == DB}  # fmt: skip
    status = {t["name"]: t for t in r.db("rethinkdb").table("table_status").run(conn)
              if t["db"] == DB}  # fmt: skip
    assert set(config) == names, f"table_config {sorted(config)} vs table_list {sorted(names)}"
    assert set(status) == names, f"table_status {sorted(status)} vs table_list {sorted(names)}"
    for name in names:
        assert status[name]["status"]["all_replicas_ready"], f"table {name} not ready"
        count = r.table(name).count().run(conn)
        rows = list(r.table(name)["id"].run(conn))
        assert count == len(rows), f"table {name}: count() {count}, {len(rows)} rows"
        assert config[name]["id"] == r.table(name).config()["id"].run(conn)
    expected = {MAIN, GEN}
    flights = {f[1]: f for f in led.in_flight.values() if f[0].startswith("table_")}
    for f in _flights(led, "table_create"):
        if f[1] in names:
            led.tables[f[1]] = f[1]
    for created, current in list(led.tables.items()):
        f = flights.get(created)
        if f is not None and f[0] == "table_rename":
            _, _, old, new = f
            assert (old in names) != (new in names), f"rename {old}->{new}: {sorted(names)}"
            current = led.tables[created] = old if old in names else new
        elif f is not None and f[0] == "table_drop":
            if f[2] not in names:
                current = led.tables[created] = ""
        if current:
            expected.add(current)
            if created in led.table_rows:
                assert r.table(current).get(1).run(conn) == {"id": 1}, f"row of {current}"
    assert names == expected, f"tables {sorted(names)}, expected {sorted(expected)}"
    for f in _flights(led, "table_row"):
        current = led.tables.get(f[1])
        if current and r.table(current).get(1).run(conn) is not None:
            led.table_rows.add(f[1])
    durability = config[MAIN]["durability"]
    flight = _flights(led, "durability")
    allowed = {led.durability} | {f[1] for f in flight}
    assert durability in allowed, f"table durability {durability}, acknowledged {led.durability}"
    led.durability = durability
    assert len(config[MAIN]["shards"]) == 1, config[MAIN]["shards"]


def _check_indexes(r: Any, conn: Any, led: Ledger) -> None:
    names = set(r.table(MAIN).index_list().run(conn))
    config = r.db("rethinkdb").table("table_config").filter({"name": MAIN}).nth(0).run(conn)
    assert sorted(config["indexes"]) == sorted(names), "table_config indexes vs index_list"
    expected = set(led.indexes)
    for f in led.in_flight.values():
        if f[0] == "index_create":
            if f[1] in names:
                expected.add(f[1])
                led.indexes[f[1]] = f[2]
        elif f[0] == "index_drop":
            if f[1] not in names:
                expected.discard(f[1])
                led.indexes.pop(f[1], None)
        elif f[0] == "index_rename":
            tmp, name = f[1], f[2]
            # Atomic: either both still exist (before) or only the new name (after).
            assert name in names, f"index_rename {tmp}->{name} lost {name}: {sorted(names)}"
            if tmp not in names:
                expected.discard(tmp)
                led.indexes.pop(tmp, None)
    assert names == expected, f"indexes {sorted(names)}, acknowledged {sorted(expected)}"
    r.table(MAIN).index_wait().run(conn)
    docs = list(r.table(MAIN).run(conn))
    from rethinkdb import r as official

    for name in names:
        _, _, pyfn = _kind(official, led.indexes[name])
        pairs = []
        for d in docs:
            for v in pyfn(d):
                if v is not None:
                    pairs.append((v, d["id"]))
        pairs.sort()
        through = [d["id"] for d in r.table(MAIN).order_by(index=name).run(conn)]
        assert through == [pk for _, pk in pairs], f"index {name} differs from recomputation"
        for value in {repr(v): v for v, _ in pairs}.values():
            got = sorted(d["id"] for d in r.table(MAIN).get_all(value, index=name).run(conn))
            want = sorted(pk for v, pk in pairs if v == value)
            assert got == want, f"index {name}: get_all({value}) {got[:5]} != {want[:5]}"


# -- checks of the files, server stopped -----------------------------------------------------


def check_offline(directory: str, led: Ledger) -> None:
    """Open the data directory with the storage layer itself and compare every index entry
    with recomputation, and every key prefix with the catalog (nothing half-dropped)."""
    from rethought.datum.keys import encode_primary
    from rethought.server.storage import Storage
    from rethought.server.storage.catalog import COUNT_PREFIX
    from rethought.server.storage.writer import index_entries

    storage = Storage(directory)
    try:
        env = storage.env
        tables = {t._prefix: t for t in storage.tables()}
        indexes = {ix.prefix: (t, ix) for t in tables.values() for ix in t._indexes.values()}
        with env.begin() as txn:
            counts: dict[bytes, int] = {}
            for key, _ in txn.cursor(db=storage.rows_db):
                counts[key[:16]] = counts.get(key[:16], 0) + 1
            orphans = set(counts) - set(tables)
            assert not orphans, f"rows of {len(orphans)} dropped table(s) remain"
            for prefix, t in tables.items():
                stored = t.count()  # what the newest change-log entry says
                assert stored == counts.get(prefix, 0), f"{t.name}: count record {stored}"
            for key, _ in txn.cursor(db=storage.catalog_db):
                if key.startswith(COUNT_PREFIX):
                    assert key[len(COUNT_PREFIX) :] in tables, "count of a dropped table"
            actual: dict[bytes, dict[bytes, bytes]] = {}
            for key, data in txn.cursor(db=storage.index_db):
                actual.setdefault(key[:16], {})[key] = data
            stray = set(actual) - set(indexes)
            assert not stray, f"entries of {len(stray)} dropped index(es) remain"
            main = next(t for t in tables.values() if t.name == MAIN and t.db.name == DB)
            from rethinkdb import r as official

            for ix in main._indexes.values():
                _, _, pyfn = _kind(official, led.indexes[ix.name])
                want: dict[bytes, bytes] = {}
                cur = txn.cursor(db=storage.rows_db)
                found = cur.set_range(main._prefix)
                while found and cur.key()[:16] == main._prefix:
                    row = orjson.loads(cur.value())
                    found = cur.next()
                    want.update(index_entries(ix, pyfn, row, encode_primary(row["id"])))
                got = actual.get(ix.prefix, {})
                assert got == want, (
                    f"index {ix.name}: {len(got.keys() - want.keys())} stray, "
                    f"{len(want.keys() - got.keys())} missing entries on disk"
                )
    finally:
        storage.close()


def check_log(srv: ServerProcess) -> None:
    text = srv.log()
    assert "Traceback" not in text, f"server log has a traceback:\n{text[-3000:]}"
