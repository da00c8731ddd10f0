# Seed 000's "Simple use" written for gevent (no seed of its own): calls block only the
# calling greenlet.
import gevent
import rethinkdb as r

r.set_loop_type("gevent")
connection = r.connect(host="localhost", port=28015)


def single_row(connection):
    # Insert some data
    r.table("test").insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(connection)
    # Print the first row in the table
    row = r.table("test").get(0).run(connection)
    print(row)


gevent.spawn(single_row, connection).join()
