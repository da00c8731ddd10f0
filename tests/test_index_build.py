"""Background index construction: index_create answers at once, the index reports progress
and refuses reads until built, index_wait waits, and writes made meanwhile are in the result.

Server tests use the session server (official driver); storage tests use a real Storage.
"""

from __future__ import annotations

import asyncio

import pytest
import rethinkdb

from rethought.server.query.terms.indexes import field_function, index_function
from rethought.server.storage import Storage

r = rethinkdb.r
ROWS = 20000  # enough rows that the build takes several chunks


@pytest.fixture
def big(official_conn, table_name):
    r.table_create(table_name).run(official_conn)
    r.table(table_name).insert(r.range(ROWS).map(lambda i: {"id": i, "v": i % 100})).run(
        official_conn
    )
    yield r.table(table_name)
    r.table_drop(table_name).run(official_conn)


def test_create_returns_before_the_build_and_wait_finishes_it(big, official_conn, table_name):
    assert big.index_create("v").run(official_conn) == {"created": 1}
    [status] = big.index_status("v").run(official_conn)
    assert status["ready"] is False
    assert 0 <= status["progress"] < 1
    with pytest.raises(rethinkdb.errors.ReqlOpFailedError) as e:
        big.get_all(5, index="v").count().run(official_conn)
    assert e.value.message == (
        f"Index `v` on table `test.{table_name}` was accessed before its construction was finished."
    )
    [done] = big.index_wait("v").run(official_conn)
    assert done["ready"] is True and "progress" not in done
    assert big.get_all(5, index="v").count().run(official_conn) == ROWS // 100


def test_writes_during_the_build_are_in_the_index(big, official_conn):
    big.index_create("v").run(official_conn)
    # Rows on both sides of the build's position: updated, deleted and inserted.
    big.get_all(*range(0, ROWS, 97)).update({"v": 1000}).run(official_conn)
    big.between(ROWS - 500, ROWS).delete().run(official_conn)
    big.insert([{"id": ROWS + i, "v": 1000} for i in range(50)]).run(official_conn)
    big.index_wait("v").run(official_conn)
    expected = {row["id"] for row in big.filter({"v": 1000}).run(official_conn)}
    indexed = {row["id"] for row in big.get_all(1000, index="v").run(official_conn)}
    assert indexed == expected
    assert big.get_all(99, index="v").count().run(official_conn) == big.filter(
        {"v": 99}
    ).count().run(official_conn)
    total = big.between(r.minval, r.maxval, index="v").count().run(official_conn)
    assert total == big.count().run(official_conn)


def test_queries_are_answered_during_a_build(big, official_conn):
    big.index_create("v").run(official_conn)
    assert r.expr(1).run(official_conn) == 1
    big.index_wait().run(official_conn)


def test_drop_during_the_build(big, official_conn):
    big.index_create("v").run(official_conn)
    assert big.index_drop("v").run(official_conn) == {"dropped": 1}
    assert big.index_list().run(official_conn) == []
    big.index_create("v").run(official_conn)
    big.index_wait("v").run(official_conn)
    assert big.get_all(3, index="v").count().run(official_conn) == ROWS // 100


def test_small_tables_are_ready_at_once(official_conn, table_name):
    r.table_create(table_name).run(official_conn)
    t = r.table(table_name)
    t.insert([{"id": i, "v": i} for i in range(10)]).run(official_conn)
    t.index_create("v").run(official_conn)
    assert t.get_all(3, index="v").count().run(official_conn) == 1
    r.table_drop(table_name).run(official_conn)


# -- storage level ----------------------------------------------------------------------------


def _filled(tmp_path, n: int) -> tuple[Storage, object]:
    st = Storage(str(tmp_path / "db"), index_compiler=index_function)
    t = st.table_create("test", "t")
    with t.write() as w:
        for i in range(n):
            w.put({"id": i, "v": i % 7})
    return st, t


def test_without_a_loop_the_build_is_synchronous(tmp_path):
    st, t = _filled(tmp_path, 5000)
    fn = field_function("v")
    info = t.index_create("v", fn, fn=index_function(fn, False, False))
    assert info.ready
    assert sum(1 for _ in t.index_get_all("v", 3)) == len(range(3, 5000, 7))
    st.close()


def test_in_a_loop_the_build_runs_between_turns(tmp_path):
    st, t = _filled(tmp_path, 20000)
    fn = field_function("v")

    async def main() -> tuple[list[float], int]:
        info = t.index_create("v", fn, fn=index_function(fn, False, False))
        assert not info.ready
        turns = 0
        progress = []
        while not (now := t.index_info("v")).ready:
            progress.append(now.progress)
            turns += 1
            await asyncio.sleep(0)
        await t.index_wait("v")
        return progress, turns

    progress, turns = asyncio.run(main())
    assert turns > 1 and progress == sorted(progress) and 0 <= progress[0] < progress[-1] < 1
    assert sum(1 for _ in t.index_get_all("v", 3)) == len(range(3, 20000, 7))
    st.close()


def test_a_build_cut_short_is_redone_after_a_restart(tmp_path):
    st, t = _filled(tmp_path, 20000)
    fn = field_function("v")

    async def create_and_leave() -> None:
        t.index_create("v", fn, fn=index_function(fn, False, False))

    asyncio.run(create_and_leave())  # the loop ends with the build unfinished
    st.close()
    st = Storage(str(tmp_path / "db"), index_compiler=index_function)
    t = st.table_get("test", "t")
    assert sum(1 for _ in t.index_get_all("v", 3)) == len(range(3, 20000, 7))
    st.close()
