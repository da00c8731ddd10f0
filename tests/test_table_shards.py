"""Shards on a one-server cluster, as RethinkDB 2.4.4 reports them, through our driver and
the official one.

From RethinkDB's source: table_create and reconfigure make the number of shards asked for
(src/clustering/administration/tables/split_points.cc: N key ranges, from the key
distribution or, when there are too few rows, uuid ranges); generate_config.cc puts each
shard's primary and only replica on the one server; ``table_config`` has one
``{primary_replica, replicas, nonvoting_replicas}`` per shard and ``table_status`` one
``{primary_replicas, replicas: [{server, state}]}``. The count stays until the table is
reconfigured (not by a dry run); ``rebalance`` keeps it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["ours", "official"])
def rq(request, server, table_name):
    if request.param == "ours":
        from rethought import r
    else:
        from rethinkdb import r
    conn = r.connect(host=server.host, port=server.port)
    name = table_name + "_sh"
    yield r, conn, name
    if name in r.db("test").table_list().run(conn):
        r.db("test").table_drop(name).run(conn)
    conn.close()


def config_shards(me, n):
    return [{"nonvoting_replicas": [], "primary_replica": me, "replicas": [me]}] * n


def status_shards(me, n):
    return [{"primary_replicas": [me], "replicas": [{"server": me, "state": "ready"}]}] * n


def test_table_create_with_shards(rq):
    r, conn, name = rq
    me = r.db("rethinkdb").table("server_config").nth(0)["name"].run(conn)
    res = r.db("test").table_create(name, shards=4, replicas=1).run(conn)
    assert res["tables_created"] == 1
    assert res["config_changes"][0]["old_val"] is None
    assert res["config_changes"][0]["new_val"]["shards"] == config_shards(me, 4)
    t = r.db("test").table(name)
    assert t.config()["shards"].run(conn) == config_shards(me, 4)
    assert t.status()["shards"].run(conn) == status_shards(me, 4)
    sys_config = r.db("rethinkdb").table("table_config").filter({"name": name}).nth(0)
    assert sys_config["shards"].run(conn) == config_shards(me, 4)
    sys_status = r.db("rethinkdb").table("table_status").filter({"name": name}).nth(0)
    assert sys_status["shards"].run(conn) == status_shards(me, 4)
    # rows go to the one store whatever the shard count
    t.insert([{"id": i} for i in range(20)]).run(conn)
    assert t.count().run(conn) == 20
    res = t.rebalance().run(conn)
    assert res["status_changes"][0]["new_val"]["shards"] == status_shards(me, 4)
    dropped = r.db("test").table_drop(name).run(conn)
    assert dropped["config_changes"][0]["old_val"]["shards"] == config_shards(me, 4)


def test_reconfigure_keeps_the_count(rq):
    r, conn, name = rq
    me = r.db("rethinkdb").table("server_config").nth(0)["name"].run(conn)
    r.db("test").table_create(name).run(conn)
    t = r.db("test").table(name)
    assert t.config()["shards"].run(conn) == config_shards(me, 1)
    res = t.reconfigure(shards=3, replicas=1, dry_run=True).run(conn)
    assert res["reconfigured"] == 0
    change = res["config_changes"][0]
    assert (change["old_val"]["shards"], change["new_val"]["shards"]) == (
        config_shards(me, 1),
        config_shards(me, 3),
    )
    assert t.config()["shards"].run(conn) == config_shards(me, 1)  # a dry run changes nothing
    res = t.reconfigure(shards=3, replicas=1).run(conn)
    assert res["reconfigured"] == 1
    assert res["status_changes"][0]["new_val"]["shards"] == status_shards(me, 3)
    assert t.config()["shards"].run(conn) == config_shards(me, 3)
    res = t.reconfigure(shards=2, replicas=1).run(conn)
    change = res["config_changes"][0]
    assert (change["old_val"]["shards"], change["new_val"]["shards"]) == (
        config_shards(me, 3),
        config_shards(me, 2),
    )
    assert t.status()["shards"].run(conn) == status_shards(me, 2)
