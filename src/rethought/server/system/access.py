"""Users and permissions: the ``users`` and ``permissions`` system tables, ``grant``, and the
permission checks made for every query of a user other than ``admin``.

Passwords are kept by ``system.users`` (meta ``users/<name>``). Permissions live beside them
in meta ``permissions/<name>`` as ``{"global": {...}, "dbs": {db id: {...}},
"tables": {table id: {"db": db id, "permissions": {...}}}}``; each permission set holds
``read`` / ``write`` / ``config`` (and ``connect`` globally) as booleans, a missing key
meaning "not set here" (RethinkDB's indeterminate), which defers to the wider scope.
The ``rethinkdb`` database never inherits from the global scope, as in RethinkDB.
"""

from __future__ import annotations

import re
import uuid
import weakref
from typing import Any

from ...datum.jsonfmt import pretty
from ...errors import ReqlOpFailedError, ReqlPermissionError
from . import users
from .base import TABLE_NAMES, SystemTable, old_table_id, table_by_id, table_id
from .names import OLD_SYSTEM_DB_ID, SYSTEM_DB, SYSTEM_DB_ID

ADMIN = "admin"
PERM_PREFIX = "permissions/"
_KEYS = ("read", "write", "config", "connect")


# -- stored permission records ------------------------------------------------------------------


def _record(storage: Any, user: str) -> dict:
    rec = storage.meta_get(PERM_PREFIX + user) or {}
    dbs = rec.get("dbs", {})
    tables = rec.get("tables", {})
    if OLD_SYSTEM_DB_ID in dbs or any(e.get("db") == OLD_SYSTEM_DB_ID for e in tables.values()):
        # grants stored before the system ids became RethinkDB's
        dbs = {SYSTEM_DB_ID if k == OLD_SYSTEM_DB_ID else k: v for k, v in dbs.items()}
        old = {old_table_id(n): table_id(n) for n in TABLE_NAMES}
        tables = {
            old.get(k, k): {**e, "db": SYSTEM_DB_ID if e.get("db") == OLD_SYSTEM_DB_ID else e["db"]}
            for k, e in tables.items()
        }
    return {"global": rec.get("global", {}), "dbs": dbs, "tables": tables}


def _save(storage: Any, user: str, rec: dict) -> None:
    storage.meta_put(PERM_PREFIX + user, rec)


def user_names(storage: Any) -> list[str]:
    return [key[len(users.USER_PREFIX) :] for key, _ in storage.meta_items(users.USER_PREFIX)]


def merge_permissions(perms: dict, new: Any, global_scope: bool) -> dict:
    """``perms`` updated by the object ``new`` (null unsets a key), with RethinkDB's errors."""
    if type(new) is not dict:
        raise ReqlOpFailedError(f"Expected an object, got {pretty(new)}.")
    out = dict(perms)
    for key in _KEYS:
        if key not in new:
            continue
        if key == "connect" and not global_scope:
            raise ReqlOpFailedError("The `connect` permission is only valid at the global scope.")
        v = new[key]
        if v is None:
            out.pop(key, None)
        elif type(v) is bool:
            out[key] = v
        else:
            raise ReqlOpFailedError(f"Expected a boolean or null for `{key}`, got {pretty(v)}.")
    extra = sorted(set(new) - set(_KEYS))
    if extra:
        raise ReqlOpFailedError(f"Unexpected key(s) `{'`, `'.join(extra)}`.")
    return out


def _shown(perms: dict) -> dict | None:
    """A permission set as RethinkDB shows it: only the keys that are set, or null."""
    out = {k: perms[k] for k in _KEYS if k in perms}
    return out or None


# -- checks -------------------------------------------------------------------------------------


def _user(ctx: Any) -> str:
    session = getattr(ctx, "session", None)
    return getattr(session, "user", ADMIN) or ADMIN


def _lookup(rec: dict, key: str, db_id: str | None, tbl_id: str | None) -> bool:
    if tbl_id is not None:
        v = rec["tables"].get(tbl_id, {}).get("permissions", {}).get(key)
        if v is not None:
            return v
    if db_id is not None:
        v = rec["dbs"].get(db_id, {}).get(key)
        if v is not None:
            return v
        if db_id == SYSTEM_DB_ID:
            return False  # the system database does not inherit global permissions
    return rec["global"].get(key) is True


def require(ctx: Any, perm: str, db_id: str | None = None, tbl_id: str | None = None) -> None:
    """Raise RethinkDB's ReqlPermissionError unless the query's user has ``perm`` ("read",
    "write" -- which implies needing read too --, "config" or "connect") on the scope."""
    user = _user(ctx)
    if user == ADMIN:
        return
    rec = _current_record(ctx.storage, user)
    ok = rec is not None and _lookup(rec, perm, db_id, tbl_id)
    if ok and perm == "write":
        ok = _lookup(rec, "read", db_id, tbl_id)
    if not ok:
        raise ReqlPermissionError(f"User `{user}` does not have the required `{perm}` permission.")


#: Per storage: user -> (last committed transaction id, the user's permission record or
#: None when the user does not exist), read by ``require`` for every read and write.
_SEEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SEEN_USERS = 256  # users remembered per storage (forgotten all at once past that)


def _current_record(storage: Any, user: str) -> dict | None:
    """``user``'s permission record as committed now, or None if there is no such user.

    Users and grants are meta records: they change only by a commit, here or in another
    process, which moves ``Storage.meta_stamp()``, so a record read after seeing stamp N
    stays true until the stamp moves (meta reads see the committed state, never an open
    write's)."""
    stamp = storage.meta_stamp()  # before the reads: they see at least that
    seen = _SEEN.get(storage)
    if seen is None:
        seen = _SEEN[storage] = {}
    hit = seen.get(user)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    rec = _record(storage, user) if users.get_user(storage, user) is not None else None
    if len(seen) >= _SEEN_USERS:
        seen.clear()
    seen[user] = (stamp, rec)
    return rec


class GuardedStore:
    """A table store that checks the query user's permissions before each read or write
    (as RethinkDB does: lazily, when the table is actually used, not when it is named)."""

    def __init__(self, ctx: Any, store: Any) -> None:
        self._ctx = ctx
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _check(self, perm: str) -> None:
        require(self._ctx, perm, self._store.db.id, self._store.id)

    def require_read(self) -> None:
        """Raise unless the user may read the table (a changefeed's check)."""
        self._check("read")

    def get(self, key: Any) -> Any:
        self._check("read")
        return self._store.get(key)

    def get_raw(self, key: Any) -> Any:
        self._check("read")
        return self._store.get_raw(key)

    def count(self) -> int:
        self._check("read")
        return self._store.count()

    def scan(self, *args: Any, **kwargs: Any) -> Any:
        self._check("read")
        return self._store.scan(*args, **kwargs)

    def index_scan(self, *args: Any, **kwargs: Any) -> Any:
        self._check("read")
        return self._store.index_scan(*args, **kwargs)

    def index_get_all(self, *args: Any, **kwargs: Any) -> Any:
        self._check("read")
        return self._store.index_get_all(*args, **kwargs)

    def write(self) -> Any:
        self._check("write")
        return self._store.write()

    def index_create(self, *args: Any, **kwargs: Any) -> Any:
        self._check("config")
        return self._store.index_create(*args, **kwargs)

    def index_drop(self, *args: Any, **kwargs: Any) -> Any:
        self._check("config")
        return self._store.index_drop(*args, **kwargs)

    def index_rename(self, *args: Any, **kwargs: Any) -> Any:
        self._check("config")
        return self._store.index_rename(*args, **kwargs)


def guard(ctx: Any, store: Any) -> Any:
    """``store`` itself for admin, else a ``GuardedStore`` checking the user's permissions."""
    return store if _user(ctx) == ADMIN else GuardedStore(ctx, store)


# -- grant --------------------------------------------------------------------------------------


def grant(ctx: Any, user: str, perms: Any, db_id: str | None, tbl_id: str | None) -> dict:
    """``r.grant`` at the global (no ids), database or table scope."""
    if user == ADMIN:
        raise ReqlOpFailedError(f"The permissions of the user `{user}` can't be modified.")
    require(ctx, "read", SYSTEM_DB_ID, table_id("permissions"))
    require(ctx, "write", SYSTEM_DB_ID, table_id("permissions"))
    storage = ctx.storage
    if users.get_user(storage, user) is None:
        raise ReqlOpFailedError(f"User `{user}` not found.")
    rec = _record(storage, user)
    old, new = _update(rec, perms, db_id, tbl_id)
    _save(storage, user, rec)
    return {"granted": 1, "permissions_changes": [{"new_val": new, "old_val": old}]}


def _update(rec: dict, perms: Any, db_id: str | None, tbl_id: str | None) -> tuple:
    """Merge ``perms`` into the scope of ``rec``; (old, new) as shown. Empty sets vanish."""
    if tbl_id is not None:
        entry = rec["tables"].get(tbl_id, {"db": db_id, "permissions": {}})
        old = entry["permissions"]
        new = merge_permissions(old, perms, False)
        if new:
            rec["tables"][tbl_id] = {"db": db_id, "permissions": new}
        else:
            rec["tables"].pop(tbl_id, None)
    elif db_id is not None:
        old = rec["dbs"].get(db_id, {})
        new = merge_permissions(old, perms, False)
        if new:
            rec["dbs"][db_id] = new
        else:
            rec["dbs"].pop(db_id, None)
    else:
        old = rec["global"]
        new = rec["global"] = merge_permissions(old, perms, True)
    return _shown(old), _shown(new)


# -- the users table ----------------------------------------------------------------------------


class Users(SystemTable):
    """``rethinkdb.users``: ``{"id": name, "password": bool}``; insert / update / delete
    create users, change passwords and remove users."""

    name = "users"

    def rows(self) -> list[dict]:
        return [
            {"id": key[len(users.USER_PREFIX) :], "password": not rec.get("empty", False)}
            for key, rec in self.storage.meta_items(users.USER_PREFIX)
        ]

    def get(self, key: Any) -> dict | None:
        if type(key) is not str:
            return None
        rec = users.get_user(self.storage, key)
        return None if rec is None else {"id": key, "password": not rec.get("empty", False)}

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        if type(key) is not str or self.pkey_generated:
            raise ReqlOpFailedError(f"Expected a username as the primary key, got {pretty(key)}.")
        storage = self.storage
        if new is None:
            if key == ADMIN:
                raise ReqlOpFailedError(f"The user `{key}` can't be deleted.")
            if old is None:
                raise ReqlOpFailedError(f"User `{key}` not found.")
            storage.meta_delete(users.USER_PREFIX + key)
            storage.meta_delete(PERM_PREFIX + key)
            return None
        if "password" not in new:
            raise ReqlOpFailedError("Expected a field named `password`.")
        extra = sorted(set(new) - {"id", "password"})
        if extra:
            raise ReqlOpFailedError(f"Unexpected key(s) `{'`, `'.join(extra)}`.")
        password = new["password"]
        if type(password) is dict:  # a pseudo-type too: R_OBJECT (user.cc merge)
            text, iterations = _password_object(password)
            storage.meta_put(users.USER_PREFIX + key, users.make_password_record(text, iterations))
        elif type(password) is str:
            users.set_password(storage, key, password)
        elif password is False:
            users.set_password(storage, key, "")
        elif password is True:
            if old is None or not old["password"]:
                raise ReqlOpFailedError(
                    "Expected an object or string to set the password, or `false` to keep it "
                    "unset, got true."
                )
        else:
            raise ReqlOpFailedError(
                f"Expected an object, string or boolean for `password`, got {pretty(password)}."
            )
        return self.get(key)


def _password_object(d: dict) -> tuple[str, int]:
    """``{"iterations": n, "password": s}`` as password_t(datum) reads it (password.cc): the
    PBKDF2 iteration count to hash ``s`` with."""
    keys = set(d)
    if "iterations" not in d:
        raise ReqlOpFailedError("Expected a field named `iterations`.")
    n = d["iterations"]
    if type(n) not in (int, float) or n != int(n) or abs(n) > 2**53 or n < 1:
        raise ReqlOpFailedError(
            f"Expected `iterations` to be an integer greater than zero, got {pretty(n)}."
        )
    keys.discard("iterations")
    if "password" not in d:
        raise ReqlOpFailedError("Expected a field named `password`.")
    text = d["password"]
    if type(text) is not str:
        raise ReqlOpFailedError(f"Expected `password` to be a string, got {pretty(text)}.")
    keys.discard("password")
    if keys:
        raise ReqlOpFailedError(f"Unexpected key(s) `{'`, `'.join(sorted(keys))}`.")
    return text, int(n)


# -- the permissions table ----------------------------------------------------------------------


class Permissions(SystemTable):
    """``rethinkdb.permissions``: one row per user and scope, ``id`` = [user, db id, table id]
    (as long as the scope); ``database`` / ``table`` follow ``identifier_format``."""

    name = "permissions"

    def rows(self) -> list[dict]:
        out = [self._row([ADMIN], dict.fromkeys(_KEYS, True))]
        out.append(self._row([ADMIN, SYSTEM_DB_ID], dict.fromkeys(_KEYS[:3], True)))
        for user in user_names(self.storage):
            if user == ADMIN:
                continue
            rec = _record(self.storage, user)
            out.append(self._row([user], rec["global"]))
            for db_id, perms in rec["dbs"].items():
                out.append(self._row([user, db_id], perms))
            for tbl_id, entry in rec["tables"].items():
                out.append(self._row([user, entry["db"], tbl_id], entry["permissions"]))
        return [row for row in out if row is not None]

    def _row(self, ident: list, perms: dict) -> dict | None:
        shown = _shown(perms)
        if shown is None:
            return None
        # permissions_artificial_table_backend.cc: a grant on a dropped database stays, shown
        # as `__deleted_database__`; one on a dropped table is not shown; a table's row is
        # under the database the table is in now
        if len(ident) > 2:
            store = self.storage.table_by_id(ident[2]) or table_by_id(self.ctx, ident[2])
            if store is None:
                return None
            ident = [ident[0], store.db.id, ident[2]]
        row: dict[str, Any] = {"id": ident, "permissions": shown, "user": ident[0]}
        if len(ident) > 1:
            db = self._db_name(ident[1])
            row["database"] = ident[1] if self.id_format == "uuid" else db or "__deleted_database__"
        if len(ident) > 2:
            row["table"] = ident[2] if self.id_format == "uuid" else store.name
        return row

    def _db_name(self, db_id: str) -> str | None:
        if db_id == SYSTEM_DB_ID:
            return SYSTEM_DB
        for name in self.storage.db_list():
            if self.storage.db_get(name).id == db_id:
                return name
        return None

    def _table_name(self, tbl_id: str) -> str | None:
        store = self.storage.table_by_id(tbl_id) or table_by_id(self.ctx, tbl_id)
        return None if store is None else store.name

    def apply(self, key: Any, old: Any, new: Any) -> Any:
        # permissions_artificial_table_backend.cc write_row, check by check
        if self.pkey_generated:
            raise ReqlOpFailedError("You must specify a primary key.")
        user, db_id, tbl_id = self._parse_key(key)
        if user == ADMIN:
            raise ReqlOpFailedError(f"The permissions of the user `{user}` can't be modified.")
        storage = self.storage
        if users.get_user(storage, user) is None:
            raise ReqlOpFailedError(f"No user named `{user}`.")
        rec = _record(storage, user)
        if new is None:
            _update(rec, dict.fromkeys(_KEYS[: 4 if db_id is None else 3]), db_id, tbl_id)
            _save(storage, user, rec)
            return None
        keys = set(new) - {"id"}
        if "user" in new:
            keys.discard("user")
            if new["user"] != user:
                raise ReqlOpFailedError("The key `user` does not match the primary key.")
        if db_id is not None and "database" in new:
            keys.discard("database")
            self._matches(new["database"], "database", db_id, self._db_name(db_id))
        if tbl_id is not None and "table" in new:
            keys.discard("table")
            self._matches(new["table"], "table", tbl_id, self._table_name(tbl_id))
        if "permissions" not in new:
            raise ReqlOpFailedError("Expected a field `permissions`.")
        keys.discard("permissions")
        if old is not None:  # a replace starts from nothing: keys left out are unset
            _update(rec, dict.fromkeys(_KEYS[: 4 if db_id is None else 3]), db_id, tbl_id)
        _update(rec, new["permissions"], db_id, tbl_id)
        if keys:
            raise ReqlOpFailedError(f"Unexpected key(s) `{'`, `'.join(sorted(keys))}`.")
        _save(storage, user, rec)
        return self.get(key)

    def _matches(self, given: Any, field: str, ident: str, name: str | None) -> None:
        """A row's ``database`` / ``table`` must name (or, with identifier_format uuid, be the
        id of) what its primary key says (datum_adapter.cc's conversions, their texts)."""
        if self.id_format == "uuid":
            if type(given) is not str or not _is_uuid(given):
                raise ReqlOpFailedError(f"Expected a UUID; got {pretty(given)}")
            same = given.lower() == ident.lower()
        else:
            what = f"{field} name"
            if type(given) is not str:
                raise ReqlOpFailedError(f"Expected a {what}; got {pretty(given)}")
            if not _NAME.fullmatch(given):
                raise ReqlOpFailedError(
                    f"{pretty(given)} is not a valid {what}; Use A-Z, a-z, 0-9, _ and - only"
                )
            same = given == name
        if not same:
            raise ReqlOpFailedError(f"The key `{field}` does not match the primary key.")

    def _parse_key(self, key: Any) -> tuple[str, str | None, str | None]:
        """parse_primary_key: [user], [user, db id] or [user, db id, table id]."""
        if type(key) is not list or not 1 <= len(key) <= 3:
            raise ReqlOpFailedError(
                f"Expected an array of one to three items in the primary key, got {pretty(key)}."
            )
        if type(key[0]) is not str:
            raise ReqlOpFailedError(f"Expected a string as the username, got {pretty(key[0])}.")
        db_id = tbl_id = None
        if len(key) > 1:
            db_id = key[1]
            if type(db_id) is not str or not _is_uuid(db_id):
                raise ReqlOpFailedError(f"Expected a UUID as the database, got {pretty(db_id)}.")
            db_id = str(uuid.UUID(db_id))
            if self._db_name(db_id) is None:
                raise ReqlOpFailedError(f"No database with UUID `{db_id}` exists.")
        if len(key) > 2:
            tbl_id = key[2]
            if type(tbl_id) is not str or not _is_uuid(tbl_id):
                raise ReqlOpFailedError(f"Expected a UUID as the table, got {pretty(tbl_id)}.")
            tbl_id = str(uuid.UUID(tbl_id))
            store = self.storage.table_by_id(tbl_id) or table_by_id(self.ctx, tbl_id)
            if store is None or store.db.id != db_id:
                raise ReqlOpFailedError(f"No table with UUID `{tbl_id}` exists.")
        return key[0], db_id, tbl_id


_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _is_uuid(s: str) -> bool:
    """str_to_uuid: the 36-character hyphenated form."""
    if len(s) != 36:
        return False
    try:
        uuid.UUID(s)
    except ValueError:
        return False
    return True


TABLES = [Users, Permissions]
