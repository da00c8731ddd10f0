"""Global optargs (``r.connect(db=...)``, ``run(...)`` options) as RethinkDB 2.4 treats them,
through our driver and the official one against a real server.

From RethinkDB's source (term_storage.cc, optargs.cc, query_params.cc, configured_limits.cc,
batching.cc, db_table.cc, writes.cc):

- a name outside RethinkDB's list is a compile error, ``Unrecognized global optional
  argument `x`.``, with no backtrace;
- each optarg is kept as a function and evaluated only when a term reads it: ``db`` when a
  term needs the default database (table, table_create / drop / list, config...), so a
  missing default database does not break ``db_list`` or ``db_create``; ``durability``
  by a write, ``read_mode`` by ``table``; a value nothing reads never fails;
- ``array_limit`` is read before evaluation (``Illegal array size limit `0`.  (Must be
  >= 1.)``), the batch options when results are sent;
- ``noreply`` and ``profile`` are read before compiling: a bool or ``[DATUM, bool]``,
  anything else counts as false;
- ``time_format``, ``binary_format`` and ``group_format`` are the driver's business: the
  server accepts any value;
- errors about a global optarg carry no backtrace (global optargs are walked without one);
  the unknown-mode errors of ``read_mode`` blame the ``table`` term (``rfail``), those of
  ``durability`` the optarg (``rfail_target``), i.e. nothing.

One extension: ``db`` may be a plain string (rethinkdb-ts sends ``{"db": "name"}``); RethinkDB
itself wants a DATABASE there (``Expected type DATABASE but found DATUM:``).
"""

from __future__ import annotations

import uuid

import pytest

from rethought import r as our_r


class Plain:
    """A global optarg sent as this JSON as it is (our driver sends ``.build()``)."""

    def __init__(self, value):
        self.value = value

    def build(self):
        return self.value


def _new_db_name():
    return "app_" + uuid.uuid4().hex[:10]


@pytest.mark.parametrize("which", ["ours", "official"])
def test_default_db_is_read_only_when_needed(server, official_r, which):
    r = our_r if which == "ours" else official_r
    name = _new_db_name()
    c = r.connect(host=server.host, port=server.port, db=name)
    try:
        assert name not in r.db_list().run(c)  # db_list needs no default database
        assert r.expr(1).run(c) == 1
        with pytest.raises(r.ReqlOpFailedError) as info:
            r.table("t").run(c)
        assert info.value.message == f"Database `{name}` does not exist."
        assert list(info.value.frames or []) == []  # the db optarg has no backtrace
        assert r.db_create(name).run(c)["dbs_created"] == 1
        assert r.table_create("t").run(c)["tables_created"] == 1
        assert r.table_list().run(c) == ["t"]
        r.table("t").insert({"id": 1, "v": "x"}).run(c)
        assert r.table("t").get(1).run(c) == {"id": 1, "v": "x"}
        assert r.db(name).table("t").count().run(c) == 1
    finally:
        r.db_drop(name).run(c)
        c.close()


def test_db_as_plain_string(conn, test_table):
    name = test_table._args[1].data
    assert our_r.table(name).count().run(conn, db=Plain("test")) == 0
    assert our_r.table_list().run(conn, db=Plain("test")).count(name) == 1
    with pytest.raises(our_r.ReqlOpFailedError) as info:
        our_r.table(name).run(conn, db=Plain("nope_db"))
    assert info.value.message == "Database `nope_db` does not exist."
    assert list(info.value.frames) == []
    with pytest.raises(our_r.ReqlQueryLogicError) as info:
        our_r.table(name).run(conn, db=Plain("bad name"))
    assert info.value.message == (
        "Database name `bad name` invalid (Use A-Z, a-z, 0-9, _ and - only)."
    )
    assert list(info.value.frames) == []


def test_bad_db_values(conn, official_conn, official_r):
    # Not a database: val_t::as_db's error (the value printed after the newline).
    for raw, printed in [(1, "1"), (Plain(None), "null"), (Plain([2, [1, 2]]), "[\n\t1,\n\t2\n]")]:
        with pytest.raises(our_r.ReqlQueryLogicError) as info:
            our_r.table("x").run(conn, db=raw if isinstance(raw, Plain) else Plain(raw))
        assert info.value.message == f"Expected type DATABASE but found DATUM:\n{printed}"
        assert list(info.value.frames) == []
    # The official driver sends r.db(value): r.db's own errors, still without a backtrace.
    with pytest.raises(official_r.ReqlQueryLogicError) as info:
        official_r.table("x").run(official_conn, db=1)
    assert info.value.message == "Expected type STRING but found NUMBER."
    assert list(info.value.frames) == []
    with pytest.raises(official_r.ReqlQueryLogicError) as info:
        official_r.table("x").run(official_conn, db="bad name")
    assert info.value.message.startswith("Database name `bad name` invalid")
    # ...and none of it matters to a query that needs no default database.
    assert official_r.expr(2).run(official_conn, db=1) == 2
    assert our_r.db("test").table_list().run(conn, db=Plain(1)) is not None


def test_unknown_global_optarg(conn, official_conn, official_r):
    with pytest.raises(official_r.ReqlCompileError) as info:
        official_r.expr(1).run(official_conn, bogus=1)
    assert info.value.message == "Unrecognized global optional argument `bogus`."
    assert list(info.value.frames or []) == []
    with pytest.raises(our_r.ReqlCompileError) as info:
        our_r.expr(1).run(conn, bogus=Plain(1))
    assert info.value.message == "Unrecognized global optional argument `bogus`."
    # A term's optarg name given globally is accepted (the list is every term's optargs).
    assert official_r.expr(1).run(official_conn, ignore_write_hook=True) == 1
    assert official_r.expr(1).run(official_conn, conflict="x") == 1


def test_durability(official_conn, official_r, test_table):
    r, c = official_r, official_conn
    t = r.db("test").table(test_table._args[1].data)
    assert r.expr(1).run(c, durability="x") == 1  # nothing reads it
    with pytest.raises(r.ReqlQueryLogicError) as info:
        t.insert({}).run(c, durability="x")
    assert (
        info.value.message == 'Durability option `x` unrecognized (options are "hard" and "soft").'
    )
    assert list(info.value.frames or []) == []
    with pytest.raises(r.ReqlQueryLogicError) as info:
        t.insert({}).run(c, durability=1)
    assert info.value.message == "Expected type STRING but found NUMBER."
    assert list(info.value.frames or []) == []
    assert t.insert({"id": 1}).run(c, durability="soft")["inserted"] == 1
    # A term's own optarg wins over the global one.
    assert t.insert({"id": 2}, durability="hard").run(c, durability="x")["inserted"] == 1


def test_read_mode(official_conn, official_r, test_table):
    r, c = official_r, official_conn
    t = r.db("test").table(test_table._args[1].data)
    assert t.count().run(c, read_mode="outdated") == 0
    with pytest.raises(r.ReqlQueryLogicError) as info:
        t.count().run(c, read_mode="x")
    assert info.value.message == (
        'Read mode `x` unrecognized (options are "majority", "single", and "outdated").'
    )
    assert list(info.value.frames) == [0]  # rfail in the table term
    with pytest.raises(r.ReqlQueryLogicError) as info:
        t.count().run(c, read_mode=1)
    assert info.value.message == "Expected type STRING but found NUMBER."
    assert list(info.value.frames or []) == []  # the global optarg's own value
    assert r.expr(1).run(c, read_mode="x") == 1


def test_array_limit(official_conn, official_r):
    r, c = official_r, official_conn
    for bad, text in [
        (0, "Illegal array size limit `0`.  (Must be >= 1.)"),
        (-5, "Illegal array size limit `-5`.  (Must be >= 1.)"),
        ("a", "Expected type NUMBER but found STRING."),
        (1.5, "Number not an integer: 1.5"),
    ]:
        with pytest.raises(r.ReqlQueryLogicError) as info:
            r.expr(1).run(c, array_limit=bad)
        assert info.value.message == text
        assert list(info.value.frames or []) == []
    with pytest.raises(r.ReqlResourceLimitError) as info:
        r.expr([1, 2, 3]).map(lambda x: x).coerce_to("array").run(c, array_limit=2)
    assert info.value.message.startswith("Array over size limit `2`.")
    assert r.expr([1, 2]).run(c, array_limit=2) == [1, 2]


def test_batch_optargs(official_conn, official_r):
    r, c = official_r, official_conn
    assert list(r.range(10).run(c, max_batch_rows=1, min_batch_rows=1)) == list(range(10))
    with pytest.raises(r.ReqlQueryLogicError) as info:
        list(r.range(10).run(c, max_batch_rows="a"))
    assert info.value.message == "Expected type NUMBER but found STRING."
    with pytest.raises(r.ReqlQueryLogicError) as info:
        list(r.range(10).run(c, max_batch_seconds=100000))
    assert info.value.message == (
        "max_batch_seconds is too large (got `100000`, must be less than 86400)."
    )
    with pytest.raises(r.ReqlQueryLogicError) as info:
        list(r.range(10).run(c, max_batch_seconds=-1))
    assert info.value.message == "max_batch_seconds must be positive (got `-1`)."


def test_format_optargs_are_the_drivers(official_conn, official_r):
    # The server accepts any value for these (RethinkDB never reads them); drivers apply them
    # (the official one only when a value of that kind comes back).
    for name in ("time_format", "binary_format", "group_format"):
        assert official_r.expr(1).run(official_conn, **{name: "bogus"}) == 1
        assert official_r.expr(1).run(official_conn, **{name: 5}) == 1


def test_global_optarg_evaluated_lazily(conn):
    # A global optarg no term reads is never evaluated, so its error never happens.
    assert our_r.expr(1).run(conn, durability=our_r.error("never")) == 1
    boom = Plain([12, ["boom"]])  # r.error("boom")
    assert our_r.db("test").table_list().count().run(conn, db=boom) >= 0
    with pytest.raises(our_r.ReqlUserError) as info:
        our_r.table("x").run(conn, db=boom)
    assert info.value.message == "boom"
    assert list(info.value.frames) == []
