"""Graceful shutdown under load: SIGTERM while writers (hard and soft, single and batch,
server-keyed) and feeds of every kind run. Nothing acknowledged is lost or applied twice,
every open feed and cursor ends with a ReQL error (not a bare disconnect), and the server
exits 0 with its storage shut down."""

from __future__ import annotations

import signal
import threading
import time

from conftest import ServerProcess


def test_sigterm_under_load_loses_nothing_and_ends_every_feed(tmp_path, official_r):
    r = official_r
    errors = r.errors
    srv = ServerProcess(str(tmp_path / "data")).start()
    conn = r.connect(host=srv.host, port=srv.port)
    r.table_create("t").run(conn)
    r.table_create("g").run(conn)
    r.table("t").index_create("grp").run(conn)
    r.table("t").insert([{"id": -i, "grp": i % 4} for i in range(1, 51)]).run(conn)
    conn.close()

    lock = threading.Lock()
    acked: set[int] = set()
    acked_uids: set[str] = set()
    writer_errors: list[str] = []
    stop = threading.Event()

    def writer(wid: int) -> None:
        c = r.connect(host=srv.host, port=srv.port)
        i = 0
        try:
            while not stop.is_set():
                base = wid * 1_000_000 + i
                n = 1 if i % 3 else 25
                docs = [{"id": base + k, "grp": (base + k) % 4} for k in range(n)]
                durability = "soft" if i % 5 == 4 else "hard"
                res = r.table("t").insert(docs).run(c, durability=durability)
                assert res["inserted"] == n, res
                uid = f"{wid}-{i}"
                r.table("g").insert({"uid": uid}).run(c, durability="hard")
                with lock:
                    if durability == "hard":
                        acked.update(d["id"] for d in docs)
                    acked_uids.add(uid)
                i += n
        except errors.ReqlDriverError:
            pass  # the connection went away during shutdown: the write in flight is unknown
        except errors.ReqlError as e:
            if "shutting down" not in str(e):
                writer_errors.append(repr(e))
        finally:
            try:
                c.close(noreply_wait=False)
            except Exception:
                pass

    ended: dict[str, BaseException | None] = {}

    def feed(name: str, query) -> None:
        c = r.connect(host=srv.host, port=srv.port)
        try:
            for _ in query.run(c):
                pass
            ended[name] = None  # a feed never ends by itself: a bug
        except BaseException as e:  # noqa: BLE001
            ended[name] = e
        finally:
            try:
                c.close(noreply_wait=False)
            except Exception:
                pass

    feeds = {
        "table": r.table("t").changes(),
        "point": r.table("t").get(-1).changes(include_initial=True),
        "filtered": r.table("t").filter(r.row["grp"].eq(1)).changes(squash=0.05),
        "top": r.table("t").order_by(index=r.desc("grp")).limit(3).changes(),
        "initial": r.table("g").changes(include_initial=True, include_states=True),
        "cursor": r.range(),  # an endless stream read batch by batch
    }
    threads = [threading.Thread(target=feed, args=item, daemon=True) for item in feeds.items()]
    threads += [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    with lock:
        before = len(acked)
    assert before > 0, "the load never got going"
    code = srv.stop(signal.SIGTERM)
    stop.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert code == 0, srv.log()[-2000:]
    assert "Storage engine shut down." in srv.log()
    assert writer_errors == []
    for name in feeds:
        e = ended.get(name)
        assert isinstance(e, errors.ReqlError) and not isinstance(e, errors.ReqlDriverError), (
            f"feed {name} ended with {e!r}"
        )
        assert isinstance(e, errors.ReqlOpIndeterminateError), f"feed {name}: {e!r}"
        assert str(e).startswith("Server is shutting down"), f"feed {name}: {e}"

    srv.start()
    try:
        conn = r.connect(host=srv.host, port=srv.port)
        rows = list(r.table("t")["id"].run(conn))
        assert len(rows) == len(set(rows))
        lost = acked - set(rows)
        assert not lost, f"{len(lost)} acknowledged hard writes lost, e.g. {sorted(lost)[:5]}"
        uids = list(r.table("g")["uid"].run(conn))
        assert len(uids) == len(set(uids)), "a server-keyed insert applied twice"
        assert acked_uids <= set(uids)
        indexed = r.table("t").get_all(0, 1, 2, 3, index="grp").count().run(conn)
        assert indexed == len(rows)
        conn.close()
    finally:
        srv.stop()
    assert "Traceback" not in srv.log()
