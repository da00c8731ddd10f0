"""Example applications built on Rethought's driver, shipped with the package.

- ``python -m rethought.examples.todo``: a realtime todo list (aiohttp, WebSockets and one
  changefeed), see docs/todo.md.
"""
