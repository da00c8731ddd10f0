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

from ..system.users import ITERATIONS, SALT_LENGTH, get_user


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


def _same(claimed: str, expected: str) -> bool:
    """Constant-time equality; as bytes, since compare_digest refuses non-ASCII text."""
    return hmac.compare_digest(claimed.encode("utf-8", "surrogatepass"), expected.encode())


def _split_attributes(message: str) -> dict[str, str]:
    """``a=1,b=2`` -> {"a": "1", "b": "2"}: scram_authenticator.cc ``split_attributes``
    (one-letter keys, no repeats, a value runs to the next comma, a trailing comma ends it)."""
    attrs: dict[str, str] = {}
    offset, size = 0, len(message)
    while offset < size:
        equals = message.find("=", offset)
        if equals < 0 or equals - offset != 1 or message[offset] in attrs:
            raise AuthError(10, "Invalid encoding")
        comma = message.find(",", equals + 1)
        end = size if comma < 0 else comma
        attrs[message[offset]] = message[equals + 1 : end]
        offset = end + 1
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


# The salt shown to an unknown user: the same for every attempt on one name while the
# server runs (a known user's salt does not change either, so asking twice tells nothing).
_UNKNOWN_SALT_KEY = os.urandom(32)
_UNKNOWN_HASH = _b64(bytes(32))  # password_t::generate_password_for_unknown_user: zeros


def _unknown_user_record(name: str) -> dict[str, Any]:
    salt = _hmac(_UNKNOWN_SALT_KEY, name.encode("utf-8"))[:SALT_LENGTH]
    return {"salt": _b64(salt), "iterations": ITERATIONS, "hash": _UNKNOWN_HASH}


class ScramServer:
    """The server side of one SCRAM-SHA-256 exchange (two client messages), as RethinkDB's
    scram_authenticator.cc: attributes are checked in key order (its ``std::map``), so a
    replayed final message (an old nonce and its proof) fails on the proof: Wrong password.

    An unknown user costs the same work as a known one at each step (a dummy salt and hash,
    the same HMACs and proof comparison) before ``Unknown user`` is answered; RethinkDB
    answers it at once, which tells a prober by the time which names exist.
    """

    def __init__(self, storage: Any) -> None:
        self._storage = storage
        self._state = "first"
        self.username: str | None = None
        self._record: dict[str, Any] = {}
        self._known = False
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
            # RethinkDB's spelling.
            raise AuthError(20, "A previous error occured, no more messages expected.")
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
        for key in sorted(attrs):
            if key == "n":
                self.username = _saslname_decode(attrs["n"])
            elif key == "m":
                raise AuthError(11, "Extensions not supported")
            elif key != "r":
                raise AuthError(10, "Invalid encoding")
        if "n" not in attrs or "r" not in attrs:
            raise AuthError(10, "Invalid encoding")
        assert self.username is not None
        dummy = _unknown_user_record(self.username)  # computed for known users too: same work
        record = get_user(self._storage, self.username)
        self._known = record is not None
        self._record = record if record is not None else dummy
        salt = base64.b64decode(self._record["salt"])
        self._nonce = attrs["r"] + _b64(os.urandom(18))
        self._server_first = f"r={self._nonce},s={_b64(salt)},i={self._record['iterations']}"
        self._state = "final"
        return self._server_first

    def _final(self, message: str) -> str:
        salted = base64.b64decode(self._record["hash"])
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = message.split(",p=", 1)[0]
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message)
        expected_proof = _b64(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
        if not self._known:
            # The proof comparison a wrong password gets, then RethinkDB's answer.
            claimed = message.rpartition(",p=")[2] if ",p=" in message else ""
            _same(claimed, expected_proof)
            raise AuthError(17, "Unknown user")
        attrs = _split_attributes(message)
        for key in sorted(attrs):
            value = attrs[key]
            if key == "c":
                if value != "biws":
                    raise AuthError(10, "Invalid encoding")
            elif key == "r":
                if value != self._nonce:
                    raise AuthError(20, "Other error")  # RethinkDB has no specific error
            elif key == "p":
                if not _same(value, expected_proof):
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
