# Not a seed: 100 concurrent queries and 2 changefeeds sharing one Twisted connection, plus
# Deferred.cancel() on a run() and on a cursor's next().
from twisted.internet import defer, reactor
from twisted.internet.defer import inlineCallbacks

from rethought import r

r.set_loop_type("twisted")
connection = r.connect(host="localhost", port=28015)


@inlineCallbacks
def collect(feed, count, out):
    while len(out) < count and (yield feed.fetch_next()):
        out.append((yield feed.next()))
    yield feed.close()


@inlineCallbacks
def main():
    conn = yield connection
    if "many_tw" in (yield r.table_list().run(conn)):
        yield r.table_drop("many_tw").run(conn)
    yield r.table_create("many_tw").run(conn)
    feed_all = yield r.table("many_tw").changes().run(conn)
    feed_even = yield r.table("many_tw").filter(r.row["id"] % 2 == 0).changes().run(conn)
    seen_all, seen_even = [], []
    feeds = [collect(feed_all, 50, seen_all), collect(feed_even, 25, seen_even)]
    queries = [r.table("many_tw").insert({"id": i}).run(conn) for i in range(50)]
    queries += [r.expr(i).mul(2).run(conn) for i in range(50)]
    results = yield defer.gatherResults(queries)
    print(f"inserts ok: {all(res['inserted'] == 1 for res in results[:50])}")
    print(f"values ok: {results[50:] == [2 * i for i in range(50)]}")
    yield defer.gatherResults(feeds)
    print(f"feed all: {sorted(c['new_val']['id'] for c in seen_all)}")
    print(f"feed even: {sorted(c['new_val']['id'] for c in seen_even)}")
    # Cancelling a pending next() stops its feed; cancelling a run() frees its token.
    feed = yield r.table("many_tw").changes().run(conn)
    waiting = feed.next()
    waiting.addErrback(lambda f: print(f"next() after cancel: {f.type.__name__}"))
    waiting.cancel()
    running = r.table("many_tw").count().run(conn)
    running.addErrback(lambda f: print(f"run() after cancel: {f.type.__name__}"))
    running.cancel()
    print(f"open queries: {len(conn._core.pending)}")
    count = yield r.table("many_tw").count().run(conn)
    print(f"still usable: {count == 50}")
    # A rejected query fails its own Deferred only.
    try:
        yield r.expr([1, 2]).nth(5).run(conn)
    except r.ReqlNonExistenceError as e:
        print(f"{type(e).__name__}: {e}")
    yield conn.close()


def done(result):
    if result is not None:
        print(f"Failure: {result}")
    reactor.stop()


reactor.callWhenRunning(lambda: main().addBoth(done))
reactor.run()
