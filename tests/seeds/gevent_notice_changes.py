# Seed 000's notice_changes written for gevent: feeds on tables a and b in their own
# greenlets, 10 writes into each from two more, then the feed greenlets are killed (which
# STOPs their feeds). A ticker greenlet shows the waits never block the whole thread.
import gevent
import gevent.event
import rethinkdb as r

r.set_loop_type("gevent")
connection = r.connect(host="localhost", port=28015)

ticks = [0]


def ticker():
    while True:
        ticks[0] += 1
        gevent.sleep(0.005)


def print_feed(conn, table, ready):
    feed = r.table(table).changes().run(conn)
    ready.set()
    for item in feed:
        print(f"Seen on table {table}: {item}")


def table_write(conn, table):
    for i in range(10):
        r.table(table).insert({"id": i}).run(conn)


def notice_changes(conn, *tables):
    # Reset the state of the tables on the server
    table_list = r.table_list().run(conn)
    gevent.joinall([gevent.spawn(r.table_drop(t).run, conn) for t in tables if t in table_list])
    gevent.joinall([gevent.spawn(r.table_create(t).run, conn) for t in tables])
    readies = [gevent.event.Event() for t in tables]
    feeds = [
        gevent.spawn(print_feed, conn, t, ready) for t, ready in zip(tables, readies, strict=True)
    ]
    for ready in readies:
        ready.wait()
    gevent.joinall([gevent.spawn(table_write, conn, t) for t in tables], raise_error=True)
    gevent.sleep(0.2)  # let the last changes arrive
    # Cancel the feeds: killing a greenlet that waits on a cursor stops its query
    gevent.killall(feeds)
    gevent.sleep(0.1)
    print(f"open queries: {len(conn._core.pending)}")


clock = gevent.spawn(ticker)
gevent.spawn(notice_changes, connection, "a", "b").join()
print(f"ticker kept running: {ticks[0] > 10}")
clock.kill()
