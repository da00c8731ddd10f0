"""The driver's ``ssl={"ca_certs": path}`` on every loop type.

Our server speaks no TLS (deployments terminate it in front), so each test connects through a
TLS-terminating proxy started here: an asyncio server on its own thread, with a certificate
for 127.0.0.1 signed by a throwaway CA (trustme), relaying bytes to the plain test server.
Each loop runs one query returning a value and one returning a cursor of several batches,
each batch but the first larger than a TLS record (16 KiB of plaintext), so frames arrive
split over several records and reads. A certificate signed by another CA must be refused.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import threading

import pytest

from rethought import r
from rethought.errors import ReqlDriverError

trustme = pytest.importorskip("trustme")

HOST = "127.0.0.1"
ROWS = 20000  # r.range(ROWS): about 110 KB of JSON
BATCH = 5000  # max_batch_rows: 5 batches (the first is scaled down), ~30 KB each
TLS_RECORD = 16384  # the most plaintext one TLS record carries


class TlsProxy:
    """Accepts TLS on a free loopback port and relays the plaintext to ``upstream``."""

    def __init__(self, upstream: tuple[str, int], context: ssl.SSLContext) -> None:
        self.upstream = upstream
        self.relayed_down = 0  # plaintext bytes sent from the server to TLS clients
        self.loop = asyncio.new_event_loop()
        # A client refusing our certificate makes the handshake fail: expected, not news.
        self.loop.set_exception_handler(lambda loop, context: None)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        listening = asyncio.start_server(self._relay, HOST, 0, ssl=context)
        self.server = asyncio.run_coroutine_threadsafe(listening, self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _relay(self, client_in, client_out) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_out.close()
            return
        await asyncio.gather(
            self._pipe(client_in, server_out, down=False),
            self._pipe(server_in, client_out, down=True),
        )

    async def _pipe(self, reader, writer, down: bool) -> None:
        try:
            while data := await reader.read(1 << 16):
                if down:
                    self.relayed_down += len(data)
                writer.write(data)
                await writer.drain()
        except OSError:  # reset, or a TLS error (ssl.SSLError is an OSError)
            pass
        finally:
            writer.close()

    def close(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """(the proxy's CA file, another CA's file, the proxy's server-side SSL context)."""
    directory = tmp_path_factory.mktemp("tls")
    ca, other = trustme.CA(), trustme.CA()
    ca_path, other_path = directory / "ca.pem", directory / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    other.cert_pem.write_to_path(str(other_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return str(ca_path), str(other_path), context


@pytest.fixture(scope="module")
def proxy(server, certs):
    p = TlsProxy((server.host, server.port), certs[2])
    yield p
    p.close()


@pytest.fixture(scope="module")
def misnamed_proxy(server, tmp_path_factory):
    """(a proxy whose certificate names another host, its CA's file)."""
    ca = trustme.CA()
    ca_path = tmp_path_factory.mktemp("tls-misnamed") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("db.example.org").configure_cert(context)
    p = TlsProxy((server.host, server.port), context)
    yield p, str(ca_path)
    p.close()


@pytest.fixture
def ca(certs):
    return {"ca_certs": certs[0]}


@pytest.fixture
def wrong_ca(certs):
    return {"ca_certs": certs[1]}


@pytest.fixture
def relayed(proxy):
    """``relayed()``, after a test's queries: their rows came through the proxy's TLS, in
    more than a few records."""
    before = proxy.relayed_down

    def check() -> None:
        assert proxy.relayed_down - before > 4 * TLS_RECORD

    return check


EXPECTED = list(range(ROWS))


def could_not_connect(port: int) -> str:
    # The official driver's message on its asyncio and tornado loops (net_asyncio.py,
    # net_tornado.py) and what docs/async.md promises for every loop.
    return f"Could not connect to {HOST}:{port}. Error: "


def assert_refused(exc: BaseException, prefix: str) -> None:
    assert isinstance(exc, ReqlDriverError), repr(exc)
    message = str(exc)
    assert message.startswith(prefix), message
    assert "certificate verify failed" in message.lower(), message


# -- blocking (the default loop type) ------------------------------------------------------


def test_blocking(proxy, ca, relayed):
    with r.connect(host=HOST, port=proxy.port, ssl=ca) as conn:
        assert r.expr(1).run(conn) == 1
        assert list(r.range(ROWS).run(conn, max_batch_rows=BATCH)) == EXPECTED
        assert r.expr("still open").run(conn) == "still open"
    relayed()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the official driver's ssl use
def test_blocking_refuses_a_certificate_of_another_ca(proxy, wrong_ca, official_r):
    with pytest.raises(ReqlDriverError) as ours:
        r.connect(host=HOST, port=proxy.port, ssl=wrong_ca)
    # The official blocking driver says "SSL handshake failed (see server log for more
    # information): <ssl error>" here, not "Could not connect ...": ask it.
    with pytest.raises(official_r.ReqlDriverError) as theirs:
        official_r.connect(host=HOST, port=proxy.port, ssl=wrong_ca)
    official_prefix = str(theirs.value).split("): ", 1)[0] + "): "
    assert official_prefix.startswith("SSL handshake failed"), str(theirs.value)
    assert_refused(ours.value, official_prefix)


# -- asyncio, on the standard loop and on uvloop -------------------------------------------


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_factory(request):
    if request.param == "uvloop":
        return pytest.importorskip("uvloop").new_event_loop
    return None


def run_asyncio(scenario, loop_factory):
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(asyncio.wait_for(scenario(), 60))


def test_asyncio(proxy, ca, loop_factory, relayed):
    async def scenario():
        async with r.connect(host=HOST, port=proxy.port, ssl=ca, loop_type="asyncio") as conn:
            assert await r.expr(1).run(conn) == 1
            cursor = await r.range(ROWS).run(conn, max_batch_rows=BATCH)
            assert [row async for row in cursor] == EXPECTED
            assert await r.expr("still open").run(conn) == "still open"

    run_asyncio(scenario, loop_factory)
    relayed()


def test_asyncio_refuses_a_certificate_of_another_ca(proxy, wrong_ca, loop_factory):
    async def scenario():
        with pytest.raises(ReqlDriverError) as info:
            await r.connect(host=HOST, port=proxy.port, ssl=wrong_ca, loop_type="asyncio")
        return info.value

    assert_refused(run_asyncio(scenario, loop_factory), could_not_connect(proxy.port))


# -- trio -----------------------------------------------------------------------------------


def run_trio(scenario):
    trio = pytest.importorskip("trio")
    result = []

    async def bounded():
        with trio.fail_after(60):
            result.append(await scenario())

    trio.run(bounded)
    return result[0]


def test_trio(proxy, ca, relayed):
    async def scenario():
        async with r.connect(host=HOST, port=proxy.port, ssl=ca, loop_type="trio") as conn:
            assert await r.expr(1).run(conn) == 1
            async with await r.range(ROWS).run(conn, max_batch_rows=BATCH) as cursor:
                assert [row async for row in cursor] == EXPECTED
            assert await r.expr("still open").run(conn) == "still open"

    run_trio(scenario)
    relayed()


def test_trio_refuses_a_certificate_of_another_ca(proxy, wrong_ca):
    async def scenario():
        with pytest.raises(ReqlDriverError) as info:
            await r.connect(host=HOST, port=proxy.port, ssl=wrong_ca, loop_type="trio")
        return info.value

    assert_refused(run_trio(scenario), could_not_connect(proxy.port))


# -- Tornado (on asyncio) --------------------------------------------------------------------


def test_tornado(proxy, ca, relayed):
    pytest.importorskip("tornado")

    async def scenario():
        conn = await r.connect(host=HOST, port=proxy.port, ssl=ca, loop_type="tornado")
        try:
            assert await r.expr(1).run(conn) == 1
            cursor = await r.range(ROWS).run(conn, max_batch_rows=BATCH)
            rows = []
            while await cursor.fetch_next():
                rows.append(await cursor.next())
            assert rows == EXPECTED
            assert await r.expr("still open").run(conn) == "still open"
        finally:
            await conn.close(noreply_wait=False)

    asyncio.run(asyncio.wait_for(scenario(), 60))
    relayed()


def test_tornado_refuses_a_certificate_of_another_ca(proxy, wrong_ca):
    pytest.importorskip("tornado")

    async def scenario():
        with pytest.raises(ReqlDriverError) as info:
            await r.connect(host=HOST, port=proxy.port, ssl=wrong_ca, loop_type="tornado")
        return info.value

    assert_refused(asyncio.run(asyncio.wait_for(scenario(), 60)), could_not_connect(proxy.port))


# -- gevent ---------------------------------------------------------------------------------


def test_gevent(proxy, ca, relayed):
    pytest.importorskip("gevent")
    conn = r.connect(host=HOST, port=proxy.port, ssl=ca, loop_type="gevent")
    try:
        assert r.expr(1).run(conn) == 1
        assert list(r.range(ROWS).run(conn, max_batch_rows=BATCH)) == EXPECTED
        assert r.expr("still open").run(conn) == "still open"
    finally:
        conn.close(noreply_wait=False)
    relayed()


def test_gevent_refuses_a_certificate_of_another_ca(proxy, wrong_ca):
    pytest.importorskip("gevent")
    with pytest.raises(ReqlDriverError) as info:
        r.connect(host=HOST, port=proxy.port, ssl=wrong_ca, loop_type="gevent")
    assert_refused(info.value, could_not_connect(proxy.port))


# -- Twisted (in a child interpreter: a reactor runs once per process) -----------------------

TWISTED_PROGRAM = """
import json, sys
from twisted.internet import defer, reactor
from twisted.python.failure import Failure
from rethought import r

host, port, ca, other, rows, batch = sys.argv[1:]
port, rows, batch = int(port), int(rows), int(batch)
out, status = {}, []

@defer.inlineCallbacks
def main():
    conn = yield r.connect(host=host, port=port, ssl={"ca_certs": ca}, loop_type="twisted")
    out["one"] = yield r.expr(1).run(conn)
    cursor = yield r.range(rows).run(conn, max_batch_rows=batch)
    out["rows"] = []
    while (yield cursor.fetch_next()):
        out["rows"].append((yield cursor.next()))
    out["after"] = yield r.expr("still open").run(conn)
    yield conn.close()
    try:
        yield r.connect(host=host, port=port, ssl={"ca_certs": other}, loop_type="twisted")
    except Exception as exc:
        out["refused"] = [type(exc).__name__, str(exc)]

def done(result):
    if isinstance(result, Failure):
        sys.stderr.write(result.getTraceback())
        status.append(1)
    reactor.stop()

reactor.callWhenRunning(lambda: main().addBoth(done))
reactor.run()
print(json.dumps(out))
sys.exit(status[0] if status else 0)
"""


def test_twisted(proxy, certs, relayed):
    pytest.importorskip("twisted")
    pytest.importorskip("OpenSSL")  # Twisted's TLS: the twisted[tls] extra
    command = [sys.executable, "-c", TWISTED_PROGRAM, HOST, str(proxy.port)]
    command += [certs[0], certs[1], str(ROWS), str(BATCH)]
    child = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    out = json.loads(child.stdout)
    assert out["one"] == 1
    assert out["rows"] == EXPECTED
    assert out["after"] == "still open"
    relayed()
    kind, message = out.get("refused", [None, "connected with a certificate of another CA"])
    assert kind == "ReqlDriverError", message
    assert message.startswith(could_not_connect(proxy.port)), message
    assert "certificate verify failed" in message.lower(), message


def test_a_certificate_for_another_name_is_refused(misnamed_proxy):
    p, ca_path = misnamed_proxy
    with pytest.raises(ReqlDriverError) as info:
        r.connect(host=HOST, port=p.port, ssl={"ca_certs": ca_path})
    assert_refused(info.value, "SSL handshake failed (see server log for more information): ")

    async def scenario():
        with pytest.raises(ReqlDriverError) as info:
            await r.connect(host=HOST, port=p.port, ssl={"ca_certs": ca_path}, loop_type="asyncio")
        return info.value

    assert_refused(asyncio.run(scenario()), could_not_connect(p.port))


def test_proxy_is_tls_only(proxy):
    """The tests above go through TLS: the proxy's port refuses a plain connection."""
    with pytest.raises(ReqlDriverError):
        r.connect(host=HOST, port=proxy.port, timeout=5)
