/* The Data Explorer: a query typed in ReQL's JavaScript syntax is built into term JSON in the
 * page (reql.js), sent over the WebSocket and run as the logged-in user. Cursors page with
 * "More results", changefeeds stream until stopped, a running query can be cancelled. */
(function () {
  "use strict";
  const C = window.Console;
  const { h } = C;
  const EXAMPLE = "r.db('rethinkdb').table('server_status')";
  const HISTORY_KEY = "rethought.explorer.history";
  const HISTORY_SIZE = 30;
  const PAGE_ROWS = 40;
  const FEED_SHOWN = 500; // a long-running feed shows its latest changes, newest first
  let lastText = null; // what was typed, kept when the page changes

  function history() {
    try {
      const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
      return Array.isArray(list) ? list.filter((x) => typeof x === "string") : [];
    } catch (e) { return []; }
  }

  function remember(text) {
    const list = [text, ...history().filter((x) => x !== text)].slice(0, HISTORY_SIZE);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(list)); } catch (e) { /* full */ }
  }

  C.pages.explorer = async function (main) {
    const editor = h("textarea.query", { id: "query", spellcheck: "false",
      placeholder: "r.db('test').table('heroes').filter(r.row('age').gt(30))" });
    editor.value = lastText === null ? EXAMPLE : lastText;
    editor.addEventListener("input", () => { lastText = editor.value; });
    const profile = h("input", { type: "checkbox", id: "profile" });
    const runBtn = h("button.primary", { type: "button", id: "run" }, "Run");
    const stopBtn = h("button", { type: "button", id: "stop", disabled: true }, "Stop");
    const moreBtn = h("button", { type: "button", id: "more", disabled: true }, "More results");
    const past = h("select.history", { id: "history", "aria-label": "History" });
    const fillHistory = () => past.replaceChildren(h("option", { value: "" }, "History…"),
      ...history().map((q) => h("option", { value: q }, q.length > 80 ? q.slice(0, 77) + "…"
        : q)));
    fillHistory();
    past.addEventListener("change", () => {
      if (past.value) { editor.value = lastText = past.value; editor.focus(); }
      past.value = "";
    });
    const panel = C.views.resultsPanel({ empty: "Run a query to see its results." });
    panel.extra.append(moreBtn);
    main.append(h("h1", "Data Explorer"), h("div.panel", editor,
      h("div.row", runBtn, stopBtn, h("label", profile, " Profile"), past, h("span.spacer"),
        h("span.muted", "Ctrl+Enter runs the query"))), panel.el);

    let current = null; // {q, feed, count, started}

    function finish(text) {
      if (current) current.q.stop();
      current = null;
      stopBtn.disabled = true;
      moreBtn.disabled = true;
      runBtn.disabled = false;
      if (text) panel.status(text);
    }

    function elapsed(c) {
      return ((performance.now() - c.started) / 1000).toFixed(3) + " s";
    }

    async function handle(c, res, first) {
      if (c !== current) return;
      if (res.t === 1) {
        panel.set([res.r[0]], true, res.p);
        finish("1 value in " + elapsed(c));
        return;
      }
      if (res.t !== 2 && res.t !== 3) {
        panel.error(new C.QueryError(res, c.q.term));
        finish("Failed after " + elapsed(c));
        return;
      }
      c.feed = c.feed || (res.n || []).some((n) => C.FEED_NOTES.includes(n));
      if (first) panel.set(res.r, false, res.p);
      else if (c.feed) panel.append(res.r.slice().reverse(), true, FEED_SHOWN);
      else panel.append(res.r);
      c.count += res.r.length;
      if (res.t === 2) {
        finish(c.count + " rows in " + elapsed(c));
      } else if (c.feed) {
        panel.status("Changefeed: " + c.count + " changes so far. Stop ends it.");
        handle(c, await c.q.more(), false); // streams until Stop
      } else {
        moreBtn.disabled = false;
        panel.status(c.count + " rows so far (" + elapsed(c) + "); more are available.");
      }
    }

    async function run() {
      finish();
      let term;
      try {
        term = C.builder.parse(editor.value);
      } catch (e) {
        panel.error(e);
        panel.status("The query could not be built.");
        return;
      }
      remember(editor.value.trim());
      fillHistory();
      await C.link.ready;
      // 40 rows a page, as RethinkDB's Data Explorer showed; "More results" asks for the next
      const optargs = { max_batch_rows: PAGE_ROWS };
      if (profile.checked) optargs.profile = true;
      const q = C.link.start(term, optargs);
      const c = current = { q, feed: false, count: 0, started: performance.now() };
      C.feeds.add(q); // leaving the page stops it
      runBtn.disabled = true;
      stopBtn.disabled = false;
      panel.status("Running…");
      handle(c, await q.next(), true);
    }

    runBtn.addEventListener("click", run);
    stopBtn.addEventListener("click", () => {
      if (!current) return;
      const c = current;
      finish((c.feed ? "Changefeed stopped: " : "Stopped: ") + c.count + " rows after " +
        elapsed(c) + ".");
    });
    moreBtn.addEventListener("click", async () => {
      if (!current) return;
      const c = current;
      moreBtn.disabled = true;
      panel.status("Fetching more…");
      handle(c, await c.q.more(), false);
    });
    editor.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); run(); }
    });
    editor.focus();
  };
})();
