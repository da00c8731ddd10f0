"""A compiled plan remembers the table its ``r.table(...)`` found (query/terms/tables.py
``Table._memo``) and ``require`` remembers each user's grants (system/access.py): every
catalog, grant and user change made after a plan ran must be seen by its next run exactly
as by a fresh compile. Each test runs a query a few times first (compiled, then cached by
its shape or its bytes, its lookup remembered), changes something, and runs it again;
through our driver and the official one (``rq`` / ``rqe``)."""

from __future__ import annotations

import uuid

import pytest

WARM = 3  # runs before a change: the first compiles, the later ones are cached plans


def _name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _warm(q, conn, want) -> None:
    for _ in range(WARM):
        assert q.run(conn) == want


def _table_config(r, db: str, name: str):
    return r.db("rethinkdb").table("table_config").filter({"db": db, "name": name}).nth(0)


def test_table_dropped_then_recreated(rqe):
    r, conn, errors = rqe
    name = _name()
    r.table_create(name).run(conn)
    try:
        r.table(name).insert({"id": 1, "v": "old"}).run(conn)
        for q in (r.table(name).get(1), r.db("test").table(name).get(1)):
            _warm(q, conn, {"id": 1, "v": "old"})
        r.table_drop(name).run(conn)
        for q in (r.table(name).get(1), r.db("test").table(name).get(1)):
            with pytest.raises(errors.ReqlOpFailedError, match=f"Table `test.{name}` does not"):
                q.run(conn)
        r.table_create(name).run(conn)
        assert r.table(name).get(1).run(conn) is None
        r.table(name).insert({"id": 1, "v": "new"}).run(conn)
        assert r.table(name).get(1).run(conn) == {"id": 1, "v": "new"}
        assert r.db("test").table(name).get(1).run(conn) == {"id": 1, "v": "new"}
    finally:
        r.table_drop(name).run(conn)


def test_table_renamed_away_and_another_renamed_in(rqe):
    r, conn, errors = rqe
    a, b, c = _name(), _name(), _name()
    for n in (a, b):
        r.table_create(n).run(conn)
        r.table(n).insert({"id": 1, "v": n}).run(conn)
    try:
        q = r.table(a).get(1)
        _warm(q, conn, {"id": 1, "v": a})
        _table_config(r, "test", a).update({"name": c}).run(conn)
        with pytest.raises(errors.ReqlOpFailedError, match=f"Table `test.{a}` does not exist"):
            q.run(conn)
        assert r.table(c).get(1).run(conn) == {"id": 1, "v": a}
        r.table(b).config().update({"name": a}).run(conn)  # b now answers to a's name
        assert q.run(conn) == {"id": 1, "v": b}
        assert r.db("test").table(a).get(1).run(conn) == {"id": 1, "v": b}
    finally:
        r.table_drop(a).run(conn)
        r.table_drop(c).run(conn)


def test_table_moved_to_another_database(rqe):
    r, conn, errors = rqe
    name, other = _name(), _name("db")
    r.db_create(other).run(conn)
    r.table_create(name).run(conn)
    try:
        r.table(name).insert({"id": 1}).run(conn)
        here, there = r.table(name).get(1), r.db(other).table(name).get(1)
        _warm(here, conn, {"id": 1})
        for _ in range(WARM):
            with pytest.raises(errors.ReqlOpFailedError, match="does not exist"):
                there.run(conn)
        _table_config(r, "test", name).update({"db": other}).run(conn)
        with pytest.raises(errors.ReqlOpFailedError, match=f"Table `test.{name}` does not"):
            here.run(conn)
        _warm(there, conn, {"id": 1})
        _table_config(r, other, name).update({"db": "test"}).run(conn)
        with pytest.raises(errors.ReqlOpFailedError, match=f"Table `{other}.{name}` does not"):
            there.run(conn)
        assert here.run(conn) == {"id": 1}
    finally:
        r.table_drop(name).run(conn)
        r.db_drop(other).run(conn)


def test_database_dropped_then_recreated(rqe):
    r, conn, errors = rqe
    db, name = _name("db"), _name()
    r.db_create(db).run(conn)
    r.db(db).table_create(name).run(conn)
    r.db(db).table(name).insert({"id": 1, "v": "old"}).run(conn)
    q = r.db(db).table(name).get(1)
    _warm(q, conn, {"id": 1, "v": "old"})
    r.db_drop(db).run(conn)
    with pytest.raises(errors.ReqlOpFailedError, match=f"Database `{db}` does not exist"):
        q.run(conn)
    r.db_create(db).run(conn)
    try:
        with pytest.raises(errors.ReqlOpFailedError, match=f"Table `{db}.{name}` does not"):
            q.run(conn)
        r.db(db).table_create(name).run(conn)
        assert q.run(conn) is None
    finally:
        r.db_drop(db).run(conn)


def test_database_renamed_and_another_created_under_its_name(rqe):
    r, conn, errors = rqe
    db, new, name = _name("db"), _name("db"), _name()
    r.db_create(db).run(conn)
    r.db(db).table_create(name).run(conn)
    r.db(db).table(name).insert({"id": 1, "v": "first"}).run(conn)
    try:
        q = r.db(db).table(name).get(1)
        _warm(q, conn, {"id": 1, "v": "first"})
        r.db("rethinkdb").table("db_config").filter({"name": db}).update({"name": new}).run(conn)
        with pytest.raises(errors.ReqlOpFailedError, match=f"Database `{db}` does not exist"):
            q.run(conn)
        assert r.db(new).table(name).get(1).run(conn) == {"id": 1, "v": "first"}
        r.db_create(db).run(conn)
        r.db(db).table_create(name).run(conn)
        r.db(db).table(name).insert({"id": 1, "v": "second"}).run(conn)
        assert q.run(conn) == {"id": 1, "v": "second"}
    finally:
        r.db_drop(new).run(conn)
        r.db_drop(db).run(conn)


def test_connection_default_database_dropped_then_recreated(rqe, server):
    r, admin, errors = rqe
    db, name = _name("db"), _name()
    r.db_create(db).run(admin)
    r.db(db).table_create(name).run(admin)
    r.db(db).table(name).insert({"id": 1}).run(admin)
    conn = r.connect(host=server.host, port=server.port, db=db)
    try:
        q = r.table(name).get(1)
        _warm(q, conn, {"id": 1})
        r.db_drop(db).run(admin)
        with pytest.raises(errors.ReqlOpFailedError, match=f"Database `{db}` does not exist"):
            q.run(conn)
        r.db_create(db).run(admin)
        r.db(db).table_create(name).run(admin)
        assert q.run(conn) is None
        r.table(name).insert({"id": 1, "v": 2}).run(conn)
        assert q.run(conn) == {"id": 1, "v": 2}
    finally:
        conn.close()
        r.db_drop(db).run(admin)


def test_index_dropped_then_recreated(rqe):
    r, conn, errors = rqe
    name = _name()
    r.table_create(name).run(conn)
    try:
        t = r.table(name)
        t.insert([{"id": i, "v": i % 2} for i in range(4)]).run(conn)
        t.index_create("v").run(conn)
        t.index_wait("v").run(conn)
        q = t.get_all(0, index="v").count()
        _warm(q, conn, 2)
        t.index_drop("v").run(conn)
        with pytest.raises(errors.ReqlOpFailedError, match="Index `v` was not found on table"):
            q.run(conn)
        t.index_create("v", lambda row: row["id"]).run(conn)
        t.index_wait("v").run(conn)
        assert q.run(conn) == 1
    finally:
        r.table_drop(name).run(conn)


def _user(r, admin, server, grant=None):
    user, password = _name("u"), "pw"
    r.db("rethinkdb").table("users").insert({"id": user, "password": password}).run(admin)
    conn = r.connect(host=server.host, port=server.port, user=user, password=password)
    return user, conn


def _drop_user_and_table(r, admin, conn, user: str, name: str) -> None:
    conn.close()
    r.db("rethinkdb").table("users").get(user).delete().run(admin)
    r.table_drop(name).run(admin)


def test_a_plan_warmed_by_admin_checks_another_users_grants(rqe, server):
    r, admin, errors = rqe
    name = _name()
    r.table_create(name).run(admin)
    r.table(name).insert({"id": 1}).run(admin)
    user, conn = _user(r, admin, server)
    denied = f"User `{user}` does not have the required `read` permission"
    try:
        for q in (r.table(name).get(1), r.db("test").table(name).get(1)):
            _warm(q, admin, {"id": 1})  # the same bytes: one plan for every connection
            with pytest.raises(errors.ReqlPermissionError, match=denied):
                q.run(conn)
        q = r.table(name).get(1)
        r.table(name).grant(user, {"read": True}).run(admin)
        _warm(q, conn, {"id": 1})
        r.table(name).grant(user, {"read": False}).run(admin)
        with pytest.raises(errors.ReqlPermissionError, match=denied):
            q.run(conn)
        assert q.run(admin) == {"id": 1}
        r.table(name).grant(user, {"read": None}).run(admin)  # unset: the database's
        r.db("test").grant(user, {"read": True}).run(admin)
        _warm(q, conn, {"id": 1})
        r.db("test").grant(user, {"read": None}).run(admin)
        with pytest.raises(errors.ReqlPermissionError, match=denied):
            q.run(conn)
        r.grant(user, {"read": True}).run(admin)  # global
        _warm(q, conn, {"id": 1})
        r.grant(user, {"read": False}).run(admin)
        with pytest.raises(errors.ReqlPermissionError, match=denied):
            q.run(conn)
    finally:
        _drop_user_and_table(r, admin, conn, user, name)


def test_grants_changed_through_the_permissions_table(rqe, server):
    r, admin, errors = rqe
    name = _name()
    r.table_create(name).run(admin)
    user, conn = _user(r, admin, server)
    try:
        r.table(name).grant(user, {"read": True}).run(admin)
        q = r.table(name).get(1)
        _warm(q, conn, None)
        perms = r.db("rethinkdb").table("permissions").filter({"user": user})
        perms.update({"permissions": {"read": False}}).run(admin)
        with pytest.raises(errors.ReqlPermissionError, match=f"User `{user}` does not have"):
            q.run(conn)
        perms.update({"permissions": {"read": True}}).run(admin)
        _warm(q, conn, None)
        perms.delete().run(admin)
        with pytest.raises(errors.ReqlPermissionError, match=f"User `{user}` does not have"):
            q.run(conn)
    finally:
        _drop_user_and_table(r, admin, conn, user, name)


def test_a_grant_made_inside_a_write_counts_once_that_write_ends(rqe, server):
    """A grant evaluated in an update's function commits with the update's transaction
    (Storage.meta_stamp): the user's cached rights follow what was committed, whether the
    write committed or failed."""
    r, admin, errors = rqe
    name = _name()
    r.table_create(name).run(admin)
    r.table(name).insert([{"id": 1}, {"id": 2}]).run(admin)
    user, conn = _user(r, admin, server)
    denied = f"User `{user}` does not have the required `read` permission"
    perms = r.db("rethinkdb").table("permissions").filter({"user": user, "table": name})
    try:
        r.table(name).grant(user, {"read": True}).run(admin)
        q = r.table(name).get(2)
        _warm(q, conn, {"id": 2})
        revoke = r.table(name).grant(user, {"read": False})["granted"]
        res = r.table(name).get(1).update(lambda row: {"g": revoke}, non_atomic=True).run(admin)
        assert res["replaced"] == 1
        assert perms.nth(0)["permissions"].run(admin) == {"read": False}
        with pytest.raises(errors.ReqlPermissionError, match=denied):
            q.run(conn)
        # The same in a write that fails after the grant: rights are as committed.
        r.table(name).grant(user, {"read": True}).run(admin)
        _warm(q, conn, {"id": 2})
        failing = (
            r.table(name)
            .get(1)
            .update(lambda row: {"g": revoke.add(r.error("after the grant"))}, non_atomic=True)
        )
        res = failing.run(admin)
        assert res["errors"] == 1 and "after the grant" in res["first_error"]
        committed = perms.nth(0)["permissions"]["read"].run(admin)
        if committed:
            _warm(q, conn, {"id": 2})
        else:
            with pytest.raises(errors.ReqlPermissionError, match=denied):
                q.run(conn)
    finally:
        _drop_user_and_table(r, admin, conn, user, name)


def test_user_deleted_then_recreated(rqe, server):
    r, admin, errors = rqe
    name = _name()
    r.table_create(name).run(admin)
    user, conn = _user(r, admin, server)
    users = r.db("rethinkdb").table("users")
    try:
        r.table(name).grant(user, {"read": True}).run(admin)
        q = r.table(name).get(1)
        _warm(q, conn, None)
        users.get(user).delete().run(admin)  # its open connection goes on, without rights
        with pytest.raises(errors.ReqlPermissionError, match=f"User `{user}` does not have"):
            q.run(conn)
        users.insert({"id": user, "password": "pw"}).run(admin)  # its grants went with it
        with pytest.raises(errors.ReqlPermissionError, match=f"User `{user}` does not have"):
            q.run(conn)
        r.table(name).grant(user, {"read": True}).run(admin)
        _warm(q, conn, None)
    finally:
        conn.close()
        users.get(user).delete().run(admin)
        r.table_drop(name).run(admin)


def test_plans_with_constant_global_optargs_see_drops_and_renames(rqe):
    """A cached plan run with constant global optargs (``durability="soft"``,
    ``read_mode="outdated"``) remembers its table too (``Table.remembered`` takes a plan's
    ``ConstantOptargs`` without TABLE optargs): a drop, a recreate and a rename are seen
    as by a fresh compile, single inserts (their document a shape param) included."""
    r, conn, errors = rqe
    name, other = _name(), _name()
    r.table_create(name).run(conn)
    try:
        for i in range(WARM):
            got = r.table(name).insert({"id": i, "v": i}).run(conn, durability="soft")
            assert got["inserted"] == 1
            assert r.table(name).get(i).run(conn, durability="soft") == {"id": i, "v": i}
            assert r.table(name).get(i).run(conn, read_mode="outdated") == {"id": i, "v": i}
        dup = r.table(name).insert({"id": 0, "v": 9}).run(conn, durability="soft")
        assert dup["errors"] == 1 and dup["first_error"].startswith("Duplicate primary key")
        r.table_drop(name).run(conn)
        for run in (
            lambda: r.table(name).insert({"id": 7, "v": 7}).run(conn, durability="soft"),
            lambda: r.table(name).get(1).run(conn, durability="soft"),
            lambda: r.table(name).get(1).run(conn, read_mode="outdated"),
        ):
            with pytest.raises(errors.ReqlOpFailedError, match=f"Table `test.{name}` does not"):
                run()
        r.table_create(name).run(conn)
        got = r.table(name).insert({"id": 1, "v": "new"}).run(conn, durability="soft")
        assert got["inserted"] == 1
        assert r.table(name).get(1).run(conn, durability="soft") == {"id": 1, "v": "new"}
        _table_config(r, "test", name).update({"name": other}).run(conn)
        with pytest.raises(errors.ReqlOpFailedError, match=f"Table `test.{name}` does not"):
            r.table(name).insert({"id": 2, "v": 2}).run(conn, durability="soft")
        got = r.table(other).insert({"id": 2, "v": 2}).run(conn, durability="soft")
        assert got["inserted"] == 1
        assert r.table(other).count().run(conn) == 2
    finally:
        for n in (name, other):
            if n in r.table_list().run(conn):
                r.table_drop(n).run(conn)
