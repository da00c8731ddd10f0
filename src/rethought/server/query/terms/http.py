"""``r.http(url, ...)``: fetch a URL, optionally page through results (``page``).

Options are checked in RethinkDB's order and with its messages (``terms/http.cc``); the
request itself is ``http_fetch.perform``, awaited through ``suspend.block_on`` so only this
query waits. Failures are non-existence errors (``r.http(...).default(...)`` catches them):
``Error in HTTP GET of `url`: status code 404.`` followed by the response's header and body.
With ``page`` the result is a lazy stream: each page's array body is spliced in, and the page
function picks the next URL or params (``'link-next'`` follows ``Link: <...>; rel="next"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .... import datum
from ....datum.jsonfmt import pretty
from ....errors import ReqlError, ReqlNonExistenceError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import suspend, values
from ...system.access import require
from ..compile import Scope, Term, term
from ..determinism import NO
from . import http_fetch as hf

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_FORMATS = ("auto", "json", "jsonp", "text", "binary")
_MAX_TIMEOUT_MS = 2_592_000_000  # 30 days


@term(
    T.HTTP,
    arity=(1, 1),
    optargs=(
        "data",
        "timeout",
        "method",
        "params",
        "header",
        "attempts",
        "redirects",
        "verify",
        "page",
        "page_limit",
        "auth",
        "result_format",
    ),
)
class Http(Term):
    """``r.http``: never deterministic."""

    nondeterminism = NO

    def eval(self, scope: Scope) -> Any:
        # Connect permission first, before the arguments (RethinkDB's http_term_t).
        require(scope.ctx, "connect")
        req = hf.Request(url=self.datum_arg(scope, 0, values.as_string))
        self._options(scope, req)
        page_fn, page_limit = self._paging(scope)
        if page_fn is None:
            res = self._fetch(req)
            return res.body
        return values.Stream(self._pages(req, page_fn, page_limit))

    # -- options ----------------------------------------------------------------------------

    def _opt(self, scope: Scope, name: str) -> Any:
        return values.to_datum(self.optargs[name].run(scope))

    def _fail(self, name: str | None, message: str) -> ReqlQueryLogicError:
        err = ReqlQueryLogicError(message)
        err.frames = list(self.optargs[name].frames if name else self.frames)
        return err

    def _options(self, scope: Scope, req: hf.Request) -> None:
        has = self.optargs.__contains__
        if has("auth"):
            req.auth = self._auth(self._opt(scope, "auth"))
        if has("method"):
            method = values.as_string(self._opt(scope, "method"))
            if method not in _METHODS:
                raise self._fail(
                    "method",
                    f"`method` ({method}) is not recognized (GET, HEAD, POST, PUT, "
                    "PATCH and DELETE are allowed).",
                )
            req.method = method
        if has("data"):
            self._data(self._opt(scope, "data"), req)
        if has("result_format"):
            fmt = values.as_string(self._opt(scope, "result_format"))
            if fmt not in _FORMATS:
                raise self._fail(
                    "result_format",
                    f"`result_format` ({fmt}) is not recognized, ('auto', 'json', "
                    "'jsonp', 'text', and 'binary' are allowed).",
                )
            req.result_format = fmt
        if has("params"):
            req.params = check_params(self._opt(scope, "params"), self.optargs["params"].frames)
        if has("header"):
            req.header.extend(self._header(self._opt(scope, "header")))
        if has("timeout"):
            ms = values.as_number(self._opt(scope, "timeout")) * 1000
            if ms < 0:
                raise self._fail("timeout", "`timeout` may not be negative.")
            req.timeout_ms = int(min(ms, _MAX_TIMEOUT_MS))
        if has("attempts"):
            req.attempts = _non_negative(self._opt(scope, "attempts"))
        if has("redirects"):
            req.redirects = _non_negative(self._opt(scope, "redirects"))
        if has("verify"):
            req.verify = values.as_bool(self._opt(scope, "verify"))

    def _auth(self, auth: Any) -> tuple[str, str, str]:
        if type(auth) is not dict or datum.REQL_TYPE in auth:
            raise self._fail(
                "auth", f"Expected `auth` to be an OBJECT, but found {datum.type_name(auth)}."
            )
        kind = auth.get("type", "basic")
        if type(kind) is not str:
            raise self._fail(
                "auth", f"Expected `auth.type` to be a STRING, but found {datum.type_name(auth)}."
            )
        items = []
        for name in ("user", "pass"):
            if name not in auth:
                raise self._fail("auth", f"`auth.{name}` not found in the auth object.")
            if type(auth[name]) is not str:
                raise self._fail(
                    "auth",
                    f"Expected `auth.{name}` to be a STRING, but found "
                    f"{datum.type_name(auth[name])}.",
                )
            items.append(auth[name])
        if kind not in ("basic", "digest"):
            raise self._fail(
                "auth", "`auth.type` is not recognized ('basic', and 'digest' are allowed)."
            )
        return kind, items[0], items[1]

    def _data(self, data: Any, req: hf.Request) -> None:
        if req.method in ("PUT", "PATCH", "DELETE"):
            if type(data) is str:
                req.data = data.encode()
            else:
                # A JSON body; a later `header` may still override the Content-Type.
                # http.cc writes it with datum_t::print(): the tab-indented form.
                req.header.append(("Content-Type", "application/json"))
                req.data = pretty(data).encode()
        elif req.method == "POST":
            if type(data) is str:
                req.data = data.encode()
            elif type(data) is dict and datum.REQL_TYPE not in data:
                for k, v in data.items():
                    if v is not None and type(v) not in (int, float, str):
                        raise self._fail(
                            "data",
                            f"Expected `data.{k}` to be a NUMBER, STRING or NULL, but found "
                            f"{datum.type_name(v)}.",
                        )
                req.form = data
            else:
                raise self._fail(
                    "data",
                    f"Expected `data` to be a STRING or OBJECT, but found {datum.type_name(data)}.",
                )
        else:
            raise self._fail(
                None,
                "`data` should only be specified on a PUT, POST, PATCH, or DELETE request.  "
                "If you want URL parameters, use `params` instead.",
            )

    def _header(self, header: Any) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        if type(header) is dict and datum.REQL_TYPE not in header:
            for k, v in header.items():
                if v is not None and type(v) is not str:
                    raise self._fail(
                        "header",
                        f"Expected `header.{k}` to be a STRING or NULL, but found "
                        f"{datum.type_name(v)}.",
                    )
                self._no_newline(f"{k}: {v}" if v is not None else k)
                out.append((k, v))
        elif type(header) is list:
            for i, line in enumerate(header):
                if type(line) is not str:
                    raise self._fail(
                        "header",
                        f"Expected `header[{i}]` to be a STRING, but found "
                        f"{datum.type_name(line)}.",
                    )
                self._no_newline(line)
                name, sep, value = line.partition(":")
                out.append((name.strip(), value.strip() if sep and value.strip() else None))
        else:
            raise self._fail(
                "header",
                f"Expected `header` to be an ARRAY or OBJECT, but found {datum.type_name(header)}.",
            )
        return out

    def _no_newline(self, line: str) -> None:
        if "\r" in line or "\n" in line:
            raise self._fail("header", "A `header` item contains newline characters.")

    def _paging(self, scope: Scope) -> tuple[values.Func | None, int]:
        if "page" not in self.optargs:
            return None, 0
        if "page_limit" not in self.optargs:
            raise self._fail(
                "page",
                "Cannot use `page` without specifying `page_limit` "
                "(a positive number performs that many requests, -1 is unlimited).",
            )
        page = self.optargs["page"].run(scope)
        if not isinstance(page, values.Func):
            page = values.to_datum(page)
            if page is None:
                return None, 0
            name = values.as_string(page)
            if name != "link-next":
                raise self._fail(
                    "page",
                    f"`page` method '{name}' not recognized, only 'link-next' is available.",
                )
            page = values.PyFunc(link_next)
        limit = values.as_int(self._opt(scope, "page_limit"))
        if limit < -1:
            raise self._fail("page_limit", "`page_limit` should be greater than or equal to -1.")
        return page, limit

    # -- requests ---------------------------------------------------------------------------

    def _fetch(self, req: hf.Request) -> hf.Response:
        res = suspend.block_on(lambda: hf.perform(req))
        if res.error:
            message = f"Error in HTTP {req.method} of `{req.url}`: {res.error}."
            if res.from_worker:  # check_error_result: header and body, null when absent
                message += "\nheader:\n" + pretty(res.header)
                message += "\nbody:\n" + pretty(res.body if res.has_body else None)
            err = ReqlNonExistenceError(message)
            err.frames = list(self.frames)
            raise err
        return res

    def _pages(self, req: hf.Request, page_fn: values.Func, limit: int) -> Iterator[Any]:
        more = limit != 0
        while more:
            res = self._fetch(req)
            if limit > 0:
                limit -= 1
            more = limit != 0 and self._next_page(req, res, page_fn)
            if type(res.body) is list:
                yield from res.body
            else:
                yield res.body

    def _next_page(self, req: hf.Request, res: hf.Response, page_fn: values.Func) -> bool:
        """Apply the page function's answer to ``req``; whether to fetch another page."""
        req.cookies = res.cookies
        info = {"params": req.params, "header": res.header or {}, "body": res.body}
        try:
            return _apply_page(req, values.to_datum(page_fn(info)), self.frames)
        except ReqlError as e:
            raise type(e)(
                f"Error in HTTP {req.method} of `{req.url}`: {e.message}.\n"
                f"Error occurred during `page` called with:\n{pretty(info)}\n",
                frames=e.frames,
            ) from None


def link_next(info: Any) -> Any:
    """The 'link-next' page function: the ``rel="next"`` URL of the Link header, or null."""
    link = (info.get("header") or {}).get("link")
    return link.get('rel="next"') if type(link) is dict else None


def _apply_page(req: hf.Request, result: Any, frames: tuple) -> bool:
    if result is None or type(result) is str:
        return _apply_url(req, result)
    if type(result) is dict:  # a pseudo-type is an R_OBJECT too (http.cc get_type)
        if "url" not in result and "params" not in result:
            raise ReqlQueryLogicError(
                "OBJECT returned by `page` must contain `url` and/or `params` fields."
            )
        if "params" in result:
            req.params = {**req.params, **check_params(result["params"], frames)}
        if "url" in result:
            return _apply_url(req, result["url"])
        return True
    raise ReqlQueryLogicError(
        f"Expected `page` to return an OBJECT, but found {datum.type_name(result)}."
    )


def _apply_url(req: hf.Request, url: Any) -> bool:
    if url is None:
        return False
    if type(url) is not str:
        raise ReqlQueryLogicError(
            "Expected `url` in OBJECT returned by `page` to be a STRING or NULL, "
            f"but found {datum.type_name(url)}."
        )
    req.url = url
    return True


def check_params(params: Any, frames: tuple) -> dict[str, Any]:
    """``params``: an OBJECT of NUMBER, STRING or NULL values."""
    if type(params) is not dict or datum.REQL_TYPE in params:
        err = ReqlQueryLogicError(
            f"Expected `params` to be an OBJECT, but found {datum.type_name(params)}:\n"
            f"{pretty(params)}"
        )
        err.frames = list(frames)
        raise err
    for k, v in params.items():
        if v is not None and type(v) not in (int, float, str):
            err = ReqlQueryLogicError(
                f"Expected `params.{k}` to be a NUMBER, STRING or NULL, but found "
                f"{datum.type_name(v)}:\n{pretty(v)}"
            )
            err.frames = list(frames)
            raise err
    return params


def _non_negative(v: Any) -> int:
    n = values.as_int(v)
    if n < 0:
        raise ReqlQueryLogicError(f"Expected a non-negative integer, got {n}.")
    return n
