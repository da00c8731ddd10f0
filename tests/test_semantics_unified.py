"""One implementation per rule, checked against a real ``rethought serve`` through our driver:

- merge / update / insert(conflict='update') share objects.merge: ``r.literal(x)`` replaces
  without deep merging, ``r.literal()`` removes the field, literals are resolved (and dropped)
  at any depth, and a literal is never stored (RethinkDB's ``drop_literals`` semantics);
- between / slice / during / changes check ``left_bound`` / ``right_bound`` with RethinkDB's
  ``open_bool`` (argcheck.bound);
- every integer argument refuses numbers beyond +-2**53 (values.as_int, RethinkDB's
  ``checked_convert_to_int``).
"""

from __future__ import annotations

import pytest

from rethought import r
from rethought.errors import ReqlNonExistenceError, ReqlQueryLogicError

STRAY = (
    "Stray literal keyword found: literal is only legal inside of the object passed to merge "
    "or update and cannot nest inside other literals."
)
ZERO = {"deleted": 0, "errors": 0, "inserted": 0, "replaced": 0, "skipped": 0, "unchanged": 0}


def stats(**kw):
    return {**ZERO, **kw}


@pytest.fixture
def tbl(conn, test_table):
    test_table.insert({"id": 1, "a": 1, "b": {"c": 1, "d": 2}, "l": [1, 2]}).run(conn)
    return test_table


def fails(conn, query, cls, message):
    with pytest.raises(cls) as info:
        query.run(conn)
    assert type(info.value) is cls
    assert info.value.message == message


# -- literals: one merge for merge, update and insert(conflict='update') ----------------------


ROW = {"id": 1, "a": 1, "b": {"c": 1, "d": 2}, "l": [1, 2]}


@pytest.mark.parametrize(
    "patch, changed",
    [
        # A valueless literal removes the field, also inside an object the patch creates.
        ({"b": {"c": r.literal()}}, {"b": {"d": 2}}),
        ({"n": {"c": r.literal(), "d": 1}}, {"n": {"d": 1}}),
        ({"a": r.literal()}, {"a": None}),
        # literal(x) replaces without a deep merge; a plain object merges.
        ({"b": r.literal({"x": 1})}, {"b": {"x": 1}}),
        ({"b": {"x": 1}}, {"b": {"c": 1, "d": 2, "x": 1}}),
        # A literal under a field that was not an object: resolved, not stored.
        ({"a": {"z": r.literal(3)}}, {"a": {"z": 3}}),
    ],
)
def test_update_matches_merge(conn, tbl, patch, changed):
    expected = {k: v for k, v in {**ROW, **changed}.items() if v is not None}
    assert r.expr(ROW).merge(patch).run(conn) == expected
    assert tbl.get(1).update(patch).run(conn) == stats(replaced=1)
    assert tbl.get(1).run(conn) == expected


def test_literal_inside_json_array_is_dropped(conn, tbl):
    # r.json may carry literals anywhere; merge resolves them like RethinkDB's drop_literals,
    # dropping a valueless one from an array too.
    patch = r.json('{"a": [1, {"$reql_type$": "LITERAL"}, {"$reql_type$": "LITERAL", "value": 2}]}')
    assert r.expr({"x": 0}).merge(patch).run(conn) == {"x": 0, "a": [1, 2]}
    assert tbl.get(1).update(patch).run(conn)["replaced"] == 1
    assert tbl.get(1)["a"].run(conn) == [1, 2]


def test_insert_conflict_update_uses_merge(conn, tbl):
    res = tbl.insert({"id": 1, "b": {"e": 5}}, conflict="update").run(conn)
    assert res == stats(replaced=1)
    assert tbl.get(1)["b"].run(conn) == {"c": 1, "d": 2, "e": 5}


def test_whole_patch_literal_or_pseudo_type_fails_like_merge(conn, tbl):
    res = tbl.get(1).update(r.literal({"id": 1})).run(conn)
    assert res == stats(errors=1, first_error=STRAY)
    fails(conn, r.expr({"a": 1}).merge(r.literal({"b": 2})), ReqlQueryLogicError, STRAY)
    res = tbl.get(1).update(r.epoch_time(0)).run(conn)
    assert res == stats(errors=1, first_error="Cannot merge objects of type `PTYPE<TIME>`.")


def test_stray_literals_are_refused(conn, tbl):
    # Outside merge / update the term itself fails ...
    fails(conn, tbl.get(1).replace({"id": 1, "z": r.literal(5)}), ReqlQueryLogicError, STRAY)
    fails(conn, r.expr({"a": r.literal(1)}), ReqlQueryLogicError, STRAY)
    # ... and a literal smuggled in through r.json is never written.
    doc = r.json('{"id": 2, "q": {"$reql_type$": "LITERAL", "value": 1}}')
    assert tbl.insert(doc).run(conn) == stats(errors=1, first_error=STRAY)
    assert tbl.get(2).run(conn) is None
    res = tbl.get(1).replace(r.json('{"id": 1, "q": {"$reql_type$": "LITERAL"}}')).run(conn)
    assert res == stats(errors=1, first_error=STRAY)


# -- left_bound / right_bound: one check ------------------------------------------------------


def _bound_queries(tbl):
    t0, t2 = r.epoch_time(0), r.epoch_time(2)
    return {
        "between": lambda **kw: tbl.between(1, 2, **kw),
        "slice": lambda **kw: r.expr([1, 2, 3]).slice(0, 2, **kw),
        "during": lambda **kw: r.epoch_time(1).during(t0, t2, **kw),
        "changes": lambda **kw: tbl.between(1, 2, **kw).changes(),
    }


@pytest.mark.parametrize("which", ["between", "slice", "during", "changes"])
@pytest.mark.parametrize("name", ["left_bound", "right_bound"])
def test_bound_errors_are_one_text(conn, tbl, which, name):
    query = _bound_queries(tbl)[which]
    fails(
        conn,
        query(**{name: "foo"}),
        ReqlQueryLogicError,
        f'Expected `open` or `closed` for optarg `{name}` (got `"foo"`).',
    )
    fails(conn, query(**{name: 1}), ReqlQueryLogicError, "Expected type STRING but found NUMBER.")
    fails(
        conn, query(**{name: None}), ReqlNonExistenceError, "Expected type STRING but found NULL."
    )


def test_bounds_still_select(conn, tbl):
    tbl.insert([{"id": 2}, {"id": 3}]).run(conn)
    ids = tbl.between(1, 3, left_bound="open", right_bound="closed")["id"]
    assert sorted(ids.run(conn)) == [2, 3]
    assert r.expr([1, 2, 3]).slice(0, 2, left_bound="open", right_bound="closed").run(conn) == [
        2,
        3,
    ]
    at_end = r.epoch_time(2).during(r.epoch_time(0), r.epoch_time(2), right_bound="closed")
    assert at_end.run(conn) is True
    at_start = r.epoch_time(0).during(r.epoch_time(0), r.epoch_time(2), left_bound="open")
    assert at_start.run(conn) is False


# -- integers beyond 2**53 ------------------------------------------------------------------


BIG = 2.0**53 + 2


@pytest.mark.parametrize(
    "query",
    [
        r.range(BIG),
        r.expr([1]).nth(BIG),
        r.expr([1]).slice(BIG),
        r.expr([1]).limit(BIG),
        r.expr([1]).skip(BIG),
        r.expr([1]).sample(BIG),
        r.expr([1])[BIG],
        r.expr([1]).insert_at(BIG, 2),
    ],
)
def test_integer_arguments_refuse_beyond_2_53(conn, query):
    fails(conn, query, ReqlQueryLogicError, "Number not an integer (>2^53): 9007199254740994")


def test_integer_messages(conn):
    fails(
        conn,
        r.range(-BIG),
        ReqlQueryLogicError,
        "Number not an integer (<-2^53): -9007199254740994",
    )
    fails(conn, r.range(0.5), ReqlQueryLogicError, "Number not an integer: 0.5")
    # RethinkDB prints the number with %.20g.
    fails(
        conn,
        r.expr([1]).nth(0.1),
        ReqlQueryLogicError,
        "Number not an integer: 0.10000000000000000555",
    )
    # 2**53 itself is exact, so it is an integer.
    assert r.expr([1]).limit(2.0**53).run(conn) == [1]
    assert r.expr([1, 2]).nth(-(2.0**53)).default("none").run(conn) == "none"
