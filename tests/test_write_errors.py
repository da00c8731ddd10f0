"""Write results for bad documents, as RethinkDB 2.4.4 reports them, through our driver and
the official one on a real server.

Where the texts come from: ``datum_t::get_field`` / ``check_type`` ("Expected type OBJECT but
found BOOL."; regression/831.yaml), ``rcheck_valid_replace`` and ``print_primary``
(datum.cc), ``rcheck_row_replacement`` (table_common.cc), the optarg parsers of
terms/writes.cc, and ``table_t::batched_insert`` (val.cc) for which changes an insert returns.
"""

from __future__ import annotations

import pytest

ZERO = {"deleted": 0, "errors": 0, "inserted": 0, "replaced": 0, "skipped": 0, "unchanged": 0}


def stats(**kw):
    return {**ZERO, **kw}


@pytest.fixture(params=["ours", "official"])
def db(request, server, table_name):
    """(r, conn, errors module, table holding {id: 1, a: 1})."""
    if request.param == "ours":
        from rethought import errors, r
    else:
        import rethinkdb.errors as errors
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    if "test" not in r.db_list().run(conn):
        r.db_create("test").run(conn)
    r.db("test").table_create(table_name).run(conn)
    tbl = r.db("test").table(table_name)
    tbl.insert({"id": 1, "a": 1}).run(conn)
    yield r, conn, errors, tbl
    r.db("test").table_drop(table_name).run(conn)
    conn.close()


def dup(old: str, new: str) -> str:
    return f"Duplicate primary key `id`:\n{old}\n{new}"


OLD = '{\n\t"a":\t1,\n\t"id":\t1\n}'


def test_non_objects_in_an_insert(db):
    r, conn, errors, tbl = db
    res = tbl.insert([True, True]).run(conn)
    assert res == stats(errors=2, first_error="Expected type OBJECT but found BOOL.")
    for value, name in ((None, "NULL"), ([1], "ARRAY"), (5, "NUMBER"), ("s", "STRING")):
        res = tbl.insert([value]).run(conn)
        assert res == stats(errors=1, first_error=f"Expected type OBJECT but found {name}.")
    # a lone non-object is not a sequence of documents
    for value, name in ((5, "NUMBER"), ("s", "STRING"), (None, "NULL")):
        with pytest.raises(errors.ReqlQueryLogicError) as info:
            tbl.insert(r.expr(value)).run(conn)
        assert info.value.message == f"Cannot convert {name} to SEQUENCE"
    assert tbl.count().run(conn) == 1


def test_bad_primary_keys(db):
    r, conn, errors, tbl = db
    kinds = "Primary keys must be either a number, string, bool, pseudotype or array"
    res = tbl.insert({"id": {"a": 1}}).run(conn)
    assert res == stats(errors=1, first_error=f'{kinds} (got type OBJECT):\n{{\n\t"a":\t1\n}}')
    res = tbl.insert({"id": None}).run(conn)
    assert res == stats(errors=1, first_error=f"{kinds} (got type NULL):\nnull")
    assert tbl.insert({"id": "x" * 127}).run(conn) == stats(inserted=1)
    res = tbl.insert({"id": "y" * 128}).run(conn)
    long = "Primary key too long (max 127 characters): " + '"' + "y" * 128 + '"'
    assert res == stats(errors=1, first_error=long)


def test_refused_documents_in_changes(db):
    r, conn, errors, tbl = db
    refused = {"old_val": None, "new_val": None, "error": "Expected type OBJECT but found BOOL."}
    # batched_insert lists refused documents whenever changes are returned ...
    res = tbl.insert([True, {"id": 3}, 5], return_changes=True).run(conn)
    assert res["errors"] == 2 and res["inserted"] == 1
    assert res["changes"] == [
        refused,
        {"old_val": None, "new_val": {"id": 3}},
        {**refused, "error": "Expected type OBJECT but found NUMBER."},
    ]
    # ... but when none reached the write, only the first of them
    for rc in (True, "always"):
        res = tbl.insert([True, True], return_changes=rc).run(conn)
        assert res == stats(errors=2, first_error=refused["error"], changes=[refused]), rc
    # the write's own errors (a duplicate key) only with 'always': new_val is the old row
    res = tbl.insert({"id": 1}, return_changes=True).run(conn)
    assert res == stats(errors=1, first_error=dup(OLD, '{\n\t"id":\t1\n}'), changes=[])
    res = tbl.insert([{"id": 1}, True], return_changes="always").run(conn)
    assert res["first_error"] == refused["error"]  # checked before the write: reported first
    assert res["changes"] == [
        {
            "old_val": {"id": 1, "a": 1},
            "new_val": {"id": 1, "a": 1},
            "error": dup(OLD, '{\n\t"id":\t1\n}'),
        },
        refused,
    ]


def test_return_changes_variants(db):
    r, conn, errors, tbl = db
    same = {"id": 1, "a": 1}
    # an unchanged row: true gives an empty list, 'always' the pair
    res = tbl.insert(same, conflict="replace", return_changes=True).run(conn)
    assert res == stats(unchanged=1, changes=[])
    res = tbl.insert(same, conflict="replace", return_changes="always").run(conn)
    assert res == stats(unchanged=1, changes=[{"old_val": same, "new_val": same}])
    res = tbl.get(99).delete(return_changes="always").run(conn)
    assert res == stats(skipped=1, changes=[{"old_val": None, "new_val": None}])
    res = tbl.get(99).delete(return_changes=True).run(conn)
    assert res == stats(skipped=1, changes=[])
    res = tbl.insert({"id": 2}, return_changes=False).run(conn)
    assert res == stats(inserted=1)
    # val_t::as_bool: any datum but false / null is true
    res = tbl.insert({"id": 3}, return_changes=1).run(conn)
    assert res == stats(inserted=1, changes=[{"old_val": None, "new_val": {"id": 3}}])
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        tbl.insert({"id": 4}, return_changes="sometimes").run(conn)
    assert info.value.message == (
        "Invalid return_changes value `sometimes` (options are `true`, `false`, and `'always'`.)"
    )


def test_conflict_modes(db):
    r, conn, errors, tbl = db
    res = tbl.insert({"id": 1, "b": 2}, conflict="error").run(conn)
    assert res == stats(errors=1, first_error=dup(OLD, '{\n\t"b":\t2,\n\t"id":\t1\n}'))
    assert tbl.insert({"id": 1, "b": 2}, conflict="update").run(conn) == stats(replaced=1)
    assert tbl.get(1).run(conn) == {"id": 1, "a": 1, "b": 2}
    assert tbl.insert({"id": 1, "c": 3}, conflict="replace").run(conn) == stats(replaced=1)
    assert tbl.get(1).run(conn) == {"id": 1, "c": 3}
    fn = tbl.insert({"id": 1, "d": 4}, conflict=lambda k, old, new: old.merge(new).merge({"k": k}))
    assert fn.run(conn) == stats(replaced=1)
    assert tbl.get(1).run(conn) == {"id": 1, "c": 3, "d": 4, "k": "id"}
    # r.now() is constant within a query: allowed
    res = tbl.insert({"id": 1}, conflict=lambda k, o, n: o.merge({"t": r.now()})).run(conn)
    assert res == stats(replaced=1)
    # the function deleting the row
    res = tbl.insert({"id": 1}, conflict=lambda k, o, n: None).run(conn)
    assert res == stats(deleted=1)
    tbl.insert({"id": 1, "a": 1}).run(conn)


def test_conflict_function_errors(db):
    r, conn, errors, tbl = db
    res = tbl.insert({"id": 1}, conflict=lambda k, o, n: r.error("boom")).run(conn)
    assert res == stats(errors=1, first_error="boom")
    res = tbl.insert({"id": 1}, conflict=lambda k, o, n: 5).run(conn)
    assert res == stats(errors=1, first_error="Inserted value must be an OBJECT (got NUMBER):\n5")
    res = tbl.insert({"id": 1}, conflict=lambda k, o, n: {"id": 9}).run(conn)
    assert res == stats(
        errors=1,
        first_error=f'Primary key `id` cannot be changed (`{OLD}` -> `{{\n\t"id":\t9\n}}`).',
    )
    for f in (lambda k, o, n: r.js("1"), lambda k, o, n: o.merge({"x": r.random()})):
        with pytest.raises(errors.ReqlQueryLogicError) as info:
            tbl.insert({"id": 1}, conflict=f).run(conn)
        assert info.value.message == (
            "The conflict function passed to `insert` must be deterministic."
        )
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        tbl.insert({"id": 1}, conflict=lambda k, o: o).run(conn)
    assert info.value.message == (
        "The conflict function passed to `insert` should expect 3 arguments."
    )
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        tbl.insert({"id": 1}, conflict="merge").run(conn)
    assert info.value.message == (
        'Conflict option `merge` unrecognized (options are "error", "replace" and "update").'
    )
    assert tbl.get(1).run(conn) == {"id": 1, "a": 1}


def test_replacements_that_are_not_rows(db):
    r, conn, errors, tbl = db
    row = tbl.get(1)
    for q in (row.update(5), row.update(lambda x: 5), row.replace(5), tbl.get(7).replace(5)):
        res = q.run(conn)
        assert res == stats(
            errors=1, first_error="Inserted value must be an OBJECT (got NUMBER):\n5"
        )
    res = row.replace({"a": 2}).run(conn)
    assert res == stats(
        errors=1, first_error='Inserted object must have primary key `id`:\n{\n\t"a":\t2\n}'
    )
    res = row.replace({"id": 7}).run(conn)
    assert res == stats(
        errors=1,
        first_error=f'Primary key `id` cannot be changed (`{OLD}` -> `{{\n\t"id":\t7\n}}`).',
    )
    res = tbl.get(7).replace({"id": 8}).run(conn)
    assert res == stats(
        errors=1, first_error='Primary key `id` cannot be changed (null -> {\n\t"id":\t8\n})'
    )
    # merging a pseudotype (update's rewrite into merge)
    res = row.update(r.now()).run(conn)
    assert res == stats(errors=1, first_error="Cannot merge objects of type `PTYPE<TIME>`.")
    # an error of the replacement with 'always': the row stays, new_val is the old row
    res = row.replace(5, return_changes="always").run(conn)
    assert res["changes"] == [
        {
            "old_val": {"id": 1, "a": 1},
            "new_val": {"id": 1, "a": 1},
            "error": "Inserted value must be an OBJECT (got NUMBER):\n5",
        }
    ]
    assert tbl.get(1).run(conn) == {"id": 1, "a": 1}


def test_durability_and_ignore_write_hook(db):
    r, conn, errors, tbl = db
    assert tbl.insert({"id": 2}, durability="soft").run(conn) == stats(inserted=1)
    bad = 'Durability option `fast` unrecognized (options are "hard" and "soft").'
    for q in (
        tbl.insert({"id": 3}, durability="fast"),
        tbl.get(1).update({"b": 1}, durability="fast"),
        tbl.get(1).delete(durability="fast"),
        r.db("test").table_create("never_made", durability="fast"),
    ):
        with pytest.raises(errors.ReqlQueryLogicError) as info:
            q.run(conn)
        assert info.value.message == bad
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        tbl.insert({"id": 3}).run(conn, durability="fast")
    assert info.value.message == bad
    with pytest.raises(errors.ReqlQueryLogicError) as info:
        tbl.insert({"id": 3}, durability=1).run(conn)
    assert info.value.message == "Expected type STRING but found NUMBER."
    assert tbl.count().run(conn) == 2
    # ignore_write_hook skips the table's hook; its value is read as a truth value
    tbl.set_write_hook(lambda ctx, old, new: new.merge({"hooked": True})).run(conn)
    tbl.insert({"id": 10}).run(conn)
    tbl.insert({"id": 11}, ignore_write_hook=True).run(conn)
    tbl.insert({"id": 12}, ignore_write_hook=1).run(conn)
    got = tbl.get_all(10, 11, 12).order_by("id").run(conn)
    assert got == [{"id": 10, "hooked": True}, {"id": 11}, {"id": 12}]
