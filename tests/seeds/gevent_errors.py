# Seed 000's "Re-thrown errors" and "Catching errors" written for gevent.
import gevent
import gevent.event
import rethinkdb as r

r.set_loop_type("gevent")
connection = r.connect(host="localhost", port=28015)


def bad_table(connection):
    r.table("non_existent").run(connection)


def catch_bad_table(connection):
    try:
        r.table("non_existent").run(connection)
    except r.ReqlRuntimeError:
        print("Saw error")


failed = gevent.spawn(bad_table, connection)
failed.join()
print(f"{type(failed.exception).__name__}: {failed.exception}")
gevent.spawn(catch_bad_table, connection).join()
