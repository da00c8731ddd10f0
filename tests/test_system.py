"""The `rethinkdb` system database and write hooks, run through the engine on real storage."""

from __future__ import annotations

import pytest
from rethinkdb import r

from rethought.server.system import users

R = r.db("rethinkdb")


@pytest.fixture
def run(engine_run):
    users.ensure_admin(engine_run.engine.storage, None)
    return engine_run


def test_table_list_and_info(run):
    names = run(R.table_list())
    assert "table_config" in names and "users" in names and "_debug_scratch" in names
    info = run(R.table("stats").info())
    assert info["name"] == "stats" and info["indexes"] == [] and info["primary_key"] == "id"


def test_table_config_and_status_match_config(run):
    run(r.table_create("a"))
    assert run(R.table("table_config").filter({"name": "a"}).nth(0).eq(r.table("a").config()))
    assert run(R.table("table_status").filter({"name": "a"}).nth(0).eq(r.table("a").status()))
    db = run(R.table("table_config", identifier_format="uuid").nth(0)["db"])
    assert db == run(r.db("test").config()["id"])


def test_table_config_rename_and_drop(run):
    run(r.table_create("a"))
    res = run(R.table("table_config").filter({"name": "a"}).update({"name": "b"}))
    assert res["replaced"] == 1
    assert run(r.table_list()) == ["b"]
    res = run(R.table("table_config").filter({"name": "b"}).update({"primary_key": "x"}))
    assert res["first_error"] == "It's illegal to change a table's primary key"
    assert run(R.table("table_config").filter({"name": "b"}).delete())["deleted"] == 1
    assert run(r.table_list()) == []


def test_read_only_tables_reject_writes(run):
    res = run(R.table("stats").delete())
    assert res["first_error"] == "It's illegal to write to the `rethinkdb.stats` table."
    assert res["deleted"] == 0 and res["errors"] >= 1


def test_jobs_shows_the_running_query(run):
    assert run(R.table("jobs").map(lambda row: 1)) == [1]


def test_eq_join_on_system_tables(run):
    run(r.table_create("a"))
    q = R.table("table_status", identifier_format="uuid").eq_join(
        "raft_leader", R.table("server_status")
    )
    assert len(run(q)) == 1


def test_debug_scratch_is_writable(run):
    t = R.table("_debug_scratch")
    assert run(t.insert([{"id": 1}, {"id": 2}]))["inserted"] == 2
    assert run(t.get(2).update({"x": 1}))["replaced"] == 1
    assert run(t.order_by("id")) == [{"id": 1}, {"id": 2, "x": 1}]
    assert run(t.delete())["deleted"] == 2


def test_db_config_create_and_drop(run):
    assert run(R.table("db_config").insert({"name": "extra"}))["inserted"] == 1
    assert "extra" in run(r.db_list())
    assert run(R.table("db_config").filter({"name": "extra"}).delete())["deleted"] == 1
    assert "extra" not in run(r.db_list())


def test_users_table_creates_users_and_hides_passwords(run):
    assert run(R.table("users").insert({"id": "bob", "password": "secret"}))["inserted"] == 1
    assert run(R.table("users").get("bob")) == {"id": "bob", "password": True}
    res = run(R.table("users").get("admin").delete())
    assert res["first_error"] == "The user `admin` can't be deleted."
    res = run(R.table("users").insert({"id": "eve", "password": True}))
    assert res["first_error"].startswith("Expected an object or string to set the password")
    assert run(R.table("users").get("bob").delete())["deleted"] == 1


def test_write_hook(run):
    run(r.table_create("h"))
    hook = lambda ctx, o, n: n.merge(  # noqa: E731
        {"num": 1, "t": ctx["timestamp"], "e": n["id"] == ctx["primary_key"]}
    )
    assert run(r.table("h").set_write_hook(hook)) == {"created": 1}
    assert run(r.table("h").insert({"id": 1}))["inserted"] == 1
    row = run(r.table("h").get(1).merge(lambda x: {"t": x["t"].type_of()}))
    assert row == {"id": 1, "num": 1, "t": "PTYPE<TIME>", "e": True}
    assert run(r.table("h").get_write_hook())["query"].startswith("setWriteHook(")
    assert run(r.table("h").set_write_hook(lambda c, o, n: n)) == {"replaced": 1}
    assert run(r.table("h").set_write_hook(None)) == {"deleted": 1}
    assert run(r.table("h").get_write_hook()) is None


def test_write_hook_errors(run):
    run(r.table_create("h"))
    with pytest.raises(Exception, match="Write hook functions must expect 3 arguments."):
        run(r.table("h").set_write_hook(lambda ctx: 1))
    with pytest.raises(Exception, match="Write hook functions must be deterministic."):
        run(r.table("h").set_write_hook(lambda c, o, n: r.random()))
    run(r.table("h").set_write_hook(lambda c, o, n: None))
    res = run(r.table("h").insert({}))
    assert res["first_error"] == (
        "A write hook function must not turn a replace/insert into a deletion."
    )
    run(r.table("h").set_write_hook(lambda c, o, n: r.error("OH NOES!")))
    assert run(r.table("h").insert({}))["first_error"] == "Error in write hook: OH NOES!"
    assert run(r.table("h").insert({"id": 5}, ignore_write_hook=True))["inserted"] == 1


def test_db_config_rename_keeps_tables_and_survives_restart(tmp_path):
    """RethinkDB renames a database when its db_config row's name changes."""
    from conftest import ServerProcess

    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        c = r.connect(host=srv.host, port=srv.port)
        r.db_create("before").run(c)
        r.db("before").table_create("t").run(c)
        r.db("before").table("t").insert({"id": 1}).run(c)
        res = (
            r.db("rethinkdb")
            .table("db_config")
            .filter({"name": "before"})
            .update({"name": "after"})
            .run(c)
        )
        assert res["replaced"] == 1
        assert "after" in r.db_list().run(c) and "before" not in r.db_list().run(c)
        assert r.db("after").table("t").get(1).run(c) == {"id": 1}
        c.close()
        srv.stop()
        srv.start()
        c = r.connect(host=srv.host, port=srv.port)
        assert r.db("after").table_list().run(c) == ["t"]
        c.close()
    finally:
        srv.stop()
