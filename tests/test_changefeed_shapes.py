"""What each kind of feed emits, and what changes() refuses, as RethinkDB 2.4's changefeed.cc
and terms/seq.cc / datum_stream.cc decide it. Through our driver and the official one.

- A feed reports 'initializing' only while it sends initial values: with include_states and
  without include_initial its only state is 'ready' (point_sub_t / range_sub_t / limit_sub_t).
- A point feed's initial value of a missing row is {'new_val': None}.
- include_types tags states 'state', initial values 'initial', changes 'add' / 'remove' /
  'change'; include_offsets only on order_by.limit (range and point subs refuse it).
- Transforms before changes(): map / filter / pluck / merge / get_field ... apply to each
  row; a row they fail on is dropped (apply_ops); concat_map is refused; only filter may
  follow a limit; limit without order_by is "unordered"; a union is a union of feeds.
"""

from __future__ import annotations

import pytest

from rethought import r as our_r


@pytest.fixture(params=["rethought", "official"])
def feed_db(request, server, official_r, table_name):
    """(r, conn for the feed, conn for writes, table) with rows {'id': 1..3, 'x': id}."""
    rr = our_r if request.param == "rethought" else official_r
    c = rr.connect(host=server.host, port=server.port)
    w = rr.connect(host=server.host, port=server.port)
    rr.table_create(table_name).run(w)
    t = rr.table(table_name)
    t.insert([{"id": i, "x": i} for i in (1, 2, 3)]).run(w)
    t.index_create("x").run(w)
    t.index_wait("x").run(w)
    yield rr, c, w, t
    c.close()
    rr.table_drop(table_name).run(w)
    w.close()


def take(feed, n):
    return [feed.next(wait=5) for _ in range(n)]


def kinds(r, t):
    """One query per feed kind, each seeing the row with id 1."""
    return {
        "table": t,
        "between": t.between(0, 2),
        "between_index": t.between(0, 2, index="x"),
        "get_all": t.get_all(1, index="x"),
        "order_by_limit": t.order_by(index="id").limit(1),
    }


@pytest.mark.parametrize(
    "kind", ["table", "between", "between_index", "get_all", "order_by_limit", "get"]
)
def test_states_without_initial_only_ready(feed_db, kind):
    r, c, w, t = feed_db
    query = t.get(1) if kind == "get" else kinds(r, t)[kind]
    feed = query.changes(include_states=True).run(c)
    assert feed.next(wait=5) == {"state": "ready"}
    t.get(1).update({"y": 1}).run(w)
    change = feed.next(wait=5)
    assert change["new_val"] == {"id": 1, "x": 1, "y": 1}
    assert change["old_val"] == {"id": 1, "x": 1}
    feed.close()


@pytest.mark.parametrize("kind", ["table", "between", "between_index", "get_all"])
def test_states_with_initial(feed_db, kind):
    r, c, w, t = feed_db
    feed = kinds(r, t)[kind].changes(include_states=True, include_initial=True).run(c)
    first = feed.next(wait=5)
    assert first == {"state": "initializing"}
    docs = []
    while True:
        doc = feed.next(wait=5)
        if doc == {"state": "ready"}:
            break
        docs.append(doc)
    assert {"new_val": {"id": 1, "x": 1}} in docs
    assert all(set(d) == {"new_val"} for d in docs)
    feed.close()


def test_point_feed_initial_values(feed_db):
    r, c, w, t = feed_db
    feed = t.get(1).changes(include_states=True, include_initial=True).run(c)
    assert take(feed, 3) == [
        {"state": "initializing"},
        {"new_val": {"id": 1, "x": 1}},
        {"state": "ready"},
    ]
    feed.close()
    missing = t.get(99).changes(include_initial=True).run(c)
    assert missing.next(wait=5) == {"new_val": None}
    missing.close()


def test_include_types(feed_db):
    r, c, w, t = feed_db
    feed = t.get(1).changes(include_states=True, include_initial=True, include_types=True).run(c)
    assert take(feed, 3) == [
        {"state": "initializing", "type": "state"},
        {"new_val": {"id": 1, "x": 1}, "type": "initial"},
        {"state": "ready", "type": "state"},
    ]
    feed.close()
    feed = t.changes(include_types=True).run(c)
    t.insert({"id": 4, "x": 4}).run(w)
    t.get(4).update({"x": 5}).run(w)
    t.get(4).delete().run(w)
    assert [d["type"] for d in take(feed, 3)] == ["add", "change", "remove"]
    feed.close()


def test_offsets_on_order_by_limit(feed_db):
    r, c, w, t = feed_db
    feed = t.order_by(index="x").limit(2).changes(include_initial=True, include_offsets=True).run(c)
    initial = take(feed, 2)
    assert sorted(d["new_offset"] for d in initial) == [0, 1]
    t.insert({"id": 0, "x": 0}).run(w)
    change = feed.next(wait=5)
    assert change["new_val"] == {"id": 0, "x": 0} and change["new_offset"] == 0
    assert change["old_val"] == {"id": 2, "x": 2} and change["old_offset"] == 1
    feed.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t, "Cannot include offsets for range subs."),
        (lambda t: t.between(0, 2), "Cannot include offsets for range subs."),
        (lambda t: t.get_all(1, index="x"), "Cannot include offsets for range subs."),
        (lambda t: t.get(1), "Cannot include offsets for point subs."),
        # order_by(index) without a limit is a range sub (changefeed.cc keyspec_t::range_t)
        (lambda t: t.order_by(index="x"), "Cannot include offsets for range subs."),
    ],
)
def test_offsets_refused(feed_db, make, message):
    r, c, w, t = feed_db
    with pytest.raises(r.ReqlQueryLogicError, match=message.rstrip(".")):
        make(t).changes(include_offsets=True).run(c)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r, t: t.concat_map(lambda row: [row]), "Cannot call `changes` after `concat_map`."),
        (
            lambda r, t: t.limit(2),
            "Cannot get changes on the first elements of an unordered stream.",
        ),
        (
            lambda r, t: t.order_by(index="x").limit(2).map(lambda row: row),
            "Changefeeds are not supported on queries that have a transformation following a "
            "`limit` term.",
        ),
        (lambda r, t: t.union(t).limit(1), "Cannot call `changes` on a slice of a union."),
        (lambda r, t: t.skip(1), "Cannot call `changes` on an eager stream."),
        (lambda r, t: r.expr([1, 2]), "Cannot call `changes` on an eager stream."),
        (lambda r, t: t.order_by("x"), "Cannot call `changes` on an eager stream."),
    ],
)
def test_refused_before_changes(feed_db, make, message):
    r, c, w, t = feed_db
    with pytest.raises(r.ReqlQueryLogicError) as info:
        make(r, t).changes().run(c)
    assert str(info.value).startswith(message.rstrip("."))


def test_transforms_apply_and_failing_rows_drop(feed_db):
    r, c, w, t = feed_db
    feed = (
        t.filter(lambda row: row["x"].lt(10))
        .map(lambda row: r.branch(row["x"].lt(5), row, r.error("dummy")))
        .pluck("x")
        .changes()
        .run(c)
    )
    t.insert({"id": 7, "x": 7}).run(w)  # map fails on it: dropped, no error
    t.insert({"id": 4, "x": 4}).run(w)
    assert feed.next(wait=5) == {"new_val": {"x": 4}, "old_val": None}
    feed.close()
    field = t["x"].changes().run(c)
    t.get(4).update({"x": 6}).run(w)
    assert field.next(wait=5) == {"new_val": 6, "old_val": 4}
    field.close()


def test_filter_after_limit_is_allowed(feed_db):
    r, c, w, t = feed_db
    feed = t.order_by(index="x").limit(2).filter(lambda row: row["x"].ne(0)).changes().run(c)
    t.insert({"id": 0, "x": 0}).run(w)
    t.insert({"id": 1.5, "x": 1.5}).run(w)
    doc = feed.next(wait=5)
    assert doc["new_val"] == {"id": 1.5, "x": 1.5}
    feed.close()


def test_union_of_tables_is_a_union_of_feeds(feed_db, table_name):
    r, c, w, t = feed_db
    other = table_name + "_b"
    r.table_create(other).run(w)
    try:
        feed = t.union(r.table(other)).changes().run(c)
        r.table(other).insert({"id": "b"}).run(w)
        t.insert({"id": "a"}).run(w)
        got = sorted(d["new_val"]["id"] for d in take(feed, 2))
        assert got == ["a", "b"]
        feed.close()
    finally:
        r.table_drop(other).run(w)


def test_order_by_index_feed(feed_db):
    r, c, w, t = feed_db
    feed = t.order_by(index=r.desc("x")).changes().run(c)
    t.insert({"id": 9, "x": 9}).run(w)
    assert feed.next(wait=5) == {"new_val": {"id": 9, "x": 9}, "old_val": None}
    feed.close()


def test_limit_over_array_limit(feed_db):
    """rcheck_spec_visitor_t: the top n of a feed is one array, bounded by array_limit."""
    r, c, w, t = feed_db
    with pytest.raises(r.ReqlResourceLimitError) as info:
        t.order_by(index="x").limit(3).changes().run(c, array_limit=2)
    assert str(info.value).startswith(
        "Array size limit `2` exceeded.  (`.limit(X).changes()` is illegal if X is larger "
        "than the array size limit.)"
    )
    feed = t.order_by(index="x").limit(2).changes().run(c, array_limit=2)
    feed.close()


def test_a_transformed_row_is_not_a_feed(feed_db):
    """get(k).pluck(...) is an object datum; changes() wants a sequence (datum.cc
    as_datum_stream: 'Cannot convert OBJECT to SEQUENCE')."""
    r, c, w, t = feed_db
    for query, kind in ((t.get(1).pluck("x"), "OBJECT"), (r.expr(5), "NUMBER")):
        with pytest.raises(r.ReqlQueryLogicError) as info:
            query.changes().run(c)
        assert str(info.value).startswith(f"Cannot convert {kind} to SEQUENCE in:")


def test_initial_values_go_through_the_transformed_stream(feed_db):
    """Initial values are read through the transformed stream: an error there is the
    query's (only later changes are dropped by apply_ops)."""
    r, c, w, t = feed_db
    with pytest.raises(r.ReqlNonExistenceError) as info:
        feed = t.map(lambda row: row["nope"]).changes(include_initial=True).run(c)
        feed.next(wait=5)
    assert str(info.value).startswith("No attribute `nope` in object:")


def test_changes_on_a_paged_http_stream(feed_db):
    # A paged r.http is a stream without changespecs (http.cc http_datum_stream_t): refused
    # before any page is fetched, so the unreachable URL is never asked.
    r, c, w, t = feed_db
    with pytest.raises(r.ReqlQueryLogicError, match="Cannot call `changes` on an HTTP stream"):
        r.http("http://127.0.0.1:9/", page="link-next", page_limit=1).changes().run(c)


def test_union_interleave_before_changes(feed_db):
    # interleave=True is union_datum_stream_t (feeds per input); false, a field, a function
    # or an array make ordered_union_datum_stream_t, an eager stream (seq.cc union_term_t).
    r, c, w, t = feed_db
    feed = t.union(t, interleave=True).changes().run(c)
    t.insert({"id": 10, "x": 10}).run(w)
    got = [next(feed), next(feed)]
    assert got == [{"new_val": {"id": 10, "x": 10}, "old_val": None}] * 2
    feed.close()
    for inter in (False, "x", r.desc("x"), ["x"]):
        with pytest.raises(r.ReqlQueryLogicError, match="Cannot call `changes` on an eager stream"):
            t.union(t, interleave=inter).changes().run(c)
