"""Soak of the change log through crashes, server side: no reconnecting driver, the consumer
resumes by hand with ``resume_from`` after each restart.

    python bench/soak_changelog.py [--docs 10000] [--kills 5]

A writer inserts documents ``0 .. docs-1`` one query at a time with hard durability (its own
connection; after a drop it reconnects and goes on with the next id: the one in flight may
or may not have been committed). Meanwhile the server is killed with SIGKILL ``kills`` times
at random moments and restarted. One consumer reads ``table.changes(include_positions=True,
include_states=True)``; when its connection drops it reconnects and resumes from the
position of the last document it received. At the end it must have received every
acknowledged insert exactly once, in commit order (ids ascending: there is one writer), and
nothing else but inserts that were in flight at a kill, each at most once.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from conftest import ServerProcess  # noqa: E402
from rethought import r  # noqa: E402
from rethought.errors import ReqlDriverError, ReqlError  # noqa: E402


def connect(srv: ServerProcess, stop: threading.Event):
    """A connection once the server answers (None when asked to stop)."""
    while not stop.is_set():
        try:
            return r.connect(host=srv.host, port=srv.port, timeout=2)
        except (ReqlDriverError, OSError):
            time.sleep(0.05)
    return None


def run(docs: int, kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="rethought-soak-") as d:
        srv = ServerProcess(os.path.join(d, "data")).start()
        c = r.connect(host=srv.host, port=srv.port)
        r.table_create("soak").run(c)
        c.close()
        stop = threading.Event()
        acked: list[int] = []
        in_flight_at_drop: list[int] = []
        received: list[int] = []
        resumes = [0]
        done_writing = threading.Event()

        feed_open = threading.Event()

        def writer() -> None:
            feed_open.wait(30)  # every insert comes after the feed's first position
            wc = connect(srv, stop)
            i = 0
            while i < docs:
                try:
                    r.table("soak").insert({"id": i}).run(wc, durability="hard")
                    acked.append(i)
                except (ReqlDriverError, OSError, ReqlError):
                    in_flight_at_drop.append(i)
                    wc = connect(srv, stop)
                i += 1
            done_writing.set()

        def consumer() -> None:
            position = None
            while not stop.is_set():
                cc = connect(srv, stop)
                if cc is None:
                    return
                try:
                    q = r.table("soak")
                    if position is None:
                        feed = q.changes(include_positions=True, include_states=True).run(cc)
                    else:
                        feed = q.changes(resume_from=position, include_states=True).run(cc)
                        resumes[0] += 1
                    while not stop.is_set():
                        try:
                            doc = feed.next(wait=0.5)
                        except ReqlError as e:
                            if "Timed out" in str(e) or type(e).__name__ == "ReqlTimeoutError":
                                continue
                            raise
                        position = doc.get("position", position)
                        feed_open.set()
                        if "new_val" in doc:
                            received.append(doc["new_val"]["id"])
                except (ReqlDriverError, OSError, ReqlError):
                    time.sleep(0.05)
                except Exception as e:  # not expected: say so, and go on resuming
                    print(f"consumer: {type(e).__name__}: {e}", file=sys.stderr)
                    time.sleep(0.05)

        threads = [threading.Thread(target=writer), threading.Thread(target=consumer)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        killed = 0
        for _ in range(kills):
            time.sleep(rng.uniform(0.5, 3.0))
            if done_writing.is_set():
                break
            srv.stop(signal.SIGKILL)
            killed += 1
            srv.start()
        threads[0].join()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(set(received) & set(acked)) < len(acked):
            time.sleep(0.1)
        stop.set()
        threads[1].join()
        elapsed = time.monotonic() - t0
        missing = sorted(set(acked) - set(received))
        if missing:  # what the table and its log say about them
            c = r.connect(host=srv.host, port=srv.port)
            rows = r.table("soak").get_all(*missing).run(c)
            print(
                f"missing {missing[:10]}, in the table: {[d['id'] for d in rows]}, "
                f"in flight: {in_flight_at_drop}",
                file=sys.stderr,
            )
            c.close()
        srv.stop()
        duplicates = len(received) - len(set(received))
        extra = sorted(set(received) - set(acked))
        return {
            "docs": docs,
            "kills": killed,
            "acknowledged": len(acked),
            "in flight at a kill": len(in_flight_at_drop),
            "received": len(received),
            "resumes": resumes[0],
            "missing acknowledged": len(missing),
            "duplicates": duplicates,
            "in commit order": received == sorted(received),
            "extra (all in flight at a kill)": f"{len(extra)} "
            f"({set(extra) <= set(in_flight_at_drop)})",
            "seconds": round(elapsed, 1),
        }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    res = run(**vars(ap.parse_args()))
    for k, v in res.items():
        print(f"{k}: {v}")
    ok = (
        res["missing acknowledged"] == 0
        and res["duplicates"] == 0
        and res["in commit order"]
        and res["extra (all in flight at a kill)"].endswith("(True)")
    )
    sys.exit(0 if ok else 1)
