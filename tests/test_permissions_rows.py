"""``rethinkdb.permissions`` writes and ``table_config`` moves as RethinkDB 2.4.4 does them,
through our driver and the official one.

From RethinkDB's source: permissions_artificial_table_backend.cc (``write_row`` and
``parse_primary_key``: each check and its text, in order; a grant on a dropped database stays,
shown as ``__deleted_database__``), table_config.cc ``write_row`` (config permission on the
table, and on the database it moves to; a table_config row may move a table to another
database) and artificial_table.cc (a permission error on a row fails the query, it is not the
row's ``first_error``). 2.4.4's test/rql_test/interface/permissions/permissions.py_one.yaml
checks part of it.
"""

from __future__ import annotations

import pytest

ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(params=["ours", "official"])
def rq(request, server, table_name):
    if request.param == "ours":
        from rethought import r
    else:
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    user = "perm_rows_user"
    dbs = [f"{table_name}_a", f"{table_name}_b"]
    r.db("rethinkdb").table("users").insert({"id": user, "password": "pw"}).run(conn)
    for db in dbs:
        r.db_create(db).run(conn)
    yield r, conn, user, dbs
    r.db("rethinkdb").table("users").get(user).delete().run(conn)
    for db in dbs:
        if db in r.db_list().run(conn):
            r.db_drop(db).run(conn)
    conn.close()


def test_primary_key_and_row_checks(rq):
    r, conn, user, (db, _) = rq
    perms = r.db("rethinkdb").table("permissions")
    db_id = r.db(db).config()["id"].run(conn)
    r.db(db).table_create("t").run(conn)
    tbl_id = r.db(db).table("t").config()["id"].run(conn)

    def first_error(doc):
        res = perms.insert(doc).run(conn)
        assert res["errors"] == 1, res
        return res["first_error"]

    assert first_error({}) == "You must specify a primary key."
    assert first_error({"id": []}) == (
        "Expected an array of one to three items in the primary key, got []."
    )
    assert first_error({"id": [False] * 4}) == (
        "Expected an array of one to three items in the primary key, got "
        "[\n\tfalse,\n\tfalse,\n\tfalse,\n\tfalse\n]."
    )
    assert first_error({"id": [False]}) == "Expected a string as the username, got false."
    assert first_error({"id": ["nobody"]}) == "No user named `nobody`."
    assert first_error({"id": [user, "x"]}) == 'Expected a UUID as the database, got "x".'
    assert first_error({"id": [user, ZERO]}) == f"No database with UUID `{ZERO}` exists."
    assert first_error({"id": [user, db_id, "x"]}) == 'Expected a UUID as the table, got "x".'
    assert first_error({"id": [user, db_id, ZERO]}) == f"No table with UUID `{ZERO}` exists."
    assert first_error({"id": [user, db_id, tbl_id]}) == "Expected a field `permissions`."
    assert first_error({"id": [user, db_id, tbl_id], "permissions": {}, "b": 1, "a": 1}) == (
        "Unexpected key(s) `a`, `b`."
    )
    assert first_error({"id": [user, db_id], "permissions": {}, "database": "other"}) == (
        "The key `database` does not match the primary key."
    )
    assert first_error({"id": [user, db_id, tbl_id], "permissions": {}, "table": "u"}) == (
        "The key `table` does not match the primary key."
    )
    assert first_error({"id": [user], "permissions": {}, "database": db}) == (
        "Unexpected key(s) `database`."  # only a database-scoped row has one
    )
    assert first_error({"id": ["admin", db_id], "permissions": {"read": False}}) == (
        "The permissions of the user `admin` can't be modified."
    )
    ok = perms.insert(
        {"id": [user, db_id, tbl_id], "permissions": {"read": True}, "database": db, "table": "t"}
    )
    assert ok.run(conn)["inserted"] == 1


def test_a_grant_on_a_dropped_database_stays(rq):
    r, conn, user, (db, _) = rq
    db_id = r.db(db).config()["id"].run(conn)
    r.db(db).grant(user, {"read": True}).run(conn)
    r.db_drop(db).run(conn)
    rows = r.db("rethinkdb").table("permissions").filter({"user": user}).run(conn)
    assert {
        "database": "__deleted_database__",
        "id": [user, db_id],
        "permissions": {"read": True},
        "user": user,
    } in list(rows)


def test_table_config_moves_a_table_with_config_on_both(rq, server):
    r, conn, user, (src, dst) = rq
    r.db(src).table_create("moved").run(conn)
    r.db(src).table("moved").insert({"id": 1}).run(conn)
    tbl_id = r.db(src).table("moved").config()["id"].run(conn)
    r.db("rethinkdb").grant(user, {"read": True, "write": True}).run(conn)
    r.db(src).grant(user, {"read": True, "write": True, "config": True}).run(conn)
    other = r.connect(host=server.host, port=server.port, user=user, password="pw")
    move = r.db("rethinkdb").table("table_config").get(tbl_id).update({"db": dst})
    with pytest.raises(r.ReqlPermissionError) as info:  # a query error, not a first_error
        move.run(other)
    assert info.value.message == f"User `{user}` does not have the required `config` permission."
    r.db(dst).grant(user, {"config": True}).run(conn)
    assert move.run(other)["replaced"] == 1
    other.close()
    assert r.db(src).table_list().run(conn) == []
    assert r.db(dst).table("moved").get(1).run(conn) == {"id": 1}
    res = r.db("rethinkdb").table("table_config").get(tbl_id).update({"db": "nowhere"}).run(conn)
    assert res["first_error"] == (
        "The change you're trying to make to `rethinkdb.table_config` has the wrong format. "
        "Database `nowhere` does not exist."
    )


def test_config_tables_create_with_the_generated_key(rq):
    # table_config.cc / db_config.cc write_row: a row that is not there is created only when
    # the insert generated its key, and the new table / database takes that key as its id
    r, conn, _, (db, _) = rq
    tc = r.db("rethinkdb").table("table_config")
    res = tc.insert({"id": "11111111-1111-1111-1111-111111111111", "db": db, "name": "x"})
    assert res.run(conn)["first_error"] == (
        "There is no existing table with the given ID. To create a new table by inserting "
        "into `rethinkdb.table_config`, you must let the database generate the primary key "
        "automatically."
    )
    res = tc.insert({"db": db, "name": "made"}).run(conn)
    assert res["inserted"] == 1
    assert r.db(db).table("made").config()["id"].run(conn) == res["generated_keys"][0]
    dc = r.db("rethinkdb").table("db_config")
    res = dc.insert({"id": "11111111-1111-1111-1111-111111111111", "name": db + "_c"}).run(conn)
    assert res["first_error"] == (
        "If you want to create a new table by inserting into `rethinkdb.db_config`, you must "
        "use an auto-generated primary key."
    )
    res = dc.insert({"name": db + "_c"}).run(conn)
    assert r.db(db + "_c").config()["id"].run(conn) == res["generated_keys"][0]
    r.db_drop(db + "_c").run(conn)
