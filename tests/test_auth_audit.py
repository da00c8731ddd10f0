"""Authentication under attack (issue 17): replayed SCRAM messages, unknown users costing the
same work as wrong passwords, RethinkDB's attribute order and wording, secrets kept out of
the logs.

The expected codes and texts are scram_authenticator.cc's (RethinkDB 2.4.4): it reads the
attributes of a message in key order (a ``std::map<char, ...>``), so of a final message
``c`` is checked before ``p`` before ``r``: a replayed final (an old nonce and its proof)
fails on the proof, ``Wrong password`` (12). The official drivers turn error codes 10-20
into ``ReqlAuthError``.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import sys
import threading

import pytest

from conftest import ServerProcess
from fuzz_harness import scram_client_first, scram_final
from test_protocol import V1_0, _recv_until_nul

PASSWORD = "Audit-pa55-word"


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("auth_audit") / "data")
    srv = ServerProcess(directory, extra=["--initial-password", PASSWORD]).start()
    yield srv
    srv.stop()


def _first(sock: socket.socket, first_bare: str) -> dict:
    msg = {"protocol_version": 0, "authentication_method": "SCRAM-SHA-256",
           "authentication": "n,," + first_bare}  # fmt: skip
    sock.sendall(struct.pack("<I", V1_0) + json.dumps(msg).encode() + b"\0")
    assert json.loads(_recv_until_nul(sock))["success"] is True
    return json.loads(_recv_until_nul(sock))


def _final(sock: socket.socket, final: str) -> dict:
    sock.sendall(json.dumps({"authentication": final}).encode() + b"\0")
    return json.loads(_recv_until_nul(sock))


def _connect(srv: ServerProcess) -> socket.socket:
    return socket.create_connection((srv.host, srv.port), timeout=10)


WRONG = {"success": False, "error": "Wrong password", "error_code": 12}


def test_replayed_final_message_is_refused(locked):
    first_bare, _ = scram_client_first()
    with _connect(locked) as s:
        server_first = _first(s, first_bare)["authentication"]
        final = scram_final(PASSWORD, first_bare, server_first)
        assert _final(s, final)["success"] is True
    # The same client nonce and final message again: the server's nonce is new.
    with _connect(locked) as s:
        again = _first(s, first_bare)["authentication"]
        assert again != server_first
        assert _final(s, final) == WRONG


def test_foreign_nonce_with_a_valid_proof_is_other_error(locked):
    # A proof computed over a final message whose nonce is not the server's: the proof
    # checks out, the nonce does not (RethinkDB: "There's no specific error for invalid nonce").
    first_bare, nonce = scram_client_first()
    with _connect(locked) as s:
        server_first = _first(s, first_bare)["authentication"]
        forged = server_first.replace(nonce, base64.b64encode(os.urandom(18)).decode(), 1)
        final = scram_final(PASSWORD, first_bare, forged)
        # scram_final signs forged (its own server-first); sign what the server holds instead
        import hashlib
        import hmac

        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))  # fmt: skip
        without_proof = final.split(",p=")[0]
        auth_message = f"{first_bare},{server_first},{without_proof}".encode()
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        sig = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256).digest()
        proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig, strict=True)))
        reply = _final(s, f"{without_proof},p={proof.decode()}")
        assert reply == {"success": False, "error": "Other error", "error_code": 20}


def test_replayed_final_through_the_official_driver(locked, official_r):
    """The official driver's own final message, recorded by a proxy and sent again in place
    of the next connection's: the driver raises ReqlAuthError with RethinkDB's text."""
    recorded: list[bytes] = []

    def serve_one(listener: socket.socket, replay: bool) -> None:
        client, _ = listener.accept()
        upstream = _connect(locked)

        def until_nuls(sock: socket.socket, count: int) -> bytes:
            buf = b""
            while buf.count(b"\0") < count:
                data = sock.recv(65536)
                if not data:
                    break
                buf += data
            return buf

        # magic + first message; the server's hello and server-first; the final message.
        upstream.sendall(until_nuls(client, 1))
        client.sendall(until_nuls(upstream, 2))
        final = until_nuls(client, 1)
        if replay:
            final = recorded[0]
        else:
            recorded.append(final)
        upstream.sendall(final)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for x in (src, dst):
                    try:
                        x.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    for replay in (False, True):
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        t = threading.Thread(target=serve_one, args=(listener, replay), daemon=True)
        t.start()
        try:
            if replay:
                with pytest.raises(official_r.ReqlAuthError, match="Wrong password"):
                    official_r.connect(host="127.0.0.1", port=port, password=PASSWORD)
            else:
                conn = official_r.connect(host="127.0.0.1", port=port, password=PASSWORD)
                assert official_r.expr(1).run(conn) == 1
                conn.close()
        finally:
            listener.close()


def test_unknown_user_salt_does_not_change_between_attempts(locked):
    # A known user's salt is fixed; an unknown name must not answer with a fresh one each
    # time (that would tell a prober which names exist before any proof is checked).
    def salt_of(user: str) -> tuple[str, str]:
        with _connect(locked) as s:
            attrs = dict(kv.split("=", 1) for kv in _first(s, f"n={user},r=abc")["authentication"]
                         .split(","))  # fmt: skip
            return attrs["s"], attrs["i"]

    assert salt_of("admin") == salt_of("admin")
    assert salt_of("mallory") == salt_of("mallory")
    assert salt_of("mallory")[1] == "4096"
    assert len(base64.b64decode(salt_of("mallory")[0])) == 16
    assert salt_of("mallory") != salt_of("trudy")


def test_unknown_user_answered_after_the_proof(locked):
    for final in ("c=biws,r=x,p=AAAA", "garbage", "c=biws,r=x"):
        with _connect(locked) as s:
            _first(s, "n=mallory,r=abc")
            assert _final(s, final) == {"success": False, "error": "Unknown user", "error_code": 17}


def test_non_ascii_proof_is_a_wrong_password(locked):
    first_bare, _ = scram_client_first()
    with _connect(locked) as s:
        server_first = _first(s, first_bare)["authentication"]
        final = scram_final(PASSWORD, first_bare, server_first).split(",p=")[0] + ",p=\u00e9t\u00e9"
        assert _final(s, final) == WRONG


@pytest.mark.parametrize(
    "first_bare, code, message",
    [
        # key order: n is decoded (and fails) before the unknown key z is seen
        ("n=ad=ZZmin,r=abc,z=1", 18, "Invalid username encoding"),
        ("a=1,m=x,n=admin,r=abc", 10, "Invalid encoding"),  # a before m
        ("m=x,n=admin,r=abc", 11, "Extensions not supported"),
        ("n=admin", 10, "Invalid encoding"),
        ("n=admin,n=admin,r=abc", 10, "Invalid encoding"),
    ],
)
def test_client_first_attributes_in_key_order(locked, first_bare, code, message):
    with _connect(locked) as s:
        assert _first(s, first_bare) == {"success": False, "error": message, "error_code": code}


def test_trailing_comma_ends_the_attributes(locked):
    # split_attributes stops at a comma that ends the message.
    with _connect(locked) as s:
        first_bare = "n=admin,r=abc"
        server_first = _first(s, first_bare + ",")["authentication"]
        assert server_first.startswith("r=abc")


def test_final_attributes_in_key_order(locked):
    # m sorts between c and p: with a wrong proof too, m is reported first.
    first_bare, _ = scram_client_first()
    with _connect(locked) as s:
        server_first = _first(s, first_bare)["authentication"]
        nonce = server_first.split(",")[0][2:]
        reply = _final(s, f"c=biws,m=1,r={nonce},p=AAAA")
        assert reply == {"success": False, "error": "Extensions not supported", "error_code": 11}


# -- the work per attempt, counted -------------------------------------------------------

_CRYPTO_MODULES = {"_hashlib", "hmac", "hashlib", "_hmac", "_operator"}


def _crypto_calls(fn) -> list[str]:
    """The hashing and comparison calls ``fn()`` makes, in order (sys.setprofile)."""
    calls: list[str] = []

    def prof(frame, event, arg):
        if event == "c_call":
            mod = getattr(arg, "__module__", None) or ""
            name = getattr(arg, "__qualname__", getattr(arg, "__name__", "?"))
            if mod in _CRYPTO_MODULES or name in ("urandom", "compare_digest"):
                calls.append(f"{mod}.{name}")
        elif event == "call" and frame.f_globals.get("__name__") in ("hmac", "hashlib"):
            calls.append(f"{frame.f_globals['__name__']}.{frame.f_code.co_name}")

    sys.setprofile(prof)
    try:
        fn()
    except Exception as e:
        calls.append(f"raised {type(e).__name__}")
    finally:
        sys.setprofile(None)
    return calls


def test_unknown_user_costs_the_same_work_as_a_wrong_password(tmp_path):
    """RethinkDB answers an unknown user at once, a wrong password after the proof: the
    time tells which names exist. Here both do the same hashing, step by step (counted
    calls, not timings)."""
    from rethought.server.query.terms.indexes import index_function
    from rethought.server.storage import Storage
    from rethought.server.system import users
    from rethought.server.wire.auth import AuthError, ScramServer

    storage = Storage(str(tmp_path / "data"), index_compiler=index_function)
    try:
        users.set_password(storage, "alice", "right")
        steps: dict[str, list[list[str]]] = {}
        for who in ("alice", "mallory"):
            scram = ScramServer(storage)
            first_bare = f"n={who},r=clientnonce"
            out: dict[str, str] = {}

            def begin(s=scram, fb=first_bare, o=out):
                o["sf"] = s.next_message("n,," + fb)

            first = _crypto_calls(begin)
            final = scram_final("wrong", first_bare, out["sf"])
            errors: list[AuthError] = []

            def last(s=scram, f=final, e=errors):
                try:
                    s.next_message(f)
                except AuthError as err:
                    e.append(err)
                    raise

            steps[who] = [first, _crypto_calls(last)]
            assert errors, who
        assert steps["alice"][0] == steps["mallory"][0]
        assert steps["alice"][1] == steps["mallory"][1]
        assert any("hmac" in c for c in steps["mallory"][1])
        assert any("compare_digest" in c for c in steps["mallory"][1])
    finally:
        storage.close()


def test_previous_error_wording(tmp_path):
    from rethought.server.query.terms.indexes import index_function
    from rethought.server.storage import Storage
    from rethought.server.wire.auth import AuthError, ScramServer

    storage = Storage(str(tmp_path / "data"), index_compiler=index_function)
    try:
        scram = ScramServer(storage)
        with pytest.raises(AuthError):
            scram.next_message("p=x,,n=admin,r=abc")
        with pytest.raises(AuthError) as e:
            scram.next_message("c=biws,r=abc,p=x")
        # RethinkDB's text, its spelling included.
        assert (e.value.code, e.value.message) == (
            20, "A previous error occured, no more messages expected.")  # fmt: skip
    finally:
        storage.close()


# -- secrets -----------------------------------------------------------------------------


def test_admin_password_in_no_log_file(tmp_path, official_r):
    """--initial-password and a later password change reach neither the --log-file, nor the
    data directory's log_file, nor the server's output; the directory is owner-only."""
    import stat

    secret, changed = "Initial-S3cret-xyz", "Changed-S3cret-abc"
    log_file = tmp_path / "server.log"
    directory = tmp_path / "data"
    srv = ServerProcess(str(directory),
                        extra=["--initial-password", secret, "--log-file", str(log_file)])  # fmt: skip
    srv.start()
    try:
        conn = official_r.connect(host=srv.host, port=srv.port, password=secret)
        official_r.db("rethinkdb").table("users").get("admin").update({"password": changed}).run(
            conn
        )
        official_r.db("rethinkdb").table("users").insert({"id": "bob", "password": changed}).run(
            conn
        )
        with pytest.raises(official_r.ReqlAuthError):
            official_r.connect(host=srv.host, port=srv.port, user="bob", password=secret)
        logs = official_r.db("rethinkdb").table("logs").coerce_to("array").run(conn)
        conn.close()
    finally:
        srv.stop()
    texts = {
        "--log-file": log_file.read_text(),
        "log_file": (directory / "log_file").read_text(),
        "output": srv.log(),
        "rethinkdb.logs": json.dumps(logs, default=str),
    }
    assert "Server ready" in texts["--log-file"] and "Server ready" in texts["log_file"]
    for where, text in texts.items():
        for pw in (secret, changed):
            assert pw not in text, f"password in {where}"
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_data_directory_created_owner_only_with_a_permissive_umask(tmp_path):
    """Created 0700 whatever the umask, parents included only as the umask says."""
    import stat

    directory = tmp_path / "a" / "b" / "data"
    srv = ServerProcess(str(directory))
    srv.log_path = str(tmp_path / "server.log")  # not in the directory the server must make
    old = os.umask(0)
    try:
        srv.start()
    finally:
        os.umask(old)
    srv.stop()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for name in os.listdir(directory):
        mode = stat.S_IMODE(os.stat(directory / name).st_mode)
        assert mode & 0o077 == 0, f"{name}: {oct(mode)}"
