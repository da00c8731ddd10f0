"""How deterministic a term is, as RethinkDB 2.4 proves it (its ``deterministic_t``).

A compiled term carries ``determinism``: a set of bits, the union of its own (the class's
``nondeterminism``) and its arguments' and optargs'. No bit means "always deterministic".

- ``NO``: never deterministic: ``r.random``, ``r.uuid()`` without a name (or with ``r.args``),
  ``r.js`` (and JavaScript functions), ``r.http``, ``sample``, ``r.table``, ``r.db`` and every
  admin term, the write-hook terms.
- ``SINGLE_SERVER``: deterministic on one server only (floating-point geometry may differ
  between machines): every geo term except ``r.point`` and ``to_geojson``.
- ``CONSTANT_NOW``: deterministic only while ``r.now()`` is a constant: ``r.now``.

Each place that needs a proof asks for it under its own conditions (``deterministic_t::test``):
atomic writes (``update`` / ``replace`` without ``non_atomic``, an ``insert`` conflict function)
run on every replica, so geometry fails them but ``r.now`` (fixed per query) passes;
changefeed transforms and ``order_by`` functions run on one server with a fixed ``r.now``, so
only ``NO`` fails them; index and write-hook functions run at any later time on any server,
so every bit fails them.
"""

from __future__ import annotations

ALWAYS = 0
NO = 1
SINGLE_SERVER = 2
CONSTANT_NOW = 4


def test(bits: int, single_server: bool, constant_now: bool) -> bool:
    """Whether an expression with these bits is deterministic under the given conditions."""
    mask = (SINGLE_SERVER if single_server else 0) | (CONSTANT_NOW if constant_now else 0)
    return bits & ~mask == 0


def atomic_ok(bits: int) -> bool:
    """Fit for an atomic write: ``update`` / ``replace`` / an insert conflict function."""
    return test(bits, single_server=False, constant_now=True)


def feed_ok(bits: int) -> bool:
    """Fit for a transform before ``changes()`` or an ``order_by`` function."""
    return test(bits, single_server=True, constant_now=True)


def stored_ok(bits: int) -> bool:
    """Fit for a function stored and rerun later: a secondary index or a write hook."""
    return test(bits, single_server=False, constant_now=False)
