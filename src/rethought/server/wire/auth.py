"""Authentication: the SCRAM-SHA-256 server side (RFC 5802 / RFC 7677, as RethinkDB 2.4 speaks
it in the V1_0 handshake), and the V0_4 auth-key check, against the users ``server.system.users``
stores.

No sockets here: ``ScramServer.next_message`` takes the client's ``authentication`` string and
returns the server's, or raises ``AuthError`` with RethinkDB's error code and text.

"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from ..system.users import ITERATIONS, get_user


class AuthError(Exception):
    """A failed handshake step: ``code`` and ``message`` go to the client verbatim."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _split_attributes(message: str) -> dict[str, str]:
    """``a=1,b=2`` -> {"a": "1", "b": "2"}; RethinkDB's strictness (one-letter keys, no repeats)."""
    attrs: dict[str, str] = {}
    if not message:
        return attrs
    for part in message.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1 or key in attrs:
            raise AuthError(10, "Invalid encoding")
        attrs[key] = value
    return attrs


def _saslname_decode(name: str) -> str:
    out = []
    i = 0
    while i < len(name):
        if name[i] == "=":
            code = name[i + 1 : i + 3]
            if code == "2C":
                out.append(",")
            elif code == "3D":
                out.append("=")
            else:
                raise AuthError(18, "Invalid username encoding")
            i += 3
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


class ScramServer:
    """The server side of one SCRAM-SHA-256 exchange (two client messages)."""

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._state = "first"
        self.username: str | None = None
        self._record: dict[str, Any] | None = None
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""

    def next_message(self, message: str) -> str:
        try:
            if self._state == "first":
                return self._first(message)
            if self._state == "final":
                return self._final(message)
            if self._state == "done":
                raise AuthError(20, "Already authenticated, no more messages expected.")
            raise AuthError(20, "A previous error occurred, no more messages expected.")
        except AuthError:
            self._state = "error"
            raise

    def _first(self, message: str) -> str:
        if not message.startswith("n,"):
            raise AuthError(15, "Channel binding is not supported")
        comma = message.find(",", 2)
        if comma < 0:
            raise AuthError(10, "Invalid encoding")
        self._client_first_bare = message[comma + 1 :]
        attrs = _split_attributes(self._client_first_bare)
        if "m" in attrs:
            raise AuthError(11, "Extensions not supported")
        if set(attrs) - {"n", "r"} or "n" not in attrs or "r" not in attrs:
            raise AuthError(10, "Invalid encoding")
        self.username = _saslname_decode(attrs["n"])
        self._record = get_user(self._storage, self.username)
        # An unknown user still gets a plausible challenge, so probing names learns nothing
        # until the proof is checked.
        salt = base64.b64decode(self._record["salt"]) if self._record else os.urandom(16)
        iterations = self._record["iterations"] if self._record else ITERATIONS
        self._nonce = attrs["r"] + _b64(os.urandom(18))
        self._server_first = f"r={self._nonce},s={_b64(salt)},i={iterations}"
        self._state = "final"
        return self._server_first

    def _final(self, message: str) -> str:
        if self._record is None:
            raise AuthError(17, "Unknown user")
        salted = base64.b64decode(self._record["hash"])
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = message.split(",p=", 1)[0]
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message)
        expected_proof = _b64(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
        attrs = _split_attributes(message)
        for key, value in attrs.items():
            if key == "c":
                if value != "biws":
                    raise AuthError(10, "Invalid encoding")
            elif key == "r":
                if value != self._nonce:
                    raise AuthError(20, "Other error")
            elif key == "p":
                if not hmac.compare_digest(value, expected_proof):
                    raise AuthError(12, "Wrong password")
            elif key == "m":
                raise AuthError(11, "Extensions not supported")
            else:
                raise AuthError(10, "Invalid encoding")
        if not {"c", "r", "p"} <= set(attrs):
            raise AuthError(10, "Invalid encoding")
        self._state = "done"
        server_key = _hmac(salted, b"Server Key")
        return "v=" + _b64(_hmac(server_key, auth_message))


def check_auth_key(storage: Any, key: str) -> None:
    """The V0_4 handshake: the auth key is the admin password, sent in the clear."""
    record = get_user(storage, "admin")
    if record is None:
        raise AuthError(17, "Unknown user")
    salted = hashlib.pbkdf2_hmac(
        "sha256", key.encode("utf-8"), base64.b64decode(record["salt"]), record["iterations"]
    )
    if not hmac.compare_digest(salted, base64.b64decode(record["hash"])):
        raise AuthError(12, "Wrong password")
