"""The permissions matrix: users with read / write / config / connect granted (or explicitly
refused) at global, database and table scope, and on the system database and its tables, ×
every kind of operation, through real logins with the official driver.

The expected allow/deny comes from a model of RethinkDB 2.4.4's rules, not from our server:
``user_t::has_read_permission`` / ``has_write_permission`` / ``has_config_permission`` look
at the table, then the database, then the global scope, the first that is not null deciding,
and the ``rethinkdb`` database never inherits from the global scope (user.cc); a write needs
read and write (user_context.cc ``require_write_permission``); and the operations ask for:
reads and changefeeds read on the table (table_query_client.cc, changefeed.cc), writes
write, index create/drop/rename, ``config()``, ``reconfigure``, write hooks and
``ignore_write_hook`` config on the table, ``table_drop`` config on the table, ``db_drop``
config on the database and each of its tables, ``table_create`` and ``db.config()`` config on
the database, ``db_create`` global config (real_reql_cluster_interface.cc, writes.cc),
``grant`` read then write on ``rethinkdb.permissions`` (grant.cc), ``r.http`` connect
(http.cc), system tables read on that table (artificial_table.cc); ``table_list``,
``index_list``, ``index_status``, ``status()`` and ``r.js`` ask for nothing. A refusal is
``ReqlPermissionError`` ``User `NAME` does not have the required `PERM` permission.``
(permission_error.hpp).
"""

from __future__ import annotations

import pytest

from conftest import ServerProcess

ALL = {"read": True, "write": True, "config": True, "connect": True}
NO = {"read": False, "write": False, "config": False}

# Profile name -> grants: (scope, permissions); scope "g" global, "db" the user's database,
# "t" its table pt, "sys" the rethinkdb database, "sys:<table>" a system table.
PROFILES: dict[str, list[tuple[str, dict]]] = {
    "none": [],
    "g_read": [("g", {"read": True})],
    "g_rw": [("g", {"read": True, "write": True})],
    "g_write_only": [("g", {"write": True})],
    "g_config": [("g", {"config": True})],
    "g_connect": [("g", {"connect": True})],
    "g_all": [("g", ALL)],
    "db_read": [("db", {"read": True})],
    "db_rw": [("db", {"read": True, "write": True})],
    "db_config": [("db", {"config": True})],
    "t_read": [("t", {"read": True})],
    "t_rw": [("t", {"read": True, "write": True})],
    "t_config": [("t", {"config": True})],
    "t_write_only": [("t", {"write": True})],
    "g_rw_t_false": [("g", {"read": True, "write": True}), ("t", {"read": False})],
    "g_all_db_false": [("g", ALL), ("db", NO)],
    "db_false_t_true": [("db", NO), ("t", {"read": True, "write": True, "config": True})],
    "g_config_t_false": [("g", {"config": True}), ("t", {"config": False})],
    "g_all_t_write_false": [("g", ALL), ("t", {"write": False})],
    "sys_read": [("g", {"read": True}), ("sys", {"read": True})],
    "sys_perm_rw": [("sys:permissions", {"read": True, "write": True})],
    "sys_perm_read": [("sys:permissions", {"read": True})],
    "sys_users_read": [("sys:users", {"read": True})],
}


class Model:
    """RethinkDB's permission rules for one user's grants (user.cc)."""

    def __init__(self, grants: list[tuple[str, dict]]) -> None:
        self.scopes: dict[str, dict] = {}
        for scope, perms in grants:
            self.scopes.setdefault(scope, {}).update(perms)

    def _get(self, scope: str, perm: str) -> bool | None:
        return self.scopes.get(scope, {}).get(perm)

    def has(self, perm: str, db: str, table: str | None = None) -> bool:
        """read / write / config on ``table`` of ``db`` ("db" = the user's, "sys")."""
        if table is not None:
            v = self._get(table, perm)
            if v is not None:
                return v
        v = self._get(db, perm)
        if v is not None:
            return v
        if db == "sys":
            return False  # the system database does not inherit the global scope
        return self._get("g", perm) is True


# Operation -> (query builder, requirement): the requirement returns the permission that is
# missing ("read", ...) or None when allowed. ``q(r, D)`` builds it for the user's db D.
def _needs(*checks: tuple[str, bool]) -> str | None:
    for perm, ok in checks:
        if not ok:
            return perm
    return None


def _ops(m: Model, state: dict) -> list[tuple[str, object, str | None]]:
    read_t = m.has("read", "db", "t")
    write_t = read_t and m.has("write", "db", "t")
    config_t = m.has("config", "db", "t")
    config_db = m.has("config", "db")
    sys_perm = ("read", m.has("read", "sys", "sys:permissions")), (
        "write",
        m.has("read", "sys", "sys:permissions") and m.has("write", "sys", "sys:permissions"),
    )
    return [
        ("read", lambda r, D: r.db(D).table("pt").count(), _needs(("read", read_t))),
        ("get", lambda r, D: r.db(D).table("pt").get(1), _needs(("read", read_t))),
        ("other table", lambda r, D: r.db(D).table("po").count(),
         _needs(("read", m.has("read", "db")))),
        ("write", lambda r, D: r.db(D).table("pt").insert({"id": 2}, conflict="replace"),
         _needs(("write", write_t))),
        ("update", lambda r, D: r.db(D).table("pt").get(1).update({"v": 2}),
         _needs(("write", write_t))),
        ("changes", lambda r, D: r.db(D).table("pt").changes(), _needs(("read", read_t))),
        ("index_list", lambda r, D: r.db(D).table("pt").index_list(), None),
        ("index_status", lambda r, D: r.db(D).table("pt").index_status(), None),
        ("status", lambda r, D: r.db(D).table("pt").status(), None),
        ("table_list", lambda r, D: r.db(D).table_list(), None),
        ("db_list", lambda r, D: r.db_list(), None),
        ("js", lambda r, D: r.js("1 + 1"), None),
        ("index_create", lambda r, D: r.db(D).table("pt").index_create("ixn"),
         _needs(("config", config_t))),
        ("index_drop", lambda r, D: r.db(D).table("pt").index_drop("ix0"),
         _needs(("config", config_t))),
        ("config", lambda r, D: r.db(D).table("pt").config(), _needs(("config", config_t))),
        ("reconfigure", lambda r, D: r.db(D).table("pt").reconfigure(shards=1, replicas=1),
         _needs(("config", config_t))),
        ("get_write_hook", lambda r, D: r.db(D).table("pt").get_write_hook(),
         _needs(("config", config_t))),
        ("ignore_write_hook",
         lambda r, D: r.db(D).table("pt").insert({"id": 3}, conflict="replace",
                                                 ignore_write_hook=True),
         _needs(("config", config_t), ("write", write_t))),
        ("db config", lambda r, D: r.db(D).config(), _needs(("config", config_db))),
        ("system users", lambda r, D: r.db("rethinkdb").table("users").count(),
         _needs(("read", m.has("read", "sys", "sys:users")))),
        ("system table_status", lambda r, D: r.db("rethinkdb").table("table_status").count(),
         _needs(("read", m.has("read", "sys", "sys:table_status")))),
        ("grant", lambda r, D: r.grant(state["user"], {}), _needs(*sys_perm)),
        ("http", lambda r, D: r.http("http://127.0.0.1:1/", attempts=1, timeout=2),
         _needs(("connect", m._get("g", "connect") is True))),
        ("table_create", lambda r, D: r.db(D).table_create("new"),
         _needs(("config", config_db))),
        ("db_create", lambda r, D: r.db_create(D + "_new"),
         _needs(("config", m._get("g", "config") is True))),
        ("table_drop", lambda r, D: r.db(D).table_drop("pt"), _needs(("config", config_t))),
        ("db_drop", lambda r, D: r.db_drop(D), "db_drop"),  # depends on what is left
    ]  # fmt: skip


@pytest.fixture(scope="module")
def perm_server(tmp_path_factory):
    srv = ServerProcess(str(tmp_path_factory.mktemp("perms") / "data")).start()
    yield srv
    srv.stop()


def _grant(r, admin, user: str, db: str, scope: str, perms: dict) -> None:
    if scope == "g":
        target = r
    elif scope == "db":
        target = r.db(db)
    elif scope == "t":
        target = r.db(db).table("pt")
    elif scope == "sys":
        target = r.db("rethinkdb")
    else:
        target = r.db("rethinkdb").table(scope.split(":", 1)[1])
    target.grant(user, perms).run(admin)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_permissions_matrix(perm_server, official_r, profile):
    r = official_r
    user, db = f"u_{profile}", f"d_{profile}"
    admin = r.connect(host=perm_server.host, port=perm_server.port)
    r.db_create(db).run(admin)
    for t in ("pt", "po"):
        r.db(db).table_create(t).run(admin)
    r.db(db).table("pt").insert({"id": 1}).run(admin)
    r.db(db).table("pt").index_create("ix0").run(admin)
    r.db("rethinkdb").table("users").insert({"id": user, "password": "pw"}).run(admin)
    grants = PROFILES[profile]
    for scope, perms in grants:
        _grant(r, admin, user, db, scope, perms)
    model = Model(grants)
    conn = r.connect(host=perm_server.host, port=perm_server.port, user=user, password="pw")
    tables = {"pt", "po"}
    wrong = []
    try:
        for name, build, missing in _ops(model, {"user": user}):
            if missing == "db_drop":
                missing = _needs(
                    ("config", model.has("config", "db")),
                    *(("config", model.has("config", "db", "t" if t == "pt" else None))
                      for t in sorted(tables)),
                )  # fmt: skip
            try:
                result = build(r, db).run(conn)
                if name == "changes":
                    result.close()
                got = None
            except r.errors.ReqlPermissionError as e:
                got = str(e).split(" in:\n", 1)[0]
            except r.errors.ReqlError:
                got = None  # allowed, failed for another reason (r.http's closed port)
            want = (
                None if missing is None else f"User `{user}` does not have the required "
                f"`{missing}` permission"
            )
            if got != want:
                wrong.append(f"{name}: expected {want or 'allowed'}, got {got or 'allowed'}")
            if name == "table_drop" and got is None:
                tables.discard("pt")
            if name == "table_create" and got is None:
                tables.add("new")
    finally:
        conn.close()
        r.db("rethinkdb").table("users").get(user).delete().run(admin)
        if db in r.db_list().run(admin):
            r.db_drop(db).run(admin)
        if db + "_new" in r.db_list().run(admin):
            r.db_drop(db + "_new").run(admin)
        admin.close()
    assert wrong == [], "\n".join(wrong)


def test_permissions_of_a_deleted_user_are_gone(perm_server, official_r):
    """A user deleted and created again starts with no permissions (RethinkDB keeps
    permissions inside the user record: users_artificial_table_backend.cc)."""
    r = official_r
    admin = r.connect(host=perm_server.host, port=perm_server.port)
    try:
        r.db("rethinkdb").table("users").insert({"id": "again", "password": "pw"}).run(admin)
        r.grant("again", {"read": True}).run(admin)
        r.db("rethinkdb").table("users").get("again").delete().run(admin)
        r.db("rethinkdb").table("users").insert({"id": "again", "password": "pw"}).run(admin)
        rows = list(r.db("rethinkdb").table("permissions").filter({"user": "again"}).run(admin))
        assert rows == []
        r.db("test").table_create("again_t").run(admin)
        conn = r.connect(host=perm_server.host, port=perm_server.port, user="again", password="pw")
        with pytest.raises(r.errors.ReqlPermissionError, match="required `read` permission"):
            r.db("test").table("again_t").count().run(conn)
        conn.close()
    finally:
        r.db("rethinkdb").table("users").get("again").delete().run(admin)
        if "again_t" in r.db("test").table_list().run(admin):
            r.db("test").table_drop("again_t").run(admin)
        admin.close()


def test_data_directory_is_owner_only_and_password_never_logged(tmp_path, official_r):
    """The data directory holds password hashes: created owner-only (files too), and the
    admin password given on the command line appears in no log line."""
    import os
    import stat

    secret = "Very-S3cret-initial-pw"
    directory = tmp_path / "data"
    srv = ServerProcess(str(directory), extra=["--initial-password", secret]).start()
    try:
        conn = official_r.connect(host=srv.host, port=srv.port, password=secret)
        official_r.db("rethinkdb").table("users").get("admin").update(
            {"password": secret + "2"}
        ).run(conn)
        conn.close()
    finally:
        srv.stop()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in os.listdir(directory):
        mode = stat.S_IMODE(os.stat(directory / name).st_mode)
        assert mode & 0o077 == 0, f"{name} is readable by others: {oct(mode)}"
    assert secret not in srv.log()
