"""TLS served by `rethought serve` itself, with RethinkDB's options: --driver-tls-key /
--driver-tls-cert (TLS only on the driver port), --driver-tls-ca (client certificates
required), --tls-min-protocol, --tls-ciphers, --http-tls-key / --http-tls-cert for the web
console; the official Python driver's ``ssl={"ca_certs": ...}`` and ours; plaintext to a TLS
port fails cleanly. Option errors are RethinkDB's (command_line.cc)."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import subprocess
import sys
import urllib.request

import pytest

from conftest import ServerProcess, free_port
from fuzz_harness import scram_client_first, scram_final

trustme = pytest.importorskip("trustme")
V1_0 = 0x34C2BDC3


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.org")
    files = {
        "ca": d / "ca.pem",
        "other_ca": d / "other.pem",
        "key": d / "key.pem",
        "cert": d / "cert.pem",
        "client": d / "client.pem",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    other.cert_pem.write_to_path(str(files["other_ca"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    with open(files["cert"], "wb") as f:
        for blob in server.cert_chain_pems:
            f.write(blob.bytes())
    server_files = {k: str(v) for k, v in files.items()}
    client.private_key_and_cert_chain_pem.write_to_path(server_files["client"])
    return server_files


def _tls_server(tmp_path, pki, *extra: str) -> ServerProcess:
    flags = ["--driver-tls-key", pki["key"], "--driver-tls-cert", pki["cert"], *extra]
    return ServerProcess(str(tmp_path / "data"), extra=flags).start()


def _handshake(sock: socket.socket) -> dict:
    """A V1_0 SCRAM handshake as admin without password; the server's last message."""
    first_bare, _ = scram_client_first()
    msg = {"protocol_version": 0, "authentication_method": "SCRAM-SHA-256",
           "authentication": "n,," + first_bare}  # fmt: skip
    sock.sendall(struct.pack("<I", V1_0) + json.dumps(msg).encode() + b"\0")
    f = sock.makefile("rb")

    def read() -> dict:
        buf = b""
        while not buf.endswith(b"\0"):
            c = f.read(1)
            if not c:
                raise ConnectionError("closed")
            buf += c
        return json.loads(buf[:-1])

    read()
    reply = read()
    final = scram_final("", first_bare, reply["authentication"])
    sock.sendall(json.dumps({"authentication": final}).encode() + b"\0")
    return read()


def _client_context(pki, cert: bool = False, **kw) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki["ca"])
    if cert:
        ctx.load_cert_chain(pki["client"])
    for k, v in kw.items():
        setattr(ctx, k, v) if k != "ciphers" else ctx.set_ciphers(v)
    return ctx


def test_official_and_our_driver_over_tls(tmp_path, pki, official_r):
    srv = _tls_server(tmp_path, pki)
    try:
        conn = official_r.connect(host=srv.host, port=srv.port, ssl={"ca_certs": pki["ca"]})
        assert official_r.range(3).coerce_to("array").run(conn) == [0, 1, 2]
        conn.close()
        from rethought import r

        with r.connect(host=srv.host, port=srv.port, ssl={"ca_certs": pki["ca"]}) as c:
            assert r.expr("tls").run(c) == "tls"
        # A CA that did not sign the server's certificate: the client refuses.
        with pytest.raises(official_r.errors.ReqlDriverError, match="(?i)certificate verify"):
            official_r.connect(host=srv.host, port=srv.port, ssl={"ca_certs": pki["other_ca"]})
        # Plaintext to the TLS port: the handshake fails and the connection closes, promptly.
        with pytest.raises(official_r.errors.ReqlDriverError):
            official_r.connect(host=srv.host, port=srv.port, timeout=10)
        with socket.create_connection((srv.host, srv.port), timeout=10) as s:
            s.sendall(struct.pack("<I", V1_0) + b'{"protocol_version":0}\0')
            try:
                data = s.recv(4096)
                assert not data.startswith(b"{"), data  # no plaintext answer
            except ConnectionResetError:
                pass
        conn = official_r.connect(host=srv.host, port=srv.port, ssl={"ca_certs": pki["ca"]})
        assert official_r.expr(1).run(conn) == 1  # still serving
        conn.close()
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()


def test_client_certificates_required_with_driver_tls_ca(tmp_path, pki):
    srv = _tls_server(tmp_path, pki, "--driver-tls-ca", pki["ca"])
    try:
        with socket.create_connection((srv.host, srv.port), timeout=10) as raw:
            with _client_context(pki, cert=True).wrap_socket(raw, server_hostname="127.0.0.1") as s:
                assert _handshake(s)["success"] is True
        with socket.create_connection((srv.host, srv.port), timeout=10) as raw:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                with _client_context(pki).wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    _handshake(s)  # TLS 1.3: the refusal arrives with the first read
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()


def test_tls_ciphers_and_min_protocol(tmp_path, pki):
    only = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
    srv = _tls_server(tmp_path, pki, "--tls-ciphers", only, "--tls-min-protocol", "TLSv1.2")
    try:
        tls12 = {"maximum_version": ssl.TLSVersion.TLSv1_2}
        ok = _client_context(pki, ciphers="ECDHE+AESGCM", **tls12)
        with socket.create_connection((srv.host, srv.port), timeout=10) as raw:
            with ok.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                assert "AES256-GCM" in s.cipher()[0]
                assert _handshake(s)["success"] is True
        refused = _client_context(pki, ciphers="ECDHE+AES128", **tls12)
        with socket.create_connection((srv.host, srv.port), timeout=10) as raw:
            with pytest.raises(ssl.SSLError):
                refused.wrap_socket(raw, server_hostname="127.0.0.1")
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--driver-tls-key", "k.pem"], "--driver-tls-key and --driver-tls-cert must be "
         "specified together."),
        (["--driver-tls-ca", "ca.pem"], "--driver-tls-key and --driver-tls-cert must be "
         "specified if --driver-tls-ca is specified."),
        (["--http-tls-cert", "c.pem"], "--http-tls-key and --http-tls-cert must be specified "
         "together."),
        (["KEYS", "--tls-min-protocol", "TLSv1.3"], "Unrecognized TLS protocol version "
         "'TLSv1.3'."),
        (["KEYS", "--tls-ciphers", "NOSUCHCIPHER"], "No secure cipher suites available."),
        (["KEYS", "--tls-ecdh-curve", "nocurve"], "No elliptic curve found corresponding to "
         "name 'nocurve'."),
    ],
)  # fmt: skip
def test_tls_option_errors(tmp_path, pki, flags, message):
    if flags[0] == "KEYS":
        flags = ["--driver-tls-key", pki["key"], "--driver-tls-cert", pki["cert"], *flags[1:]]
    proc = subprocess.run(
        [sys.executable, "-m", "rethought", "serve", "--directory", str(tmp_path / "d"),
         "--driver-port", str(free_port()), "--no-http-admin", *flags],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert message in proc.stderr, proc.stderr
    assert not (tmp_path / "d").exists()  # refused before touching the data directory


def test_web_console_over_tls(tmp_path, pki):
    port = free_port()
    srv = ServerProcess(
        str(tmp_path / "data"),
        extra=["--http-port", str(port), "--http-tls-key", pki["key"],
               "--http-tls-cert", pki["cert"]],
    ).start()  # fmt: skip
    try:
        ctx = ssl.create_default_context(cafile=pki["ca"])
        for _ in range(100):  # the console starts listening just after the driver port
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/", context=ctx) as resp:
                    assert resp.status == 200
                break
            except urllib.error.URLError as e:
                if not isinstance(e.reason, ConnectionRefusedError):
                    raise
                import time

                time.sleep(0.1)
        else:
            raise AssertionError("the console never listened")
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read()
    finally:
        srv.stop()


def test_official_javascript_driver_over_tls(tmp_path, pki):
    import shutil
    from pathlib import Path

    js = Path(__file__).resolve().parent / "js"
    if shutil.which("node") is None or not (js / "node_modules" / "rethinkdb").is_dir():
        pytest.skip("node or the rethinkdb npm package is missing (.ci/run installs them)")
    srv = _tls_server(tmp_path, pki)
    try:
        out = subprocess.run(
            ["node", str(js / "tls.js"), str(srv.port), pki["ca"]],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        srv.stop()
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    # The JS driver sends its 4-byte magic alone and waits: a TLS server waits for a record
    # header, so plaintext ends in the driver's timeout (RethinkDB behaves the same).
    assert got == {"v": [1, 2], "plain": "ReqlTimeoutError"}
