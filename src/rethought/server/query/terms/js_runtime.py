"""Embedded V8 (the ``mini-racer`` package) for ``r.js``.

Every ``r.js`` evaluation gets a fresh JavaScript context, as RethinkDB's gives each script a
clean one (globals a script sets do not leak into other queries). A function the script
returns stays in that context and is called there, once per row.

All contexts live on one background thread running its own asyncio loop: mini-racer runs V8
on threads of its own and reports back on that loop, and ``eval_cancelable`` stops a runaway
script when its timeout expires (V8's TerminateExecution), so the server's loop never waits
on JavaScript. Terms reach it with ``suspend.block_on``.

Values cross the boundary as JSON text: the helper script below converts results to datums
inside V8 with RethinkDB's rules and messages (``Date`` -> TIME, no ``undefined``,
functions, RegExps or non-finite numbers), and turns TIME arguments into ``Date``s.
"""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import Coroutine
from typing import Any

import orjson

#: V8 heap per context; beyond it the script is stopped instead of the process dying.
MEMORY_LIMIT = 256 * 1024 * 1024

# Installed in every fresh context. The results are strings: "d" + datum JSON, "f" + the id
# of a remembered function, or "e" + an error message.
_HELPER = r"""
(function (g) {
  var geval = eval;  // called by another name: an indirect, global-scope eval
  var fns = [];
  function Failure(msg) { this.msg = msg; }
  function toDatum(v, depth, limit) {
    if (depth === 0) {
      throw new Failure("Recursion limit exceeded in js_to_json (circular reference?).");
    }
    depth--;
    var t = typeof v;
    if (t === "string" || t === "boolean") return v;
    if (t === "number") {
      if (!isFinite(v)) throw new Failure("Number return value is not finite.");
      return v;
    }
    if (v === null) return null;
    if (t === "undefined") {
      throw new Failure("Cannot convert javascript `undefined` to ql::datum_t.");
    }
    if (t === "function") throw new Failure("Cannot convert function to ql::datum_t.");
    if (t !== "object") {
      throw new Failure("Unrecognized value type when converting to ql::datum_t.");
    }
    if (Array.isArray(v)) {
      if (v.length > limit) {
        throw new Failure("Array over size limit `" + limit + "`.  To raise the number of " +
          "allowed elements, modify the `array_limit` option to `.run` (not available in " +
          "the Data Explorer), or use an index.");
      }
      var arr = new Array(v.length);
      for (var i = 0; i < v.length; i++) arr[i] = toDatum(v[i], depth, limit);
      return arr;
    }
    if (v instanceof RegExp) throw new Failure("Cannot convert RegExp to ql::datum_t.");
    if (v instanceof Date) {
      return {"$reql_type$": "TIME", "epoch_time": v.getTime() / 1000, "timezone": "+00:00"};
    }
    var obj = Object.create(null);  // so a "__proto__" key stays a key
    for (var k in v) obj[k] = toDatum(v[k], depth, limit);
    return obj;
  }
  function encode(v, limit, allowFunction) {
    if (typeof v === "function") {
      if (!allowFunction) return "eReturning functions from within `r.js` is unsupported.";
      fns.push(v);
      return "f" + (fns.length - 1);
    }
    try {
      return "d" + JSON.stringify(toDatum(v, 500, limit));
    } catch (e) {
      return "e" + (e instanceof Failure ? e.msg : String(e));
    }
  }
  function revive(key, v) {
    if (v !== null && typeof v === "object" && v["$reql_type$"] === "TIME") {
      return new Date(v.epoch_time * 1000);
    }
    return v;
  }
  function hide(name, f) {
    Object.defineProperty(g, name, {value: f, enumerable: false, writable: false});
  }
  hide("__rethought_eval__", function (src, limit) {
    var v;
    try { v = geval(src); } catch (e) { return "e" + String(e); }
    return encode(v, limit, true);
  });
  hide("__rethought_call__", function (id, args, limit) {
    var v;
    try { v = fns[id].apply({}, JSON.parse(args, revive)); } catch (e) { return "e" + String(e); }
    return encode(v, limit, false);
  });
})(globalThis);
"""

# V8 has reworded some messages since the version RethinkDB 2.4 embeds; clients match these.
_V8_WORDING = {
    "SyntaxError: Function statements require a function name": (
        "SyntaxError: function name expected"
    ),
}


class JsUnavailable(Exception):
    """The embedded JavaScript engine is not installed."""


class JsTimeout(Exception):
    """The script ran past its timeout and was stopped."""


class JsCrash(Exception):
    """V8 gave up on the script (e.g. its heap limit); the server carries on."""


class _Loop:
    """The background thread and loop every context lives on (started on first use)."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                t = threading.Thread(target=loop.run_forever, name="rethought-js", daemon=True)
                t.start()
                cls._loop = loop
            return cls._loop


def on_js_loop(coro: Coroutine[Any, Any, Any]) -> asyncio.Future:
    """Schedule ``coro`` on the JavaScript thread; awaitable from any other loop."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, _Loop.get()))


class Context:
    """One fresh V8 context. Create and use it only through coroutines run by ``on_js_loop``."""

    def __init__(self) -> None:
        try:
            from py_mini_racer import mini_racer
        except ImportError as e:  # pragma: no cover - depends on the installation
            raise JsUnavailable("The JavaScript engine (mini-racer) is not installed.") from e
        maker = mini_racer(asyncio.get_running_loop())
        self._mr = maker.__enter__()
        self._mr.set_hard_memory_limit(MEMORY_LIMIT)
        self._mr.eval(_HELPER)
        # Freed on the JS loop once the last function value referring to it is gone.
        loop = asyncio.get_running_loop()
        fin = weakref.finalize(self, loop.call_soon_threadsafe, maker.__exit__, None, None, None)
        fin.atexit = False  # at exit the process tears V8 down anyway

    async def eval(self, source: str, timeout: float, limit: int) -> str:
        code = f"__rethought_eval__({json.dumps(source)}, {limit})"
        return await self._run(code, timeout)

    async def call(self, fn_id: int, args: list[Any], timeout: float, limit: int) -> str:
        payload = json.dumps(orjson.dumps(args).decode())
        return await self._run(f"__rethought_call__({fn_id}, {payload}, {limit})", timeout)

    async def _run(self, code: str, timeout: float) -> str:
        from py_mini_racer import JSEvalException, JSOOMException

        try:
            async with asyncio.timeout(timeout):  # cheaper than wait_for: no extra task
                return await self._mr.eval_cancelable(code)
        except TimeoutError:
            raise JsTimeout() from None
        except (JSOOMException, JSEvalException) as e:
            raise JsCrash(str(e)) from None


async def new_context() -> Context:
    return Context()


def decode(result: str) -> tuple[str, Any]:
    """``("datum", value)``, ``("function", id)`` or ``("error", message)``."""
    tag, body = result[0], result[1:]
    if tag == "d":
        return "datum", orjson.loads(body)
    if tag == "f":
        return "function", int(body)
    return "error", _V8_WORDING.get(body, body)
