# Seed 000, Twisted "Re-thrown errors" and "Catching runtime errors", verbatim (the test
# swaps only the import line and the server address).
import rethinkdb as r
from twisted.internet import reactor, defer
from twisted.internet.defer import inlineCallbacks, returnValue
r.set_loop_type('twisted')
connection = r.connect(host='localhost', port=28015)

@inlineCallbacks
def bad_table(conn):
    yield r.table('non_existent').run(conn)

@inlineCallbacks
def catch_bad_table(conn):
    try:
        yield r.table('non_existent').run(conn)
    except r.ReqlRuntimeError:
        print("Saw error")

# --- harness (not part of the seed) ---
from harness import run_on_reactor

@inlineCallbacks
def main():
    conn = yield connection
    failed = bad_table(conn)
    failed.addErrback(lambda f: print("Failure: %s: %s" % (f.type.__name__, f.value)))
    yield failed
    yield catch_bad_table(conn)

run_on_reactor(main)
