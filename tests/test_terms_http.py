"""r.http against a local HTTP server started by the test (loopback only).

Most cases run through the engine directly; the last ones go through a real server to check
that a slow request suspends only its own query.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import rethinkdb

from engine_harness import error
from engine_harness import evaluate as run

pytest.importorskip("aiohttp")

from rethought.errors import ReqlNonExistenceError, ReqlQueryLogicError  # noqa: E402

r = rethinkdb.r
HANG_BOUND = 60  # seconds: only a broken build waits this long


class Handler(BaseHTTPRequestHandler):
    flaky_left = 0
    # ``/held`` answers only once the test sets ``release``; ``arrived`` tells it the request
    # is in. A bound keeps a broken test from hanging the suite; it is far above any wait.
    held_arrived = threading.Event()
    held_release = threading.Event()

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, status, body, ctype="application/json", extra=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data)
            except BrokenPipeError:  # the client timed out first, as a test intends
                pass

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path
        if path == "/json":
            self._send(200, '{"a": 1, "b": [1, 2.5]}')
        elif path == "/text":
            self._send(200, "hello", "text/plain")
        elif path == "/jsonp":
            self._send(200, 'callback({"x": 2});', "text/javascript")
        elif path == "/bin":
            self._send(200, b"\x00\x01\xff", "image/png")
        elif path == "/badjson":
            self._send(200, "{nope", "application/json")
        elif path == "/missing":
            self._send(404, "nope", "text/plain")
        elif path == "/redirect":
            self._send(302, "", "text/plain", [("Location", "/json")])
        elif path == "/flaky":
            if Handler.flaky_left > 0:
                Handler.flaky_left -= 1
                self._send(503, "busy", "text/plain")
            else:
                self._send(200, '"recovered"')
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, '"late"')
        elif path == "/held":
            Handler.held_arrived.set()
            Handler.held_release.wait(HANG_BOUND)
            self._send(200, '"late"')
        elif path == "/basic":
            expected = "Basic " + base64.b64encode(b"u:p").decode()
            if self.headers.get("Authorization") == expected:
                self._send(200, '"welcome"')
            else:
                self._send(401, "", "text/plain", [("WWW-Authenticate", 'Basic realm="x"')])
        elif path == "/pages":
            n = int(q.get("page", "1"))
            links = []
            if n < 3:
                links = [
                    ("Link", f'<http://{self.headers["Host"]}/pages?page={n + 1}>; rel="next"')
                ]
            self._send(200, json.dumps([n * 10, n * 10 + 1]), extra=links)
        else:
            self._echo(q)

    def _echo(self, q):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self._send(
            200,
            json.dumps(
                {
                    "method": self.command,
                    "path": urlsplit(self.path).path,
                    "query": q,
                    "raw_query": urlsplit(self.path).query,
                    "body": body,
                    "ctype": self.headers.get("Content-Type"),
                    "agent": self.headers.get("User-Agent"),
                    "x": self.headers.get("X-Test"),
                }
            ),
        )

    do_POST = do_PUT = do_PATCH = do_DELETE = _echo_dispatch = None  # replaced below

    def do_HEAD(self):
        self._send(200, "ignored", "text/plain")


def _echo_any(self):
    url = urlsplit(self.path)
    self._echo({k: v[0] for k, v in parse_qs(url.query).items()})


Handler.do_POST = Handler.do_PUT = Handler.do_PATCH = Handler.do_DELETE = _echo_any


@pytest.fixture(scope="module")
def base():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def error_of(query):
    return error(run, query, (ReqlNonExistenceError, ReqlQueryLogicError))


def test_result_formats(base):
    assert run(r.http(base + "/json")) == {"a": 1, "b": [1, 2.5]}
    assert run(r.http(base + "/text")) == "hello"
    assert run(r.http(base + "/jsonp")) == {"x": 2}
    assert run(r.http(base + "/json", result_format="text")) == '{"a": 1, "b": [1, 2.5]}'
    assert run(r.http(base + "/jsonp", result_format="jsonp")) == {"x": 2}
    assert run(r.http(base + "/text", result_format="binary")) == {
        "$reql_type$": "BINARY",
        "data": base64.b64encode(b"hello").decode(),
    }
    assert run(r.http(base + "/bin"))["$reql_type$"] == "BINARY"
    assert run(r.http(base + "/json", method="HEAD")) is None
    # A URL without a scheme is http, as with curl.
    assert run(r.http(base.removeprefix("http://") + "/json"))["a"] == 1


def test_http_errors(base):
    err = error_of(r.http(base + "/missing"))
    assert isinstance(err, ReqlNonExistenceError)
    assert err.message.startswith(f"Error in HTTP GET of `{base}/missing`: status code 404.")
    assert "\nheader:\n{" in err.message and err.message.endswith('\nbody:\n"nope"')
    assert run(r.http(base + "/missing").default("fallback")) == "fallback"
    err = error_of(r.http(base + "/badjson"))
    assert err.message.startswith(
        f"Error in HTTP GET of `{base}/badjson`: failed to parse JSON response: Invalid value."
    )
    err = error_of(r.http(base + "/slow", timeout=0.2))
    assert err.message == f"Error in HTTP GET of `{base}/slow`: timed out after 0.200 seconds."
    err = error_of(r.http(base + "/json", attempts=0))
    assert err.message.endswith(
        "could not perform, no attempts allowed.\nheader:\nnull\nbody:\nnull"
    )
    err = error_of(r.http("http://127.0.0.1:9/", attempts=1))
    # the worker's result starts with a null header and body (http_job.cc): both are printed
    assert err.message == (
        "Error in HTTP GET of `http://127.0.0.1:9/`: could not connect to server."
        "\nheader:\nnull\nbody:\nnull"
    )


def test_option_errors(base):
    cases = [
        (
            r.http(base, method="FOO"),
            "`method` (FOO) is not recognized (GET, HEAD, POST, PUT, "
            "PATCH and DELETE are allowed).",
        ),
        (
            r.http(base, result_format="xml"),
            "`result_format` (xml) is not recognized, ('auto', "
            "'json', 'jsonp', 'text', and 'binary' are allowed).",
        ),
        (
            r.http(base, data={"a": 1}),
            "`data` should only be specified on a PUT, POST, PATCH, "
            "or DELETE request.  If you want URL parameters, use `params` instead.",
        ),
        (r.http(base, params=1), "Expected `params` to be an OBJECT, but found NUMBER:\n1"),
        (
            r.http(base, params={"a": [1]}),
            "Expected `params.a` to be a NUMBER, STRING or NULL, but found ARRAY:\n[\n\t1\n]",
        ),
        (r.http(base, header=1), "Expected `header` to be an ARRAY or OBJECT, but found NUMBER."),
        (r.http(base, header=["a\nb"]), "A `header` item contains newline characters."),
        (r.http(base, timeout=-1), "`timeout` may not be negative."),
        (r.http(base, auth={"user": "u"}), "`auth.pass` not found in the auth object."),
        (
            r.http(base, auth={"type": "x", "user": "u", "pass": "p"}),
            "`auth.type` is not recognized ('basic', and 'digest' are allowed).",
        ),
        (
            r.http(base, page="link-next"),
            "Cannot use `page` without specifying `page_limit` "
            "(a positive number performs that many requests, -1 is unlimited).",
        ),
        (
            r.http(base, page="other", page_limit=1),
            "`page` method 'other' not recognized, only 'link-next' is available.",
        ),
        (
            r.http(base, page="link-next", page_limit=-2),
            "`page_limit` should be greater than or equal to -1.",
        ),
    ]
    for query, message in cases:
        assert error_of(query).message == message


def test_request_options(base):
    out = run(r.http(base + "/echo", params={"q": "a b&c", "n": 1.5, "z": None}))
    assert out["raw_query"] == "n=1.5&q=a%20b%26c&z="
    # http.cc print_http_param: numbers are C's %.20g, not the JSON form
    out = run(r.http(base + "/echo", params={"a": 0.1, "b": 1e21, "c": 3}))
    assert out["raw_query"] == "a=0.10000000000000000555&b=1e%2B21&c=3"
    out = run(r.http(base + "/echo", method="POST", data={"x": 0.1}))
    assert out["body"] == "x=0.10000000000000000555"
    assert out["agent"].startswith("Rethought/")
    out = run(r.http(base + "/echo", method="POST", data={"k": "v w", "n": 2}))
    assert (out["method"], out["body"]) == ("POST", "k=v%20w&n=2")
    assert out["ctype"] == "application/x-www-form-urlencoded"
    out = run(r.http(base + "/echo", method="PUT", data={"a": [1, 2]}))
    # datum_t::print(): tab-indented, as RethinkDB sends a JSON body
    body = '{\n\t"a":\t[\n\t\t1,\n\t\t2\n\t]\n}'
    assert (out["method"], out["body"], out["ctype"]) == ("PUT", body, "application/json")
    out = run(r.http(base + "/echo", method="PATCH", data="raw", header={"X-Test": "yes"}))
    assert (out["method"], out["body"], out["x"]) == ("PATCH", "raw", "yes")
    out = run(r.http(base + "/echo", header=["X-Test: line"], method="DELETE"))
    assert (out["method"], out["x"]) == ("DELETE", "line")


def test_redirects_retries_and_auth(base):
    assert run(r.http(base + "/redirect")) == {"a": 1, "b": [1, 2.5]}
    err = error_of(r.http(base + "/redirect", redirects=0))
    assert "status code 302." in err.message
    Handler.flaky_left = 2
    assert run(r.http(base + "/flaky")) == "recovered"
    Handler.flaky_left = 5
    assert "status code 503." in error_of(r.http(base + "/flaky", attempts=2)).message
    Handler.flaky_left = 0
    assert run(r.http(base + "/basic", auth={"user": "u", "pass": "p"})) == "welcome"
    assert "status code 401." in error_of(r.http(base + "/basic")).message


def test_pagination(base):
    url = base + "/pages"
    assert run(r.http(url, page="link-next", page_limit=-1)) == [10, 11, 20, 21, 30, 31]
    assert run(r.http(url, page="link-next", page_limit=2)) == [10, 11, 20, 21]
    assert run(r.http(url, page="link-next", page_limit=0)) == []
    by_params = r.http(
        url,
        params={"page": 1},
        page=lambda info: r.branch(
            info["params"]["page"] < 2, {"params": {"page": info["params"]["page"] + 1}}, None
        ),
        page_limit=5,
    )
    assert run(by_params) == [10, 11, 20, 21]
    assert run(r.http(url, page="link-next", page_limit=-1).limit(3)) == [10, 11, 20]
    err = error_of(r.http(url, page=lambda info: 5, page_limit=3))
    assert err.message.startswith(
        f"Error in HTTP GET of `{url}`: Expected `page` to return an OBJECT, but found NUMBER..\n"
        "Error occurred during `page` called with:\n"
    )
    # http.cc handle_depage_result: a pseudo-type is an R_OBJECT, looked up for url / params
    err = error_of(r.http(url, page=lambda info: r.epoch_time(0), page_limit=3))
    assert err.message.startswith(
        f"Error in HTTP GET of `{url}`: OBJECT returned by `page` must contain `url` and/or "
        "`params` fields..\n"
    )


def test_http_does_not_block_the_server(server, base):
    """While one connection waits on a held URL, another is answered before it is released."""
    slow = r.connect(host=server.host, port=server.port)
    fast = r.connect(host=server.host, port=server.port)
    Handler.held_arrived.clear()
    Handler.held_release.clear()
    results = {}

    def fetch():
        results["slow"] = r.http(base + "/held").run(slow)

    t = threading.Thread(target=fetch, daemon=True)
    t.start()
    try:
        assert Handler.held_arrived.wait(HANG_BOUND), "the server never made the request"
        # Ordering, not timing: both answers come while the HTTP request is still held.
        assert r.expr(1).run(fast) == 1
        assert r.http(base + "/json")["a"].run(fast) == 1
        assert r.expr([1, 2]).map(lambda x: r.http(base + "/json")["a"] + x).run(fast) == [2, 3]
        # A server that blocked would have answered only after the handler gave up waiting.
        assert t.is_alive() and "slow" not in results
    finally:
        Handler.held_release.set()
        t.join(HANG_BOUND)  # before closing: the official driver is not thread-safe
        slow.close()
        fast.close()
    assert results["slow"] == "late"
