# Seed 000, Twisted background changefeed task, verbatim (the test swaps only the import line
# and the server address). The harness writes 3 rows, then closes the connection: the task
# consuming the feed then fails with ReqlDriverError.
import rethinkdb as r
from twisted.internet import reactor, defer
from twisted.internet.defer import inlineCallbacks, returnValue
r.set_loop_type('twisted')
connection = r.connect(host='localhost', port=28015)

@inlineCallbacks
def print_feed(conn, table):
    feed = yield r.table(table).changes().run(conn)
    while (yield feed.fetch_next()):
        item = yield feed.next()
        print("Seen on table %s: %s" % (table, str(item)))

# --- harness (not part of the seed) ---
from harness import run_on_reactor
from twisted.internet.task import deferLater

table = 'test'
print_cfeed_data = print_feed  # the documentation schedules it under this name


@inlineCallbacks
def main():
    conn = yield connection
    feed_task = []
    reactor.callLater(0, lambda: feed_task.append(print_cfeed_data(conn, table)))
    yield deferLater(reactor, 1.0, lambda: None)  # let the feed start
    for i in range(3):
        yield r.table(table).insert({'id': 10 + i}).run(conn)
    yield deferLater(reactor, 0.5, lambda: None)
    yield conn.close()
    try:
        yield feed_task[0]
    except r.ReqlDriverError as e:
        print("Feed task failed: %s: %s" % (type(e).__name__, e))

run_on_reactor(main)
