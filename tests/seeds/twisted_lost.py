# Not a seed: pending cursors of one Twisted connection when the server dies. The test kills
# the server after "ready"; every waiter must fail with ReqlDriverError at once.
import sys

from twisted.internet import defer, reactor
from twisted.internet.defer import inlineCallbacks

from rethought import r

r.set_loop_type("twisted")
connection = r.connect(host="localhost", port=28015)


def report(name, d):
    d.addCallbacks(
        lambda v: print(f"{name}: value {v!r}"),
        lambda f: print(f"{name}: {f.type.__name__}: {f.value}"),
    )
    return d


@inlineCallbacks
def main():
    conn = yield connection
    if "lost_tw" not in (yield r.table_list().run(conn)):
        yield r.table_create("lost_tw").run(conn)
    feed_a = yield r.table("lost_tw").changes().run(conn)
    feed_b = yield r.table("lost_tw").changes().run(conn)
    # fetch_next() gives True for a failed cursor (the error is raised by the next next()).
    fetched = feed_a.fetch_next().addCallback(lambda more: more and feed_a.next())
    waits = [report("fetch_next+next", fetched), report("next", feed_b.next())]
    print("ready")
    sys.stdout.flush()
    yield defer.DeferredList(waits)
    yield report("run after loss", r.expr(1).run(conn))
    print(f"open: {conn.is_open()}")


reactor.callWhenRunning(lambda: main().addBoth(lambda _: reactor.stop()))
reactor.run()
