/* ReQL in the browser: a query builder with the official JavaScript driver's API, and a printer
 * that shows a query (with ^^^ under the part an error blames) in the same syntax.
 *
 * A query typed in the Data Explorer is evaluated here, in the page, against `r`; the only
 * thing that leaves the page is the term tree as JSON ([type, args, optargs]), which the server
 * runs as any driver's query, with the logged-in user's permissions. Term numbers come from the
 * server (src/rethought/proto/ql2.py via /console/ql2.json), so the two never disagree.
 */
(function (root) {
  "use strict";

  // Trailing plain objects that the official driver reads as optargs, by how many positional
  // arguments precede them ("*": any number). Probed from the driver (tests/test_console_js.py).
  const METHOD_OPTS = {
    slice: [1, 2], changes: [0], between: [2], fold: [2], filter: [1], distinct: [0],
    union: "*", eqJoin: [2], update: [1], delete: [0], replace: [1], group: "*",
    orderBy: "*", distance: [1], tableCreate: [1], wait: [0], table: [1], getAll: "*",
    min: [0], max: [0], insert: [1], indexCreate: [1, 2], indexRename: [2], reconfigure: [0],
    during: [2], getIntersecting: [1], getNearest: [1], rebalance: [0],
  };
  const TOP_OPTS = {
    js: [1], http: [1], random: "*", table: [1], tableCreate: [1], ISO8601: [1],
    distance: [2], circle: [2], union: "*", wait: [0], reconfigure: [0], rebalance: [0],
  };
  // Arguments the driver wraps in a function when they use r.row (its funcWrap), by position.
  const METHOD_WRAP = {
    contains: "*", offsetsOf: "*", merge: "*", reduce: "*", map: "*", fold: [1], filter: [0],
    concatMap: "*", count: "*", union: "*", split: "*", update: [0], replace: [0],
    forEach: "*", sum: "*", avg: "*", group: "*", orderBy: "*", min: "*", max: "*",
    indexCreate: [1], eqJoin: [0],
  };
  const TOP_WRAP = {
    map: "*", group: "*", reduce: "*", count: "*", sum: "*", avg: "*", min: "*", max: "*",
    contains: "*", asc: "*", desc: "*",
  };
  // JavaScript names that are not the camelCase of their term's name.
  const ALIASES = {
    toISO8601: "TO_ISO8601", ISO8601: "ISO8601", toJSON: "TO_JSON_STRING", js: "JAVASCRIPT",
    uuid: "UUID", json: "JSON",
  };
  // Term names no method may produce: they are built from JavaScript values and syntax.
  const HIDDEN = new Set([
    "DATUM", "MAKE_ARRAY", "MAKE_OBJ", "VAR", "IMPLICIT_VAR", "FUNC", "FUNCALL", "BRACKET",
    "BETWEEN_DEPRECATED", "JAVASCRIPT",
  ]);
  // r.minval, r.monday, ...: constants, used without a call.
  const CONSTANTS = new Set([
    "MINVAL", "MAXVAL", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY",
    "SUNDAY", "JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST",
    "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER",
  ]);

  function camel(name) {
    return name.toLowerCase().replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
  }

  function snake(key) {
    return key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
  }

  function isPlainObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v) &&
      !(v instanceof Date) && Object.getPrototypeOf(v) === Object.prototype;
  }

  function takes(table, name, count) {
    const at = table[name];
    return at === "*" || (Array.isArray(at) && at.includes(count));
  }

  /** A builder bound to the server's term numbers: `{r, print, names}`. */
  function create(termTypes) {
    const byName = Object.create(null); // JS name -> term number (no inherited names)
    const nameOf = {};                  // term number -> JS name, for printing
    for (const [name, num] of Object.entries(termTypes)) {
      nameOf[num] = camel(name);
      if (!HIDDEN.has(name)) byName[camel(name)] = num;
    }
    for (const [js, name] of Object.entries(ALIASES)) {
      byName[js] = termTypes[name];
      nameOf[termTypes[name]] = js === "toJSON" ? "toJsonString" : js;
    }
    nameOf[termTypes.JAVASCRIPT] = "js";
    const T = termTypes;
    const terms = new WeakMap(); // a term's proxy -> its JSON
    let nextVarId = 0;

    function expr(v, depth) {
      if ((depth || 0) > 100) throw new Error("Nesting depth limit exceeded.");
      if (typeof v === "function" && terms.has(v)) return terms.get(v);
      if (v === undefined) throw new Error("Cannot wrap undefined with r.expr().");
      if (v === null || typeof v === "string" || typeof v === "boolean") return v;
      if (typeof v === "number") {
        if (!isFinite(v)) throw new Error("Cannot convert `" + v + "` to JSON.");
        return v;
      }
      if (typeof v === "function") return func(v);
      if (Array.isArray(v)) return [T.MAKE_ARRAY, v.map((x) => expr(x, (depth || 0) + 1))];
      if (v instanceof Date) return [T.ISO8601, [v.toISOString()]];
      if (typeof v === "object") {
        const out = {};
        for (const [k, x] of Object.entries(v)) { // defineProperty: "__proto__" is a key
          Object.defineProperty(out, k, { value: expr(x, (depth || 0) + 1), enumerable: true,
            writable: true, configurable: true });
        }
        return out;
      }
      throw new Error("Cannot convert " + typeof v + " to ReQL.");
    }

    function func(fn) {
      const ids = [];
      const vars = [];
      for (let i = 0; i < fn.length; i++) {
        ids.push(nextVarId);
        vars.push(term([T.VAR, [nextVarId]]));
        nextVarId++;
      }
      const body = fn(...vars);
      if (body === undefined) {
        throw new Error("Anonymous function returned `undefined`. Did you forget a `return`?");
      }
      return [T.FUNC, [[T.MAKE_ARRAY, ids], expr(body)]];
    }

    function usesRow(j) {
      if (Array.isArray(j)) {
        if (j[0] === T.IMPLICIT_VAR) return true;
        if ((j[1] || []).some(usesRow)) return true;
        return Object.values(j[2] || {}).some(usesRow);
      }
      if (isPlainObject(j)) return Object.values(j).some(usesRow);
      return false;
    }

    function wrap(j) {
      if (!usesRow(j)) return j;
      const id = nextVarId++;
      return [T.FUNC, [[T.MAKE_ARRAY, [id]], j]];
    }

    // Builds the term `name` from JS arguments; `self` is the term a method is called on.
    function op(name, num, self, args, optTable, wrapTable) {
      let optargs = null;
      const last = args[args.length - 1];
      if (args.length && isPlainObject(last) && takes(optTable, name, args.length - 1)) {
        optargs = {};
        for (const [k, v] of Object.entries(last)) {
          Object.defineProperty(optargs, snake(k), { value: expr(v), enumerable: true,
            writable: true, configurable: true });
        }
        args = args.slice(0, -1);
      }
      let built = args.map((a, i) => {
        const j = expr(a);
        return takes(wrapTable, name, i) ? wrap(j) : j;
      });
      if (self !== null) built = [self, ...built];
      return term(optargs ? [num, built, optargs] : [num, built]);
    }

    function funcall(self, args) {
      if (!args.length) throw new Error("Expected 1 or more arguments but found 0.");
      const fn = wrap(expr(args[args.length - 1]));
      const rest = args.slice(0, -1).map((a) => expr(a));
      return term([T.FUNCALL, self === null ? [fn, ...rest] : [fn, self, ...rest]]);
    }

    // A term: callable (`row('field')` is BRACKET) with a method per ReQL term.
    function term(json) {
      const target = function () {};
      const proxy = new Proxy(target, {
        apply(_t, _this, args) {
          return term([T.BRACKET, [json, ...args.map((a) => expr(a))]]);
        },
        get(_t, key) {
          if (typeof key !== "string" || key === "then") return undefined;
          if (key === "do") return (...a) => funcall(json, a);
          if (key === "run") return () => proxy;
          if (key === "toString") return () => print(json).text;
          const num = byName[key];
          if (num === undefined) return undefined;
          return (...a) => op(key, num, json, a, METHOD_OPTS, METHOD_WRAP);
        },
      });
      terms.set(proxy, json);
      return proxy;
    }

    const rTarget = function (v) { return term(expr(v)); };
    const r = new Proxy(rTarget, {
      apply(_t, _this, args) { return term(expr(args[0])); },
      get(_t, key) {
        if (typeof key !== "string" || key === "then") return undefined;
        if (key === "expr") return (v) => term(expr(v));
        if (key === "row") return term([T.IMPLICIT_VAR, []]);
        if (key === "do") return (...a) => funcall(null, a);
        const num = byName[key];
        if (num === undefined) return undefined;
        const upper = Object.keys(T).find((n) => T[n] === num);
        if (CONSTANTS.has(upper)) return term([num, []]);
        return (...a) => op(key, num, null, a, TOP_OPTS, TOP_WRAP);
      },
    });

    /** The JSON of a term built with `r` (a plain value becomes its datum). */
    function build(q) {
      return expr(q);
    }

    // -- printing ------------------------------------------------------------------------------

    /** `{text, carets}`: the query in JS syntax; `carets` marks the term at `frames` with ^. */
    function print(json, frames) {
      const parts = []; // [text, marked]
      const target = frames ? frames.slice() : null;

      function emit(s, marked) { parts.push([s, marked]); }

      function datum(v, marked) {
        emit(JSON.stringify(v), marked);
      }

      function node(j, path, marked) {
        const here = marked || (target !== null && sameFrames(path, target));
        if (Array.isArray(j)) {
          term_(j, path, here);
        } else if (isPlainObject(j)) {
          const keys = Object.keys(j);
          emit("{", here);
          keys.forEach((k, i) => {
            emit((i ? ", " : "") + JSON.stringify(k) + ": ", here);
            node(j[k], path.concat([k]), here);
          });
          emit("}", here);
        } else {
          datum(j, here);
        }
      }

      function list(args, path, marked, from) {
        args.forEach((a, i) => {
          if (i >= from) {
            if (i > from) emit(", ", marked);
            node(a, path.concat([i]), marked);
          }
        });
      }

      function opts(optargs, path, marked, sep) {
        const keys = Object.keys(optargs || {});
        if (!keys.length) return;
        emit(sep + "{", marked);
        keys.forEach((k, i) => {
          emit((i ? ", " : "") + camel(k) + ": ", marked);
          node(optargs[k], path.concat([k]), marked);
        });
        emit("}", marked);
      }

      function term_(j, path, m) {
        const [type, args = [], optargs] = j;
        if (type === T.MAKE_ARRAY) {
          emit("[", m); list(args, path, m, 0); emit("]", m);
        } else if (type === T.VAR) {
          emit("var" + args[0], m);
        } else if (type === T.IMPLICIT_VAR) {
          emit("r.row", m);
        } else if (type === T.FUNC) {
          const ids = (args[0] && args[0][1]) || [];
          if (ids.length === 1 && usesRow(args[1])) { // the driver's wrapping of r.row
            node(args[1], path.concat([1]), m);
            return;
          }
          emit("function(" + ids.map((i) => "var" + i).join(", ") + ") { return ", m);
          node(args[1], path.concat([1]), m);
          emit("; }", m);
        } else if (type === T.BRACKET) {
          node(args[0], path.concat([0]), m);
          emit("(", m); list(args, path, m, 1); emit(")", m);
        } else if (type === T.FUNCALL) {
          // r.do(a, b, f): the driver sends [f, a, b]
          emit("r.do(", m);
          for (let i = 1; i < args.length; i++) {
            node(args[i], path.concat([i]), m);
            emit(", ", m);
          }
          node(args[0], path.concat([0]), m);
          emit(")", m);
        } else {
          const name = nameOf[type] || "term" + type;
          const first = args[0];
          const termFirst = Array.isArray(first) && first[0] !== T.MAKE_ARRAY;
          const method = args.length && !TOP_ONLY.has(type) &&
            (termFirst || !DATUM_TOP.has(type));
          if (method) {
            const literal = !termFirst; // r.expr({"a": 1}).merge(...), as the driver prints
            if (literal) emit("r.expr(", m);
            node(args[0], path.concat([0]), m);
            if (literal) emit(")", m);
            emit("." + name + "(", m);
            list(args, path, m, 1);
            opts(optargs, path, m, args.length > 1 ? ", " : "");
          } else {
            const upper = Object.keys(T).find((n) => T[n] === type);
            if (CONSTANTS.has(upper) && !args.length) { emit("r." + name, m); return; }
            emit("r." + name + "(", m);
            list(args, path, m, 0);
            opts(optargs, path, m, args.length ? ", " : "");
          }
          emit(")", m);
        }
      }

      node(json, [], false);
      const text = parts.map((p) => p[0]).join("");
      const carets = parts.map((p) => (p[1] ? "^" : " ").repeat(p[0].length)).join("");
      return { text, carets: carets.trim() ? carets.replace(/\s+$/, "") : "" };
    }

    // Terms printed as r.x(a, b) even when their first argument is a term.
    const TOP_ONLY = new Set([
      T.DB, T.BRANCH, T.OR, T.AND, T.ERROR, T.ARGS, T.OBJECT, T.TIME, T.POINT, T.LINE,
      T.POLYGON, T.CIRCLE, T.LITERAL, T.JAVASCRIPT, T.HTTP, T.JSON, T.RANGE, T.RANDOM,
      T.EPOCH_TIME, T.ISO8601, T.DB_CREATE, T.DB_DROP, T.GEOJSON, T.BINARY, T.ASC, T.DESC,
    ].filter((x) => x !== undefined));

    // Terms whose plain first argument is theirs, not a value they are called on: r.table("x").
    const DATUM_TOP = new Set([
      T.TABLE, T.TABLE_CREATE, T.TABLE_DROP, T.UUID, T.GRANT, T.WAIT, T.RECONFIGURE,
      T.REBALANCE,
    ].filter((x) => x !== undefined));

    function sameFrames(a, b) {
      return a.length === b.length && a.every((x, i) => x === b[i]);
    }

    /** Whether `v` is a term built here (a query's value, not a plain JavaScript one). */
    function isTerm(v) {
      return typeof v === "function" && terms.has(v);
    }

    const methodNames = new Set([...Object.keys(byName), "do"]);
    const topNames = new Set([...Object.keys(byName), "do", "expr", "row"]);
    /** The names `r.<name>` (top) or `term.<name>` may use. */
    function commands(top) {
      return top ? topNames : methodNames;
    }

    /** Reads typed query text (parse.js, never eval); returns the term JSON. */
    function parse(text) {
      if (!text.trim()) throw new Error("Type a query first.");
      const parser = root.ReqlParser || require("./parse.js");
      return parser.evaluate(text, api);
    }

    const api = { r, build, print, parse, isTerm, commands, resetVarIds() { nextVarId = 0; } };
    return api;
  }

  const api = { create };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.ReqlBuilder = api;
})(typeof window !== "undefined" ? window : this);
