# Seed 000, Tornado "Re-thrown errors" and "Catching errors in the coroutine", verbatim (the
# test swaps only the import line and the server address).
import rethinkdb as r
from tornado import ioloop, gen
from tornado.concurrent import Future, chain_future
import functools
r.set_loop_type("tornado")
connection = r.connect(host='localhost', port=28015)

@gen.coroutine
def bad_table(connection):
    yield r.table('non_existent').run(connection)

@gen.coroutine
def catch_bad_table(connection):
    try:
        yield r.table('non_existent').run(connection)
    except r.ReqlRuntimeError:
        print("Saw error")

# --- harness (not part of the seed) ---
@gen.coroutine
def main():
    conn = yield connection
    try:
        yield bad_table(conn)
    except Exception as e:
        print("%s: %s" % (type(e).__name__, e))
    yield catch_bad_table(conn)

ioloop.IOLoop.current().run_sync(main)
