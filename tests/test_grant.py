"""`r.grant`, the permissions table and permission checks for users other than admin."""

from __future__ import annotations

import uuid

import pytest
from rethinkdb import r

from rethought.errors import ReqlOpFailedError, ReqlPermissionError
from rethought.server.system import users

R = r.db("rethinkdb")
ALL = {"read": True, "write": True, "config": True, "connect": True}


@pytest.fixture
def run(engine_run):
    users.ensure_admin(engine_run.engine.storage, None)
    engine_run(R.table("users").insert({"id": "test_user", "password": False}))
    engine_run(R.table("permissions").insert({"id": ["test_user"], "permissions": ALL}))
    return engine_run


def _changes(old, new):
    return {"granted": 1, "permissions_changes": [{"old_val": old, "new_val": new}]}


def test_grant_global(run):
    with pytest.raises(ReqlOpFailedError, match="Expected a boolean or null for `read`, got 1."):
        run(r.grant("test_user", {"read": 1}))
    with pytest.raises(ReqlOpFailedError, match="Unexpected key"):
        run(r.grant("test_user", {"invalid": "invalid"}))
    nulls = dict.fromkeys(ALL)
    assert run(r.grant("test_user", nulls)) == _changes(ALL, None)
    assert run(r.grant("test_user", ALL)) == _changes(None, ALL)
    partial = {"read": False, "write": False, "config": True, "connect": True}
    assert run(r.grant("test_user", {"read": False, "write": False})) == _changes(ALL, partial)
    rest = {"write": False, "config": True, "connect": True}
    assert run(r.grant("test_user", {"read": None})) == _changes(partial, rest)
    assert run(r.grant("test_user", {})) == _changes(rest, rest)


def test_grant_db_and_table_scopes(run):
    run(r.db_create("database"))
    run(r.db("database").table_create("table"))
    for target in (r.db("database"), r.db("database").table("table")):
        with pytest.raises(ReqlOpFailedError, match="only valid at the global scope"):
            run(target.grant("test_user", {"connect": True}))
        perms = {"read": True, "write": True, "config": True}
        assert run(target.grant("test_user", perms)) == _changes(None, perms)
    rows = run(R.table("permissions").filter({"user": "test_user"}))
    assert {len(row["id"]) for row in rows} == {1, 2, 3}
    assert any(row.get("table") == "table" and row["database"] == "database" for row in rows)


def test_admin_permissions_cannot_change(run):
    with pytest.raises(ReqlOpFailedError, match="The permissions of the user `admin` can't"):
        run(r.grant("admin", {"config": False}))


def test_grant_needs_permissions_table_access(run):
    run(R.table("permissions").filter({"user": "test_user"}).delete())
    with pytest.raises(ReqlPermissionError, match="required `read` permission"):
        run(r.grant("test_user", {"read": True}), "test_user")
    run(r.grant("test_user", {"read": True, "write": True}))
    with pytest.raises(ReqlPermissionError, match="required `read` permission"):
        run(r.grant("test_user", {"read": True}), "test_user")  # rethinkdb does not inherit
    run(r.db("rethinkdb").grant("test_user", {"read": True, "write": True}))
    res = run(r.grant("test_user", {"config": True}), "test_user")
    assert res["permissions_changes"][0]["new_val"]["config"] is True


def test_permissions_enforced_on_tables(run):
    run(r.table_create("t"))
    run(r.grant("test_user", dict.fromkeys(ALL)))
    with pytest.raises(ReqlPermissionError, match="User `test_user` does not have the required"):
        run(r.table("t").count(), "test_user")
    run(r.db("test").table("t").grant("test_user", {"read": True}))
    assert run(r.table("t").count(), "test_user") == 0
    with pytest.raises(ReqlPermissionError, match="required `write` permission"):
        run(r.table("t").insert({"id": 1}), "test_user")
    with pytest.raises(ReqlPermissionError, match="required `config` permission"):
        run(r.table_create("u"), "test_user")
    run(r.db("test").grant("test_user", {"write": True, "config": True}))
    assert run(r.table("t").insert({"id": 1}), "test_user")["inserted"] == 1
    assert run(r.table_create("u"), "test_user")["tables_created"] == 1


def test_real_login_as_a_new_user(server, official_conn, official_r):
    name = "u_" + uuid.uuid4().hex[:8]
    rr = official_r
    rr.db("rethinkdb").table("users").insert({"id": name, "password": "pw"}).run(official_conn)
    table = "g_" + uuid.uuid4().hex[:8]
    rr.table_create(table).run(official_conn)
    conn = rr.connect(host=server.host, port=server.port, user=name, password="pw")
    try:
        with pytest.raises(rr.errors.ReqlPermissionError):
            rr.table(table).count().run(conn)
        rr.table(table).grant(name, {"read": True}).run(official_conn)
        assert rr.table(table).count().run(conn) == 0
    finally:
        conn.close()
        rr.table_drop(table).run(official_conn)
        rr.db("rethinkdb").table("users").get(name).delete().run(official_conn)
