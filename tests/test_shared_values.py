"""Values that share sub-values, compared (found by bench/fuzz.py, seed 20261207, round
19359: ``r.range(38).coerce_to('array').fold(..., lambda acc, x: [{}, acc, acc])`` then
``min`` made the server build a sort key of 2^38 nodes and grow without bound).

``fold`` with ``[acc, acc]`` doubles the tree at every step but not the memory (both slots
hold the same value, in RethinkDB as here). Comparing such values (``min``, ``max``, ``eq``,
``lt``) must take time in proportion to the memory, not to the tree. The expected answers
follow from ReQL's order: arrays compare element by element, so ``[v, 1] < [v, 2]`` whatever
``v`` is. Each query runs in a thread with a bound: the server under test is this module's
own, so one that never answers fails the test and is then killed, not the session's.
"""

from __future__ import annotations

import threading

import pytest

from conftest import ServerProcess

DEPTH = 64  # 2^64 nodes as a tree: only a walk that shares the shared parts can finish
BOUND = 60.0  # seconds; the fixed server answers in milliseconds


@pytest.fixture(scope="module")
def own_server(tmp_path_factory):
    srv = ServerProcess(str(tmp_path_factory.mktemp("shared_values") / "data")).start()
    yield srv
    srv.stop()


@pytest.fixture(params=["ours", "official"])
def rq(request, own_server):
    if request.param == "ours":
        from rethought import r
    else:
        from rethinkdb import r
    conn = r.connect(host=own_server.host, port=own_server.port)
    yield r, conn
    try:
        conn.close(noreply_wait=False)
    except Exception:  # a connection whose query never came back
        pass


def bounded(query, conn):
    """Run ``query``; fail (not hang) when no answer comes within BOUND seconds."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = query.run(conn)
        except Exception as e:  # reported below
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(BOUND)
    if t.is_alive():
        pytest.fail(f"no answer within {BOUND} s: the comparison walked the whole tree")
    if "error" in out:
        raise out["error"]
    return out["value"]


def doubled(r):
    """A value of DEPTH levels, each ``[{}, acc, acc]``: 3 * 2^DEPTH nodes as a tree."""
    return r.range(DEPTH).coerce_to("array").fold([5, True], lambda acc, _x: [{}, acc, acc])


def test_min_of_shared_values_is_answered(rq):
    # The fuzz input: min over [{}, v, v, 'number'] is v (an ARRAY is the smallest type);
    # skip() wants a NUMBER, so the query fails with RethinkDB's type error.
    r, conn = rq
    query = r.expr([]).skip(doubled(r).append("number").min())
    with pytest.raises(r.ReqlQueryLogicError, match="^Expected type NUMBER but found ARRAY"):
        bounded(query, conn)


def test_min_and_max_compare_past_the_shared_part(rq):
    r, conn = rq
    pairs = doubled(r).do(lambda v: r.expr([[v, 2], [v, 1], [v, 3]]))
    assert bounded(pairs.min().nth(1), conn) == 1
    assert bounded(pairs.max().nth(1), conn) == 3


def test_eq_and_lt_of_shared_values(rq):
    r, conn = rq
    v = doubled(r)
    assert bounded(v.do(lambda x: r.expr([x, 1]).eq([x, 1])), conn) is True
    assert bounded(v.do(lambda x: r.expr([x, 1]).lt([x, 2])), conn) is True
    assert bounded(v.do(lambda x: r.expr({"a": x, "b": 1}).gt({"a": x, "b": 0})), conn) is True
    assert bounded(v.do(lambda x: r.expr([x, 1]).ne([x, 1])), conn) is False
