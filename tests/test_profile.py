"""``profile=True``: the value plus a task tree in RethinkDB's shape."""

from __future__ import annotations

from rethought import r


def _shape_ok(tasks: list) -> bool:
    return all(
        set(t) == {"description", "duration(ms)", "sub_tasks"}
        and t["description"].startswith("Evaluating ")
        and t["duration(ms)"] >= 0
        and _shape_ok(t["sub_tasks"])
        for t in tasks
    )


def test_profile_is_a_tree_of_evaluated_terms(conn, official_conn, official_r):
    for rr, c in ((r, conn), (official_r, official_conn)):
        out = rr.expr([1, 2, 3]).map(lambda x: x * 2).run(c, profile=True)
        assert out["value"] == [2, 4, 6]
        (root,) = out["profile"]
        assert root["description"] == "Evaluating map."
        subs = [t["description"] for t in root["sub_tasks"]]
        assert subs.count("Evaluating mul.") == 3  # the function ran once per element
        assert _shape_ok(out["profile"])


def test_profile_of_a_stream_and_without_profile(conn, table_name):
    r.table_create(table_name).run(conn)
    r.table(table_name).insert([{"id": i} for i in range(5)]).run(conn)
    out = r.table(table_name).filter(r.row["id"] > 1).run(conn, profile=True)
    assert sorted(row["id"] for row in out["value"]) == [2, 3, 4]
    assert _shape_ok(out["profile"])
    assert r.expr(1).run(conn) == 1  # no profile: the bare value
