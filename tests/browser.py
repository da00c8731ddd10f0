"""Browser test support: Debian's headless Chromium driven by Playwright for Python.

Loaded as a pytest plugin from conftest.py, so any test can ask for these fixtures:

- ``browser``: one Chromium per test module (launching costs about a second). Playwright's
  ``launch()`` gives every browser a fresh, throwaway user-data directory, so no profile,
  cache or service worker survives from one run to the next.
- ``new_page``: a factory; ``new_page()`` opens a page in its own browser context (its own
  cookies and storage, like a separate user) and closes it after the test. JavaScript errors
  and console errors of every page it opened are collected in ``new_page.errors``.
- ``screenshot(page, tmp_path, name)``: saves ``<tmp_path>/<name>.png`` and returns its path.

The tests skip, with the reason, only when Chromium or Playwright is not installed
(``.ci/run`` installs Chromium with apt-get when it is missing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("RETHOUGHT_CHROMIUM", "/usr/bin/chromium")

# Headless in a container: no sandbox (root), no GPU, and nothing that talks to the network
# by itself (updates, sync, QUIC probes) so that a page only does what the test makes it do.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's own default is 30 s; a page under test answers in well under that, and a wait
# that fails should fail soon.
DEFAULT_TIMEOUT_MS = 10_000


def chromium_missing_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not os.path.exists(CHROMIUM):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


# Module scope, not session: while sync Playwright runs it keeps an asyncio loop running on
# the main thread, and every later test calling asyncio.run() there would fail with "cannot be
# called from a running event loop"; it stops when the last browser test of a module is done.
@pytest.fixture(scope="module")
def browser():
    """A headless Chromium shared by one test module's tests."""
    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class PageFactory:
    """Opens pages, each in a fresh context; remembers them to close them."""

    def __init__(self, browser):
        self.browser = browser
        self.contexts = []
        self.errors: list[str] = []

    def __call__(self, url: str | None = None, viewport=(1000, 700)):
        ctx = self.browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        self.contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"),
        )
        if url is not None:
            page.goto(url)
        return page

    def close(self):
        for ctx in self.contexts:
            try:
                ctx.close()
            except Exception:  # the browser may already be gone; nothing left to free
                pass
        self.contexts.clear()


@pytest.fixture
def new_page(browser):
    """``new_page(url=None)`` -> a Playwright Page in its own context, closed after the test."""
    factory = PageFactory(browser)
    yield factory
    factory.close()


def screenshot(page, tmp_path: Path, name: str) -> Path:
    """Save a full-page screenshot under the test's tmp dir; returns the PNG's path."""
    path = Path(tmp_path) / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
