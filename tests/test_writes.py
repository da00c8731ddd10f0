"""Write terms (insert / update / replace / delete / sync) run through the engine on a real
LMDB ``Storage`` in a temporary directory; queries are built with the official driver."""

from __future__ import annotations

import pytest
import rethinkdb

from rethought.errors import ReqlQueryLogicError

r = rethinkdb.r

ZERO = {"deleted": 0, "errors": 0, "inserted": 0, "replaced": 0, "skipped": 0, "unchanged": 0}


def stats(**kw):
    return {**ZERO, **kw}


@pytest.fixture
def run(engine_run):
    engine_run(r.table_create("t"))
    return engine_run


def test_insert_and_duplicate(run):
    tbl = r.table("t")
    assert run(tbl.insert({"id": 0, "a": 0})) == stats(inserted=1)
    assert run(tbl.insert([{"id": 2, "a": 2}, {"id": 3}])) == stats(inserted=2)
    res = run(tbl.insert({"id": 2, "b": 20}))
    assert res == stats(
        errors=1,
        first_error='Duplicate primary key `id`:\n{\n\t"a":\t2,\n\t"id":\t2\n}\n'
        '{\n\t"b":\t20,\n\t"id":\t2\n}',
    )
    assert run(tbl.insert({"id": 2, "c": 3}, conflict="update")) == stats(replaced=1)
    assert run(tbl.get(2)) == {"id": 2, "a": 2, "c": 3}
    assert run(tbl.insert({"id": 2, "d": 4}, conflict="replace")) == stats(replaced=1)
    assert run(tbl.get(2)) == {"id": 2, "d": 4}
    res = run(tbl.insert({"id": 2, "d": 5}, conflict=lambda k, old, new: old.merge({"e": k})))
    assert res == stats(replaced=1)
    assert run(tbl.get(2)) == {"id": 2, "d": 4, "e": "id"}


def test_insert_generated_keys_and_changes(run):
    tbl = r.table("t")
    res = run(tbl.insert({"x": 1}))
    assert res["inserted"] == 1 and len(res["generated_keys"]) == 1
    assert run(tbl.get(res["generated_keys"][0]))["x"] == 1
    res = run(tbl.insert([{"id": 666}, {"id": 666}], return_changes="always"))
    assert res["changes"][0] == {"new_val": {"id": 666}, "old_val": None}
    assert res["changes"][1]["error"].startswith("Duplicate primary key `id`")
    assert res["inserted"] == 1 and res["errors"] == 1
    res = run(tbl.insert({"id": 666}, return_changes=True))
    assert res["changes"] == [] and res["errors"] == 1


def test_insert_bad_values(run):
    tbl = r.table("t")
    res = run(tbl.insert({"value": r.minval}))
    assert res["first_error"] == "`r.minval` and `r.maxval` cannot be written to disk."
    res = run(tbl.insert({"id": "a" * 200}))
    assert res["first_error"].startswith("Primary key too long (max 127 characters)")
    res = run(tbl.insert({"id": 1}, conflict=lambda a, b, c: 2))
    assert res == stats(inserted=1)
    res = run(tbl.insert({"id": 1}, conflict=lambda a, b, c: 2))
    assert res["first_error"] == "Inserted value must be an OBJECT (got NUMBER):\n2"
    with pytest.raises(ReqlQueryLogicError, match="Durability option `wrong`"):
        run(tbl.insert({"id": 5}, durability="wrong"))
    with pytest.raises(ReqlQueryLogicError, match="Conflict option `wrong`"):
        run(tbl.insert({"id": 5}, conflict="wrong"))
    with pytest.raises(ReqlQueryLogicError, match="should expect 3 arguments"):
        run(tbl.insert({"id": 5}, conflict=lambda a, b: a))


def test_update_replace_delete(run):
    tbl = r.table("t")
    run(tbl.insert([{"id": i, "n": i} for i in range(10)]))
    assert run(tbl.get(1).update({"x": 1})) == stats(replaced=1)
    assert run(tbl.get(1).update({"x": 1})) == stats(unchanged=1)
    assert run(tbl.get(99).update({"x": 1})) == stats(skipped=1)
    assert run(tbl.update(lambda row: {"n": row["n"] + 1})) == stats(replaced=10)
    assert run(tbl.get(3)) == {"id": 3, "n": 4}
    res = run(tbl.get(3).update({"id": 4}))
    assert res["first_error"] == (
        'Primary key `id` cannot be changed (`{\n\t"id":\t3,\n\t"n":\t4\n}` -> '
        '`{\n\t"id":\t4,\n\t"n":\t4\n}`).'
    )
    res = run(tbl.get(0).update({"x": r.error("a")}, return_changes=True))
    assert res["changes"] == [] and res["first_error"] == "a"
    assert run(tbl.get(5).replace({"id": 5, "z": 1})) == stats(replaced=1)
    assert run(tbl.get(5).replace(None)) == stats(deleted=1)
    assert run(tbl.get(50).replace({"id": 50})) == stats(inserted=1)
    res = run(tbl.get(50).replace({"x": 1}))
    assert res["first_error"] == 'Inserted object must have primary key `id`:\n{\n\t"x":\t1\n}'
    assert run(tbl.between(0, 3).delete()) == stats(deleted=3)
    assert run(tbl.count()) == 7
    assert run(tbl.delete(durability="soft"))["deleted"] == 7


def test_non_atomic_and_selection_errors(run):
    tbl = r.table("t")
    run(tbl.insert({"id": 1}))
    msg = "Could not prove argument deterministic.  Maybe you want to use the non_atomic flag?"
    with pytest.raises(ReqlQueryLogicError) as e:
        run(tbl.update({"r": tbl.get(1)["id"]}))
    assert e.value.message == msg
    assert run(tbl.update({"r": r.random()}, non_atomic=True))["replaced"] == 1
    with pytest.raises(ReqlQueryLogicError) as e:
        run(r.expr([1, 2]).delete())
    assert e.value.message == "Expected type SELECTION but found DATUM:\n[\n\t1,\n\t2\n]"


def test_durability_requests_sync(run):
    tbl = r.table("t")
    run(tbl.insert({"id": 1}, durability="soft"))
    assert run.ctx.pending_sync is False
    run(tbl.insert({"id": 2}))  # the table's default durability is hard
    assert run.ctx.pending_sync is True
    assert run(tbl.sync()) == {"synced": 1}
    assert run.ctx.pending_sync is True
