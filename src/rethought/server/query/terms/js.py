"""``r.js(source, timeout=5)``: JavaScript evaluated by an embedded V8 (see ``js_runtime``).

The script's value becomes a datum; a script evaluating to a function becomes a ReQL function
(``.map(r.js('(function(x){ return x + 1; })'))``) called in the script's context with datum
arguments. Scripts run off the event loop, on V8's own threads, and are stopped at their
timeout with RethinkDB's error; the query waits through ``suspend.block_on``, so other
queries keep being served meanwhile.
"""

from __future__ import annotations

from typing import Any

from .... import datum
from ....errors import ReqlError, ReqlQueryLogicError
from ....proto.ql2 import TermType as T
from ...runtime import suspend, values
from ..compile import Scope, Term, term
from ..determinism import NO
from . import js_runtime as rt

DEFAULT_TIMEOUT_MS = 5000
_MAX_TIMEOUT_MS = 2**64 - 1


@term(T.JAVASCRIPT, arity=(1, 1), optargs=("timeout",))
class Javascript(Term):
    """``r.js``: never deterministic (index functions and atomic writes reject it)."""

    nondeterminism = NO

    def eval(self, scope: Scope) -> Any:
        timeout_ms = DEFAULT_TIMEOUT_MS
        if "timeout" in self.optargs:
            timeout_ms = _timeout_ms(self.optarg(scope, "timeout", None, values.as_number))
        source = self.datum_arg(scope, 0, values.as_string)
        limit = scope.ctx.array_limit
        job = _Job(source, timeout_ms, self.frames)

        async def run() -> tuple[rt.Context, str]:
            ctx = await rt.new_context()
            return ctx, await ctx.eval(source, timeout_ms / 1000, limit)

        context, raw = job.block(run)
        kind, value = rt.decode(raw)
        if kind == "datum":
            return datum.canonical(value)
        if kind == "function":
            return JsFunc(job, context, value, limit)
        raise ReqlQueryLogicError(value)


def _timeout_ms(seconds: float) -> int:
    # RethinkDB converts to whole milliseconds (truncating) before printing "%d.%03d".
    ms = seconds * 1000
    if ms >= _MAX_TIMEOUT_MS:
        return _MAX_TIMEOUT_MS
    return max(0, int(ms))


class _Job:
    """What an ``r.js`` term evaluation and the functions it returns share."""

    __slots__ = ("source", "timeout_ms", "frames")

    def __init__(self, source: str, timeout_ms: int, frames: tuple) -> None:
        self.source = source
        self.timeout_ms = timeout_ms
        self.frames = frames

    def block(self, make: Any) -> Any:
        """Run ``make()`` on the JavaScript thread, translating failures to ReQL errors."""
        try:
            return suspend.block_on(lambda: rt.on_js_loop(make()))
        except rt.JsTimeout:
            ms = self.timeout_ms
            raise self._error(
                f"JavaScript query `{self.source}` timed out after "
                f"{ms // 1000}.{ms % 1000:03d} seconds."
            ) from None
        except rt.JsCrash:
            raise self._error(
                f"Javascript query `{self.source}` caused a crash in a worker process."
            ) from None
        except rt.JsUnavailable as e:
            raise self._error(str(e)) from None

    def _error(self, message: str) -> ReqlError:
        err = ReqlQueryLogicError(message)
        err.frames = list(self.frames)
        return err


class JsFunc(values.Func):
    """A JavaScript function returned by ``r.js``; takes any number of arguments."""

    __slots__ = ("job", "context", "fn_id", "limit")
    variadic = True  # RethinkDB does not check the arity of JavaScript functions

    def __init__(self, job: _Job, context: rt.Context, fn_id: int, limit: int) -> None:
        self.params = ()
        self.determinism = NO  # RethinkDB's js_func_t: never deterministic
        self.job = job
        self.context = context
        self.fn_id = fn_id
        self.limit = limit

    def __call__(self, *args: Any) -> Any:
        data = [_js_arg(values.to_datum(a), self.job) for a in args]
        context, fn_id, limit = self.context, self.fn_id, self.limit
        timeout = self.job.timeout_ms / 1000
        raw = self.job.block(lambda: context.call(fn_id, data, timeout, limit))
        kind, value = rt.decode(raw)
        if kind == "datum":
            return datum.canonical(value)
        raise self.job._error(value)


def _js_arg(v: Any, job: _Job) -> Any:
    """Check a datum can be passed to JavaScript (RethinkDB refuses binary and extremes)."""
    if v is datum.MINVAL or v is datum.MAXVAL:
        raise job._error(f"`r.{v.name}` cannot be passed to `r.js`.")
    t = type(v)
    if t is list:
        for x in v:
            _js_arg(x, job)
    elif t is dict:
        if datum.pseudo_type(v) == "BINARY":
            raise job._error("`r.binary` data cannot be used in `r.js`.")
        for x in v.values():
            _js_arg(x, job)
    return v
