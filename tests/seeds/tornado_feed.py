# Seed 000, Tornado background changefeed handler, verbatim (the test swaps only the import
# line and the server address). The harness writes 3 rows, then closes the connection: the
# coroutine consuming the feed then fails with ReqlDriverError.
import rethinkdb as r
from tornado import ioloop, gen
from tornado.concurrent import Future, chain_future
import functools
r.set_loop_type("tornado")
connection = r.connect(host='localhost', port=28015)

@gen.coroutine
def print_cfeed_data(connection_future, table):
    connection = yield connection_future
    feed = yield r.table(table).changes().run(connection)
    while (yield feed.fetch_next()):
        item = yield feed.next()
        print(item)

table = 'test'  # harness: the seed leaves `table` to the reader
ioloop.IOLoop.current().add_callback(print_cfeed_data, connection, table)

# --- harness (not part of the seed) ---
@gen.coroutine
def main():
    conn = yield connection
    yield gen.sleep(1.0)  # let the feed start
    for i in range(3):
        yield r.table(table).insert({'id': 10 + i}).run(conn)
    yield gen.sleep(0.5)
    yield conn.close()
    yield gen.sleep(0.2)

ioloop.IOLoop.current().run_sync(main)
