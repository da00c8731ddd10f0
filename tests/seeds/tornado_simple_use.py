# Seed 000, Tornado "Example: Simple use", verbatim (the test swaps only the import line and
# the server address).
import rethinkdb as r
from tornado import ioloop, gen
from tornado.concurrent import Future, chain_future
import functools
r.set_loop_type("tornado")
connection = r.connect(host='localhost', port=28015)

@gen.coroutine
def single_row(connection_future):
    # Wait for the connection to be ready
    connection = yield connection_future
    # Insert some data
    yield r.table('test').insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(connection)
    # Print the first row in the table
    row = yield r.table('test').get(0).run(connection)
    print(row)

# --- harness (not part of the seed) ---
print(isinstance(connection, Future))
ioloop.IOLoop.current().run_sync(lambda: single_row(connection))
