"""``rethinkdb.users`` and the system ids as RethinkDB 2.4.4 has them, through our driver and
the official one.

From RethinkDB's source: users_artificial_table_backend.cc (a username is a string the insert
did not make up), user.cc ``merge`` and password.cc ``password_t(datum)`` (a password may be
``{iterations, password}``), artificial_table.cc ``read_row`` (a system table's ``get`` hands
any key to its backend: no row is null), and the fixed ids: the ``rethinkdb`` database is
``uuid_u::from_hash(39a24924-..., "rethinkdb")``, each system table
``from_hash(0eabef01-..., name)`` (version-5 uuids). 2.4.4's
test/rql_test/interface/permissions/users.py_one.yaml checks part of it.
"""

from __future__ import annotations

import re
import uuid

import pytest

SYSTEM_DB_ID = "b99b9572-8e53-5fef-9a2b-5e6aba3edf1c"  # as RethinkDB's permissions tests show


@pytest.fixture(params=["ours", "official"])
def rq(request, server):
    if request.param == "ours":
        from rethought import r
    else:
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    yield r, conn
    r.db("rethinkdb").table("users").filter(lambda u: u["id"].match("^rules_")).delete().run(conn)
    conn.close()


def test_get_of_any_key_on_a_system_table(rq):
    r, conn = rq
    users = r.db("rethinkdb").table("users")
    assert users.get(None).run(conn) is None
    assert users.get(1).run(conn) is None
    assert users.get("admin").run(conn) == {"id": "admin", "password": False}
    assert r.db("rethinkdb").table("table_config").get(None).run(conn) is None
    with pytest.raises(r.ReqlQueryLogicError):  # a user table checks the key
        r.db("rethinkdb").table("users").get(None).delete().run(conn)


def test_a_username_is_never_made_up(rq):
    r, conn = rq
    res = r.db("rethinkdb").table("users").insert({"password": False}).run(conn)
    assert res["errors"] == 1 and res["inserted"] == 0
    assert re.fullmatch(
        r'Expected a username as the primary key, got "[0-9a-f-]{36}"\.', res["first_error"]
    )


def test_password_objects(rq, server):
    r, conn = rq
    users = r.db("rethinkdb").table("users")

    def first_error(password):
        res = users.insert({"id": "rules_x", "password": password}).run(conn)
        assert res["errors"] == 1, res
        return res["first_error"]

    assert first_error({}) == "Expected a field named `iterations`."
    assert first_error({"password": "p"}) == "Expected a field named `iterations`."
    assert first_error({"iterations": 10}) == "Expected a field named `password`."
    assert first_error({"iterations": 0, "password": "p"}) == (
        "Expected `iterations` to be an integer greater than zero, got 0."
    )
    assert first_error({"iterations": 1.5, "password": "p"}) == (
        "Expected `iterations` to be an integer greater than zero, got 1.5."
    )
    assert first_error({"iterations": 10, "password": 5}) == (
        "Expected `password` to be a string, got 5."
    )
    assert first_error({"iterations": 10, "password": "p", "b": 1, "a": 2}) == (
        "Unexpected key(s) `a`, `b`."
    )
    res = users.insert({"id": "rules_y", "password": {"iterations": 1000, "password": "pw"}})
    assert res.run(conn)["inserted"] == 1
    assert users.get("rules_y").run(conn) == {"id": "rules_y", "password": True}
    # the password works, hashed with the iteration count given
    other = r.connect(host=server.host, port=server.port, user="rules_y", password="pw")
    other.close()
    with pytest.raises(r.ReqlAuthError):
        r.connect(host=server.host, port=server.port, user="rules_y", password="no")


def test_system_ids_are_rethinkdbs(rq):
    r, conn = rq
    assert str(uuid.uuid5(uuid.UUID("39a24924-14ec-4deb-99f1-742eda7aba5e"), "rethinkdb")) == (
        SYSTEM_DB_ID
    )
    perms = r.db("rethinkdb").table("permissions").run(conn)
    assert {
        "database": "rethinkdb",
        "id": ["admin", SYSTEM_DB_ID],
        "permissions": {"config": True, "read": True, "write": True},
        "user": "admin",
    } in list(perms)
    base = uuid.UUID("0eabef01-6deb-4069-9a2d-448db057ab1e")
    for name in ("users", "table_config", "permissions"):
        info = r.db("rethinkdb").table(name).info().run(conn)
        assert info["id"] == str(uuid.uuid5(base, name))
        assert info["db"]["id"] == SYSTEM_DB_ID
