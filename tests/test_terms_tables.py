"""Database, table, selection, index and admin terms through the engine on a real LMDB
``Storage`` in a temporary directory; queries are built with the official driver."""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import EngineRunner, error, open_storage
from rethought.errors import ReqlOpFailedError, ReqlQueryLogicError
from rethought.server.query.engine import Engine

r = rethinkdb.r


@pytest.fixture
def run(engine_run):
    return engine_run


def test_databases(run):
    assert run(r.db_list()) == ["rethinkdb", "test"]
    res = run(r.db_create("a"))
    assert res["dbs_created"] == 1
    assert res["config_changes"][0]["new_val"]["name"] == "a"
    assert run(r.db("a").config())["name"] == "a"
    e = error(run, r.db_create("a"))
    assert isinstance(e, ReqlOpFailedError) and e.message == "Database `a` already exists."
    assert run(r.db_drop("a"))["dbs_dropped"] == 1
    assert error(run, r.db_drop("a")).message == "Database `a` does not exist."
    assert error(run, r.db("x").table_list()).message == "Database `x` does not exist."
    e = error(run, r.db_create("%"))
    assert e.message == "Database name `%` invalid (Use A-Z, a-z, 0-9, _ and - only)."
    assert error(run, r.db_drop("rethinkdb")).message == (
        "Database `rethinkdb` is special; you can't delete it."
    )


def test_tables(run):
    res = run(r.db("test").table_create("a", durability="soft", primary_key="k"))
    assert res["tables_created"] == 1
    cfg = res["config_changes"][0]["new_val"]
    assert cfg["durability"] == "soft" and cfg["primary_key"] == "k" and cfg["db"] == "test"
    assert run(r.table_list()) == ["a"]
    assert error(run, r.table_create("a")).message == "Table `test.a` already exists."
    assert error(run, r.table("b")).message == "Table `test.b` does not exist."
    e = error(run, r.table_create("ab", durability="fake"))
    assert e.message == 'Durability option `fake` unrecognized (options are "hard" and "soft").'
    e = error(run, r.table("a", read_mode="fake"))
    assert e.message.startswith("Read mode `fake` unrecognized")
    assert run(r.table("a").config())["name"] == "a"
    assert run(r.table("a").status())["status"]["all_replicas_ready"] is True
    assert run(r.table("a").wait()) == {"ready": 1}
    assert run(r.db("test").wait()) == {"ready": 1}
    assert run(r.table("a").reconfigure(shards=1, replicas=1))["reconfigured"] == 1
    assert run(r.table("a").reconfigure(shards=1, replicas=1, dry_run=True))["reconfigured"] == 0
    assert run(r.table("a").rebalance())["rebalanced"] == 1
    e = error(run, r.table("a").reconfigure(shards=0, replicas=1))
    assert e.message == "Every table must have at least one shard."
    e = error(run, r.table("a").reconfigure(shards=1, replicas=2))
    assert e.message.startswith("Can't put 2 replicas on servers with the tag `default`")
    e = error(run, r.table("a").reconfigure(emergency_repair="unsafe_rollback"))
    assert e.message == "This table doesn't need to be repaired."
    res = run(r.table_drop("a"))
    assert res["tables_dropped"] == 1 and res["config_changes"][0]["new_val"] is None
    assert error(run, r.table_drop("a")).message == "Table `test.a` does not exist."


def test_get_get_all_between(run):
    run(r.table_create("t"))
    t = r.table("t")
    run(t.insert([{"id": i, "g": i % 3, "tags": [i, i + 1]} for i in range(10)]))
    assert run(t.get(3)) == {"id": 3, "g": 0, "tags": [3, 4]}
    assert run(t.get(30)) is None
    e = error(run, t.get(None))
    assert e.message.startswith("Primary keys must be either a number, string, bool, pseudotype")
    assert [d["id"] for d in run(t.get_all(4, 1))] == [1, 4]
    assert [d["id"] for d in run(t.between(2, 5))] == [2, 3, 4]
    assert [d["id"] for d in run(t.between(2, 5, left_bound="open", right_bound="closed"))] == [
        3,
        4,
        5,
    ]
    assert [d["id"] for d in run(t.between(r.minval, 2))] == [0, 1]
    assert run(t.between(1, 2).type_of()) == "TABLE_SLICE"
    e = error(run, t.between(None, 2))
    assert e.message.startswith("Cannot use `null` in BETWEEN")
    e = error(run, t.get_all(1, index="nope"))
    assert e.message == "Index `nope` was not found on table `test.t`."


def test_secondary_indexes(run):
    run(r.table_create("t"))
    t = r.table("t")
    run(t.insert([{"id": i, "g": i % 3, "tags": [i, i + 1]} for i in range(6)]))
    assert run(t.index_create("g")) == {"created": 1}
    assert run(t.index_create("tags", multi=True)) == {"created": 1}
    assert run(t.index_create("twice", lambda row: row["id"] * 2)) == {"created": 1}
    assert run(t.index_list()) == ["g", "tags", "twice"]
    e = error(run, t.index_create("g"))
    assert e.message == "Index `g` already exists on table `test.t`."
    e = error(run, t.index_create("id"))
    assert e.message == "Index name conflict: `id` is the name of the primary key."
    e = error(run, t.index_create("bad", lambda row: r.table("t").get(0)))
    assert e.message == (
        "Could not prove function deterministic.  Index functions must be deterministic."
    )
    assert sorted(d["id"] for d in run(t.get_all(1, index="g"))) == [1, 4]
    assert sorted(d["id"] for d in run(t.get_all(3, index="tags"))) == [2, 3]
    assert [d["id"] for d in run(t.between(4, 7, index="twice"))] == [2, 3]
    status = run(t.index_status("g"))
    assert status[0]["index"] == "g" and status[0]["ready"] is True
    assert [s["index"] for s in run(t.index_wait())] == ["g", "tags", "twice"]
    assert run(t.index_rename("g", "h")) == {"renamed": 1}
    e = error(run, t.index_rename("g", "tags"))
    assert e.message == (
        "Index `g` does not exist or index `tags` already exists on table `test.t`."
    )
    assert run(t.index_rename("h", "tags", overwrite=True)) == {"renamed": 1}
    assert run(t.index_drop("tags")) == {"dropped": 1}
    e = error(run, t.index_drop("tags"))
    assert isinstance(e, ReqlOpFailedError)
    # Index entries follow writes.
    run(t.get(1).update({"twice": 0}))
    run(t.insert({"id": 100}))
    assert [d["id"] for d in run(t.between(200, 201, index="twice", right_bound="closed"))] == [100]


def test_info(run):
    run(r.table_create("t"))
    info = run(r.table("t").info())
    assert info["type"] == "TABLE" and info["primary_key"] == "id"
    assert info["db"]["type"] == "DB" and info["db"]["name"] == "test"
    assert run(r.db("test").info())["type"] == "DB"
    assert run(r.expr([1]).info()) == {"type": "ARRAY", "value": "[\n\t1\n]"}
    assert run(r.table("t").between(1, 2).info())["left_bound"] == 1
    assert run(r.table("t").get(1).info())["type"] == "SELECTION<OBJECT>"


def test_reconfigure_checks(run):
    run(r.table_create("a"))
    t = r.table("a")
    cases = [
        (t.reconfigure(shards=1, replicas={"default": 0}), "`primary_replica_tag` must be"),
        (
            t.reconfigure(shards=1, replicas={"default": -3}, primary_replica_tag="default"),
            "Can't have a negative number of replicas",
        ),
        (
            t.reconfigure(shards=1, replicas=3, primary_replica_tag="foo"),
            "`replicas` must be an OBJECT if `primary_replica_tag` is specified.",
        ),
        (t.reconfigure(emergency_repair="foo"), "`emergency_repair` should be"),
        (
            r.db("test").reconfigure(emergency_repair="unsafe_rollback"),
            "Can't emergency repair an entire database at once",
        ),
        (
            t.reconfigure(shards=1, replicas={"foo": 0}, primary_replica_tag="foo"),
            "You must set `replicas` to at least one.",
        ),
        (
            t.reconfigure(shards=1, replicas={"default": 1}, primary_replica_tag="foo"),
            "Can't use server tag `foo` for primary replicas",
        ),
    ]
    for query, prefix in cases:
        e = error(run, query)
        assert isinstance(e, (ReqlQueryLogicError, ReqlOpFailedError))
        assert e.message.startswith(prefix), e.message


def test_index_function_survives_restart(tmp_path):
    path = str(tmp_path / "data")
    storage = open_storage(path)
    run = EngineRunner(Engine(storage))
    run(r.table_create("t"))
    run(r.table("t").index_create("twice", lambda row: row["n"] * 2))
    run(r.table("t").insert([{"id": 1, "n": 1}, {"id": 2, "n": 2}]))
    storage.close()
    storage = open_storage(path)
    run = EngineRunner(Engine(storage))
    run(r.table("t").insert({"id": 3, "n": 3}))
    assert [d["id"] for d in run(r.table("t").get_all(6, 2, index="twice"))] == [1, 3]
    storage.close()
