"""The todo example in a real headless Chromium (issue 14 part 1, after seed 002's app).

What a person sees: two pages open at once show each other's adds, check-offs, edits and
deletes without reload; a reload shows the same list; an empty, blank or 501-character item,
an unknown id or a malformed message shows an error on the sending page only and nothing is
stored; when the app process or the database server restarts under the pages, they show that
they are offline, then reconnect by themselves and show every item written meanwhile, each
exactly once. The app runs as its documented command (`python -m rethought.examples.todo`)
against its own `rethought serve`; the table is checked with the official `rethinkdb` driver.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from browser import DEFAULT_TIMEOUT_MS, screenshot
from conftest import ServerProcess, free_port

expect = pytest.importorskip("playwright.sync_api").expect

# A restart takes the page's backoff (at most 5 s) plus the app's reconnect to the database.
RECOVER_MS = 20_000


class TodoProcess:
    """`python -m rethought.examples.todo` as a user starts it, on a fixed HTTP port."""

    def __init__(self, db_server: ServerProcess, db: str, log_path: str):
        self.db_server, self.db, self.log_path = db_server, db, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None

    def start(self) -> TodoProcess:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rethought.examples.todo",
                 "--http-port", str(self.port), "--host", self.db_server.host,
                 "--driver-port", str(self.db_server.port), "--db", self.db],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, open(self.log_path).read()
            try:  # 200 once the app's changefeed is open (503 before)
                with urllib.request.urlopen(self.url + "todo", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the todo app did not come up: " + open(self.log_path).read())

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module", autouse=True)
def patient_expect():
    """expect() waits as long as the pages' actions do (Playwright's own default is 5 s; the
    machine is shared), and gets its default back after this module."""
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def db_server(tmp_path_factory):
    """A database of this module's own: one test restarts it."""
    srv = ServerProcess(str(tmp_path_factory.mktemp("todo") / "data")).start()
    yield srv
    srv.stop()


@pytest.fixture
def db():
    return "todo_" + uuid.uuid4().hex[:10]


@pytest.fixture
def todo(db_server, db, tmp_path):
    app = TodoProcess(db_server, db, str(tmp_path / "todo.log")).start()
    yield app
    app.stop()


@pytest.fixture
def official(db_server):
    import rethinkdb

    conn = rethinkdb.r.connect(host=db_server.host, port=db_server.port)
    yield rethinkdb.r, conn
    conn.close()


def stored(official, db) -> list[dict]:
    r, conn = official
    return sorted(r.db(db).table("todo").run(conn), key=lambda d: d["id"])


def open_live(new_page, url):
    page = new_page(url)
    expect(page.locator("#status")).to_have_attribute("data-state", "online")
    return page


def add(page, text: str) -> None:
    page.fill("#new-text", text)
    page.press("#new-text", "Enter")


def texts(page):
    return page.locator("li.item .text")


def item(page, text: str):
    return page.locator("li.item", has=page.locator(".text", has_text=text))


def js_errors(new_page) -> list[str]:
    """Script errors; the browser's own reports of a refused connection are expected while
    the app is down, and GET /todo answers 503 while the database is."""
    return [e for e in new_page.errors
            if not ("WebSocket connection" in e or "Failed to load resource" in e)]


def test_two_pages_see_each_others_changes_live(new_page, todo, official, db, tmp_path):
    a, b = open_live(new_page, todo.url), open_live(new_page, todo.url)
    expect(a.locator("#empty")).to_be_visible()

    add(a, "Buy milk")
    expect(texts(b)).to_have_text(["Buy milk"])
    expect(a.locator("#new-text")).to_have_value("")  # cleared once stored

    add(b, "  Write the changefeed docs  ")
    expect(texts(a)).to_have_text(["Buy milk", "Write the changefeed docs"])

    item(b, "Buy milk").locator(".done").check()
    expect(item(a, "Buy milk")).to_have_class("item checked")
    expect(item(a, "Buy milk").locator(".done")).to_be_checked()
    expect(a.locator("#remaining")).to_have_text("1 of 2 left")

    item(a, "Buy milk").locator(".done").uncheck()
    expect(item(b, "Buy milk").locator(".done")).not_to_be_checked()
    item(a, "Buy milk").locator(".done").check()
    expect(item(b, "Buy milk").locator(".done")).to_be_checked()

    item(a, "Write the changefeed docs").locator(".text").dblclick()
    a.locator(".edit-text").fill("Write the todo docs")
    a.locator(".edit-text").press("Enter")
    expect(texts(b)).to_have_text(["Buy milk", "Write the todo docs"])

    add(a, "Call Ada")
    expect(texts(b)).to_have_text(["Buy milk", "Write the todo docs", "Call Ada"])
    screenshot(b, tmp_path, "todo-two-pages")

    item(b, "Call Ada").hover()
    item(b, "Call Ada").locator(".delete").click()
    expect(texts(a)).to_have_text(["Buy milk", "Write the todo docs"])

    rows = stored(official, db)
    assert [(d["text"], d["done"]) for d in rows] == [
        ("Buy milk", True), ("Write the todo docs", False)]
    assert all(set(d) == {"id", "text", "done"} for d in rows)

    a.reload()
    expect(a.locator("#status")).to_have_attribute("data-state", "online")
    expect(texts(a)).to_have_text(["Buy milk", "Write the todo docs"])
    expect(item(a, "Buy milk").locator(".done")).to_be_checked()
    assert new_page.errors == []


def test_invalid_input_shows_an_error_on_the_sending_page_only(
    new_page, todo, official, db, tmp_path
):
    a, b = open_live(new_page, todo.url), open_live(new_page, todo.url)
    add(a, "Kept")
    expect(texts(b)).to_have_text(["Kept"])
    before = stored(official, db)
    error_a, error_b = a.locator("#error"), b.locator("#error")

    add(a, "")
    expect(error_a).to_be_visible()
    add(a, "    ")
    expect(error_a).to_contain_text("empty")
    add(a, "x" * 501)
    expect(error_a).to_contain_text("500")
    expect(a.locator("#counter")).to_have_text("501 / 500")
    expect(a.locator("#new-text")).to_have_value("x" * 501)  # kept, to shorten it
    screenshot(a, tmp_path, "todo-error")

    a.evaluate("todoApp.send({op: 'check', id: 'no-such-item'})")
    expect(error_a).to_contain_text("No such item")
    a.evaluate("todoApp.send('not json at all')")
    expect(error_a).to_contain_text("Malformed")

    item(a, "Kept").locator(".text").dblclick()
    a.locator(".edit-text").fill("y" * 501)
    a.locator(".edit-text").press("Enter")
    expect(error_a).to_contain_text("500")

    # A valid add after all that reaches b; anything meant for a alone would have come first.
    add(a, "Valid")
    expect(texts(b)).to_have_text(["Kept", "Valid"])
    expect(error_b).to_be_hidden()
    expect(texts(a)).to_have_text(["Kept", "Valid"])
    rows = stored(official, db)
    assert rows[0] == before[0] and [d["text"] for d in rows] == ["Kept", "Valid"]
    assert new_page.errors == []


def test_changes_during_a_resync_are_neither_missed_nor_doubled(new_page, todo, official, db):
    """The page reads GET /todo after "ready"; changes that arrive on the socket meanwhile are
    held and replayed on the list read. One of them (an insert made before the read) is in
    the list already, three (an insert, a check-off, a delete made after it) are not."""
    r, conn = official
    table = r.db(db).table("todo")
    table.insert([{"id": "a", "text": "stays", "done": False},
                  {"id": "b", "text": "goes", "done": False}]).run(conn)
    held = []

    def hold_list(route):
        table.insert({"id": "c", "text": "before the read", "done": False}).run(conn)
        response = route.fetch()  # the list is read now, then held back from the page
        table.insert({"id": "d", "text": "after the read", "done": False}).run(conn)
        table.get("a").update({"done": True}).run(conn)
        table.get("b").delete().run(conn)
        held.append((route, response))

    page = new_page()
    page.route("**/todo", hold_list)
    page.goto(todo.url)
    page.wait_for_function("todoApp.buffered === 4")
    assert page.evaluate("todoApp.state") == "syncing"
    route, response = held[0]
    assert sorted(d["id"] for d in response.json()) == ["a", "b", "c"]
    route.fulfill(response=response)

    expect(page.locator("#status")).to_have_attribute("data-state", "online")
    expect(texts(page)).to_have_text(["stays", "before the read", "after the read"])
    expect(item(page, "stays").locator(".done")).to_be_checked()
    assert page.evaluate("todoApp.buffered") == 0
    assert new_page.errors == []


def test_app_restart_pages_go_offline_then_resync(new_page, todo, official, db, tmp_path):
    r, conn = official
    a, b = open_live(new_page, todo.url), open_live(new_page, todo.url)
    add(a, "one")
    expect(texts(b)).to_have_text(["one"])
    expect(a.locator("#new-text")).to_have_value("")

    todo.stop()
    for page in (a, b):
        expect(page.locator("#status")).to_have_attribute("data-state", "offline")
        expect(page.locator("#add")).to_be_disabled()
    screenshot(a, tmp_path, "todo-offline")

    # Written while no app is running: no feed saw these, only the resync can show them.
    one = stored(official, db)[0]
    r.db(db).table("todo").get(one["id"]).update({"done": True}).run(conn)
    r.db(db).table("todo").insert({"id": "zz-two", "text": "two", "done": False}).run(conn)

    todo.start()
    for page in (a, b):
        expect(page.locator("#status")).to_have_attribute("data-state", "online",
                                                           timeout=RECOVER_MS)
        expect(texts(page)).to_have_text(["one", "two"])
        expect(item(page, "one").locator(".done")).to_be_checked()

    add(b, "three")  # and the new app's feed reaches both pages
    # In id order, as RethinkDB orders strings: the app's time-ordered ids, then "zz-two".
    expect(texts(a)).to_have_text(["one", "three", "two"])
    expect(texts(b)).to_have_text(["one", "three", "two"])
    assert [d["text"] for d in stored(official, db)] == ["one", "three", "two"]
    assert js_errors(new_page) == []


def test_database_restart_pages_go_offline_then_resync(
    new_page, todo, db_server, official, db, tmp_path
):
    import rethinkdb

    a, b = open_live(new_page, todo.url), open_live(new_page, todo.url)
    add(a, "before")
    expect(texts(b)).to_have_text(["before"])

    official[1].close()
    db_server.stop()
    for page in (a, b):
        expect(page.locator("#status")).to_have_attribute("data-state", "db-offline")
    expect(a.locator("#status")).to_contain_text("database")
    expect(a.locator("#add")).to_be_disabled()
    add(a, "while down")  # Enter does nothing while the Add button is disabled
    screenshot(a, tmp_path, "todo-db-offline")

    db_server.start()
    # Written as soon as the database is back, likely before the app has reopened its feed.
    r = rethinkdb.r
    conn = r.connect(host=db_server.host, port=db_server.port)
    try:
        r.db(db).table("todo").insert({"id": "zz-after", "text": "after", "done": False}).run(
            conn)
        for page in (a, b):
            expect(page.locator("#status")).to_have_attribute("data-state", "online",
                                                               timeout=RECOVER_MS)
            expect(texts(page)).to_have_text(["before", "after"])
        expect(a.locator("#new-text")).to_have_value("while down")  # kept, not sent
        add(b, "live again")
        expect(texts(a)).to_have_text(["before", "live again", "after"])
        rows = sorted(r.db(db).table("todo").run(conn), key=lambda d: d["id"])
        assert [d["text"] for d in rows] == ["before", "live again", "after"]
    finally:
        conn.close()
    assert js_errors(new_page) == []
