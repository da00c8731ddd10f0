/* The Data Explorer's reader of typed queries: a parser and interpreter for the part of
 * JavaScript that ReQL queries are written in (as in RethinkDB's Data Explorer), and nothing
 * more.
 *
 * The typed text is never given to eval() or new Function(): it is tokenized, parsed into a
 * small tree and walked. The walk can only reach `r`, the terms it builds, the parameters of
 * the query's own functions and plain values (numbers, strings, arrays, objects, dates), so the
 * only thing a query can produce is a term tree; the page's CSP forbids eval altogether.
 *
 * Accepted: literals (numbers, strings, template strings without ${}), arrays, objects,
 * chains of calls (`r.db('test').table('x').filter(...)`), `r.row`, functions written as
 * `function (x) { return ...; }` or `x => ...` / `(x, y) => { return ...; }` (their bodies may
 * declare `var` / `let` / `const` names before the `return`), `new Date(...)`, arithmetic and
 * comparisons between plain values (`60 * 60 * 24`), comments, and a trailing `.run(...)`
 * (ignored). Anything else is an error naming its line and column.
 */
(function (root) {
  "use strict";

  class QuerySyntaxError extends Error {
    constructor(message, source, pos, end, name) {
      super(message);
      this.name = name || "SyntaxError";
      this.source = source;
      this.pos = pos;
      this.end = Math.max(end === undefined ? pos + 1 : end, pos + 1);
      const { line, col } = lineCol(source, pos);
      this.line = line;
      this.column = col;
      this.message = message + " (line " + line + ", column " + col + ")";
    }

    /** The line the error is on, with ^ under the part it blames (the console shows it). */
    printed() {
      const start = this.source.lastIndexOf("\n", this.pos - 1) + 1;
      let stop = this.source.indexOf("\n", this.pos);
      if (stop < 0) stop = this.source.length;
      const text = this.source.slice(start, stop);
      const width = Math.max(1, Math.min(this.end, stop) - this.pos);
      return { text, carets: " ".repeat(this.pos - start) + "^".repeat(width) };
    }
  }

  function lineCol(source, pos) {
    const before = source.slice(0, pos).split("\n");
    return { line: before.length, col: before[before.length - 1].length + 1 };
  }

  // -- tokens -------------------------------------------------------------------------------

  const PUNCT = ["===", "!==", "...", "=>", "==", "!=", "<=", ">=", "&&", "||",
    "(", ")", "[", "]", "{", "}", ",", ".", ";", ":", "?", "+", "-", "*", "/", "%", "<", ">",
    "!", "="];
  const NUMBER = /^(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;
  const NAME = /^[A-Za-z_$][\w$]*/;
  const ESCAPES = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v", 0: "\0" };

  function tokenize(src) {
    const out = [];
    let i = 0;
    const fail = (msg, at, end) => { throw new QuerySyntaxError(msg, src, at, end); };
    while (i < src.length) {
      const c = src[i];
      if (/\s/.test(c)) { i++; continue; }
      if (src.startsWith("//", i)) {
        const nl = src.indexOf("\n", i);
        i = nl < 0 ? src.length : nl;
        continue;
      }
      if (src.startsWith("/*", i)) {
        const close = src.indexOf("*/", i + 2);
        if (close < 0) fail("Unterminated comment", i, i + 2);
        i = close + 2;
        continue;
      }
      const rest = src.slice(i);
      let m;
      if ((m = NUMBER.exec(rest)) && (/\d/.test(c) || (c === "." && /\d/.test(src[i + 1])))) {
        const end = i + m[0].length;
        if (NAME.test(src.slice(end))) fail("Unexpected character after a number", end);
        out.push({ t: "num", v: Number(m[0]), pos: i, end });
        i = end;
        continue;
      }
      if ((m = NAME.exec(rest))) {
        out.push({ t: "name", v: m[0], pos: i, end: i + m[0].length });
        i += m[0].length;
        continue;
      }
      if (c === "'" || c === '"' || c === "`") {
        const [value, end] = readString(src, i, fail);
        out.push({ t: "str", v: value, pos: i, end });
        i = end;
        continue;
      }
      const p = PUNCT.find((x) => src.startsWith(x, i));
      if (!p) fail("Unexpected character `" + c + "`", i);
      out.push({ t: "punc", v: p, pos: i, end: i + p.length });
      i += p.length;
    }
    out.push({ t: "eof", v: "", pos: src.length, end: src.length });
    return out;
  }

  function readString(src, start, fail) {
    const quote = src[start];
    let i = start + 1;
    let value = "";
    for (;;) {
      if (i >= src.length) fail("Unterminated string", start, i);
      const c = src[i];
      if (c === quote) return [value, i + 1];
      if (c === "\n" && quote !== "`") fail("Unterminated string", start, i);
      if (quote === "`" && c === "$" && src[i + 1] === "{") {
        fail("Template strings with ${...} are not supported; join strings with r.add() " +
          "or r.expr(...).add(...)", i, i + 2);
      }
      if (c !== "\\") { value += c; i++; continue; }
      const e = src[i + 1];
      if (e === undefined) fail("Unterminated string", start, i);
      if (e === "\n") { i += 2; continue; }
      if (e === "x" || e === "u") {
        let hex;
        let len;
        if (e === "u" && src[i + 2] === "{") {
          const close = src.indexOf("}", i);
          hex = close < 0 ? "" : src.slice(i + 3, close);
          len = hex.length + 4;
        } else {
          hex = src.substr(i + 2, e === "x" ? 2 : 4);
          len = hex.length + 2;
        }
        const code = /^[0-9a-fA-F]+$/.test(hex) ? parseInt(hex, 16) : NaN;
        if (isNaN(code) || code > 0x10ffff || (e === "x" && hex.length !== 2) ||
          (e === "u" && src[i + 2] !== "{" && hex.length !== 4)) {
          fail("Bad escape sequence in a string", i, i + 2);
        }
        value += String.fromCodePoint(code);
        i += len;
        continue;
      }
      value += ESCAPES[e] !== undefined ? ESCAPES[e] : e;
      i += 2;
    }
  }

  // -- syntax tree --------------------------------------------------------------------------

  const BINARY = {
    "||": 1, "&&": 2, "==": 3, "!=": 3, "===": 3, "!==": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
    "+": 5, "-": 5, "*": 6, "/": 6, "%": 6,
  };
  const MAX_DEPTH = 200;

  function parseTree(src) {
    const toks = tokenize(src);
    let k = 0;
    let depth = 0;
    const peek = (n) => toks[Math.min(k + (n || 0), toks.length - 1)];
    const fail = (msg, tok) => {
      const t = tok || peek();
      throw new QuerySyntaxError(msg, src, t.pos, t.end);
    };
    const describe = (t) => (t.t === "eof" ? "the end of the query" : "`" + src.slice(t.pos,
      t.end) + "`");
    const is = (v, n) => { const t = peek(n); return t.t === "punc" && t.v === v; };
    const isName = (v) => peek().t === "name" && peek().v === v;
    function expect(v) {
      if (!is(v)) fail("Expected `" + v + "` but found " + describe(peek()));
      return toks[k++];
    }
    function name() {
      const t = peek();
      if (t.t !== "name") fail("Expected a name but found " + describe(t));
      k++;
      return t;
    }

    function expression() {
      if (++depth > MAX_DEPTH) fail("The query nests too deeply");
      try {
        const arrow = arrowAhead();
        if (arrow) return arrowFunction(arrow);
        return conditional();
      } finally {
        depth--;
      }
    }

    // `x =>` or `(a, b) =>`: returns the parameter tokens, or null.
    function arrowAhead() {
      if (peek().t === "name" && is("=>", 1)) return [peek()];
      if (!is("(")) return null;
      const params = [];
      let n = 1;
      if (is(")", n)) return is("=>", n + 1) ? params : null;
      for (;;) {
        const t = peek(n);
        if (t.t !== "name") return null;
        params.push(t);
        n++;
        if (is(")", n)) return is("=>", n + 1) ? params : null;
        if (!is(",", n)) return null;
        n++;
      }
    }

    function arrowFunction(params) {
      const start = peek();
      if (is("(")) { while (!is("=>")) k++; } else k++;
      expect("=>");
      if (is("{")) return func(start, params, block());
      const body = expression();
      return { k: "fn", params: params.map((p) => p.v), stmts: [], ret: body, pos: start.pos,
        end: body.end };
    }

    function func(start, params, [stmts, ret, end]) {
      const seen = new Set();
      for (const p of params) {
        if (seen.has(p.v)) fail("Duplicate parameter `" + p.v + "`", p);
        seen.add(p.v);
      }
      return { k: "fn", params: params.map((p) => p.v), stmts, ret, pos: start.pos, end };
    }

    // `{ var x = ...; return ...; }`
    function block() {
      expect("{");
      const stmts = [];
      for (;;) {
        const t = peek();
        if (t.t === "name" && (t.v === "var" || t.v === "let" || t.v === "const")) {
          k++;
          const n = name();
          expect("=");
          stmts.push({ name: n.v, value: expression(), pos: n.pos, end: n.end });
          if (is(";")) k++;
          continue;
        }
        if (t.t === "name" && t.v === "return") {
          k++;
          if (is("}") || is(";")) fail("`return` needs a value", t);
          const ret = expression();
          if (is(";")) k++;
          const close = expect("}");
          return [stmts, ret, close.end];
        }
        if (is("}")) fail("The function must end with `return <value>;`");
        fail("A function body may only declare names (var x = ...;) and return a value; " +
          "found " + describe(t));
      }
    }

    function conditional() {
      const test = binary(1);
      if (!is("?")) return test;
      k++;
      const a = expression();
      expect(":");
      const b = expression();
      return { k: "cond", test, a, b, pos: test.pos, end: b.end };
    }

    function binary(min) {
      let left = unary();
      for (;;) {
        const t = peek();
        const prec = t.t === "punc" ? BINARY[t.v] : undefined;
        if (prec === undefined || prec < min) return left;
        k++;
        const right = binary(prec + 1);
        left = { k: "bin", op: t.v, a: left, b: right, pos: left.pos, end: right.end, opTok: t };
      }
    }

    function unary() {
      if (is("-") || is("+") || is("!")) {
        const t = toks[k++];
        if (++depth > MAX_DEPTH) fail("The query nests too deeply");
        const a = unary();
        depth--;
        return { k: "un", op: t.v, a, pos: t.pos, end: a.end };
      }
      return postfix(primary());
    }

    function postfix(node) {
      for (;;) {
        if (is(".")) {
          k++;
          const n = name(); // keywords are fine here: .do(), .default()
          node = { k: "member", obj: node, name: n.v, pos: node.pos, end: n.end, nameTok: n };
        } else if (is("(") && node.k === "member" && node.name === "run") {
          // .run(conn, callback): the console runs the query itself; the arguments are
          // skipped unread (they name a connection and callbacks the page does not have).
          const open = toks[k];
          let level = 0;
          do {
            if (peek().t === "eof") fail("Expected `)` to close `.run(`", open);
            if (is("(") || is("[") || is("{")) level++;
            else if (is(")") || is("]") || is("}")) level--;
            k++;
          } while (level > 0);
          node = { k: "run", obj: node.obj, pos: node.pos, end: toks[k - 1].end };
        } else if (is("(")) {
          const args = list("(", ")");
          node = { k: "call", callee: node, args: args.items, pos: node.pos, end: args.end };
        } else if (is("[")) {
          fail("Use (...) to get a field or an element: r.row('name'), not r.row['name']");
        } else {
          return node;
        }
      }
    }

    function list(open, close) {
      expect(open);
      const items = [];
      while (!is(close)) {
        if (is("...")) fail("Spread (...) is not supported; use r.args([...])");
        items.push(expression());
        if (!is(close)) expect(",");
      }
      return { items, end: toks[k++].end };
    }

    function primary() {
      const t = peek();
      if (t.t === "num" || t.t === "str") { k++; return { k: "lit", v: t.v, pos: t.pos, end: t.end }; }
      if (t.t === "punc") {
        if (t.v === "(") {
          k++;
          const e = expression();
          expect(")");
          return e;
        }
        if (t.v === "[") {
          const l = list("[", "]");
          return { k: "arr", items: l.items, pos: t.pos, end: l.end };
        }
        if (t.v === "{") return object();
        fail("Unexpected " + describe(t));
      }
      if (t.t === "eof") fail("The query ends too early");
      k++;
      switch (t.v) {
        case "true": return { k: "lit", v: true, pos: t.pos, end: t.end };
        case "false": return { k: "lit", v: false, pos: t.pos, end: t.end };
        case "null": return { k: "lit", v: null, pos: t.pos, end: t.end };
        case "function": {
          if (peek().t === "name") k++; // a name, as in function f(x) {...}
          const params = [];
          expect("(");
          while (!is(")")) {
            params.push(name());
            if (!is(")")) expect(",");
          }
          k++;
          return func(t, params, block());
        }
        case "new": {
          const cls = name();
          if (cls.v !== "Date") fail("Only `new Date(...)` can be created here", cls);
          const args = is("(") ? list("(", ")") : { items: [], end: cls.end };
          return { k: "date", args: args.items, pos: t.pos, end: args.end };
        }
        default:
          return { k: "name", name: t.v, pos: t.pos, end: t.end };
      }
    }

    function object() {
      const open = expect("{");
      const props = [];
      while (!is("}")) {
        const t = peek();
        let key;
        if (t.t === "name" || t.t === "str") key = t.v;
        else if (t.t === "num") key = String(t.v);
        else if (is("[")) fail("Computed keys ([...]: value) are not supported; use r.object()");
        else fail("Expected a key but found " + describe(t));
        k++;
        if (is(":")) {
          k++;
          props.push([key, expression()]);
        } else if (t.t === "name" && (is(",") || is("}"))) {
          props.push([key, { k: "name", name: key, pos: t.pos, end: t.end }]); // {x}
        } else {
          expect(":");
        }
        if (!is("}")) expect(",");
      }
      return { k: "obj", props, pos: open.pos, end: toks[k++].end };
    }

    const tree = expression();
    if (is(";")) k++;
    if (peek().t !== "eof") {
      fail(is(";") || k > 0 && toks[k - 1].v === ";"
        ? "Type one query at a time" : "Unexpected " + describe(peek()));
    }
    return tree;
  }

  // -- evaluation ---------------------------------------------------------------------------

  const OPERATORS = {
    "+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod", "<": "lt", ">": "gt",
    "<=": "le", ">=": "ge", "==": "eq", "===": "eq", "!=": "ne", "!==": "ne", "&&": "and",
    "||": "or", "!": "not",
  };

  function distance(a, b) {
    const d = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0];
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const cur = d[j];
        d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = cur;
      }
    }
    return d[b.length];
  }

  function suggest(word, names) {
    let best = null;
    let score = 3;
    for (const n of names) {
      const s = distance(word.toLowerCase(), n.toLowerCase());
      if (s < score) { score = s; best = n; }
    }
    return best ? ". Did you mean `" + best + "`?" : "";
  }

  /**
   * Reads `src` with `builder` (reql.js: `r`, `isTerm`, `commands`, `expr`); returns the term
   * JSON of the query.
   */
  function evaluate(src, builder) {
    const tree = parseTree(src);
    const { r } = builder;
    const fail = (msg, node) => {
      throw new QuerySyntaxError(msg, src, node.pos, node.end, "ReqlDriverError");
    };
    const METHOD = Symbol("method");
    const isPrimitive = (v) => v === null || ["number", "string", "boolean"].includes(typeof v);
    const isReql = (v) => v === r || builder.isTerm(v);
    const label = (node) => src.slice(node.pos, node.end);

    function value(node, scope) {
      switch (node.k) {
        case "lit": return node.v;
        case "name": {
          if (node.name in scope) return scope[node.name];
          if (node.name === "undefined") fail("`undefined` is not a ReQL value", node);
          const hint = node.name === "row" ? ". Did you mean `r.row`?" : "";
          fail("Unknown name `" + node.name + "`: a query can use `r` and the parameters of " +
            "its own functions" + hint, node);
          break;
        }
        case "arr": return node.items.map((x) => plain(x, scope));
        case "obj": {
          const out = {};
          for (const [key, x] of node.props) {
            Object.defineProperty(out, key, { value: plain(x, scope), enumerable: true,
              writable: true, configurable: true });
          }
          return out;
        }
        case "run": {
          const target = value(node.obj, scope);
          if (!builder.isTerm(target)) fail("`.run()` needs a query before it", node);
          return target;
        }
        case "member": return member(node, scope);
        case "call": return call(node, scope);
        case "fn": return closure(node, scope);
        case "date": {
          const args = node.args.map((x) => plain(x, scope));
          if (!args.every((a) => typeof a === "number" || typeof a === "string")) {
            fail("new Date(...) takes numbers or a string", node);
          }
          const d = new Date(...args);
          if (isNaN(d.getTime())) fail("Invalid date", node);
          return d;
        }
        case "un": {
          const a = value(node.a, scope);
          if (!isPrimitive(a)) operatorOnTerm(node, node.op);
          return node.op === "-" ? -a : node.op === "+" ? +a : !a;
        }
        case "bin": {
          const a = value(node.a, scope);
          const b = value(node.b, scope);
          if (!isPrimitive(a) || !isPrimitive(b)) operatorOnTerm(node, node.op);
          return binary(node.op, a, b);
        }
        case "cond": {
          const test = value(node.test, scope);
          if (!isPrimitive(test)) {
            fail("`? :` cannot test a ReQL value in the browser; use r.branch(test, a, b)", node);
          }
          return value(test ? node.a : node.b, scope);
        }
      }
      fail("Unexpected expression", node);
    }

    function operatorOnTerm(node, op) {
      const cmd = OPERATORS[op];
      fail("JavaScript's `" + op + "` does not work on ReQL values; use ." + cmd + "() " +
        "(for example r.row('n')." + cmd + "(1))", node.opTok || node);
    }

    function binary(op, a, b) {
      switch (op) {
        case "+": return a + b;
        case "-": return a - b;
        case "*": return a * b;
        case "/": return a / b;
        case "%": return a % b;
        case "<": return a < b;
        case ">": return a > b;
        case "<=": return a <= b;
        case ">=": return a >= b;
        case "==": case "===": return a === b;
        case "!=": case "!==": return a !== b;
        case "&&": return a && b;
        default: return a || b;
      }
    }

    // A value that may stand inside a query (not a bare command such as `r.table`).
    function plain(node, scope) {
      const v = value(node, scope);
      if (v && v[METHOD]) fail("`" + label(node) + "` is a command: call it, " +
        label(node) + "(...)", node);
      return v;
    }

    function member(node, scope) {
      const target = value(node.obj, scope);
      const name = node.name;
      if (target && target[METHOD]) {
        fail("`" + label(node.obj) + "` is a command: call it before `." + name + "`",
          node.nameTok);
      }
      if (!isReql(target)) {
        const what = Array.isArray(target) ? "a JavaScript array" : target === null ? "null"
          : typeof target === "object" ? "a JavaScript object" : "a JavaScript " + typeof target;
        fail("`." + name + "` on " + what + ": wrap it first, r.expr(" + label(node.obj) +
          ")." + name + "(...)", node.nameTok);
      }
      if (name === "run") fail("Call `.run()` with parentheses, or leave it out", node.nameTok);
      const top = target === r;
      if (!builder.commands(top).has(name)) {
        fail("`" + name + "` is not a ReQL command" +
          suggest(name, builder.commands(top)), node.nameTok);
      }
      const v = target[name];
      return typeof v === "function" && !builder.isTerm(v) ? { [METHOD]: name, fn: v } : v;
    }

    function call(node, scope) {
      const callee = value(node.callee, scope);
      const args = node.args.map((x) => plain(x, scope));
      try {
        if (callee && callee[METHOD]) return callee.fn(...args);
        if (isReql(callee)) return callee(...args);
      } catch (e) {
        if (e instanceof QuerySyntaxError) throw e;
        fail(e.message, node);
      }
      fail("Only ReQL commands and terms can be called; `" + label(node.callee) +
        "` is neither", node.callee);
    }

    // A query's own function: a real JS function (the builder counts its parameters), whose
    // body is walked with the parameters bound to the builder's variables.
    function closure(node, scope) {
      const f = function (...args) {
        const inner = Object.create(scope);
        node.params.forEach((p, i) => {
          Object.defineProperty(inner, p, { value: args[i], writable: true, enumerable: true,
            configurable: true });
        });
        for (const s of node.stmts) {
          Object.defineProperty(inner, s.name, { value: plain(s.value, inner), writable: true,
            enumerable: true, configurable: true });
        }
        return plain(node.ret, inner);
      };
      Object.defineProperty(f, "length", { value: node.params.length });
      return f;
    }

    const globals = Object.create(null);
    globals.r = r;
    const result = plain(tree, globals);
    try {
      return builder.build(result);
    } catch (e) {
      if (e instanceof QuerySyntaxError) throw e;
      fail(e.message, tree);
    }
    return null;
  }

  const api = { evaluate, parseTree, tokenize, QuerySyntaxError };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.ReqlParser = api;
})(typeof window !== "undefined" ? window : this);
