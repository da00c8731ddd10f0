"""The network side of ``r.http``: one request (with retries) through aiohttp, and the
response turned into RethinkDB's result: a parsed body, lower-cased headers (``Link`` parsed
into ``{rel: url}``), cookies for the next page, or an error string as RethinkDB words it.

It runs as a coroutine on the server's event loop (``suspend.block_on``), so a slow server
holds up only the query waiting for it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import re2

from .... import datum
from ....version import __version__

USER_AGENT = f"Rethought/{__version__} (RethinkDB-compatible)"
_RETRY_STATUS = frozenset({408, 500, 502, 503, 504})
# RethinkDB's link-header and JSONP grammars (``http_job.cc``); RE2 for the \p classes.
_LINK = re2.compile(r"^\s*<([^>]*)>\s*(?:;\s*([^,]+)\s*(?:,|$))")
_IDENT = (
    r"\s*[$_\p{Ll}\p{Lt}\p{Lu}\p{Lm}\p{Lo}\p{Nl}]"
    r"[$_\p{Ll}\p{Lt}\p{Lu}\p{Lm}\p{Lo}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]*\s*"
)
_CALL, _END = r"\(((?s).*)\)", r"\s*;?\s*"
_JSONP = [
    re2.compile(_IDENT + _CALL + _END),
    re2.compile(_IDENT + r"\." + _IDENT + _CALL + _END),
    re2.compile(_IDENT + r"\[\s*['\"].*['\"]\s*\]\s*" + _CALL + _END),
]


@dataclass
class Request:
    """Validated ``r.http`` options (see ``http.py`` for their checks)."""

    url: str
    method: str = "GET"
    params: dict[str, Any] = field(default_factory=dict)
    header: list[tuple[str, str | None]] = field(default_factory=list)
    data: bytes | None = None
    form: dict[str, str] | None = None
    result_format: str = "auto"
    timeout_ms: int = 30000
    attempts: int = 5
    redirects: int = 1
    verify: bool = True
    auth: tuple[str, str, str] | None = None  # (type, user, pass)
    cookies: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    header: Any = None  # an object datum, or None when none was received
    body: Any = None
    has_body: bool = False
    error: str = ""
    cookies: dict[str, str] = field(default_factory=dict)
    # False only for a timeout: RethinkDB's worker starts every result with a null header
    # and body (http_job.cc), so any error it returns prints both; a timeout is raised
    # outside the worker (http_runner.cc) and prints neither.
    from_worker: bool = True


def param_text(v: Any) -> str:
    """A NUMBER, STRING or NULL as RethinkDB writes it into a URL or form.

    Numbers are C's ``%.20g`` (http.cc print_http_param, http_job.cc form fields): ``0.1``
    goes out as ``0.10000000000000000555``, ``1e21`` as ``1e+21``.
    """
    if v is None:
        return ""
    if type(v) is str:
        return v
    return f"{float(v):.20g}"


def _encode_fields(fields: dict[str, Any]) -> str:
    # curl_easy_escape leaves only [A-Za-z0-9-._~] unescaped; keys in std::map order.
    return "&".join(
        f"{quote(k, safe='')}={quote(param_text(fields[k]), safe='')}" for k in sorted(fields)
    )


def full_url(url: str, params: dict[str, Any]) -> str:
    """The URL with ``params`` appended as RethinkDB (``transfer_url_opt``) appends them."""
    if "://" not in url:
        url = "http://" + url  # curl's default scheme
    encoded = _encode_fields(params)
    if not encoded:
        return url
    q, slash = url.rfind("?"), url.rfind("/")
    if q == -1 or slash > q:
        url += "?"
    else:
        url += "&"
    return url + encoded


async def perform(req: Request) -> Response:
    """Run the request, retrying transient failures; the timeout covers every attempt."""
    ms = req.timeout_ms
    try:
        async with asyncio.timeout(ms / 1000):
            return await _attempts(req)
    except TimeoutError:
        return Response(
            error=f"timed out after {ms // 1000}.{ms % 1000:03d} seconds", from_worker=False
        )


async def _attempts(req: Request) -> Response:
    import aiohttp

    if req.attempts == 0:
        return Response(error="could not perform, no attempts allowed")
    url = full_url(req.url, req.params)
    if not url.lower().startswith(("http://", "https://")):
        return Response(error="Unsupported protocol")
    headers, skip = _headers(req)
    middlewares: tuple = ()
    if req.auth is not None:
        kind, user, password = req.auth
        if kind == "digest":
            middlewares = (aiohttp.DigestAuthMiddleware(user, password),)
        else:
            headers.append(("Authorization", aiohttp.encode_basic_auth(user, password)))
    body: Any = req.data
    if req.form is not None:
        body = _encode_fields(req.form).encode()
    if req.method == "POST" and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    jar = aiohttp.CookieJar(unsafe=True)
    if req.cookies:
        jar.update_cookies(req.cookies)
    last: tuple[Any, bytes] | None = None  # the last response, when retries ran out
    last_error = ""
    async with aiohttp.ClientSession(
        cookie_jar=jar, middlewares=middlewares, skip_auto_headers=skip
    ) as session:
        for _ in range(req.attempts):
            try:
                async with session.request(
                    req.method,
                    url,
                    headers=headers,
                    data=body,
                    allow_redirects=req.redirects > 0,
                    # aiohttp fails on reaching its maximum; curl's counts redirects followed
                    max_redirects=req.redirects + 1,
                    ssl=None if req.verify else False,
                ) as resp:
                    raw = await resp.read()
            except aiohttp.TooManyRedirects:
                return Response(error="Number of redirects hit maximum amount")
            except aiohttp.ClientConnectorCertificateError:
                return Response(error="SSL peer certificate or SSH remote key was not OK")
            except aiohttp.ClientConnectorDNSError:
                return Response(error="Couldn't resolve host name")
            except aiohttp.InvalidURL:
                return Response(error="URL using bad/illegal format or missing URL")
            except aiohttp.ClientConnectorError:
                last, last_error = None, "could not connect to server"  # worth retrying
            except (
                aiohttp.ClientPayloadError,
                aiohttp.ClientOSError,
                aiohttp.ServerDisconnectedError,
            ):
                last, last_error = None, "error when receiving data"
            else:
                if resp.status not in _RETRY_STATUS:
                    return _result(req, resp, raw, jar)
                last = (resp, raw)
    if last is not None:
        return _result(req, last[0], last[1], jar)
    return Response(error=last_error)


def _headers(req: Request) -> tuple[list[tuple[str, str]], list[str]]:
    """Request headers; a NULL value removes that header (curl's ``Name:`` line)."""
    headers: list[tuple[str, str]] = []
    names = {k.lower() for k, v in req.header if v is not None}
    skip = [k for k, v in req.header if v is None]
    if "user-agent" not in names and "user-agent" not in {s.lower() for s in skip}:
        headers.append(("User-Agent", USER_AGENT))
    # Later lines override earlier ones of the same name (the user's over our JSON default).
    merged: dict[str, tuple[str, str]] = {}
    for k, v in req.header:
        if v is not None:
            merged[k.lower()] = (k, v)
    headers.extend(merged.values())
    return headers, skip


def _result(req: Request, resp: Any, raw: bytes, jar: Any) -> Response:
    try:
        out = Response(header=_parse_header(resp.raw_headers))
    except ValueError as e:
        return Response(error=str(e))
    out.cookies = {c.key: c.value for c in jar}
    status = resp.status
    if status < 200 or status >= 300:
        if raw:
            out.body, out.has_body = raw.decode("utf-8", "replace"), True
        out.error = f"status code {status}"
        return out
    out.has_body = True
    if req.method == "HEAD":
        out.body = None
        return out
    fmt = req.result_format
    if fmt == "auto":
        ctype = (resp.headers.get("Content-Type") or "").lower()
        if ctype.startswith("application/json"):
            _json_body(raw, out, attach=True)
        elif ctype.startswith(("text/javascript", "application/json-p", "text/json-p")):
            # JSON, else JSONP, else the text itself.
            if not _json_body(raw, out, attach=False) and not _jsonp_body(raw, out, False):
                out.error, out.body = "", raw.decode("utf-8", "replace")
        elif ctype.startswith(("audio/", "image/", "video/", "application/octet-stream")):
            out.body = datum.make_binary(raw)
        else:
            out.body = raw.decode("utf-8", "replace")
    elif fmt == "json":
        _json_body(raw, out, attach=True)
    elif fmt == "jsonp":
        _jsonp_body(raw, out, attach=True)
    elif fmt == "binary":
        out.body = datum.make_binary(raw)
    else:
        out.body = raw.decode("utf-8", "replace")
    return out


def _json_body(raw: bytes, out: Response, attach: bool) -> bool:
    text = raw.decode("utf-8", "replace")
    try:
        out.body, out.error = datum.canonical(json.loads(text)), ""
        return True
    except ValueError as e:
        out.error = f"failed to parse JSON response: {_rapidjson_wording(text, e)}"
        out.body, out.has_body = (text, True) if attach else (None, False)
        return False


def _jsonp_body(raw: bytes, out: Response, attach: bool) -> bool:
    text = raw.decode("utf-8", "replace")
    for pattern in _JSONP:
        m = pattern.fullmatch(text)
        if m:
            return _json_body(m.group(1).encode(), out, attach)
    out.error = "failed to parse JSONP response"
    out.body, out.has_body = (text, True) if attach else (None, False)
    return False


def _rapidjson_wording(text: str, e: ValueError) -> str:
    """RethinkDB parses with rapidjson; its messages for the common failures."""
    if not text.strip():
        return "The document is empty."
    if "Extra data" in str(e):
        return "The document root must not be followed by other values."
    return "Invalid value."


def _parse_header(raw_headers: Any) -> Any:
    fields: dict[str, Any] = {}
    links: dict[str, str] = {}
    for k, v in raw_headers:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        if name == "link":
            rest = value
            while True:
                m = _LINK.search(rest)
                if m is None:
                    break
                links[m.group(2) or ""] = m.group(1)
                rest = rest[m.end() :]
            if rest:
                raise ValueError(f"failed to parse link header line: '{value}'")
        else:
            fields[name] = value
    if links:
        fields["link"] = links
    return fields
