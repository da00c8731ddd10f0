// The todo page: plain JavaScript, no build step.
//
// The server is the only writer: the page sends requests on its WebSocket and changes its list
// only from what the server pushes (every change of r.table("todo").changes()), so every page
// shows the same list. After each (re)connection the server says "ready"; the page then reads
// GET /todo and replays, in order, the changes that arrived meanwhile. Items are kept by id and
// each change carries the item's whole new value, so a change that the list already holds is
// applied again harmlessly: nothing is missed, nothing is shown twice.
"use strict";

(() => {
  const MAX_TEXT = 500;
  const BACKOFF_MIN = 250; // ms; doubled after each failed attempt, up to BACKOFF_MAX
  const BACKOFF_MAX = 5000;
  const ERROR_SHOWN_MS = 8000;

  const $ = (id) => document.getElementById(id);
  const form = $("new"), input = $("new-text"), list = $("list"), statusEl = $("status");

  const items = new Map(); // key(id) -> the item as stored
  const rows = new Map(); // key(id) -> its <li>
  const pendingAdds = new Map(); // ref -> text sent, to clear the input once it is stored
  let ws = null;
  let state = "connecting"; // connecting | syncing | online | offline | db-offline
  let generation = 0; // bumped on each (re)sync, so a late GET /todo answer is dropped
  let buffer = null; // changes received while GET /todo is under way
  let delay = BACKOFF_MIN;
  let nextRef = 1;
  let errorTimer = null;

  // Ids are the database's: strings (ours) or numbers (another client's); "1" is not 1.
  const key = (id) => JSON.stringify(id);

  // RethinkDB orders numbers before strings; the app's ids are time-ordered UUIDs.
  function compareIds(a, b) {
    const ta = typeof a === "number" ? 0 : 1, tb = typeof b === "number" ? 0 : 1;
    if (ta !== tb) return ta - tb;
    const sa = ta ? String(a) : a, sb = tb ? String(b) : b;
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  }

  function setState(next, text) {
    state = next;
    statusEl.dataset.state = next;
    statusEl.textContent = text;
    document.body.classList.toggle("offline", next !== "online");
    $("add").disabled = next !== "online";
    for (const row of rows.values()) updateRow(row, items.get(row.dataset.key));
  }

  // --- the socket -------------------------------------------------------------------------

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws`);
    ws = socket;
    socket.onmessage = (event) => {
      if (socket === ws) receive(JSON.parse(event.data));
    };
    socket.onclose = () => {
      if (socket !== ws) return;
      ws = null;
      generation++;
      buffer = null;
      pendingAdds.clear(); // their answers went with the socket
      const wait = Math.round(delay * (0.8 + 0.4 * Math.random()));
      delay = Math.min(delay * 2, BACKOFF_MAX);
      setState("offline", `Offline — reconnecting in ${(wait / 1000).toFixed(1)} s`);
      setTimeout(connect, wait);
    };
  }

  function receive(msg) {
    switch (msg.type) {
      case "ready":
        resync();
        break;
      case "offline":
        generation++;
        buffer = null;
        setState("db-offline", "Offline — the database is unavailable");
        break;
      case "change":
        if (buffer) buffer.push(msg);
        else if (state === "online") {
          apply(msg);
          render();
        }
        break;
      case "ok":
        if (pendingAdds.has(msg.ref)) {
          if (input.value.trim() === pendingAdds.get(msg.ref)) input.value = "";
          pendingAdds.delete(msg.ref);
          updateCounter();
        }
        break;
      case "error":
        pendingAdds.delete(msg.ref);
        showError(msg.message);
        render(); // undo what the page showed ahead of the server (a clicked box)
        break;
    }
  }

  async function resync() {
    const mine = ++generation;
    buffer = [];
    setState("syncing", "Syncing…");
    let fresh;
    try {
      const response = await fetch("/todo", { cache: "no-store" });
      if (!response.ok) throw new Error(`GET /todo: ${response.status}`);
      fresh = await response.json();
    } catch (err) {
      // The database went away again, or the app did: start over from a new socket.
      if (mine === generation && ws) ws.close();
      return;
    }
    if (mine !== generation) return; // a newer sync (or a disconnect) overtook this one
    items.clear();
    for (const item of fresh) items.set(key(item.id), item);
    for (const change of buffer) apply(change);
    buffer = null;
    delay = BACKOFF_MIN;
    setState("online", "Live");
    render();
  }

  function send(message) {
    if (!ws || ws.readyState !== WebSocket.OPEN || state !== "online") {
      showError("Offline: nothing was sent. Try again when the page is live.");
      return null;
    }
    const ref = nextRef++;
    ws.send(typeof message === "string" ? message : JSON.stringify({ ...message, ref }));
    return ref;
  }

  // --- the list -----------------------------------------------------------------------------

  function apply(change) {
    const { old_val: oldVal, new_val: newVal } = change;
    if (oldVal && (!newVal || key(oldVal.id) !== key(newVal.id))) items.delete(key(oldVal.id));
    if (newVal) items.set(key(newVal.id), newVal);
  }

  function render() {
    const ordered = [...items.values()].sort((a, b) => compareIds(a.id, b.id));
    for (const [k, row] of rows) {
      if (!items.has(k)) {
        row.remove();
        rows.delete(k);
      }
    }
    let previous = null;
    for (const item of ordered) {
      const k = key(item.id);
      let row = rows.get(k);
      if (!row) {
        row = makeRow(k);
        rows.set(k, row);
      }
      updateRow(row, item);
      const wanted = previous ? previous.nextSibling : list.firstChild;
      if (row !== wanted) list.insertBefore(row, wanted);
      previous = row;
    }
    const left = ordered.filter((item) => !item.done).length;
    $("empty").hidden = ordered.length > 0;
    $("remaining").textContent = ordered.length
      ? `${left} of ${ordered.length} left` : "";
  }

  function makeRow(k) {
    const row = document.createElement("li");
    row.className = "item";
    row.dataset.key = k;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "done";
    box.addEventListener("change", () => {
      // The box shows the click at once; the server's change confirms it, and an error
      // answer (or being offline) puts it back as stored.
      const item = items.get(k);
      if (send({ op: box.checked ? "check" : "uncheck", id: item.id }) === null) render();
    });
    const text = document.createElement("span");
    text.className = "text";
    text.addEventListener("dblclick", () => startEdit(row));
    const edit = document.createElement("button");
    edit.className = "edit";
    edit.type = "button";
    edit.title = "Edit";
    edit.setAttribute("aria-label", "Edit");
    edit.textContent = "✎";
    edit.addEventListener("click", () => startEdit(row));
    const del = document.createElement("button");
    del.className = "delete";
    del.type = "button";
    del.title = "Delete";
    del.setAttribute("aria-label", "Delete");
    del.textContent = "×";
    del.addEventListener("click", () => send({ op: "delete", id: items.get(k).id }));
    row.append(box, text, edit, del);
    return row;
  }

  function updateRow(row, item) {
    if (!item) return;
    const live = state === "online";
    const box = row.querySelector(".done");
    box.checked = Boolean(item.done);
    box.disabled = !live;
    row.querySelector(".edit").disabled = !live;
    row.querySelector(".delete").disabled = !live;
    row.classList.toggle("checked", Boolean(item.done));
    // Another client may have stored a text that is not a string; show it as text anyway.
    const text = typeof item.text === "string" ? item.text : JSON.stringify(item.text ?? "");
    row.querySelector(".text").textContent = text;
  }

  function startEdit(row) {
    if (state !== "online" || row.classList.contains("editing")) return;
    const item = items.get(row.dataset.key);
    const field = document.createElement("input");
    field.className = "edit-text";
    field.setAttribute("aria-label", "Edit item");
    field.value = typeof item.text === "string" ? item.text : "";
    row.classList.add("editing");
    row.querySelector(".text").after(field);
    field.focus();
    field.select();
    let done = false;
    const finish = (save) => {
      if (done) return;
      done = true;
      const current = items.get(row.dataset.key);
      if (save && current && field.value !== current.text) {
        send({ op: "edit", id: current.id, text: field.value });
      }
      field.remove();
      row.classList.remove("editing");
    };
    field.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      else if (event.key === "Escape") finish(false);
    });
    field.addEventListener("blur", () => finish(true));
  }

  // --- the form, errors ---------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // The server checks the text (trimmed, 1 to 500 characters) and answers an error if not.
    const ref = send({ op: "add", text: input.value });
    if (ref !== null) pendingAdds.set(ref, input.value.trim());
  });

  function updateCounter() {
    const length = [...input.value.trim()].length; // characters, as the server counts them
    const counter = $("counter");
    counter.textContent = length > MAX_TEXT - 100 ? `${length} / ${MAX_TEXT}` : "";
    counter.classList.toggle("over", length > MAX_TEXT);
  }
  input.addEventListener("input", updateCounter);

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => { box.hidden = true; }, ERROR_SHOWN_MS);
  }

  // For the console and for tests: the state, and a way to send any message as it is.
  window.todoApp = {
    get state() { return state; },
    get buffered() { return buffer ? buffer.length : 0; }, // changes held during a resync
    items: () => [...items.values()],
    send,
  };

  connect();
})();
