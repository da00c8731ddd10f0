"""The web console of ``rethought serve`` (``--http-port``, 8080 by default; ``--no-http-admin``
turns it off): a dashboard, tables, a Data Explorer and the logs, in the browser.

``routes`` serves the page and its login; ``link`` runs each page's queries as a driver connection
of the logged-in user; ``static/`` holds the page (plain HTML, CSS and JavaScript, no build
step), including ``reql.js``, the query builder that turns typed ReQL into term JSON.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .routes import build_app


class Console:
    """The console's HTTP listeners; ``start`` binds them, ``close`` ends them."""

    def __init__(self, server: Any) -> None:
        self.app = build_app(server)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)

    async def start(
        self, hosts: list[str], port: int, ssl_context: Any = None
    ) -> list[tuple[str, int]]:
        """Listen on every address in ``hosts`` (over TLS with ``ssl_context``: --http-tls-*);
        returns the bound (address, port) pairs."""
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, host=hosts, port=port, reuse_address=True, ssl_context=ssl_context
        )
        await site.start()
        return [tuple(addr[:2]) for addr in self._runner.addresses]

    async def close(self) -> None:
        await self._runner.cleanup()


__all__ = ["Console"]
