"""``rethought backup DIR``: a consistent copy of a running server's data, taken during a
write load; ``rethought serve --directory DIR`` starts from it with every write acknowledged
before the backup began; progress on a terminal; clear errors for bad sources and targets."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time

import pytest
import rethinkdb

from conftest import ServerProcess

R = rethinkdb.r


def run_backup(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rethought", "backup", *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


class Load:
    """Writers on their own connections, each recording what was acknowledged and when."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.stop = threading.Event()
        self.inserted: list[tuple[float, str]] = []  # (ack time, id), hard durability
        self.soft: list[tuple[float, str]] = []  # (ack time, id), soft durability
        self.counter: list[tuple[float, int]] = []  # (ack time, value written)
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._guard, args=(f,), daemon=True)
            for f in (self._inserts, self._soft_inserts, self._counter)
        ]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)
        assert not self.errors, self.errors

    def _guard(self, fn) -> None:
        try:
            conn = R.connect(host=self.server.host, port=self.server.port)
            fn(conn, R.db("test").table("load"))
        except BaseException as e:
            self.errors.append(e)

    def _inserts(self, conn, table) -> None:
        n = 0
        while not self.stop.is_set():
            docs = [{"id": f"h{n}-{k}", "batch": n, "pad": "x" * 200} for k in range(10)]
            table.insert(docs).run(conn)
            now = time.monotonic()
            self.inserted += [(now, d["id"]) for d in docs]
            n += 1

    def _soft_inserts(self, conn, table) -> None:
        n = 0
        while not self.stop.is_set():
            table.insert({"id": f"s{n}", "batch": -1}, durability="soft").run(conn)
            self.soft.append((time.monotonic(), f"s{n}"))
            n += 1

    def _counter(self, conn, table) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            table.get("counter").update({"n": n}).run(conn)
            self.counter.append((time.monotonic(), n))


@pytest.fixture
def loaded(tmp_path):
    srv = ServerProcess(str(tmp_path / "live")).start()
    conn = R.connect(host=srv.host, port=srv.port)
    table = R.db("test").table("load")
    R.db("test").table_create("load").run(conn)
    table.index_create("batch").run(conn)
    table.index_wait().run(conn)
    for chunk in range(8):  # some megabytes already there, so the copy takes a while
        table.insert(
            [{"id": f"pre{chunk}-{i}", "batch": -2, "pad": "p" * 400} for i in range(1500)]
        ).run(conn)
    table.insert({"id": "counter", "n": 0, "batch": -3}).run(conn)
    conn.close()
    yield srv
    srv.stop()


def test_backup_during_writes_restores_every_acknowledged_write(loaded, tmp_path):
    target = str(tmp_path / "backup")
    with Load(loaded) as load:
        time.sleep(0.5)  # the load is well under way
        began = time.monotonic()
        out = run_backup(target, "--directory", loaded.directory)
        ended = time.monotonic()
        time.sleep(0.2)  # and goes on after the backup
    assert out.returncode == 0, out.stderr
    assert f"written to {target}" in out.stdout
    assert out.stderr == ""  # not a terminal: no progress line
    before = {i for t, i in load.inserted if t < began}
    soft_before = {i for t, i in load.soft if t < began}
    counter_before = max((n for t, n in load.counter if t < began), default=0)
    assert before and soft_before and counter_before  # the load ran before the backup
    assert any(t > ended for t, _ in load.inserted)  # and was not stopped by it

    copy = ServerProcess(target).start()
    try:
        conn = R.connect(host=copy.host, port=copy.port)
        table = R.db("test").table("load")
        ids = set(table["id"].run(conn))
        assert before <= ids and soft_before <= ids
        assert {i for i in ids if i.startswith("pre")} == {
            f"pre{c}-{i}" for c in range(8) for i in range(1500)
        }
        # Nothing in the copy that was never written.
        written = {i for _, i in load.inserted} | {i for _, i in load.soft}
        assert ids - written - {"counter"} == {i for i in ids if i.startswith("pre")}
        n = table.get("counter")["n"].run(conn)
        assert counter_before <= n <= load.counter[-1][1]
        # One snapshot: the secondary index holds exactly the rows, the count matches them.
        assert table.between(R.minval, R.maxval, index="batch").count().run(conn) == len(ids)
        assert table.count().run(conn) == len(ids)
        assert table.index_status("batch")[0]["ready"].run(conn) is True
        # The restored server takes writes.
        table.insert({"id": "after", "batch": "after"}).run(conn)
        assert list(table.get_all("after", index="batch")["id"].run(conn)) == ["after"]
        conn.close()
    finally:
        copy.stop()


def test_the_backup_snapshot_blocks_neither_readers_nor_writers(loaded, tmp_path):
    """The backup's own snapshot (``_open_snapshot``: the read-only environment and its read
    transaction), held open as during a long copy: the server answers reads and acknowledges
    hard writes meanwhile, and a copy from that snapshot holds none of those writes."""
    from rethought.backup import _open_snapshot

    conn = R.connect(host=loaded.host, port=loaded.port, timeout=5)
    table = R.db("test").table("load")
    table.insert({"id": "before", "batch": 1}).run(conn)
    env, txn = _open_snapshot(loaded.directory)
    try:
        for i in range(20):
            table.insert({"id": f"during{i}", "batch": 2, "pad": "d" * 1000}).run(conn, timeout=5)
            assert table.get("before").run(conn, timeout=5)["batch"] == 1
        table.get("counter").update({"n": 99}).run(conn, timeout=5)
        assert table.count().run(conn, timeout=5) == 8 * 1500 + 2 + 20
        target = tmp_path / "snap"
        target.mkdir()
        env.copy(str(target), compact=True, txn=txn)
    finally:
        txn.abort()
        env.close()
    conn.close()
    copy = ServerProcess(str(tmp_path / "snap")).start()
    try:
        c = R.connect(host=copy.host, port=copy.port)
        assert R.db("test").table("load").get("before").run(c) is not None
        assert R.db("test").table("load").get_all(2, index="batch").count().run(c) == 0
        assert R.db("test").table("load").get("counter")["n"].run(c) == 0
        c.close()
    finally:
        copy.stop()


def test_backup_of_a_stopped_server_and_of_a_backup(tmp_path):
    srv = ServerProcess(str(tmp_path / "data")).start()
    conn = R.connect(host=srv.host, port=srv.port)
    R.db_create("kept").run(conn)
    R.db("kept").table_create("t", primary_key="k").run(conn)
    R.db("kept").table("t").insert([{"k": i} for i in range(100)]).run(conn)
    conn.close()
    srv.stop()
    first, second = str(tmp_path / "b1"), str(tmp_path / "b2")
    os.mkdir(second)  # an empty directory is a valid target
    assert run_backup(first, "-d", srv.directory, "-q").stdout == ""
    assert run_backup(second, "-d", first, "-q").returncode == 0
    assert os.listdir(second) == ["data.mdb"]  # no partial directory left beside it
    assert sorted(os.listdir(tmp_path)) == ["b1", "b2", "data", "data.log"]
    copy = ServerProcess(second).start()
    try:
        conn = R.connect(host=copy.host, port=copy.port)
        assert R.db("kept").table("t").info()["primary_key"].run(conn) == "k"
        assert R.db("kept").table("t").count().run(conn) == 100
    finally:
        copy.stop()


def test_progress_on_a_terminal(loaded, tmp_path):
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "rethought",
                "backup",
                str(tmp_path / "b"),
                "-d",
                loaded.directory,
            ],
            stderr=follower,
            stdout=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0
    line = shown.decode().replace("\r\n", "\n").split("\r")[-1]  # the tty turns \n into \r\n
    assert "100.0%" in line and "MB/s" in line and "[" + "=" * 40 + "]" in line


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """The data directory of a server that ran and stopped."""
    srv = ServerProcess(str(tmp_path_factory.mktemp("small") / "data")).start()
    srv.stop()
    return srv.directory


@pytest.mark.parametrize(
    "make, args, message",
    [
        (
            None,
            ["{tmp}/b", "-d", "{tmp}/nothing"],
            "the data directory {tmp}/nothing does not exist",
        ),
        (
            "emptydir",
            ["{tmp}/b", "-d", "{tmp}/emptydir"],
            "{tmp}/emptydir is not a Rethought data directory (no data.mdb in it)",
        ),
        ("full", ["{tmp}/full", "-d", "{data}"], "the target directory {tmp}/full is not empty"),
        (
            "file",
            ["{tmp}/file", "-d", "{data}"],
            "the target {tmp}/file exists and is not a directory",
        ),
        (
            None,
            ["{tmp}/no/such/b", "-d", "{data}"],
            "cannot create {tmp}/no/such/b: the directory {tmp}/no/such does not exist",
        ),
    ],
)
def test_bad_source_or_target_is_a_clear_error(small_data, tmp_path, make, args, message):
    tmp = str(tmp_path)
    if make == "emptydir":
        os.mkdir(tmp_path / make)
    elif make == "full":
        os.mkdir(tmp_path / make)
        (tmp_path / make / "x").write_text("x")
    elif make == "file":
        (tmp_path / make).write_text("x")
    fill = {"tmp": tmp, "data": small_data}
    out = run_backup(*(a.format(**fill) for a in args))
    assert out.returncode == 1
    assert out.stderr == f"error: {message.format(**fill)}\n"
    assert not any(".partial-" in name for name in os.listdir(tmp_path))


def test_unwritable_target_is_a_clear_error(small_data, tmp_path):
    if os.geteuid() == 0:
        parent = "/sys"  # root may write anywhere but in sysfs
    else:
        parent = str(tmp_path / "ro")
        os.mkdir(parent, 0o500)
    out = run_backup(f"{parent}/backup", "-d", small_data)
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: cannot write to {parent}: ")
