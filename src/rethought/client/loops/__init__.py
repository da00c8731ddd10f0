"""One thin adapter per event loop; each moves bytes for ``client.core.ClientCore``.

``sync`` (blocking sockets, thread-safe) is the default; ``blocking`` is the socket transport
it uses.
"""
