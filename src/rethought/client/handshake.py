"""Sans-IO client side of RethinkDB's V1_0 handshake (SCRAM-SHA-256, RFC 5802 / RFC 7677).

The exchange, every message a JSON document terminated by a NUL byte::

    client: <V1_0 magic, uint32 LE> {"protocol_version": 0, "authentication_method":
            "SCRAM-SHA-256", "authentication": "n,,n=<user>,r=<client nonce>"}
    server: {"success": true, "min_protocol_version": 0, "max_protocol_version": 0, ...}
    server: {"success": true, "authentication": "r=<nonce>,s=<salt>,i=<iterations>"}
    client: {"authentication": "c=biws,r=<nonce>,p=<client proof>"}
    server: {"success": true, "authentication": "v=<server signature>"}

The client sends its first message together with the magic number (no round trip for the
version). RethinkDB reports failures in its own ``{"success": false, "error_code": N}``
documents rather than SCRAM's ``e=`` attribute; codes 10..20 are authentication failures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

import orjson

from ..errors import ReqlAuthError, ReqlDriverError
from ..proto.ql2 import Version

__all__ = ["Handshake"]

PROTOCOL_VERSION = 0

# Salted passwords cost thousands of HMAC rounds; reconnects with the same credentials and
# salt can reuse them (the official driver caches them too).
_SALTED_CACHE: dict[tuple[bytes, bytes, int], bytes] = {}


def _saslname(user: str) -> bytes:
    # RFC 5802 5.1: "=" and "," in user names are escaped as =3D and =2C.
    return user.encode("utf-8").replace(b"=", b"=3D").replace(b",", b"=2C")


def _attributes(message: bytes) -> dict[bytes, bytes]:
    return dict(part.split(b"=", 1) for part in message.split(b",") if b"=" in part)


def _salted_password(password: bytes, salt: bytes, iterations: int) -> bytes:
    key = (password, salt, iterations)
    salted = _SALTED_CACHE.get(key)
    if salted is None:
        salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
        _SALTED_CACHE[key] = salted
    return salted


class Handshake:
    """The client's handshake state machine; it never touches a socket.

    ``initial_bytes()`` is what to send first; each NUL-terminated message from the server
    goes to ``receive(message)`` (without the NUL), which returns the bytes to send next
    (possibly empty). ``done`` turns true once the server's signature was verified.
    """

    def __init__(
        self, user: str = "admin", password: str = "", host: str = "", port: int = 0
    ) -> None:
        self.host = host
        self.port = port
        self._user = _saslname(user)
        self._password = password.encode("utf-8")
        self._nonce = base64.b64encode(os.urandom(18))
        self._client_first_bare = b"n=" + self._user + b",r=" + self._nonce
        self._server_signature = b""
        self._step = 0
        self.done = False
        self.server_version: str | None = None

    def initial_bytes(self) -> bytes:
        """The magic number and the client-first message."""
        first = {
            "protocol_version": PROTOCOL_VERSION,
            "authentication_method": "SCRAM-SHA-256",
            "authentication": "n,," + self._client_first_bare.decode("ascii"),
        }
        self._step = 1
        return struct.pack("<L", Version.V1_0) + orjson.dumps(first) + b"\0"

    def receive(self, message: bytes) -> bytes:
        """Consume one server message; return the bytes to send in reply."""
        doc = self._decode(message)
        if self._step == 1:
            self._check_version(doc)
            self._step = 2
            return b""
        if self._step == 2:
            self._step = 3
            return self._client_final(doc)
        if self._step == 3:
            self._verify_server(doc)
            self._step = 4
            self.done = True
            return b""
        raise ReqlDriverError("Unexpected handshake message after authentication.")

    def _auth_error(self, message: str) -> ReqlAuthError:
        return ReqlAuthError(message, self.host or None, self.port or None)

    def _decode(self, message: bytes) -> dict:
        try:
            doc = orjson.loads(message)
        except orjson.JSONDecodeError:
            # A pre-V1_0 server answers the magic number with plain text.
            text = message.decode("utf-8", "replace").strip()
            raise ReqlDriverError(f"Received an unexpected handshake reply: {text}") from None
        if type(doc) is not dict:
            raise ReqlDriverError(f"Received an unexpected handshake reply: {doc!r}")
        if not doc.get("success"):
            error = str(doc.get("error", "Unknown handshake error."))
            code = doc.get("error_code")
            if type(code) is int and 10 <= code <= 20:
                raise self._auth_error(error)
            raise ReqlDriverError(error)
        return doc

    def _check_version(self, doc: dict) -> None:
        low = doc.get("min_protocol_version", 0)
        high = doc.get("max_protocol_version", 0)
        if not low <= PROTOCOL_VERSION <= high:
            raise ReqlDriverError(
                f"Unsupported protocol version {PROTOCOL_VERSION}, "
                f"expected between {low} and {high}"
            )
        self.server_version = doc.get("server_version")

    def _client_final(self, doc: dict) -> bytes:
        server_first = str(doc.get("authentication", "")).encode("ascii")
        attrs = _attributes(server_first)
        nonce = attrs.get(b"r", b"")
        if not nonce.startswith(self._nonce):
            raise self._auth_error("Invalid nonce from server")
        try:
            salt = base64.b64decode(attrs[b"s"])
            iterations = int(attrs[b"i"])
        except (KeyError, ValueError) as exc:
            raise ReqlDriverError(f"Malformed SCRAM server-first message: {exc}") from None
        salted = _salted_password(self._password, salt, iterations)
        without_proof = b"c=biws,r=" + nonce
        auth_message = b",".join((self._client_first_bare, server_first, without_proof))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        client_signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, client_signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self._server_signature = hmac.digest(server_key, auth_message, "sha256")
        final = without_proof + b",p=" + base64.b64encode(proof)
        return orjson.dumps({"authentication": final.decode("ascii")}) + b"\0"

    def _verify_server(self, doc: dict) -> None:
        attrs = _attributes(str(doc.get("authentication", "")).encode("ascii"))
        try:
            signature = base64.b64decode(attrs[b"v"])
        except (KeyError, ValueError):
            signature = b""
        # Constant-time: a server that cannot prove it knows the password is an impostor.
        if not hmac.compare_digest(signature, self._server_signature):
            raise self._auth_error("Invalid server signature")
