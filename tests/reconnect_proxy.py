"""A TCP proxy between the driver and a real server, for the reconnect, heartbeat, pool and
resumable-feed tests: ``cut()`` closes every proxied connection (a network blip), ``stall()``
keeps them open but forwards nothing any more (a half-open connection: the peer is gone
without a FIN), ``refuse`` turns new connections away (the server is unreachable)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class Proxy:
    """Listens on a free loopback port and forwards each connection to ``(host, port)``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.host, self.port = self.listener.getsockname()
        self.refuse = False
        self.stalled = False
        self._stalled_pairs: set[tuple] = set()  # stall_existing(): these only (kept alive)
        self.accepted = 0
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.append(pair)
                self.accepted += 1
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not self.stalled and pair not in self._stalled_pairs:
                    dst.sendall(data)  # stalled: swallowed, as by a dead link
        except OSError:
            pass
        self._drop(pair)

    def _drop(self, pair: tuple) -> None:
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self) -> int:
        """Close every proxied connection now (both sides see it); how many there were."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._drop(pair)
        return len(pairs)

    def stall(self, stalled: bool = True) -> None:
        """Stop (or resume) forwarding, leaving the connections open."""
        self.stalled = stalled

    def stall_existing(self) -> int:
        """Stall the connections open now (new ones flow): each one half-open; how many."""
        with self._lock:
            self._stalled_pairs.update(self._pairs)
            return len(self._pairs)

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.cut()


def wait_until(condition, timeout: float = 10.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)
