"""Console logins: passwords checked by the driver port's own verifier, and browser sessions.

A password is checked by running a whole SCRAM-SHA-256 exchange against ``server.auth``'s
``ScramServer`` in process (the client half is computed here from the typed password), so the
console accepts exactly the users and passwords the driver port accepts, with its error texts.

A session is a random id in an HttpOnly, SameSite=Strict cookie, held in memory only (a server
restart logs everyone out). Each session has its own CSRF token, which every request that
changes anything must echo (a header for POSTs, a query parameter for the WebSocket). A session
starts anonymous (it can only log in); logging in replaces its id, so an id planted before the
login is worth nothing after it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from ..server.system import users
from ..server.wire import auth

COOKIE = "rethought_console"
IDLE_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000


class LoginFailed(Exception):
    """The user or password is wrong: the driver port's message."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _scram_name(user: str) -> str:
    return user.replace("=", "=3D").replace(",", "=2C")


def verify_password(storage: Any, user: str, password: str) -> None:
    """Raise ``LoginFailed`` unless the driver port would accept ``user`` / ``password``."""
    server = auth.ScramServer(storage)
    nonce = _b64(secrets.token_bytes(18))
    first_bare = f"n={_scram_name(user)},r={nonce}"
    try:
        server_first = server.next_message("n,," + first_bare)
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        salted = hashlib.pbkdf2_hmac(
            "sha256", password.encode("utf-8"), base64.b64decode(attrs["s"]), int(attrs["i"])
        )
        client_key = _hmac(salted, b"Client Key")
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{first_bare},{server_first},{without_proof}".encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        proof = _b64(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
        server.next_message(f"{without_proof},p={proof}")
    except auth.AuthError as e:
        raise LoginFailed(_driver_message(e)) from None


def _driver_message(e: auth.AuthError) -> str:
    # The driver port answers an unknown user and a wrong password alike to the official
    # drivers (ReqlAuthError), so the console does too: it tells a prober nothing more.
    if e.code in (12, 17):
        return "Wrong password"
    return e.message


def admin_needs_password(storage: Any) -> bool:
    """Whether the console must ask for a login (the admin user has a password)."""
    record = users.get_user(storage, "admin")
    return record is None or not record.get("empty", False)


@dataclass
class Session:
    """One browser's state: who is logged in (None: nobody yet) and its CSRF token."""

    id: str
    user: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    logged_out: bool = False  # chose to log out: no automatic admin login any more
    seen: float = field(default_factory=time.monotonic)

    def check_csrf(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf)


class Sessions:
    """The server's console sessions, by id."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self._by_id: dict[str, Session] = {}

    def get(self, sid: str | None) -> Session | None:
        s = self._by_id.get(sid or "")
        if s is None:
            return None
        now = time.monotonic()
        if now - s.seen > IDLE_SECONDS:
            del self._by_id[s.id]
            return None
        s.seen = now
        return s

    def new(self) -> Session:
        if len(self._by_id) >= MAX_SESSIONS:
            self._expire()
        s = Session(secrets.token_urlsafe(32))
        self._by_id[s.id] = s
        return s

    def current(self, sid: str | None) -> Session:
        """The session of cookie ``sid``, or a new anonymous one; logged in as admin at once
        when admin has no password (RethinkDB's console has no login then)."""
        s = self.get(sid) or self.new()
        if s.user is None and not s.logged_out and not admin_needs_password(self.storage):
            s = self._rotate(s, "admin")
        return s

    async def login(self, s: Session, user: str, password: str) -> Session:
        """Check the password (off the loop: PBKDF2 takes a few ms) and rotate the session."""
        await asyncio.to_thread(verify_password, self.storage, user, password)
        return self._rotate(s, user)

    def logout(self, s: Session) -> Session:
        self._by_id.pop(s.id, None)
        fresh = self.new()
        fresh.logged_out = True
        return fresh

    def _rotate(self, old: Session, user: str) -> Session:
        self._by_id.pop(old.id, None)
        s = self.new()
        s.user = user
        return s

    def _expire(self) -> None:
        now = time.monotonic()
        for sid, s in list(self._by_id.items()):
            if now - s.seen > IDLE_SECONDS or s.user is None:
                del self._by_id[sid]
