"""Random, mostly ill-formed term trees never crash the server or surface as INTERNAL errors:
every one gets a proper ReQL error or a result (seeded, so a failure reproduces)."""

from __future__ import annotations

import itertools
import random

import pytest
import rethinkdb
from rethinkdb.ast import RqlQuery

from rethought.proto.ql2 import TermType as T

# Terms left out: external I/O, feeds (never end), and drops (would remove the fixture table).
SKIP = {T.JAVASCRIPT, T.HTTP, T.CHANGES, T.DB_DROP, T.TABLE_DROP}
TERMS = [int(t) for t in T if t not in SKIP]


class _Raw(RqlQuery):
    """A query whose wire form is given as is."""

    def __init__(self, wire):
        super().__init__()
        self.wire = wire

    def build(self):
        return self.wire


def _datum(rnd: random.Random, depth: int):
    k = rnd.randrange(7)
    if k == 0:
        return rnd.randrange(-3, 5)
    if k == 1:
        return rnd.choice(["a", "s", "id", "", " x"])
    if k == 2:
        return None
    if k == 3:
        return rnd.random() > 0.5
    if k == 4 and depth < 2:
        return [int(T.MAKE_ARRAY), [_datum(rnd, depth + 1) for _ in range(rnd.randrange(3))]]
    if k == 5 and depth < 2:
        return {rnd.choice("asid"): _datum(rnd, depth + 1)}
    return 1.5


def _term(rnd: random.Random, table: str, depth: int = 0):
    if depth > 3 or rnd.random() < 0.3:
        return [int(T.TABLE), [table]] if rnd.random() < 0.2 else _datum(rnd, 0)
    return [rnd.choice(TERMS), [_term(rnd, table, depth + 1) for _ in range(rnd.randrange(4))]]


@pytest.mark.parametrize("seed", [7, 11])
def test_random_terms_get_reql_errors_not_internal_ones(server, official_conn, table_name, seed):
    r, c = rethinkdb.r, official_conn
    r.table_create(table_name).run(c)
    r.table(table_name).insert([{"id": i, "a": i % 3, "s": str(i)} for i in range(20)]).run(c)
    rnd = random.Random(seed)
    internal = []
    for _ in range(1500):
        wire = _term(rnd, table_name)
        try:
            out = _Raw(wire).run(c)
            if isinstance(out, rethinkdb.net.Cursor):
                list(itertools.islice(out, 100))
                out.close()
        except rethinkdb.errors.ReqlInternalError as e:
            internal.append((wire, str(e)))
        except rethinkdb.errors.ReqlError:
            pass
    assert r.expr(1).run(c) == 1  # the connection and the server are still fine
    assert server.proc.poll() is None
    assert internal == []
