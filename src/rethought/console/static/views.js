/* Showing ReQL values: as a tree, as a table of documents, or as raw JSON; and the results
 * panel (tabs, status line, "more results") the Data Explorer and the table view share. */
(function () {
  "use strict";
  const { h } = window.Console;

  function isTime(v) {
    return v && typeof v === "object" && v.$reql_type$ === "TIME";
  }

  /** A one-line text for a value (pseudo-types shown as what they mean). */
  function short(v) {
    if (isTime(v)) {
      const d = new Date(v.epoch_time * 1000);
      return isNaN(d) ? JSON.stringify(v) : d.toISOString().replace(".000Z", "Z") + " (" +
        v.timezone + ")";
    }
    if (v && typeof v === "object" && v.$reql_type$ === "BINARY") {
      return "<binary, " + Math.floor((v.data || "").length * 3 / 4) + " bytes>";
    }
    return JSON.stringify(v);
  }

  function leaf(v) {
    const cls = typeof v === "string" ? "str" : typeof v === "number" ? "num" : "lit";
    return h("span." + (isTime(v) ? "lit" : cls), short(v));
  }

  /** A collapsible tree; levels below `open` start closed. `key` labels it in its parent. */
  function tree(v, open, depth, key) {
    depth = depth || 0;
    const label = key === undefined ? null : h("span.key", key + ": ");
    if (v === null || typeof v !== "object" || isTime(v) || v.$reql_type$ === "BINARY") {
      return label ? h("div.kv", label, leaf(v)) : leaf(v);
    }
    const isArr = Array.isArray(v);
    const entries = isArr ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    const det = h("details" + (label ? ".kv" : ""));
    if (depth < (open === undefined ? 2 : open)) det.open = true;
    const n = entries.length;
    det.append(h("summary", label, h("span.shape", isArr ? "[" + n + (n === 1 ? " item]"
      : " items]") : "{" + n + (n === 1 ? " field}" : " fields}"))));
    for (const [k, x] of entries) {
      det.append(tree(x, open, depth + 1, isArr ? k : JSON.stringify(k)));
    }
    return det;
  }

  function treeView(rows, single) {
    const box = h("div.tree");
    if (single) { box.append(tree(rows[0], 3)); return box; }
    // A feed's changes open one level deeper, so that new_val / old_val show their fields.
    const change = (row) => row && typeof row === "object" && "new_val" in row;
    rows.forEach((row) => box.append(h("div.doc", tree(row, change(row) ? 2 : 1))));
    return box;
  }

  function tableView(rows) {
    const cols = [];
    const seen = new Set();
    for (const row of rows) {
      if (row && typeof row === "object" && !Array.isArray(row) && !isTime(row)) {
        for (const k of Object.keys(row)) if (!seen.has(k) && cols.length < 60) {
          seen.add(k); cols.push(k);
        }
      }
    }
    if (cols.includes("id")) { cols.splice(cols.indexOf("id"), 1); cols.unshift("id"); }
    if (!cols.length) {
      return h("table.grid", h("tbody", rows.map((row) => h("tr", h("td.cell", short(row))))));
    }
    return h("table.grid",
      h("thead", h("tr", cols.map((c) => h("th", c)))),
      h("tbody", rows.map((row) => h("tr", cols.map((c) => {
        const v = row && typeof row === "object" ? row[c] : undefined;
        return h("td.cell", { title: v === undefined ? "" : short(v) },
          v === undefined ? "" : short(v));
      })))));
  }

  function rawView(rows, single) {
    return h("pre", JSON.stringify(single ? rows[0] : rows, null, 2));
  }

  /** A results panel: `set(rows, single)`, `append(rows)`, `status(text)`, `error(e)`. */
  function resultsPanel(options) {
    const opts = options || {};
    let view = opts.view || "tree";
    let rows = [];
    let single = false;
    let profile = null;
    let error = null;
    const body = h("div.body");
    const statusText = h("span.status-text");
    const extra = h("span.row");
    const tabs = h("div.tabs");
    const names = { tree: "Tree view", table: "Table view", raw: "Raw JSON", profile: "Profile" };
    const buttons = {};
    for (const [key, label] of Object.entries(names)) {
      buttons[key] = h("button", { type: "button", dataset: { view: key },
        onclick: () => { view = key; render(); } }, label);
      tabs.append(buttons[key]);
    }
    const panel = h("div.results", tabs, body, h("div.status", statusText, h("span.spacer"),
      extra));

    function render() {
      buttons.profile.style.display = profile ? "" : "none";
      for (const [k, b] of Object.entries(buttons)) b.classList.toggle("active", k === view);
      body.replaceChildren();
      if (error) { body.append(window.Console.errorBox(error)); return; }
      if (view === "profile" && profile) { body.append(treeView([profile], true)); return; }
      if (!rows.length && !single) {
        body.append(h("p.muted", opts.empty || "No results."));
        return;
      }
      // a single array (r.expr([...]), an ordered selection) shows as rows too
      const asRows = single ? (Array.isArray(rows[0]) ? rows[0] : [rows[0]]) : rows;
      if (view === "table") body.append(tableView(asRows));
      else if (view === "raw") body.append(rawView(rows, single));
      else body.append(treeView(rows, single));
    }

    render();
    return {
      el: panel,
      extra,
      set(newRows, isSingle, prof) {
        rows = newRows.slice(); single = !!isSingle; profile = prof || null; error = null;
        if (view === "profile" && !profile) view = "tree";
        render();
      },
      /** Adds rows (newest first when `atTop`), keeping at most `cap` of them. */
      append(more, atTop, cap) {
        rows = atTop ? more.concat(rows) : rows.concat(more);
        if (cap && rows.length > cap) rows = atTop ? rows.slice(0, cap) : rows.slice(-cap);
        error = null;
        render();
      },
      rows() { return rows; },
      error(e) { error = e; render(); },
      status(text) { statusText.textContent = text; },
    };
  }

  Object.assign(window.Console, { views: { tree, treeView, tableView, rawView, short,
    resultsPanel } });
})();
