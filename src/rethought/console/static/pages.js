/* The Dashboard, Tables, Table view and Logs pages. Each reads through ReQL queries as the
 * logged-in user; live parts are changefeeds (stats, table changes), never polling. */
(function () {
  "use strict";
  const C = window.Console;
  const { h } = C;
  const HISTORY = 60; // seconds of the reads / writes chart

  // -- shared ------------------------------------------------------------------------------

  /** Every database and the tables this user may read: [{db, tables: [{name, count, ...}]}]. */
  async function overview() {
    const r = C.r;
    const dbs = (await C.run(r.dbList())).filter((d) => d !== "rethinkdb").sort();
    return Promise.all(dbs.map(async (db) => {
      const names = (await C.run(r.db(db).tableList())).sort();
      const tables = await Promise.all(names.map(async (name) => {
        const t = r.db(db).table(name);
        try {
          const [count, indexes, pk] = await Promise.all([
            C.run(t.count()), C.run(t.indexStatus()), C.run(t.info()("primary_key")),
          ]);
          return { name, count, indexes, pk };
        } catch (e) {
          if (e.name === "ReqlPermissionError") return null; // not this user's to see
          return { name, error: e };
        }
      }));
      return { db, tables: tables.filter(Boolean) };
    }));
  }

  function card(label, value, id, size) {
    return h("div.card", h("div.label", label), h("div.value" + (size ? "." + size : ""),
      { id }, value));
  }

  function formatUptime(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d) return d + "d " + hr + "h";
    if (hr) return hr + "h " + m + "m";
    return m ? m + "m " + sec + "s" : sec + "s";
  }

  async function attempt(promise, fallback) {
    try { return await promise; } catch (e) { return fallback; }
  }

  /** Arms a destructive button: the first click asks, the second (within 4 s) acts. */
  function confirmButton(label, action) {
    const b = h("button.danger", { type: "button" }, label);
    let timer = null;
    b.addEventListener("click", async () => {
      if (!b.classList.contains("armed")) {
        b.classList.add("armed");
        b.textContent = "Confirm: " + label.toLowerCase();
        timer = setTimeout(() => { b.classList.remove("armed"); b.textContent = label; }, 4000);
        return;
      }
      clearTimeout(timer);
      b.disabled = true;
      await action();
    });
    return b;
  }

  // -- dashboard ---------------------------------------------------------------------------

  function drawChart(canvas, samples) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, hgt = canvas.clientHeight;
    canvas.width = w * dpr; canvas.height = hgt * dpr;
    const g = canvas.getContext("2d");
    g.scale(dpr, dpr);
    const css = getComputedStyle(document.documentElement);
    const pad = { l: 48, r: 12, t: 10, b: 22 };
    const max = Math.max(4, ...samples.map((s) => Math.max(s.reads, s.writes)));
    const top = 4 * niceCeil(max / 4); // four even steps: 1, 2, 2.5 or 5 times a power of 10
    g.clearRect(0, 0, w, hgt);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#667085"; g.strokeStyle = "#e3e6eb"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + (hgt - pad.t - pad.b) * (1 - i / 4);
      g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
      g.fillText(String(+(top * i / 4).toFixed(2)), 6, y + 4);
    }
    g.fillText(HISTORY + " s ago", pad.l, hgt - 6);
    g.fillText("now", w - pad.r - 22, hgt - 6);
    const x = (i) => pad.l + (w - pad.l - pad.r) * (i / (HISTORY - 1));
    const y = (v) => pad.t + (hgt - pad.t - pad.b) * (1 - v / top);
    const offset = HISTORY - samples.length;
    for (const [key, color] of [["reads", "--reads"], ["writes", "--writes"]]) {
      g.strokeStyle = css.getPropertyValue(color).trim(); g.lineWidth = 2;
      g.beginPath();
      samples.forEach((s, i) => (i ? g.lineTo : g.moveTo).call(g, x(offset + i), y(s[key])));
      g.stroke();
    }
  }

  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  C.pages.dashboard = async function (main) {
    const r = C.r;
    main.append(h("h1", "Dashboard"));
    const cards = h("div.cards",
      card("Server", "…", "d-server"), card("Uptime", "…", "d-uptime"),
      card("Version", "…", "d-version", "small"), card("Tables", "…", "d-tables"),
      card("Documents", "…", "d-docs"), card("Connections", "…", "d-conns"));
    const canvas = h("canvas.chart", { id: "writes-chart" });
    const now = h("span.muted", { id: "d-rates" }, "");
    const chart = h("div.panel", h("div.chart-head", h("h2", "Reads and writes per second"),
      h("span.legend", h("span.reads", "reads"), " ", h("span.writes", "writes")), now),
    canvas);
    const issues = h("div.panel", h("h2", "Current issues"), h("p.muted", "…"));
    main.append(cards, chart, issues);
    const set = (id, v) => { const el = document.getElementById(id); if (el) el.textContent = v; };

    const status = await attempt(C.run(r.db("rethinkdb").table("server_status").nth(0)), null);
    if (status) {
      set("d-server", status.name);
      set("d-version", status.process.version);
      const started = status.process.time_started.epoch_time;
      const tick = () => set("d-uptime", formatUptime(Date.now() / 1000 - started));
      tick();
      const timer = setInterval(() => {
        if (!document.getElementById("d-uptime")) clearInterval(timer); else tick();
      }, 1000);
    } else {
      for (const id of ["d-server", "d-uptime", "d-version"]) set(id, "—");
    }
    // Table and document counts: read now, and again (at most every 2 s) while the stats feed
    // says something is being written.
    let counted = 0;
    const count = () => {
      counted = Date.now();
      overview().then((dbs) => {
        const tables = dbs.flatMap((d) => d.tables);
        set("d-tables", tables.length);
        set("d-docs", tables.reduce((n, t) => n + (t.count || 0), 0).toLocaleString());
      }).catch(() => { set("d-tables", "—"); set("d-docs", "—"); });
    };
    count();

    const list = await attempt(C.run(r.db("rethinkdb").table("current_issues")), null);
    issues.replaceChildren(h("h2", "Current issues"), list === null
      ? h("p.muted", "Not visible to this user.")
      : list.length ? list.map((i) => h("div.issue", h("strong", i.type + ": "),
        i.description)) : h("p.muted", "No issues."));

    // The chart: the cluster row of rethinkdb.stats, pushed by its changefeed once a second.
    const samples = [];
    const cluster = await attempt(C.run(r.db("rethinkdb").table("stats").get(["cluster"])), null);
    if (!cluster) {
      set("d-conns", "—");
      now.textContent = "Statistics are not visible to this user.";
      drawChart(canvas, samples);
      return;
    }
    const show = (qe) => {
      set("d-conns", qe.client_connections);
      samples.push({ reads: qe.read_docs_per_sec, writes: qe.written_docs_per_sec });
      if (samples.length > HISTORY) samples.shift();
      canvas.dataset.writes = qe.written_docs_per_sec;
      canvas.dataset.reads = qe.read_docs_per_sec;
      canvas.dataset.samples = samples.length;
      now.textContent = Math.round(qe.read_docs_per_sec) + " reads/s · " +
        Math.round(qe.written_docs_per_sec) + " writes/s";
      drawChart(canvas, samples);
      if (qe.written_docs_per_sec > 0 && Date.now() - counted > 2000) count();
    };
    show(cluster.query_engine);
    C.feed(r.db("rethinkdb").table("stats").changes(), (changes) => {
      for (const c of changes) {
        if (c.new_val && c.new_val.id[0] === "cluster") show(c.new_val.query_engine);
      }
    });
  };

  // -- tables ------------------------------------------------------------------------------

  function indexChips(db, t, refresh) {
    const r = C.r;
    return (t.indexes || []).map((ix) => {
      const building = !ix.ready;
      const label = ix.index + (building ? " (building" +
        (ix.progress !== undefined ? " " + Math.round(ix.progress * 100) + "%" : "") + ")" : "");
      return h("span.chip" + (building ? ".building" : ""), { dataset: { index: ix.index } },
        label, h("button", { type: "button", title: "Drop index " + ix.index,
          onclick: async () => {
            await C.run(r.db(db).table(t.name).indexDrop(ix.index)); refresh();
          } }, "×"));
    });
  }

  C.pages.tables = async function (main) {
    const r = C.r;
    const dbName = h("input", { placeholder: "new database", name: "db-name" });
    const problem = h("div");
    const body = h("div", h("p.muted", "Loading…"));
    const guard = (fn) => async () => {
      problem.replaceChildren();
      try { await fn(); } catch (e) { problem.append(C.errorBox(e)); }
      await refresh();
    };
    main.append(h("div.row.page-head", h("h1", "Tables"), h("span.spacer"), dbName,
      h("button.primary", { type: "button", id: "create-db",
        onclick: guard(() => C.run(r.dbCreate(dbName.value.trim()))) }, "Add database")),
    problem, body);

    async function refresh() {
      const dbs = await overview();
      body.replaceChildren(...dbs.map((d) => dbPanel(d)));
      if (!dbs.length) body.append(h("p.muted", "No databases yet."));
    }

    function dbPanel(d) {
      const tName = h("input", { placeholder: "new table", name: "table-name",
        dataset: { db: d.db } });
      const rows = d.tables.map((t) => {
        const ixName = h("input", { placeholder: "index field", size: 12, name: "index-name" });
        return h("tr", { dataset: { table: t.name } },
          h("td", h("a", { href: "#table/" + encodeURIComponent(d.db) + "/" +
            encodeURIComponent(t.name) }, t.name)),
          h("td.num", t.error ? h("span.muted", t.error.message) : t.count.toLocaleString()),
          h("td", t.pk || ""),
          h("td", indexChips(d.db, t, refresh)),
          h("td", h("div.row", ixName, h("button", { type: "button", onclick: guard(async () => {
            const name = ixName.value.trim();
            await C.run(r.db(d.db).table(t.name).indexCreate(name));
            refresh(); // shows it building, then once more when it is ready
            await C.run(r.db(d.db).table(t.name).indexWait(name));
          }) }, "Add index"),
          confirmButton("Drop table", guard(() => C.run(r.db(d.db).tableDrop(t.name)))))));
      });
      return h("section.panel", { dataset: { db: d.db } },
        h("div.db-head", h("h2", d.db), h("span.muted", d.tables.length + (d.tables.length === 1 ? " table" : " tables")),
          h("span.spacer"), tName,
          h("button.primary", { type: "button", onclick: guard(() =>
            C.run(r.db(d.db).tableCreate(tName.value.trim()))) }, "Add table"),
          confirmButton("Drop database", guard(() => C.run(r.dbDrop(d.db))))),
        rows.length ? h("table.grid", h("thead", h("tr", h("th", "Table"), h("th", "Documents"),
          h("th", "Primary key"), h("th", "Secondary indexes"), h("th", ""))), h("tbody", rows))
          : h("p.muted", "No tables."));
    }

    await refresh();
    // Other clients' creates and drops show up too (admin sees table_config's feed).
    C.feed(r.db("rethinkdb").table("table_config").changes(), () => refresh()).catch(() => {});
  };

  // -- one table ---------------------------------------------------------------------------

  C.pages.table = async function (main, [db, name]) {
    const r = C.r;
    const t = r.db(db).table(name);
    const PAGE = 25;
    const [pk, indexes] = await Promise.all([C.run(t.info()("primary_key")),
      C.run(t.indexList())]);
    let page = 0;
    let index = pk;
    const select = h("select", { name: "index", onchange: () => { index = select.value;
      page = 0; load(); } }, [pk, ...indexes].map((i) => h("option", { value: i }, i)));
    const prev = h("button", { type: "button", onclick: () => { page--; load(); } }, "‹ Prev");
    const next = h("button", { type: "button", onclick: () => { page++; load(); } }, "Next ›");
    const panel = C.views.resultsPanel({ view: "table", empty: "This table is empty." });
    panel.extra.append(prev, next);
    const changes = h("div.changes", { id: "live-changes" },
      h("p.muted", "Waiting for changes…"));
    main.append(h("div.row.page-head", h("h1", db + "." + name), h("span.spacer"),
      h("label.muted", "Order by index ", select)),
    panel.el, h("div.panel", h("h2", "Live changes"), changes));

    async function load() {
      try {
        const rows = await C.run(t.orderBy({ index }).skip(page * PAGE).limit(PAGE));
        panel.set(rows);
        panel.status("Documents " + (rows.length ? page * PAGE + 1 : 0) + "–" +
          (page * PAGE + rows.length) + " by " + index);
        prev.disabled = page === 0;
        next.disabled = rows.length < PAGE;
      } catch (e) { panel.error(e); }
    }
    await load();

    let first = true;
    C.feed(t.changes(), (rows) => {
      if (first) { changes.replaceChildren(); first = false; }
      for (const c of rows) {
        const kind = c.old_val == null ? "insert" : c.new_val == null ? "delete" : "update";
        // one line per change: the new document (the old one for a delete), both for updates
        const line = (label, v) => h("div.doc-line", label ? h("span.muted", label) : null,
          h("code", C.views.short(v)));
        changes.prepend(h("div.change." + kind, h("div.when", kind + " · " +
          new Date().toLocaleTimeString()),
        kind === "update" ? [line("old ", c.old_val), line("new ", c.new_val)]
          : line(null, c.new_val || c.old_val)));
      }
      while (changes.children.length > 100) changes.lastChild.remove();
    }, (err) => { if (err) changes.prepend(C.errorBox(err)); });
  };

  // -- logs --------------------------------------------------------------------------------

  C.pages.logs = async function (main) {
    const r = C.r;
    const logs = r.db("rethinkdb").table("logs");
    main.append(h("div.row.page-head", h("h1", "Logs"), h("span.spacer"),
      h("span.muted", { id: "logs-status" }, "Newest first; new entries appear live.")));
    const row = (l, fresh) => h("tr" + (fresh ? ".fresh" : ""), h("td.time",
      C.views.short(l.timestamp)), h("td.level.level-" + l.level, l.level),
    h("td.server", l.server), h("td.message", l.message));
    const rows = await C.run(logs.orderBy(r.desc("timestamp")).limit(500));
    const tbody = h("tbody", { id: "log-rows" }, rows.map((l) => row(l, false)));
    const empty = h("p.muted", "No log entries.");
    main.append(h("div.panel", h("table.grid.logs", h("thead", h("tr", h("th", "Time"),
      h("th", "Level"), h("th", "Server"), h("th", "Message"))), tbody),
    rows.length ? null : empty));
    C.feed(logs.changes(), (changes) => {
      for (const c of changes) if (c.new_val && !c.old_val) tbody.prepend(row(c.new_val, true));
      empty.remove();
      while (tbody.children.length > 500) tbody.lastChild.remove();
    }, (err) => {
      if (err) document.getElementById("logs-status").textContent = err.message;
    });
  };
})();
