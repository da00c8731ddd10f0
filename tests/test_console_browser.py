"""The web console in a real headless Chromium (tests/browser.py): a person logs in, uses each
page, and sees what the database holds and what other clients do to it.

The server is a real ``rethought serve --http-port N --initial-password ...``; other clients
are our driver. Expected values come from the database (read through the driver) or from what
the test itself wrote, never from the page. Screenshots of each page go to the test's tmp dir;
with RETHOUGHT_CONSOLE_SHOTS=docs/img they are also saved there (the ones docs/web-console.md
shows).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid

import pytest

from browser import screenshot
from test_console_http import PASSWORD, start_console_server

SHOTS = os.environ.get("RETHOUGHT_CONSOLE_SHOTS")
VIEWPORT = (1200, 800)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    srv = start_console_server(
        str(tmp_path_factory.mktemp("console_browser") / "data"), "--initial-password", PASSWORD
    )
    yield srv
    srv.stop()


@pytest.fixture
def conn(console):
    from rethought import r

    c = r.connect(host=console.host, port=console.port, password=PASSWORD)
    yield c
    c.close(noreply_wait=False)  # the last test restarts the server: nothing to wait for


@pytest.fixture
def db(console, conn):
    """A fresh database for one test, dropped after it."""
    from rethought import r

    name = "c_" + uuid.uuid4().hex[:8]
    r.db_create(name).run(conn)
    yield name
    # a connection of its own: the last test restarts the server under `conn`
    with r.connect(host=console.host, port=console.port, password=PASSWORD) as c:
        if name in r.db_list().run(c):
            r.db_drop(name).run(c)


def shot(page, tmp_path, name: str) -> None:
    path = screenshot(page, tmp_path, name)
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        shutil.copy(path, os.path.join(SHOTS, f"console-{name}.png"))


def login(new_page, console, user: str = "admin", password: str = PASSWORD):
    page = new_page(console.url + "/", viewport=VIEWPORT)
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#who", state="visible")
    assert page.inner_text("#who") == user
    return page


def run_query(page, text: str) -> str:
    """Types `text` in the Data Explorer, runs it, waits for it to finish; returns the status."""
    if not page.url.endswith("#explorer"):
        page.click("nav a[data-page=explorer]")
    page.fill("#query", text)
    page.click("#run")
    page.wait_for_function("() => !document.querySelector('#run').disabled")
    return page.inner_text(".results .status-text")


def raw_result(page):
    import json

    page.click(".results .tabs button[data-view=raw]")
    return json.loads(page.inner_text(".results .body pre"))


def test_login_dashboard_and_logout(new_page, console, conn, tmp_path):
    from rethought import r

    page = new_page(console.url + "/", viewport=VIEWPORT)
    page.wait_for_selector("form.login")
    shot(page, tmp_path, "login")
    page.fill("input[name=password]", "not the password")
    page.click("form.login button[type=submit]")
    page.wait_for_selector(".login-error:has-text('Wrong password')")
    assert page.is_hidden("nav")  # nothing but the login form
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#who:has-text('admin')")

    status = r.db("rethinkdb").table("server_status").nth(0).run(conn)
    page.wait_for_selector(f"#d-server:has-text('{status['name']}')")
    assert page.inner_text("#d-version") == status["process"]["version"]
    tables = sum(
        len(r.db(d).table_list().run(conn)) for d in r.db_list().run(conn) if d != "rethinkdb"
    )
    page.wait_for_function(f"() => document.querySelector('#d-tables').textContent === '{tables}'")
    page.wait_for_selector("text=No issues.")
    shot(page, tmp_path, "dashboard")

    page.click("#logout")
    page.wait_for_selector("form.login")
    page.reload()  # the session is gone on the server too: the login form again
    page.wait_for_selector("form.login")
    # the refused login's 401 is the only thing Chromium reports
    assert [e for e in new_page.errors if "401 (Unauthorized)" not in e] == []


def test_dashboard_chart_moves_under_write_load(new_page, console, conn, db, tmp_path):
    from rethought import r

    r.db(db).table_create("load").run(conn)
    page = login(new_page, console)
    page.wait_for_function("() => document.querySelector('#writes-chart')?.dataset.samples >= 1")
    stop = threading.Event()

    def write():
        from rethought import r as rr

        c = rr.connect(host=console.host, port=console.port, password=PASSWORD)
        try:
            while not stop.is_set():
                rr.db(db).table("load").insert([{"n": i} for i in range(20)]).run(c)
                time.sleep(0.02)
        finally:
            c.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        # the stats feed pushes once a second; the chart's newest sample shows the writes
        page.wait_for_function(
            "() => Number(document.querySelector('#writes-chart').dataset.writes) > 0",
            timeout=15_000,
        )
        page.wait_for_function(
            "() => document.querySelector('#d-docs').textContent.replace(/\\D/g, '') > 0",
            timeout=15_000,
        )
        assert "writes/s" in page.inner_text("#d-rates")
        shot(page, tmp_path, "dashboard-load")
    finally:
        stop.set()
        writer.join()
    assert new_page.errors == []


def test_tables_page_creates_and_drops(new_page, console, conn, tmp_path):
    from rethought import r

    name = "ui_" + uuid.uuid4().hex[:8]
    page = login(new_page, console)
    page.click("nav a[data-page=tables]")
    page.fill("input[name=db-name]", name)
    page.click("#create-db")
    section = page.wait_for_selector(f"section[data-db={name}]")
    assert name in r.db_list().run(conn)

    section.query_selector("input[name=table-name]").fill("heroes")
    section.query_selector("button:has-text('Add table')").click()
    row = page.wait_for_selector(f"section[data-db={name}] tr[data-table=heroes]")
    assert r.db(name).table_list().run(conn) == ["heroes"]
    assert row.query_selector("td:nth-child(3)").inner_text() == "id"  # the primary key

    r.db(name).table("heroes").insert([{"id": i, "age": 20 + i} for i in range(3)]).run(conn)
    page.reload()
    row = page.wait_for_selector(f"section[data-db={name}] tr[data-table=heroes]")
    page.wait_for_function(
        f"() => document.querySelector('section[data-db={name}] tr[data-table=heroes] td.num')"
        ".textContent === '3'"
    )
    row.query_selector("input[name=index-name]").fill("age")
    row.query_selector("button:has-text('Add index')").click()
    page.wait_for_selector("tr[data-table=heroes] .chip[data-index=age]:not(.building)")
    assert r.db(name).table("heroes").index_list().run(conn) == ["age"]
    assert r.db(name).table("heroes").index_status("age").nth(0)["ready"].run(conn) is True
    shot(page, tmp_path, "tables")

    page.fill(f"section[data-db={name}] input[name=table-name]", "villains")
    page.click(f"section[data-db={name}] button:has-text('Add table')")
    page.wait_for_selector(f"section[data-db={name}] tr[data-table=villains]")

    drop = page.locator("tr[data-table=villains] button:has-text('Drop table')")
    drop.click()
    assert r.db(name).table_list().run(conn) == ["heroes", "villains"]  # asks first
    page.locator("tr[data-table=villains] button:has-text('Confirm')").click()
    page.wait_for_selector("tr[data-table=villains]", state="detached")
    assert r.db(name).table_list().run(conn) == ["heroes"]

    page.locator(f"section[data-db={name}] .db-head button:has-text('Drop database')").click()
    page.locator(f"section[data-db={name}] .db-head button:has-text('Confirm')").click()
    page.wait_for_selector(f"section[data-db={name}]", state="detached")
    assert name not in r.db_list().run(conn)
    assert new_page.errors == []


def test_table_view_pages_and_shows_live_changes(new_page, console, conn, db, tmp_path):
    from rethought import r

    r.db(db).table_create("docs").run(conn)
    r.db(db).table("docs").insert([{"id": i, "v": 100 - i} for i in range(30)]).run(conn)
    r.db(db).table("docs").index_create("v").run(conn)
    r.db(db).table("docs").index_wait("v").run(conn)
    page = login(new_page, console)
    page.goto(console.url + f"/#table/{db}/docs")
    page.wait_for_selector(".results table.grid tbody tr")
    first = [int(t) for t in page.locator(".results tbody tr td:first-child").all_inner_texts()]
    assert first == list(range(25))  # by primary key, 25 a page
    page.click("button:has-text('Next')")
    page.wait_for_function("() => document.querySelectorAll('.results tbody tr').length === 5")
    assert page.locator(".results tbody tr td:first-child").all_inner_texts() == [
        str(i) for i in range(25, 30)
    ]
    page.select_option("select[name=index]", "v")  # an index's documents, in its order
    page.wait_for_function(
        "() => document.querySelector('.results tbody tr td:first-child').textContent === '29'"
    )

    r.db(db).table("docs").insert({"id": "from-another-client", "v": 0}).run(conn)
    page.wait_for_selector("#live-changes .change.insert:has-text('from-another-client')")
    r.db(db).table("docs").get(0).delete().run(conn)
    page.wait_for_selector("#live-changes .change.delete")
    shot(page, tmp_path, "table-view")
    assert new_page.errors == []


def test_explorer_inserts_queries_and_shows_errors(new_page, console, conn, db, tmp_path):
    from rethought import r

    r.db(db).table_create("heroes").run(conn)
    page = login(new_page, console)
    status = run_query(
        page,
        f"r.db('{db}').table('heroes').insert([\n"
        "  {id: 1, name: 'Ada', age: 36},\n  {id: 2, name: 'Bob', age: 25},\n"
        "  {id: 3, name: 'Cy', age: 41}])",
    )
    assert status.startswith("1 value")
    assert raw_result(page)["inserted"] == 3
    assert r.db(db).table("heroes").count().run(conn) == 3

    status = run_query(
        page, f"r.db('{db}').table('heroes').filter(r.row('age').gt(30)).orderBy('id')"
    )
    assert status.startswith("1 value") or status.startswith("2 rows")
    assert [d["name"] for d in raw_result(page)] == ["Ada", "Cy"]

    run_query(
        page,
        f"r.db('{db}').table('heroes').orderBy('age').map(function (h) {{\n"
        "  return {who: h('name'), older: h('age').add(10)};\n})",
    )
    assert raw_result(page) == [
        {"who": "Bob", "older": 35},
        {"who": "Ada", "older": 46},
        {"who": "Cy", "older": 51},
    ]
    run_query(
        page, f"r.db('{db}').table('heroes').getAll(1, 3).pluck('name').orderBy(h => h('name'))"
    )
    assert raw_result(page) == [{"name": "Ada"}, {"name": "Cy"}]
    page.click(".results .tabs button[data-view=table]")
    assert page.locator(".results thead th").all_text_contents() == ["name"]
    assert page.locator(".results tbody td").all_text_contents() == ['"Ada"', '"Cy"']
    run_query(page, f"r.db('{db}').table('heroes').orderBy({{index: r.desc('id')}})")
    page.click(".results .tabs button[data-view=tree]")
    assert page.locator(".results .tree > .doc").count() == 3
    shot(page, tmp_path, "explorer")

    # a ReQL error, with its message and the caret under the term the server blamed
    run_query(page, f"r.db('{db}').table('heroes').get(1).merge({{next: r.row('nope').add(1)}})")
    box = page.wait_for_selector(".results .error")
    assert "ReqlNonExistenceError" in box.inner_text()
    assert "No attribute `nope` in object:" in box.inner_text()
    text, carets = box.query_selector("pre.caret").inner_text().split("\n")[:2]
    start = carets.index("^")
    assert text[start : len(carets)] == 'r.row("nope")'
    shot(page, tmp_path, "explorer-error")

    # a typo is caught in the page, before anything is sent
    run_query(page, f"r.db('{db}').table('heroes').fitler(r.row('age').gt(30))")
    box = page.wait_for_selector(".results .error")
    assert "`fitler` is not a ReQL command. Did you mean `filter`?" in box.inner_text()
    # the profile of a query
    page.check("#profile")
    run_query(page, "r.expr([1, 2, 3]).count()")
    page.click(".results .tabs button[data-view=profile]")
    assert "description" in page.inner_text(".results .body")
    assert new_page.errors == []


def test_explorer_feed_streams_until_stopped_and_cursor_pages(
    new_page, console, conn, db, tmp_path
):
    from rethought import r

    r.db(db).table_create("live").run(conn)
    page = login(new_page, console)
    page.click("nav a[data-page=explorer]")
    page.fill("#query", f"r.db('{db}').table('live').changes()")
    page.click("#run")
    page.wait_for_selector(".status-text:has-text('Changefeed')")
    r.db(db).table("live").insert([{"id": "a"}, {"id": "b"}]).run(conn)
    page.wait_for_selector(".status-text:has-text('2 changes')")
    ids = sorted(c["new_val"]["id"] for c in raw_result(page))
    assert ids == ["a", "b"]
    page.click(".results .tabs button[data-view=tree]")
    shot(page, tmp_path, "explorer-feed")
    page.click("#stop")
    page.wait_for_selector(".status-text:has-text('Changefeed stopped')")
    r.db(db).table("live").insert({"id": "c"}).run(conn)
    time.sleep(0.5)  # had the feed not stopped, "c" would arrive within this
    assert len(raw_result(page)) == 2

    # an endless cursor: the first batch, then more on request
    page.fill("#query", "r.range()")
    page.click("#run")
    page.wait_for_selector(".status-text:has-text('more are available')")
    first = len(raw_result(page))
    # pages of at most 40 rows (max_batch_rows); the first batch is scaled down, as RethinkDB's
    assert 0 < first <= 40
    page.click("#more")
    page.wait_for_function("() => !document.querySelector('#more').disabled")
    rows = raw_result(page)
    assert len(rows) > first and rows == list(range(len(rows)))
    page.click("#stop")
    assert new_page.errors == []


def test_non_admin_sees_only_permitted_tables(new_page, console, conn, db, tmp_path):
    from rethought import r

    user = "u_" + uuid.uuid4().hex[:8]
    r.db(db).table_create("open").run(conn)
    r.db(db).table_create("secret").run(conn)
    r.db(db).table("secret").insert({"id": "hidden"}).run(conn)
    r.db("rethinkdb").table("users").insert({"id": user, "password": "pw"}).run(conn)
    try:
        r.db(db).table("open").grant(user, {"read": True}).run(conn)
        page = login(new_page, console, user, "pw")
        page.click("nav a[data-page=tables]")
        page.wait_for_selector(f"section[data-db={db}] tr[data-table=open]")
        assert page.locator(f"section[data-db={db}] tr[data-table=secret]").count() == 0
        shot(page, tmp_path, "tables-non-admin")
        run_query(page, f"r.db('{db}').table('secret')")
        box = page.wait_for_selector(".results .error")
        assert "ReqlPermissionError" in box.inner_text()
        assert f"User `{user}` does not have the required `read` permission." in box.inner_text()
        assert "hidden" not in page.inner_text("main")
    finally:
        r.db("rethinkdb").table("users").get(user).delete().run(conn)
    assert new_page.errors == []


def test_csrf_refused_in_the_page(new_page, console):
    page = login(new_page, console)
    # the page's own fetch, without the CSRF token the console sends: refused, still logged in
    status = page.evaluate("""async () => (await fetch('/api/logout', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: '{}'})).status""")
    assert status == 403
    page.reload()
    page.wait_for_selector("#who:has-text('admin')")
    # a WebSocket with a forged token never opens
    opened = page.evaluate("""() => new Promise((done) => {
        const ws = new WebSocket('ws://' + location.host + '/api/ws?csrf=forged');
        ws.onopen = () => done(true); ws.onclose = () => done(false); })""")
    assert opened is False
    # the CSP runs no inline script (injected markup stays inert) and no eval of strings: the
    # Explorer reads queries with its own parser. (Playwright's evaluate itself is exempt,
    # so eval is tried from a timer, where the page's own rules apply.)
    verdict = page.evaluate("""() => new Promise((done) => {
        const seen = [];
        document.addEventListener('securitypolicyviolation', (e) => seen.push(e.violatedDirective));
        const s = document.createElement('script');
        s.textContent = 'window.__inline = true';
        document.body.append(s);
        setTimeout(() => {
          let evaluated = true;
          try { (0, eval)('1'); } catch (e) { evaluated = false; }
          setTimeout(() => done({inline: window.__inline === true, evaluated, seen}), 50);
        }, 0);
    })""")
    assert verdict["inline"] is False and verdict["evaluated"] is False, verdict
    assert "script-src-elem" in verdict["seen"] or "script-src" in verdict["seen"], verdict


def test_logs_page_newest_first(new_page, console, conn, tmp_path):
    from rethought import r

    newest = r.db("rethinkdb").table("logs").order_by(r.desc("timestamp")).nth(0).run(conn)
    page = login(new_page, console)
    page.click("nav a[data-page=logs]")
    page.wait_for_selector("#log-rows tr")
    assert page.inner_text("#log-rows tr:first-child td.message") == newest["message"]
    shot(page, tmp_path, "logs")
    assert new_page.errors == []


def test_page_reconnects_and_a_restart_asks_for_login(new_page, console, conn, db):
    from rethought import r

    r.db(db).table_create("feed").run(conn)
    page = login(new_page, console)
    page.goto(console.url + f"/#table/{db}/feed")
    page.wait_for_selector("#live-changes:has-text('Waiting for changes')")
    # the socket drops under the page (as a network outage would): offline, then back by
    # itself on the same session, and the table's feed is opened again
    page.evaluate("() => Console.link.ws.close()")
    page.wait_for_selector(".offline-badge", state="visible")
    page.wait_for_selector(".offline-badge", state="hidden")
    page.wait_for_selector("#live-changes:has-text('Waiting for changes')")
    r.db(db).table("feed").insert({"id": "after-reconnect"}).run(conn)
    page.wait_for_selector("#live-changes .change.insert:has-text('after-reconnect')")

    # sessions live in the server's memory: after a restart the page asks for a login again
    # (this test runs last: the module's server restarts on its data directory and port)
    console.stop()
    page.wait_for_selector(".offline-badge", state="visible")
    console.start()
    page.wait_for_selector(".login-error:has-text('Your session ended')", timeout=15_000)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#who:has-text('admin')")
    page.wait_for_selector("#live-changes:has-text('Waiting for changes')")  # the same page
