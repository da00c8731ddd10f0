# Seed 000, Tornado "Example: Using a cursor", verbatim (the test swaps only the import line
# and the server address).
import rethinkdb as r
from tornado import ioloop, gen
from tornado.concurrent import Future, chain_future
import functools
r.set_loop_type("tornado")
connection = r.connect(host='localhost', port=28015)

@gen.coroutine
def use_cursor(connection_future):
    # Wait for the connection to be ready
    connection = yield connection_future
    # Insert some data
    yield r.table('test').insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(connection)
    # Print every row in the table.
    cursor = yield r.table('test').order_by(index="id").run(connection)
    while (yield cursor.fetch_next()):
        item = yield cursor.next()
        print(item)

# --- harness (not part of the seed) ---
ioloop.IOLoop.current().run_sync(lambda: use_cursor(connection))
