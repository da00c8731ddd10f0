# Seed 000's "Using a cursor" written for gevent: a plain for loop over the cursor.
import gevent
import rethinkdb as r

r.set_loop_type("gevent")
connection = r.connect(host="localhost", port=28015)


def use_cursor(connection):
    # Insert some data
    r.table("test").insert([{"id": 0}, {"id": 1}, {"id": 2}]).run(connection)
    # Print every row in the table.
    for item in r.table("test").order_by(index="id").run(connection):
        print(item)


gevent.spawn(use_cursor, connection).join()
