"""Stored users: password hashes in storage meta.

Users live in storage meta under ``users/<name>`` as
``{"iterations": 4096, "salt": <base64>, "hash": <base64>, "empty": bool}``; only the salted
PBKDF2-HMAC-SHA256 hash is kept, never the password (``server.wire.auth`` checks a client's
proof against it).
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

ITERATIONS = 4096  # RethinkDB's default iteration count
SALT_LENGTH = 16
USER_PREFIX = "users/"


def make_password_record(password: str, iterations: int = ITERATIONS) -> dict[str, Any]:
    """A storable record for ``password``: a fresh random salt and the PBKDF2 hash."""
    salt = os.urandom(SALT_LENGTH)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return {
        "iterations": iterations,
        "salt": base64.b64encode(salt).decode("ascii"),
        "hash": base64.b64encode(salted).decode("ascii"),
        "empty": password == "",
    }


def get_user(storage: Any, name: str) -> dict[str, Any] | None:
    """The stored record of user ``name``, or None."""
    return storage.meta_get(USER_PREFIX + name)


def set_password(storage: Any, name: str, password: str) -> None:
    """Create user ``name`` or replace its password."""
    storage.meta_put(USER_PREFIX + name, make_password_record(password))


def ensure_admin(storage: Any, initial_password: str | None) -> bool:
    """Create ``admin`` on first start (empty password unless one is given).

    Returns True when the user was created; an existing admin keeps its password, as
    RethinkDB ignores ``--initial-password`` once the cluster has been initialised.
    """
    if get_user(storage, "admin") is not None:
        return False
    set_password(storage, "admin", initial_password or "")
    return True
