"""RethinkDB's ``dump`` and ``restore`` (official ``rethinkdb`` package) against `rethought
serve`: several databases, secondary indexes (simple, nested, compound, multi, geo, function),
write hooks, non-default primary keys, every datum type; ``-e db.table``, ``--force``; with a
password over the server's TLS."""

from __future__ import annotations

import datetime
import os

import pytest

from conftest import ServerProcess
from tools_harness import R, Tool, connect, rows, schema, snapshot, user_tables

UTC = datetime.UTC


def _load(conn) -> None:
    """Two databases besides ``test``, four tables, every index kind, a write hook."""
    R.db_create("app").run(conn)
    R.db_create("shop").run(conn)
    R.db("app").table_create("users", primary_key="uid").run(conn)
    R.db("shop").table_create("items", primary_key="sku").run(conn)
    R.db("shop").table_create("places").run(conn)
    R.db("test").table_create("plain").run(conn)
    users = R.db("app").table("users")
    users.index_create("name").run(conn)
    users.index_create("city", R.row["address"]["city"]).run(conn)
    users.index_create("name_age", [R.row["name"], R.row["age"]]).run(conn)
    users.index_create("tags", multi=True).run(conn)
    users.index_create("decade", lambda u: (u["age"] / 10).floor()).run(conn)
    # The tool restores a write hook only on a table that has secondary indexes
    # (restore_indexes in rethinkdb/_import.py does both), so the hooked table has one.
    R.db("shop").table("items").index_create("qty").run(conn)
    places = R.db("shop").table("places")
    places.index_create("loc", geo=True).run(conn)
    places.index_create("areas", multi=True, geo=True).run(conn)
    users.insert(
        [
            {
                "uid": f"u{i:03}",
                "name": f"name{i % 7}",
                "age": 18 + i % 60,
                "tags": ["all", f"t{i % 3}", f"t{i % 5}"],
                "address": {"city": ["Oslo", "Lima", "Pune"][i % 3], "zip": str(10000 + i)},
                "joined": R.epoch_time(1_600_000_000 + i * 3600),
                "avatar": R.binary(bytes([i % 256, 0, 255])),
                "score": i * 1.25,
                "note": None if i % 4 else "ünïcødé ✓",
            }
            for i in range(300)
        ]
    ).run(conn)
    places.insert(
        [
            {
                "id": i,
                "loc": R.point(-180 + i * 1.7, -80 + i * 0.75),
                "areas": [R.circle([i % 90, i % 45], 50000), R.point(i % 10, 0)],
            }
            for i in range(200)
        ]
    ).run(conn)
    R.db("shop").table("items").insert(
        [
            {
                "sku": [i % 4, f"s{i}"],
                "qty": i,
                "at": datetime.datetime(2020, 1, 1 + i % 28, tzinfo=UTC),
            }
            for i in range(120)
        ]
    ).run(conn)
    R.db("test").table("plain").insert([{"x": i} for i in range(50)]).run(conn)
    # The hook is idempotent: restore sets it while rows are still being written (the tool
    # does so right after queueing the last batch), so restored rows may pass through it.
    R.db("shop").table("items").set_write_hook(
        lambda ctx, old, new: new.merge({"checked": True})
    ).run(conn)
    R.db("shop").table("items").update({"qty": R.row["qty"] + 0}).run(conn)
    for db, table in (("app", "users"), ("shop", "places"), ("shop", "items")):
        R.db(db).table(table).index_wait().run(conn)


def _index_queries(conn) -> list:
    """Answers that only correct indexes give (read through each kind of index)."""
    users = R.db("app").table("users")
    places = R.db("shop").table("places")
    return [
        sorted(users.get_all("name3", index="name")["uid"].run(conn)),
        sorted(users.get_all("Lima", index="city")["uid"].run(conn)),
        sorted(users.get_all(["name2", 20], ["name5", 33], index="name_age")["uid"].run(conn)),
        sorted(users.get_all("t1", index="tags")["uid"].run(conn)),
        users.between(3, 5, index="decade").count().run(conn),
        list(users.order_by(index="name_age").limit(5)["uid"].run(conn)),
        sorted(places.get_intersecting(R.circle([0, 0], 2_000_000), index="loc")["id"].run(conn)),
        [
            p["doc"]["id"]
            for p in places.get_nearest(R.point(10, 10), index="loc", max_results=5).run(conn)
        ],
        sorted(places.get_intersecting(R.point(3, 0), index="areas")["id"].run(conn)),
    ]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    srv = ServerProcess(str(tmp_path_factory.mktemp("dump-src") / "data")).start()
    conn = connect(srv)
    _load(conn)
    conn.close()
    yield srv
    srv.stop()


@pytest.fixture
def target(tmp_path):
    srv = ServerProcess(str(tmp_path / "target")).start()
    yield srv
    srv.stop()


def test_dump_then_restore_reproduces_every_database(source, target, tmp_path):
    archive = str(tmp_path / "all.tar.gz")
    out = Tool(source.host, source.port).run("dump", "-f", archive)
    assert "rows exported from 4 tables" in out.stdout
    Tool(target.host, target.port).run("restore", archive)
    a, b = connect(source), connect(target)
    assert user_tables(b) == [
        ("app", "users"),
        ("shop", "items"),
        ("shop", "places"),
        ("test", "plain"),
    ]
    assert snapshot(b) == snapshot(a)
    assert _index_queries(b) == _index_queries(a)
    assert schema(b, "shop", "items")["write_hook"] is not None
    # The restored hook runs: a new write goes through it.
    R.db("shop").table("items").insert({"sku": [9, "new"], "qty": 1}).run(b)
    assert R.db("shop").table("items").get([9, "new"])["checked"].run(b) is True


def test_dump_one_table_and_restore_it_under_another_database(source, target, tmp_path):
    archive = str(tmp_path / "users.tar.gz")
    Tool(source.host, source.port).run("dump", "-e", "app.users", "-f", archive)
    tool = Tool(target.host, target.port)
    tool.run("restore", archive)
    b = connect(target)
    assert user_tables(b) == [("app", "users")]
    assert snapshot(b) == snapshot(connect(source), [("app", "users")])
    # restore -i picks tables out of a dump; a whole-server dump restores one table only.
    full = str(tmp_path / "full.tar.gz")
    Tool(source.host, source.port).run("dump", "-f", full)
    tool.run("restore", full, "-i", "shop.places")
    assert user_tables(b) == [("app", "users"), ("shop", "places")]
    assert rows(b, "shop", "places") == rows(connect(source), "shop", "places")


def test_restore_into_existing_tables_needs_force(source, target, tmp_path):
    archive = str(tmp_path / "plain.tar.gz")
    Tool(source.host, source.port).run("dump", "-e", "test.plain", "-f", archive)
    b = connect(target)
    R.db("test").table_create("plain").run(b)
    R.db("test").table("plain").insert({"id": "kept", "x": -1}).run(b)
    tool = Tool(target.host, target.port)
    refused = tool.run("restore", archive, check=False)
    assert refused.returncode != 0
    assert "already exist" in refused.stdout + refused.stderr
    assert R.db("test").table("plain").count().run(b) == 1
    tool.run("restore", archive, "--force")
    expected = rows(connect(source), "test", "plain") + [{"id": "kept", "x": -1}]
    assert sorted(rows(b, "test", "plain"), key=repr) == sorted(expected, key=repr)


def test_dump_and_restore_over_tls_with_a_password(source, tmp_path):
    """A server with an admin password serving the driver port over TLS (rethought serve
    --driver-tls-key/--driver-tls-cert, RethinkDB's options): the tools connect with
    --tls-cert (the CA) and --password-file."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    ca_path, key_path, cert_path = (str(tmp_path / n) for n in ("ca.pem", "key.pem", "cert.pem"))
    ca.cert_pem.write_to_path(ca_path)
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.private_key_pem.write_to_path(key_path)
    issued.cert_chain_pems[0].write_to_path(cert_path)
    password_file = tmp_path / "pw"
    password_file.write_text("hunter2\n")
    locked = ServerProcess(
        str(tmp_path / "locked"),
        extra=["--initial-password", "hunter2", "--driver-tls-key", key_path,
               "--driver-tls-cert", cert_path],
    ).start()  # fmt: skip
    try:
        archive = str(tmp_path / "app.tar.gz")
        Tool(source.host, source.port).run("dump", "-e", "app", "-e", "shop.places", "-f", archive)
        plain = Tool(locked.host, locked.port, password_file=str(password_file))
        assert plain.run("restore", archive, check=False).returncode != 0  # TLS only
        no_password = Tool(locked.host, locked.port, tls_cert=ca_path)
        refused = no_password.run("restore", archive, check=False)
        assert refused.returncode != 0
        assert "Wrong password" in refused.stdout + refused.stderr
        tool = Tool(locked.host, locked.port, password_file=str(password_file), tls_cert=ca_path)
        tool.run("restore", archive)
        b = connect(locked, password="hunter2", ssl={"ca_certs": ca_path})
        tables = [("app", "users"), ("shop", "places")]
        assert snapshot(b) == snapshot(connect(source), tables)
        assert _index_queries_places(b) == _index_queries_places(connect(source))
        again = str(tmp_path / "again.tar.gz")
        tool.run("dump", "-f", again)
        tool.run("export", "-e", "app.users", "-d", str(tmp_path / "exp"))
        exported = (tmp_path / "exp" / "app" / "users.json").read_text()
        assert exported.count('"uid"') == 300
        assert os.path.getsize(again) > 1000
    finally:
        locked.stop()


def _index_queries_places(conn) -> list:
    places = R.db("shop").table("places")
    return [
        sorted(places.get_intersecting(R.circle([0, 0], 2_000_000), index="loc")["id"].run(conn)),
        sorted(places.get_intersecting(R.point(3, 0), index="areas")["id"].run(conn)),
    ]
