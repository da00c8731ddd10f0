"""The driver port shared by several server processes (``rethought serve --workers N``).

The supervisor binds every worker's listening sockets (SO_REUSEPORT, one port: the kernel
spreads connections over them) and keeps them open, so a port of 0 is chosen once for all,
and the connections queued on a worker's socket when it dies wait for its replacement,
which inherits the same socket. A single shared socket would let an idle worker win every
accept of an idle server: drivers keep their connections, so the load would stay on it.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from .net import DriverServer


class SharedDriverServer(DriverServer):
    """A ``DriverServer`` accepting on already bound, listening sockets."""

    def __init__(self, *args: Any, socks: list[socket.socket], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._socks = socks
        self._servers: list[asyncio.AbstractServer] = []

    async def start(self, hosts: list[str], port: int, ssl: Any = None) -> list[tuple[str, int]]:
        """Accept on the inherited sockets (``hosts`` / ``port`` were bound by the parent).

        ``DriverServer.start`` makes its server with ``loop.create_server(protocol factory,
        host, port, ...)``; for that one call the loop's ``create_server`` is pointed at the
        inherited sockets, so the connections get exactly the protocol a single server uses.
        """
        loop = asyncio.get_running_loop()
        create = loop.create_server

        async def on_sockets(factory: Any, *args: Any, **kwargs: Any) -> Any:
            for sock in self._socks:
                self._servers.append(await create(factory, sock=sock, ssl=kwargs.get("ssl")))
            return self._servers[0]

        loop.create_server = on_sockets  # type: ignore[method-assign]
        try:
            await super().start(hosts, port, ssl)
        finally:
            del loop.create_server  # the class's method again
        return [s.getsockname()[:2] for s in self._socks]

    async def close(self, grace: float = 10.0) -> None:
        for server in self._servers[1:]:
            server.close()
        await super().close(grace)
        for server in self._servers[1:]:
            await server.wait_closed()
