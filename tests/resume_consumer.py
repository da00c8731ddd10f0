"""One resumable changefeed consumer, on one loop, as a program (a Twisted reactor cannot
restart, and the soak kills servers under consumers of every loop at once):

    python tests/resume_consumer.py LOOP MODE HOST PORT TABLE LAST

LOOP: sync, gevent, asyncio, trio, tornado, twisted, integrator; MODE: cursor (``for`` /
``async for`` / ``next()``) or handler (on_change / on_state). It connects with
``reconnect=r.Reconnect(initial=0.05, maximum=0.3)`` and ``heartbeat=1``, opens
``r.db("test").table(TABLE).changes(include_states=True)`` and prints, one line each, flushed:
``S <state>`` for a state document, ``C <id>`` for a change's new_val id, and ``DONE`` once
the id LAST arrived (then exits 0). An error prints ``ERROR <class>: <message>``, exit 1.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rethought import r  # noqa: E402

LOOP, MODE, HOST, PORT, TABLE, LAST = sys.argv[1:7]
PORT_N, LAST_ID = int(PORT), int(LAST)
OPTIONS = {
    "host": HOST,
    "port": PORT_N,
    "reconnect": r.Reconnect(initial=0.05, maximum=0.3),
    "heartbeat": 1.0,
}
FEED = r.db("test").table(TABLE).changes(include_states=True)


def show(row: dict) -> bool:
    """Print one feed document; True once the last id arrived."""
    if "state" in row:
        print("S", row["state"], flush=True)
        return False
    new = row.get("new_val") or {}
    print("C", new.get("id"), flush=True)
    return new.get("id") == LAST_ID


def done() -> None:
    print("DONE", flush=True)


def fail(exc: BaseException) -> None:
    print(f"ERROR {type(exc).__name__}: {exc}", flush=True)
    os._exit(1)


class Printer(r.Handler):
    """The handler mode: every document through on_change / on_state."""

    def __init__(self, finished):
        self.finished = finished

    def on_change(self, old_val, new_val):
        if show({"old_val": old_val, "new_val": new_val}):
            self.finished()

    def on_state(self, state):
        show({"state": state})

    def on_error(self, err):
        fail(err)


def run_sync() -> None:
    conn = r.connect(**OPTIONS, loop_type=LOOP)
    if MODE == "handler" and LOOP == "gevent":
        import gevent.event

        finished = gevent.event.Event()  # (QueryHandle.wait would block the hub)
        FEED.handle(conn, Printer(finished.set))
        finished.wait()
    elif MODE == "handler":
        handle = FEED.handle(conn, Printer(lambda: handle.close()))
        handle.wait()
    else:
        for row in FEED.run(conn):
            if show(row):
                break
    done()


async def run_async() -> None:
    conn = await r.connect(**OPTIONS, loop_type=LOOP)
    if MODE == "handler":
        if LOOP == "trio":
            import trio

            finished = trio.Event()  # set by the pump task, which runs the callbacks
        else:
            import asyncio

            finished = asyncio.Event()
        FEED.handle(conn, Printer(finished.set))
        await finished.wait()
    elif LOOP == "tornado":
        cursor = await FEED.run(conn)
        while not show(await cursor.next()):
            pass
    else:
        async for row in await FEED.run(conn):
            if show(row):
                break
    done()


def run_twisted() -> None:
    from twisted.internet import defer, reactor

    @defer.inlineCallbacks
    def main():
        try:
            conn = yield r.connect(**OPTIONS, loop_type="twisted")
            if MODE == "handler":
                finished = defer.Deferred()
                FEED.handle(conn, Printer(lambda: finished.called or finished.callback(None)))
                yield finished
            else:
                cursor = yield FEED.run(conn)
                while not show((yield cursor.next())):
                    pass
            done()
        except Exception as exc:
            fail(exc)
        reactor.stop()

    reactor.callWhenRunning(main)
    reactor.run()


def run_integrator() -> None:
    from rethought.client import integrator
    from test_integrator import SelectorLoop

    loop = SelectorLoop()
    state = {"finished": False}

    def opened(conn):
        FEED.handle(conn, Printer(lambda: state.update(finished=True)))

    result = integrator.connect(loop, **OPTIONS)
    result.callback, result.errback = opened, fail
    loop.run_until(lambda: state["finished"] or loop.errors, timeout=600)
    if loop.errors:
        fail(loop.errors[0])
    done()


def main() -> None:
    try:
        if LOOP in ("sync", "gevent"):
            run_sync()
        elif LOOP in ("asyncio", "tornado"):
            import asyncio

            asyncio.run(run_async())
        elif LOOP == "trio":
            import trio

            trio.run(run_async)
        elif LOOP == "twisted":
            run_twisted()
        elif LOOP == "integrator":
            run_integrator()
        else:
            raise SystemExit(f"unknown loop {LOOP}")
    except Exception as exc:
        fail(exc)


if __name__ == "__main__":
    main()
