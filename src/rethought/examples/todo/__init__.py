"""A realtime todo list: aiohttp, WebSockets and one RethinkDB-style changefeed.

The Python counterpart of the Ruby/Faye todo app of RethinkDB 2.0's announcement: every page
shows every change of ``r.table("todo")`` as it happens, and every edit goes through the
server, which checks it and writes it to the database. Start it against a running server::

    python -m rethought.examples.todo --http-port 8000 --driver-port 28015

``make_app`` builds the aiohttp application for embedding; ``TodoStore`` is the database side.
See docs/todo.md.
"""

from .store import TodoStore
from .web import make_app

__all__ = ["TodoStore", "make_app"]
