# Seed 000, Twisted "Example: Simple use", verbatim (the test swaps only the import line and
# the server address).
import rethinkdb as r
from twisted.internet import reactor, defer
from twisted.internet.defer import inlineCallbacks, returnValue
r.set_loop_type('twisted')
connection = r.connect(host='localhost', port=28015)

@inlineCallbacks
def single_row(conn_deferred):
    # Wait for the connection to be ready
    conn = yield conn_deferred
    # Insert some data
    yield r.table('test').insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(conn)
    # Print the first row in the table
    row = yield r.table('test').get(0).run(conn)
    print(row)

# --- harness (not part of the seed) ---
from harness import run_on_reactor

print(isinstance(connection, defer.Deferred))
run_on_reactor(lambda: single_row(connection))
