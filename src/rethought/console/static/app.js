/* The console's core: the session (login / logout), the WebSocket that carries every query,
 * small DOM helpers, and the router that shows one page at a time.
 *
 * Pages (pages.js, explorer.js) build queries with `r` (reql.js) and run them through
 * `Console.run` / `Console.feed`; nothing else talks to the server.
 */
(function () {
  "use strict";

  const ERROR_NAMES = {
    1000000: "ReqlInternalError", 2000000: "ReqlResourceLimitError",
    3000000: "ReqlQueryLogicError", 3100000: "ReqlNonExistenceError",
    4100000: "ReqlOpFailedError", 4200000: "ReqlOpIndeterminateError",
    5000000: "ReqlUserError", 6000000: "ReqlPermissionError",
  };
  const FEED_NOTES = [1, 2, 3, 4];
  const LOST = { t: 16, r: ["The console lost its connection to the server."], b: [] };
  const RETRY_MS = [250, 500, 1000, 2000]; // reconnection backoff, then every 2 s

  // -- DOM ---------------------------------------------------------------------------------

  /** h("div.card", {onclick}, child, "text"): an element; never parses HTML. */
  function h(spec, attrs, ...children) {
    const [tag, ...classes] = spec.split(".");
    const el = document.createElement(tag || "div");
    if (classes.length) el.className = classes.join(" ");
    if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
      children.unshift(attrs);
      attrs = null;
    }
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  // -- errors ------------------------------------------------------------------------------

  class QueryError extends Error {
    constructor(response, term) {
      const name = response.t === 17 ? "ReqlCompileError"
        : response.t === 16 ? "ReqlDriverError"
        : ERROR_NAMES[response.e] || "ReqlRuntimeError";
      super(String(response.r && response.r[0]));
      this.name = name;
      this.response = response;
      this.term = term;
    }

    /** The query printed with ^^^ under the part the server blamed. */
    printed() {
      if (!this.term || !Console.builder) return null;
      return Console.builder.print(this.term, this.response.b || []);
    }
  }

  // -- the WebSocket -----------------------------------------------------------------------

  class Query {
    constructor(link, token, term) {
      this.link = link;
      this.token = token;
      this.term = term;
      this.waiting = [];  // resolvers of next()
      this.queued = [];   // responses nobody asked for yet
      this.done = false;
      this.stopped = false;
    }

    deliver(response) {
      if (response.t !== 3) this.done = true;
      const w = this.waiting.shift();
      if (w) w(response); else this.queued.push(response);
    }

    /** The next response of this query (the first after start, then one per continue). */
    next() {
      if (this.queued.length) return Promise.resolve(this.queued.shift());
      return new Promise((resolve) => this.waiting.push(resolve));
    }

    more() {
      if (!this.link.send({ op: "continue", token: this.token })) this.deliver(LOST);
      return this.next();
    }

    stop() {
      if (!this.done && !this.stopped) this.link.send({ op: "stop", token: this.token });
      this.stopped = true;
    }
  }

  class Link {
    constructor() {
      this.queries = new Map();
      this.nextToken = 1;
      this.ws = null;
      this.ready = null;
      this.listeners = new Set(); // called with "open" / "closed"
    }

    open(csrf) {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(proto + "//" + location.host + "/api/ws?csrf=" +
        encodeURIComponent(csrf));
      this.ws = ws;
      this.ready = new Promise((resolve, reject) => {
        ws.onopen = () => { resolve(); this.listeners.forEach((f) => f("open")); };
        ws.onerror = () => reject(new Error("The console lost its connection to the server."));
      });
      ws.onmessage = (ev) => {
        const msg = JSON.parse(ev.data);
        if (msg.error) { console.error(msg.error); return; }
        const q = this.queries.get(msg.token);
        if (!q) return;
        if (msg.response.t !== 3) this.queries.delete(msg.token);
        q.deliver(msg.response);
      };
      ws.onclose = () => {
        for (const q of this.queries.values()) q.deliver(LOST);
        this.queries.clear();
        if (this.ws === ws) this.listeners.forEach((f) => f("closed"));
      };
      return this.ready;
    }

    close() {
      if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
    }

    /** Sends one message; false when the socket is not open (the caller's query is lost). */
    send(msg) {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
      this.ws.send(JSON.stringify(msg));
      return true;
    }

    /** Starts `term` (JSON); returns its Query, whose next() is the first response. */
    start(term, optargs) {
      const q = new Query(this, this.nextToken++, term);
      this.queries.set(q.token, q);
      if (!this.send({ op: "start", token: q.token, term, optargs: optargs || {} })) {
        this.queries.delete(q.token);
        q.deliver(LOST);
      }
      return q;
    }
  }

  // -- the console -------------------------------------------------------------------------

  const Console = {
    h, QueryError, FEED_NOTES,
    builder: null, r: null, user: null, csrf: null, link: new Link(), pages: {},
    feeds: new Set(), // feeds of the page on screen; stopped when it changes

    async api(path, body) {
      const res = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": this.csrf },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });
      const data = await res.json();
      if (!res.ok) throw new Error(data.error || res.statusText);
      return data;
    },

    /** Runs a query built with `r`; resolves to its whole result (sequences read fully). */
    async run(query, optargs) {
      const term = this.builder.build(query);
      await this.link.ready;
      const q = this.link.start(term, optargs);
      let res = await q.next();
      if (res.t === 1) return res.r[0];
      const rows = [];
      for (;;) {
        if (res.t !== 2 && res.t !== 3) throw new QueryError(res, term);
        rows.push(...res.r);
        if (res.t === 2) return rows;
        if ((res.n || []).some((n) => FEED_NOTES.includes(n))) {
          q.stop();
          throw new Error("run() cannot read a changefeed; use feed().");
        }
        res = await q.more();
      }
    },

    /** Streams a changefeed into `onRows(rows)` until stopped or the page changes. */
    async feed(query, onRows, onEnd) {
      const term = this.builder.build(query);
      await this.link.ready;
      const q = this.link.start(term);
      this.feeds.add(q);
      (async () => {
        let res = await q.next();
        for (;;) {
          if (res.t !== 2 && res.t !== 3) {
            if (onEnd) onEnd(q.stopped ? null : new QueryError(res, term));
            break;
          }
          if (res.r.length) onRows(res.r);
          if (res.t === 2 || q.stopped) { if (onEnd) onEnd(null); break; }
          res = await q.more();
        }
        this.feeds.delete(q);
      })();
      return q;
    },

    stopFeeds() {
      for (const q of this.feeds) q.stop();
      this.feeds.clear();
    },

    // -- pages and routing ---------------------------------------------------------------

    route() {
      this.stopFeeds();
      const [name, ...rest] = (location.hash.slice(1) || "dashboard").split("/");
      const page = this.pages[name] || this.pages.dashboard;
      const main = document.getElementById("main");
      main.replaceChildren();
      for (const a of document.querySelectorAll("nav a[data-page]")) {
        a.classList.toggle("active", a.dataset.page === (this.pages[name] ? name : "dashboard"));
      }
      page(main, rest.map(decodeURIComponent)).catch((e) => main.append(errorBox(e)));
    },

    async start() {
      const [terms, session] = await Promise.all([
        fetch("/console/ql2.json").then((x) => x.json()),
        fetch("/api/session", { credentials: "same-origin" }).then((x) => x.json()),
      ]);
      this.builder = ReqlBuilder.create(terms);
      this.r = this.builder.r;
      this.csrf = session.csrf;
      this.loginRequired = session.login_required;
      if (session.user) await this.enter(session.user);
      else this.showLogin();
    },

    async enter(user) {
      this.user = user;
      document.body.classList.remove("logged-out");
      document.getElementById("who").textContent = user;
      await this.link.open(this.csrf);
      window.onhashchange = () => this.route();
      this.route();
    },

    showLogin(message) {
      this.link.close();
      document.body.classList.add("logged-out");
      const main = document.getElementById("main");
      const err = h("p.login-error", { role: "alert" }, message || "");
      const user = h("input", { name: "user", autocomplete: "username", value: "admin" });
      const pass = h("input", { name: "password", type: "password",
        autocomplete: "current-password" });
      const form = h("form.login", {
        onsubmit: async (ev) => {
          ev.preventDefault();
          err.textContent = "";
          try {
            const res = await this.api("/api/login", { user: user.value, password: pass.value });
            this.csrf = res.csrf;
            await this.enter(res.user);
          } catch (e) {
            err.textContent = e.message;
            pass.select();
          }
        },
      },
      h("h1", "Log in to Rethought"),
      h("label", "User", user),
      h("label", "Password", pass),
      h("button.primary", { type: "submit" }, "Log in"),
      err);
      main.replaceChildren(form);
      pass.focus();
    },

    async logout() {
      this.stopFeeds();
      const res = await this.api("/api/logout");
      this.csrf = res.csrf;
      this.user = null;
      this.showLogin();
    },
  };

  function errorBox(e) {
    const box = h("div.error", { role: "alert" }, h("strong", (e.name || "Error") + ": "),
      e.message);
    if (typeof e.printed === "function") { // a server error, or a typo in the typed query
      const p = e.printed();
      if (p) box.append(h("pre.caret", p.text + (p.carets ? "\n" + p.carets : "")));
    }
    return box;
  }
  Console.errorBox = errorBox;

  // The socket dropped (server restart, network): show "offline", retry with backoff, then
  // carry on with the same session, or ask for a login when the server no longer knows it.
  let retries = 0;
  let timer = null;
  function reconnect() {
    if (timer !== null) return;
    const delay = RETRY_MS[Math.min(retries++, RETRY_MS.length - 1)];
    timer = setTimeout(async () => {
      timer = null;
      if (!Console.user) return; // logged out meanwhile
      let session;
      try {
        session = await fetch("/api/session", { credentials: "same-origin" })
          .then((x) => x.json());
      } catch (e) {
        reconnect(); // the server is still away
        return;
      }
      Console.csrf = session.csrf;
      if (!session.user) {
        Console.user = null;
        Console.showLogin("Your session ended (the server restarted?); log in again.");
        return;
      }
      // a socket that fails to open closes, and the listener below tries again
      Console.enter(session.user).catch(() => {});
    }, delay);
  }

  Console.link.listeners.add((state) => {
    document.body.classList.toggle("offline", state === "closed");
    if (state === "open") retries = 0;
    if (state === "closed" && Console.user) reconnect();
  });

  window.Console = Console;
  window.addEventListener("DOMContentLoaded", () => {
    document.getElementById("logout").addEventListener("click", () => Console.logout());
    Console.start().catch((e) => {
      document.getElementById("main").replaceChildren(errorBox(e));
    });
  });
})();
