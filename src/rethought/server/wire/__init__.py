"""The wire: the listener and handshakes, SCRAM, one connection's session, response frames and
stream batches (docs/architecture.md)."""
